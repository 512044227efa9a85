using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Rig.Server.Gateway;

/// <summary>Pokes many agents without a thundering herd: at most <c>RigLimits.PokeWindow</c> poked agents may be
/// "starting" (poked, their first inquiry not yet here) at once. An agent's inquiry — or a timeout — opens the
/// window for the next poke. Every agent still gets its queue as fast as the gateway can take handshakes, but
/// each waits for its poke inside the gateway rather than in a pile of simultaneous TLS handshakes, so the time
/// from a poke to the first command stays short (docs/PROTOCOL.md).</summary>
public sealed class PokeScheduler : IAsyncDisposable
{
    private readonly Gateway _gateway;
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
                while (!await _window.WaitAsync(_gateway.Limits.PokeTimeout, stop).ConfigureAwait(false))
                    ReleaseExpired();
                _queued.TryRemove(device, out _);
                _starting[device] = Environment.TickCount64;
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

    /// <summary>Agents that were poked but did not inquire within the poke timeout give their place back.</summary>
    private void ReleaseExpired()
    {
        var cutoff = Environment.TickCount64 - (long)_gateway.Limits.PokeTimeout.TotalMilliseconds;
        foreach (var (device, since) in _starting)
        {
            if (since < cutoff)
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
