using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    /// <summary>Start <paramref name="count"/> copies of <paramref name="work"/> on the thread pool, released
    /// together, so they really overlap.</summary>
    private static async Task<T[]> TogetherAsync<T>(int count, Func<int, Task<T>> work)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await work(i);
        })).ToList();
        start.SetResult();
        return await Task.WhenAll(tasks);
    }

    // ---- concurrency (SQLite: one writer at a time; PostgreSQL: row locks) -------------------

    [Fact]
    public async Task Two_creators_of_the_same_devices_queues_in_opposite_orders_never_deadlock()
    {
        // A rollout's wave and a converge write queues for the same devices at the same moment, each in its own order:
        // on PostgreSQL each device's creators are serialised by a lock, taken in one global order so that two
        // transactions never wait for each other (a deadlock aborted one of them: the operator got a 500).
        for (var round = 0; round < 15; round++)
        {
            var names = Enumerable.Range(0, 12).Select(i => $"race-{round:00}-{i:00}").ToArray();
            var results = await TogetherAsync(2, i => Store.CreateQueuesAsync([.. (i == 0 ? names : names.Reverse()).Select(n => (n, (IReadOnlyList<NewCommand>)Writes(1)))], "race", 1));
            // Each device got exactly one queue; the other creator found it active.
            foreach (var name in names)
                Assert.Equal(1, results.Count(r => r.Any(q => q.Created?.Device == name)));
        }
    }

    [Fact]
    public async Task Twenty_devices_exchange_in_parallel_each_through_its_own_queue()
    {
        const int devices = 20;
        var names = Enumerable.Range(0, devices).Select(i => $"node-{i:00}").ToArray();
        var commands = names.Select(_ => Writes(3)).ToArray();
        var created = await TogetherAsync(devices, i => Store.CreateQueueAsync(names[i], commands[i], "fleet rollout", 1));
        Assert.All(created, c => Assert.NotNull(c.Created));
        var before = Store.Stats;

        var handedOut = await TogetherAsync(devices, async i =>
        {
            var ids = new List<string>();
            var response = await ExchangeAsync(Inquiry(names[i]));
            while (response.Answer == ExchangeAnswer.Command)
            {
                ids.Add(response.Command!.Id);
                response = await ExchangeAsync(Report(Succeeded(response.Command.Id), names[i]));
            }
            return ids;
        });

        for (var i = 0; i < devices; i++)
        {
            Assert.Equal(commands[i].Select(c => c.Id), handedOut[i]);
            Assert.Equal(QueueStates.Succeeded, (await QueueAsync(created[i].Created!.Id)).Status);
            Assert.Equal(3, (await RecordedAsync(names[i])).Files.Count);
        }
        Assert.Equal(before.RetriedBatches, Store.Stats.RetriedBatches); // every batch went through the fast path
    }

    [Fact]
    public async Task Waiting_exchanges_are_committed_together_and_a_refused_one_undoes_only_itself()
    {
        const int devices = 50;
        var names = Enumerable.Range(0, devices).Select(i => $"node-{i:00}").ToArray();
        var commands = names.Select(_ => Writes(1)).ToArray();
        for (var i = 0; i < devices; i++)
            Assert.NotNull((await Store.CreateQueueAsync(names[i], commands[i], "fleet rollout", 1)).Created);
        var before = Store.Stats;

        // Submitted in one go: the group writer finds them waiting and commits them in few transactions.
        var inquiries = names.Select(n => Store.ExchangeAsync(n, Inquiry(n), MaxDeliveries)).ToList();
        var forged = Store.ExchangeAsync(names[1], Report(Succeeded(commands[0][0].Id), names[1]), MaxDeliveries); // node-01 answering node-00's command
        var answers = await Task.WhenAll(inquiries);
        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() => forged);

        Assert.Equal("foreign-command", refused.Code);
        for (var i = 0; i < devices; i++)
            Assert.Equal(commands[i][0].Id, answers[i].Command!.Id);
        var after = Store.Stats;
        Assert.Equal(devices + 1, after.Exchanges - before.Exchanges);
        Assert.True(after.Batches - before.Batches < devices, $"{after.Batches - before.Batches} transactions for {devices} waiting exchanges");
        Assert.True(after.LargestBatch > 1);
        Assert.Equal(before.RetriedBatches, after.RetriedBatches); // a refusal is an answer, not an error: no batch ran twice
        // The refused one undid nothing of the others: every command was delivered exactly once.
        Assert.Equal(devices, await ScalarAsync("SELECT COUNT(*) FROM commands WHERE status = 'sent' AND deliveries = 1"));
    }

    [Fact]
    public async Task A_database_error_in_one_exchange_of_a_group_undoes_only_that_exchange()
    {
        // PostgreSQL refuses a NUL character in text: the poisoned "rebooted" id fails in the database (an inventory
        // holding one is dropped before it is written, so it cannot poison anything). The group writer then runs the
        // group again statement by statement: only the poisoned exchange fails. (SQLite takes the NUL.)
        const int devices = 30;
        var names = Enumerable.Range(0, devices).Select(i => $"node-{i:00}").ToArray();
        var commands = names.Select(_ => new List<NewCommand> { Inventory(), WriteFile("/etc/x", "x") }).ToArray();
        for (var i = 0; i < devices; i++)
            Assert.NotNull((await Store.CreateQueueAsync(names[i], commands[i], "fleet rollout", 1)).Created);
        await Task.WhenAll(names.Select(n => Store.ExchangeAsync(n, Inquiry(n), MaxDeliveries)));
        var reports = names.Select((n, i) => Store.ExchangeAsync(n, i == 7 ? Report(Succeeded(commands[i][0].Id), n) with { Rebooted = "bad\0id" } : Report(Succeeded(commands[i][0].Id), n), MaxDeliveries)).ToList();
        var outcomes = await Task.WhenAll(reports.Select(async r => await Record.ExceptionAsync(() => r)));

        for (var i = 0; i < devices; i++)
        {
            if (i == 7 && ExpectedEngine == StoreEngine.Postgres)
            {
                Assert.IsAssignableFrom<System.Data.Common.DbException>(outcomes[i]);
                Assert.Equal((CommandStates.Sent, 1), await StatusAsync(commands[i][0].Id)); // undone: delivered again later
                Assert.Equal((CommandStates.Pending, 0), await StatusAsync(commands[i][1].Id));
                continue;
            }
            Assert.Null(outcomes[i]);
            Assert.Equal((CommandStates.Succeeded, 1), await StatusAsync(commands[i][0].Id));
            Assert.Equal((CommandStates.Sent, 1), await StatusAsync(commands[i][1].Id));
        }

        async Task<(string, long)> StatusAsync(string id)
        {
            await using var connection = await OpenRawAsync();
            var row = await Dapper.SqlMapper.QuerySingleAsync(connection, "SELECT status, deliveries FROM commands WHERE id = @id", new { id });
            return ((string)row.status, Convert.ToInt64(row.deliveries, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task Parallel_exchanges_for_one_device_never_hand_out_two_commands_or_skip_one() =>
        await RaceOnOneDeviceAsync([Store, Store, Store, Store]);

    [Fact]
    public async Task Two_stores_racing_on_one_device_never_hand_out_two_commands_or_skip_one()
    {
        // Two gateways over one database (CHECKLIST 23): SQLite's file lock, PostgreSQL's row locks.
        await using var second = await OpenStoreAsync();
        await RaceOnOneDeviceAsync([Store, second, Store, second]);
    }

    /// <summary>Several copies of the same agent (or retries of one request) race on every step of one queue,
    /// each through one of <paramref name="stores"/>: all must get the same next command, results are applied
    /// once and in order, and the queue ends exactly once.</summary>
    private async Task RaceOnOneDeviceAsync(IReadOnlyList<RigStore> stores)
    {
        const int length = 12;
        const int maxDeliveries = 1000;
        var racers = stores.Count;
        var commands = Enumerable.Range(0, length).Select(i => WriteFile("/etc/rig/sequence", $"step {i}")).ToList();
        var queue = await CreateQueueAsync(commands);

        var first = await TogetherAsync(racers, r => stores[r].ExchangeAsync(Device, Inquiry(), maxDeliveries));
        Assert.All(first, a => AssertCommand(commands[0], a));

        for (var i = 0; i < length; i++)
        {
            var id = commands[i].Id;
            var answers = await TogetherAsync(racers, r => stores[r].ExchangeAsync(Device, Report(Succeeded(id)), maxDeliveries));
            if (i + 1 < length)
                Assert.All(answers, a => AssertCommand(commands[i + 1], a));
            else
                Assert.All(answers, AssertNoCommand);
            Assert.Equal(i + 1, (await QueueAsync(queue.Id)).Position);
        }

        var finished = await QueueAsync(queue.Id);
        Assert.Equal((QueueStates.Succeeded, length), (finished.Status, finished.Position));
        var stored = await Store.GetCommandsAsync(queue.Id);
        Assert.All(stored, c => Assert.Equal((CommandStates.Succeeded, racers), (c.Status, c.Deliveries)));
        Assert.Equal(Digest($"step {length - 1}"), (await RecordedAsync()).Files["/etc/rig/sequence"].Sha256);
    }

    [Fact]
    public async Task Parallel_inquiries_for_one_device_get_the_same_command()
    {
        var commands = Writes(2);
        var queue = await CreateQueueAsync(commands);

        for (var round = 1; round <= 5; round++)
        {
            var answers = await TogetherAsync(2, _ => ExchangeAsync(Inquiry(), maxDeliveries: 1000));
            Assert.All(answers, r => AssertCommand(commands[0], r));
            Assert.Equal(round * 2, (await CommandAsync(queue, commands[0])).Deliveries);
        }
        Assert.Equal(0, (await CommandAsync(queue, commands[1])).Deliveries);
    }

    [Fact]
    public async Task Parallel_queue_creation_for_one_device_creates_exactly_one_queue()
    {
        // Two operators (or two gateways) converging the same device at once (CHECKLIST 23, 26).
        var results = await TogetherAsync(8, _ => Store.CreateQueueAsync(Device, Writes(2), "rollout", 1));

        var created = Assert.Single(results, r => r.Created is not null).Created!;
        Assert.All(results.Where(r => r.Created is null), r => Assert.Equal(created.Id, r.Blocking?.Id));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM queues"));
        Assert.Equal(2, await ScalarAsync("SELECT COUNT(*) FROM commands"));
    }

    [Fact]
    public async Task Parallel_adds_of_the_same_package_add_it_once()
    {
        var nginx = Package("nginx", "1.24.0");

        var results = await TogetherAsync(8, _ => Store.AddPackageAsync(nginx, "{}"));

        Assert.Single(results, r => r.Outcome == PackageAddOutcome.Added);
        Assert.All(results, r => Assert.Equal(nginx, r.Existing));
        Assert.Equal(7, results.Count(r => r.Outcome == PackageAddOutcome.AlreadyPresent));
        Assert.Equal([nginx], await Store.ListPackagesAsync());
    }

    [Fact]
    public async Task Two_stores_on_one_database_share_the_queues()
    {
        // A restarted gateway, or a second one over the same database, sees and continues the same queue.
        var commands = Writes(2);
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));

        await using var second = await OpenStoreAsync();
        Assert.Equal(queue.Id, (await second.CreateQueueAsync(Device, Writes(1), "other gateway", 1)).Blocking?.Id);
        AssertCommand(commands[1], await second.ExchangeAsync(Device, Report(Succeeded(commands[0].Id)), MaxDeliveries));
        AssertNoCommand(await Store.ExchangeAsync(Device, Report(Succeeded(commands[1].Id)), MaxDeliveries));
        Assert.Equal(QueueStates.Succeeded, (await second.GetQueueAsync(queue.Id))!.Status);
    }
}
