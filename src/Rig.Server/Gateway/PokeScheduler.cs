using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Rig.Server.Gateway;

/// <summary>Pokes many agents without a thundering herd: at most <c>RigLimits.PokeWindow</c> poked agents may be
/// "starting" (poked, their first inquiry not yet here) at once. An agent's inquiry — or a timeout — opens the
/// window for the next poke. Every agent still gets its queue as fast as the gateway can take handshakes, but
/// each waits for its poke inside the gateway rather than in a pile of simultaneous TLS handshakes, so the time
/// from a poke to the first command stays short (docs/PROTOCOL.md). Time comes from the gateway's
/// <see cref="TimeProvider"/>, so a test moves it past the poke timeout instead of waiting.</summary>
internal sealed class PokeScheduler : IAsyncDisposable
{
    private readonly Gateway _gateway;
    private readonly TimeProvider _clock;
    private readonly Channel<string> _waiting = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, byte> _queued = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _starting = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _window;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <summary>A scheduler for <paramref name="gateway"/>.</summary>
    public PokeScheduler(Gateway gateway)
    {
        _gateway = gateway;
        _clock = gateway.Clock;
        _window = new SemaphoreSlim(gateway.Limits.PokeWindow, gateway.Limits.PokeWindow);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Poke <paramref name="device"/> soon (a device already waiting is not queued twice).</summary>
    public void Schedule(string device)
    {
        if (_queued.TryAdd(device, 0))
            _waiting.Writer.TryWrite(device);
    }

    /// <summary>The device's agent inquired: its poke (if any) is answered and the window opens for the next.</summary>
    public void Answered(string device)
    {
        if (_starting.TryRemove(device, out _))
            _window.Release();
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        try
        {
            await foreach (var device in _waiting.Reader.ReadAllAsync(stop).ConfigureAwait(false))
            {
                while (!await WaitForPlaceAsync(stop).ConfigureAwait(false))
                    ReleaseExpired();
                _queued.TryRemove(device, out _);
                _starting[device] = _clock.GetTimestamp();
                _ = PokeOneAsync(device, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PokeOneAsync(string device, CancellationToken stop)
    {
        if (!await _gateway.PokeAsync(device, stop).ConfigureAwait(false))
            Answered(device); // unreachable: it will come at its poll or check-in; do not hold the window
    }

    /// <summary>A place in the window, or false when none opened within the poke timeout (on the gateway's clock).
    /// A free place is taken at once, without a timer.</summary>
    private async Task<bool> WaitForPlaceAsync(CancellationToken stop)
    {
        if (_window.Wait(0, CancellationToken.None))
            return true;
        using var timeout = new CancellationTokenSource(_gateway.Limits.PokeTimeout, _clock);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        try
        {
            await _window.WaitAsync(either.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Agents that were poked but did not inquire within the poke timeout give their place back.</summary>
    private void ReleaseExpired()
    {
        foreach (var (device, since) in _starting)
        {
            if (_clock.GetElapsedTime(since) >= _gateway.Limits.PokeTimeout)
                Answered(device);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _waiting.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        _window.Dispose();
    }
}
