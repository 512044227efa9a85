using System.Net.Sockets;
using Rig.Protocol;

namespace Rig.Server.Gateway;

internal sealed partial class Gateway
{
    private readonly SemaphoreSlim _pokeSlots = new(64, 64);

    /// <summary>Poke a device's agent: open a TCP connection to its poke listener and send the poke bytes. The
    /// poke carries no command; the agent answers by inquiring over a new mTLS connection. Returns false when
    /// the agent cannot be reached (it will find its work at its next poll or check-in).</summary>
    public async Task<bool> PokeAsync(string device, CancellationToken ct)
    {
        var runtime = await store.GetDeviceRuntimeAsync(device, ct).ConfigureAwait(false);
        if (runtime is not { PokeHost: { } host, PokePort: { } port })
            return false;
        var endpoint = $"{host}:{port}";
        await _pokeSlots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(limits.PokeTimeout);
            using var client = new TcpClient { NoDelay = true };
            await client.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            await client.GetStream().WriteAsync(ProtocolInfo.PokeBytes.ToArray(), timeout.Token).ConfigureAwait(false);
            client.Client.Shutdown(SocketShutdown.Both);
            ServerLog.Poked(logger, device, endpoint);
            GatewayTelemetry.Pokes.Add(1, new KeyValuePair<string, object?>("result", "sent"));
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or ArgumentException)
        {
            ServerLog.PokeFailed(logger, device, endpoint, e.Message);
            GatewayTelemetry.Pokes.Add(1, new KeyValuePair<string, object?>("result", "unreachable"));
            return false;
        }
        finally
        {
            _pokeSlots.Release();
        }
    }

    /// <summary>At start: poke every device whose queue still has commands to send. Pokes that were in flight (or
    /// still waiting for the poke window) when the previous gateway process stopped were lost with it; without
    /// this those agents would wait for their next check-in.</summary>
    public async Task<int> PokeUnfinishedAsync(CancellationToken ct)
    {
        if (Pokes is not { } pokes)
            return 0;
        var devices = await store.ListDevicesWithWorkAsync(ct).ConfigureAwait(false);
        foreach (var device in devices)
            pokes.Schedule(device);
        if (devices.Count > 0)
            ServerLog.PokingUnfinished(logger, devices.Count);
        return devices.Count;
    }
}
