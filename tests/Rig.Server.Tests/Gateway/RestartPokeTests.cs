using System.Net;
using System.Net.Sockets;
using Rig.Protocol;
using Rig.Server.Store;
using Rig.Server.Tests.Store;

namespace Rig.Server.Tests.Gateway;

/// <summary>A gateway that starts with unfinished queues pokes their agents: pokes that were in flight when the
/// previous process stopped died with it.</summary>
public sealed class RestartPokeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-restart-{Guid.NewGuid():n}");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_starting_gateway_pokes_the_devices_whose_queues_still_have_commands_and_no_others()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        await GatewayServer.InitializeAsync(options);
        using var unfinished = new TcpListener(IPAddress.Loopback, 0);
        using var idle = new TcpListener(IPAddress.Loopback, 0);
        unfinished.Start();
        idle.Start();
        await using (var store = await RigStore.OpenAsync(options.EffectiveConnectionString))
        {
            // As a gateway killed mid-rollout leaves it: one device with a pending queue, one with nothing to do.
            await store.TouchDeviceAsync("web-1", "127.0.0.1", ((IPEndPoint)unfinished.LocalEndpoint).Port, "test");
            await store.TouchDeviceAsync("web-2", "127.0.0.1", ((IPEndPoint)idle.LocalEndpoint).Port, "test");
            Assert.NotNull((await store.CreateQueueAsync("web-1", StoreTestData.Writes(3), "rollout", null)).Created);
        }

        await using var server = await GatewayServer.StartAsync(options);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var poke = await unfinished.AcceptTcpClientAsync(timeout.Token);
        var bytes = new byte[ProtocolInfo.PokeBytes.Length];
        await poke.GetStream().ReadExactlyAsync(bytes, timeout.Token);
        Assert.Equal(ProtocolInfo.PokeBytes.ToArray(), bytes);
        await Task.Delay(500);
        Assert.False(idle.Pending(), "a device without work must not be poked");
    }
}
