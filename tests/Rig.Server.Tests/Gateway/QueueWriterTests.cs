using Microsoft.Extensions.Logging.Abstractions;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Operations;
using Rig.Server.Store;
using Rig.Server.Tests.Store;

namespace Rig.Server.Tests.Gateway;

/// <summary>A small fleet whose plans need no package: one role with a templated file per device.</summary>
internal static class FileFleet
{
    public static IReadOnlyList<string> Names(int count, string prefix = "web-") => [.. Enumerable.Range(1, count).Select(i => $"{prefix}{i}")];

    public static RigModel Model(IReadOnlyList<string> devices) => new()
    {
        Sites = [new Site { Name = "s1" }],
        Devices = [.. devices.Select(d => new Device { Name = d, Site = "s1", Tier = "web" })],
        Templates = [new ConfigTemplate("motd", "managed by rig: {{ device.name }}\n")],
        Bundles = [new Bundle { Name = "motd", Items = [new FileItem("/etc/motd", "motd")] }],
        Roles = [new Role { Name = "base", Kind = BuiltInRoleKinds.Os, Items = [new BundleItem("motd")] }],
        Assignments = [.. devices.Select(d => new RoleAssignment(d, "base"))],
    };
}

/// <summary>The one plan-and-queue path: every device of an order planned at once, queues written one transaction
/// per batch, active queues never overwritten.</summary>
public sealed class QueueWriterTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-queue-writer-{Guid.NewGuid():n}");
    private RigStore _store = null!;

    public async Task InitializeAsync() => _store = await RigStore.OpenAsync($"Data Source={Path.Combine(_dir, "rig.db")}");

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private QueueWriter Writer(int batch = 500) => new(_store, NullLogger.Instance, batch);

    private static QueueOrder Script(IReadOnlyList<string> devices) =>
        QueueOrder.Run(1, devices, [new InventoryCommand()], "script:check", "script check run by test", "script check by test");

    [Fact]
    public async Task A_wave_of_many_devices_is_written_in_one_transaction()
    {
        var devices = FileFleet.Names(40);
        var before = _store.Stats.Commits;

        var results = await Writer().WriteAsync(QueueOrder.Converge(new ModelSnapshot(1, FileFleet.Model(devices)), devices, "converge by test"), CancellationToken.None);

        Assert.Equal(1, _store.Stats.Commits - before);
        Assert.Equal(devices, results.Select(r => r.Device));
        Assert.All(results, r => Assert.Equal(QueueOutcome.Queued, r.Outcome));
        foreach (var result in results)
            Assert.Equal(result.Queue!.Id, (await _store.GetActiveQueueAsync(result.Device))!.Id);
    }

    [Fact]
    public async Task Devices_beyond_one_batch_take_one_transaction_per_batch()
    {
        var devices = FileFleet.Names(25);
        var before = _store.Stats.Commits;

        var results = await Writer(batch: 10).WriteAsync(Script(devices), CancellationToken.None);

        Assert.Equal(3, _store.Stats.Commits - before);
        Assert.All(results, r => Assert.Equal((QueueOutcome.Queued, 1), (r.Outcome, r.Commands)));
    }

    [Fact]
    public async Task A_device_with_an_active_queue_is_reported_blocked_by_it_and_its_queue_is_left_as_it_was()
    {
        var active = (await _store.CreateQueueAsync("web-1", StoreTestData.Writes(3), "an earlier converge", 1)).Created!;

        var results = await Writer().WriteAsync(Script(FileFleet.Names(2)), CancellationToken.None);

        var blocked = results[0];
        Assert.Equal((QueueOutcome.Blocked, active.Id, 0), (blocked.Outcome, blocked.Queue!.Id, blocked.Commands));
        Assert.Equal("device.busy", Assert.Single(blocked.Errors).Code);
        Assert.Contains(active.Id, blocked.Errors[0].Message, StringComparison.Ordinal);
        Assert.Equal(QueueOutcome.Queued, results[1].Outcome);
        Assert.Equal(active.Id, (await _store.GetActiveQueueAsync("web-1"))!.Id);
        Assert.Equal(3, (await _store.GetCommandsAsync(active.Id)).Count);
    }

    [Fact]
    public async Task A_device_neither_modelled_nor_known_is_invalid_and_nothing_is_queued_for_it()
    {
        var results = await Writer().WriteAsync(QueueOrder.Converge(new ModelSnapshot(1, FileFleet.Model(["web-1"])), ["web-1", "ghost"], "converge by test"), CancellationToken.None);

        Assert.Equal(QueueOutcome.Queued, results[0].Outcome);
        Assert.Equal((QueueOutcome.Invalid, "device.unknown"), (results[1].Outcome, Assert.Single(results[1].Errors).Code));
        Assert.Null(await _store.GetActiveQueueAsync("ghost"));
    }

    [Fact]
    public async Task Converge_queues_the_plan_with_each_command_labelled_by_its_role()
    {
        var result = Assert.Single(await Writer().WriteAsync(QueueOrder.Converge(new ModelSnapshot(7, FileFleet.Model(["web-1"])), ["web-1"], "converge by test"), CancellationToken.None));

        var queue = (await _store.GetQueueAsync(result.Queue!.Id))!;
        Assert.Equal((7L, "converge by test"), (queue.ModelRev, queue.Reason));
        var commands = await _store.GetCommandsAsync(queue.Id);
        Assert.Equal(result.Commands, commands.Count);
        var file = commands.Single(c => c.Spec is WriteFileCommand);
        var write = (WriteFileCommand)file.Spec;
        Assert.Equal(("/etc/motd", "managed by rig: web-1\n", "base"), (write.Path, write.Content, file.Role));
        Assert.IsType<InventoryCommand>(commands[^1].Spec); // a plan ends by recording what the device now has
    }
}

/// <summary>The rollout engine starts a wave in a few transactions, whatever its size, and starts the next wave when a
/// queue it waits for ends, not at its fallback poll.</summary>
public sealed class RolloutEngineTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-rollout-engine-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;

    public async Task InitializeAsync()
    {
        // A fallback poll far longer than any wait below: whatever the engine does within the test, a signal started it.
        var options = new ServerOptions
        {
            DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None",
            Limits = RigLimits.Default with { RolloutFallbackPoll = TimeSpan.FromMinutes(10) },
        };
        await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<RolloutInfo> WaitForAsync(string id, Func<RolloutInfo, bool> done, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var rollout = (await _server.Store.GetRolloutAsync(id))!;
            if (done(rollout))
                return rollout;
            Assert.False(timeout.IsCancellationRequested, $"timed out waiting for {what}: {rollout.Summary}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_wave_of_many_devices_is_started_in_a_few_transactions_not_one_per_device()
    {
        var devices = FileFleet.Names(30);
        await _server.Store.SaveModelAsync(FileFleet.Model(devices), "test", "thirty web servers");
        var before = _server.Store.Stats.Commits;

        var rollout = await _server.Gateway.StartRolloutAsync(new RolloutRequest(null, null, MaxParallel: 100), "admin", CancellationToken.None);
        await WaitForAsync(rollout.Id, r => r.Devices.All(d => d.Status == RolloutDeviceStatuses.Queued), "every device to be queued");

        // Creating the rollout, the queues of the wave, the devices' new states: a handful, not 30 or 60.
        Assert.InRange(_server.Store.Stats.Commits - before, 1, 5);
    }

    [Fact]
    public async Task The_next_wave_starts_when_the_canary_queue_ends_without_waiting_for_the_fallback_poll()
    {
        string[] devices = ["web-1", "web-2"];
        await _server.Store.SaveModelAsync(FileFleet.Model(devices), "test", "two web servers");
        var rollout = await _server.Gateway.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1), "admin", CancellationToken.None);
        var started = await WaitForAsync(rollout.Id, r => r.Devices.Any(d => d.Status == RolloutDeviceStatuses.Queued), "the canary to be queued");
        var canary = started.Devices.Single(d => d.Status == RolloutDeviceStatuses.Queued).Device;
        Assert.Equal(RolloutDeviceStatuses.Waiting, started.Devices.Single(d => d.Device != canary).Status);

        // The canary's agent runs its queue to the end.
        var response = await _server.Gateway.ExchangeAsync(canary, StoreTestData.Inquiry(canary), "127.0.0.1", CancellationToken.None);
        while (response.Answer == ExchangeAnswer.Command)
        {
            var command = response.Command!;
            var result = StoreTestData.Succeeded(command.Id, command.Spec is InventoryCommand ? new InventoryReport { Hostname = canary } : null);
            response = await _server.Gateway.ExchangeAsync(canary, StoreTestData.Report(result, canary), "127.0.0.1", CancellationToken.None);
        }

        var next = await WaitForAsync(rollout.Id, r => r.Devices.All(d => d.Status != RolloutDeviceStatuses.Waiting), "the second wave to start");
        Assert.Equal(RolloutDeviceStatuses.Succeeded, next.Devices.Single(d => d.Device == canary).Status);
        Assert.Equal(RolloutDeviceStatuses.Queued, next.Devices.Single(d => d.Device != canary).Status);
    }

    [Fact]
    public async Task Each_wave_started_is_in_the_audit_log_on_behalf_of_the_rollouts_starter_after_the_results_that_ended_the_last()
    {
        string[] devices = ["web-1", "web-2"];
        await _server.Store.SaveModelAsync(FileFleet.Model(devices), "admin", "two web servers");
        var rollout = await _server.Gateway.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1), "admin", CancellationToken.None);
        var started = await WaitForAsync(rollout.Id, r => r.Devices.Any(d => d.Status == RolloutDeviceStatuses.Queued), "the canary to be queued");
        var canary = started.Devices.Single(d => d.Status == RolloutDeviceStatuses.Queued).Device;
        var response = await _server.Gateway.ExchangeAsync(canary, StoreTestData.Inquiry(canary), "127.0.0.1", CancellationToken.None);
        var commands = 0;
        while (response.Answer == ExchangeAnswer.Command)
        {
            var command = response.Command!;
            var result = StoreTestData.Succeeded(command.Id, command.Spec is InventoryCommand ? new InventoryReport { Hostname = canary } : null);
            response = await _server.Gateway.ExchangeAsync(canary, StoreTestData.Report(result, canary), "127.0.0.1", CancellationToken.None);
            commands++;
        }
        await WaitForAsync(rollout.Id, r => r.Devices.All(d => d.Status != RolloutDeviceStatuses.Waiting), "the second wave to start");

        var entries = await _server.Store.ListAuditAsync(new AuditQuery());
        var waves = entries.Where(e => e.Action == "rollout.wave").ToList();
        Assert.Equal(2, waves.Count);
        Assert.All(waves, w => Assert.Equal(("admin", rollout.Id, "ok"), (w.Operator, w.Target, w.Outcome)));
        Assert.Contains("\"wave\":0", waves[0].Detail, StringComparison.Ordinal);
        Assert.Contains("\"wave\":1", waves[1].Detail, StringComparison.Ordinal);
        Assert.All(waves, w => Assert.Contains("\"devices\":1", w.Detail, StringComparison.Ordinal));
        var results = entries.Where(e => e.Action == "command.result").ToList();
        Assert.Equal(commands, results.Count);
        Assert.All(results, r => Assert.Equal((canary, (string?)null), (r.Device, r.Operator)));
        Assert.True(results[^1].Seq < waves[1].Seq, "the second wave starts after the canary's results");
        Assert.Null((await _server.Store.VerifyAuditAsync()).Break);
    }

    [Fact]
    public async Task A_device_whose_rollout_queue_was_written_but_not_recorded_is_given_that_queue_not_left_blocked_by_it()
    {
        await _server.Store.SaveModelAsync(FileFleet.Model(["web-1"]), "test", "one web server");
        var rollout = await _server.Gateway.StartRolloutAsync(new RolloutRequest(null, null), "admin", CancellationToken.None);
        var queued = await WaitForAsync(rollout.Id, r => r.Devices.Single().Status == RolloutDeviceStatuses.Queued, "the device to be queued");
        var queueId = queued.Devices.Single().QueueId;

        // As a gateway stopped between writing the wave's queues and recording them leaves it: the device still waiting.
        Assert.True(await _server.Gateway.PauseRolloutAsync(rollout.Id, CancellationToken.None));
        await _server.Store.UpdateRolloutDevicesAsync(rollout.Id, [new RolloutDeviceUpdate("web-1", RolloutDeviceStatuses.Waiting, null, null)]);
        Assert.True(await _server.Gateway.ResumeRolloutAsync(rollout.Id, null, CancellationToken.None));

        var next = await WaitForAsync(rollout.Id, r => r.Devices.Single().Status != RolloutDeviceStatuses.Waiting, "the device to be looked at again");
        Assert.Equal((RolloutDeviceStatuses.Queued, queueId), (next.Devices.Single().Status, next.Devices.Single().QueueId));
    }
}
