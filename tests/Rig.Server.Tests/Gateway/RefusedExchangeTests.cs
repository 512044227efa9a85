using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Tests.Gateway;

/// <summary>A refused exchange changes nothing on the gateway: not the device's poke address, not its agent version,
/// not its last-seen time (a refusal from a confused or hostile agent must not make the next rollout wait for a
/// check-in because the poke address was erased).</summary>
public sealed class RefusedExchangeTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-refused-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static ExchangeRequest CheckIn(int? pokePort, string version, CommandResult? result = null) => new()
    {
        ProtocolVersion = ProtocolInfo.Version, Device = "web-1", RequestId = Guid.NewGuid().ToString("n"),
        Reason = InquiryReason.CheckIn, PokePort = pokePort, AgentVersion = version, Result = result,
    };

    [Theory]
    [InlineData(null)] // an exchange without a poke port used to erase the poke address
    [InlineData(7999)]
    public async Task An_exchange_refused_for_an_unknown_command_leaves_poke_address_version_and_last_seen_unchanged(int? pokePort)
    {
        await _server.Gateway.ExchangeAsync("web-1", CheckIn(7001, "1.0.0"), "127.0.0.1", CancellationToken.None);
        var before = await _server.Gateway.Store.GetDeviceRuntimeAsync("web-1");
        Assert.Equal((7001, "1.0.0"), (before!.PokePort, before.AgentVersion));
        await Task.Delay(20); // a touch would now write a later last-seen time

        var unknown = new CommandResult { CommandId = "0193aaaabbbbccccddddeeeeffff0001", Outcome = CommandOutcome.Succeeded };
        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() =>
            _server.Gateway.ExchangeAsync("web-1", CheckIn(pokePort, "9.9.9", unknown), "127.0.0.2", CancellationToken.None));

        Assert.Equal("unknown-command", refused.Code);
        var after = await _server.Gateway.Store.GetDeviceRuntimeAsync("web-1");
        Assert.Equal((before.PokeHost, before.PokePort, before.AgentVersion, before.LastSeenAt), (after!.PokeHost, after.PokePort, after.AgentVersion, after.LastSeenAt));
    }
}
