using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Rig.Agent.Platform.Linux.Network;

/// <summary>Can the agent still reach its gateway? A TCP connect to the gateway's agent endpoint (the name is
/// resolved at every attempt, as the agent's own connections do), repeated until it succeeds or the time is up.
/// A connect is enough: it proves addresses and routes carry traffic both ways; TLS would only add the gateway's load.</summary>
internal sealed class GatewayProbe(string host, int port)
{
    /// <summary>Longest single connect attempt.</summary>
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Pause between failed attempts (a cut-off network fails at once; do not spin).</summary>
    private static readonly TimeSpan AttemptSpacing = TimeSpan.FromMilliseconds(250);

    /// <summary>After a first successful connect, how long to wait before the second one that confirms it: a manager
    /// may still be switching addresses when the first connect goes out over the old one.</summary>
    public static readonly TimeSpan StabilityWindow = TimeSpan.FromSeconds(2);

    /// <summary>The gateway's host name or address.</summary>
    public string Host { get; } = host;

    /// <summary>The gateway's agent port.</summary>
    public int Port { get; } = port;

    /// <summary><c>HOST:PORT</c> for messages.</summary>
    public override string ToString() => $"{Host}:{Port}";

    /// <summary>A probe for the gateway named by the agent's <c>gatewayUrl</c>.</summary>
    public static GatewayProbe For(Uri gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        return new GatewayProbe(gateway.IdnHost, gateway.Port);
    }

    /// <summary>True as soon as a connect succeeds; false when none did within <paramref name="timeout"/>.
    /// <paramref name="lastError"/> says why the last attempt failed.</summary>
    public async Task<(bool Reached, string LastError)> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var lastError = "no attempt made";
        while (true)
        {
            var left = timeout - watch.Elapsed;
            if (left <= TimeSpan.Zero)
                return (false, lastError);
            var limit = left < AttemptTimeout ? left : AttemptTimeout;
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(limit);
            try
            {
                var addresses = IPAddress.TryParse(Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(Host, attempt.Token).ConfigureAwait(false);
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(addresses, Port, attempt.Token).ConfigureAwait(false);
                return (true, "");
            }
            catch (SocketException e)
            {
                lastError = e.Message;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // An attempt cut short by the deadline says less than an earlier refusal: keep that one.
                if (limit == AttemptTimeout || lastError == "no attempt made")
                    lastError = $"no answer within {limit.TotalSeconds:0.#} s";
            }
            left = timeout - watch.Elapsed;
            if (left > TimeSpan.Zero)
                await Task.Delay(left < AttemptSpacing ? left : AttemptSpacing, ct).ConfigureAwait(false);
        }
    }

    /// <summary>True when a connect succeeded and another one <see cref="StabilityWindow"/> later succeeded too (the
    /// confirmation may run past <paramref name="timeout"/> by the window and one attempt); false when that did not
    /// happen within <paramref name="timeout"/>.</summary>
    public async Task<(bool Reached, string LastError)> WaitStableAsync(TimeSpan timeout, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var left = timeout - watch.Elapsed;
            var (reached, error) = await WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, ct).ConfigureAwait(false);
            if (!reached)
                return (false, error);
            await Task.Delay(StabilityWindow, ct).ConfigureAwait(false);
            var (again, againError) = await WaitAsync(AttemptTimeout, ct).ConfigureAwait(false);
            if (again)
                return (true, "");
            if (timeout - watch.Elapsed <= TimeSpan.Zero)
                return (false, $"reached once, then lost {StabilityWindow.TotalSeconds:0} s later: {againError}");
        }
    }
}
