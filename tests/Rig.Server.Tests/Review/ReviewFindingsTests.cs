using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Tests.Review;

/// <summary>Regression tests from the security and durability review: each proves a defect it found stays fixed.</summary>
public sealed class ReviewFindingsTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-review-{Guid.NewGuid():n}");
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

    private static ExchangeRequest Request(string device, int? pokePort = null, string? rebooted = null) => new()
    {
        ProtocolVersion = ProtocolInfo.Version, Device = device, RequestId = Guid.NewGuid().ToString("n"),
        Reason = InquiryReason.CheckIn, PokePort = pokePort, Rebooted = rebooted,
    };

    /// <summary>An enrolled agent reports pokePort 70000 (nothing validates it). The gateway's PokeAsync only catches
    /// SocketException/IOException/OperationCanceledException, so ArgumentOutOfRangeException escapes: POST
    /// /api/v1/devices/web-1/poke answers 500 and ConvergeAsync's Task.WhenAll throws after the queues were created,
    /// so POST /api/v1/converge answers 500 for the whole fleet.</summary>
    [Fact]
    public async Task A_bogus_poke_port_from_an_agent_does_not_break_poking()
    {
        await _server.Gateway.ExchangeAsync("web-1", Request("web-1", pokePort: 70000), "127.0.0.1", CancellationToken.None);
        var poked = await _server.Gateway.PokeAsync("web-1", CancellationToken.None);
        Assert.False(poked);
    }

    /// <summary>The agent's journal holds a "rebooted" id the gateway does not know (database restored from a
    /// backup, gateway rebuilt and the agent re-enrolled with its old state directory). The agent sends it with
    /// EVERY request until acknowledged; the gateway refuses the whole request with 409, so the device can never
    /// inquire again, not even after an agent restart (the id is in journal.jsonl).</summary>
    [Fact]
    public async Task An_unknown_rebooted_id_does_not_lock_the_device_out()
    {
        var response = await _server.Gateway.ExchangeAsync("web-1", Request("web-1", rebooted: "0193aaaabbbbccccddddeeeeffff0000"), "127.0.0.1", CancellationToken.None);
        Assert.Equal(ExchangeAnswer.NoCommand, response.Answer);
    }
}

public sealed class ReviewPoisonResultTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-review-{Guid.NewGuid():n}");
    private RigStore _store = null!;

    public async Task InitializeAsync() => _store = await RigStore.OpenAsync($"Data Source={Path.Combine(_dir, "rig.db")}");

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>An inventory with two packages of the same name (dpkg multi-arch: libc6:amd64 + libc6:i386 would do it
    /// honestly once the Debian plug-in exists; a damaged state.json or a hostile agent today) makes
    /// RecordedStateUpdater.FromInventory throw inside the exchange transaction (it did, with ToDictionary). The
    /// endpoint answers 500, the agent treats 5xx as "gateway unavailable" and retries the same request forever inside
    /// the session; the rollback also undoes nothing-counting, so too-many-deliveries never ends the queue.</summary>
    [Fact]
    public async Task A_malformed_inventory_is_refused_not_a_500_loop()
    {
        var id = Guid.CreateVersion7().ToString("n");
        await _store.CreateQueueAsync("web-1", [new NewCommand(id, new InventoryCommand(), "r", null, "test")], "test", null);
        var first = await _store.ExchangeAsync("web-1", new ExchangeRequest { ProtocolVersion = 1, Device = "web-1", RequestId = "a", Reason = InquiryReason.Poke }, 5);
        Assert.Equal(id, first.Command!.Id);
        var inventory = new InventoryReport { Packages = [new InstalledPackage("libc6", "2.36", "deb", new string('a', 64)), new InstalledPackage("libc6", "2.36", "deb", new string('b', 64))] };
        var report = new ExchangeRequest
        {
            ProtocolVersion = 1, Device = "web-1", RequestId = "b", Reason = InquiryReason.Continue,
            Result = new CommandResult { CommandId = id, Outcome = CommandOutcome.Succeeded, Inventory = inventory },
        };
        var e = await Record.ExceptionAsync(() => _store.ExchangeAsync("web-1", report, 5));
        Assert.True(e is null or ExchangeRefusedException, $"escaped as {e?.GetType().Name}: {e?.Message} (the endpoint answers 500; the agent retries forever)");
    }
}

public sealed class ReviewParseTests
{
    /// <summary>RespectNullableAnnotations does not reach list elements (RigArchive.ReadManifest says so itself), so a
    /// null inside inventory lists passes the "strict" parse and would NullReference later (-> 500 -> endless retry).</summary>
    [Fact]
    public void Null_list_elements_in_an_exchange_requests_inventory_make_it_bad_not_the_exchange()
    {
        // Since issue 5 a bad inventory is dropped by the gateway, not the exchange carrying it (the device would be
        // refused for ever: every check-in carries one); the gateway checks it before touching it.
        var json = """{"protocolVersion":1,"device":"web-1","requestId":"x","reason":"Continue","result":{"commandId":"c","outcome":"Succeeded","inventory":{"packages":[null],"files":[null],"services":[null]}}}"""u8.ToArray();
        var request = Rig.Protocol.RigJson.Parse(json, Rig.Protocol.RigJson.Default.ExchangeRequest, "req");
        Assert.Equal("inventory.packages[0] is null", Rig.Protocol.ContractChecks.InventoryProblem(request.Result!.Inventory!));
    }
}

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ReviewSecretFileTests
{
    /// <summary>server.json carries the PostgreSQL connection string (with its password) and is written with
    /// File.WriteAllText: 0644 under the usual umask, readable by every local user.</summary>
    [Fact]
    public void Server_json_with_a_database_password_is_private()
    {
        var dir = Directory.CreateTempSubdirectory("rig-review-").FullName;
        try
        {
            new ServerOptions { DataDirectory = dir, ConnectionString = "Host=db;Database=rig;Username=rig;Password=hunter2" }.Save();
            var path = ServerOptions.ConfigPath(dir);
            Assert.Contains("hunter2", File.ReadAllText(path), StringComparison.Ordinal);
            var mode = File.GetUnixFileMode(path);
            Assert.True((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) == 0, $"server.json is {mode}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Trust.WritePrivateFile opens with FileMode.Create: UnixCreateMode applies only when the file is
    /// created, so re-writing an existing key file (re-enrollment over an old agent.key, gateway.key re-issue)
    /// keeps whatever mode the old file had.</summary>
    [Fact]
    public void Rewriting_a_private_key_file_makes_it_private()
    {
        var dir = Directory.CreateTempSubdirectory("rig-review-").FullName;
        try
        {
            var path = Path.Combine(dir, "agent.key");
            File.WriteAllText(path, "old");
            File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("644", 8));
            Rig.Protocol.Trust.WritePrivateFile(path, "-----BEGIN PRIVATE KEY-----");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
