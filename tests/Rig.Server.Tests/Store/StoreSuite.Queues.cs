using System.Globalization;
using System.Text;
using Dapper;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    // ---- helpers -------------------------------------------------------------------------------

    private async Task<QueueInfo> CreateQueueAsync(IReadOnlyList<NewCommand> commands, string device = Device)
    {
        var result = await Store.CreateQueueAsync(device, commands, "test rollout", 1);
        Assert.Null(result.Blocking);
        return result.Created!;
    }

    private Task<ExchangeResponse> ExchangeAsync(ExchangeRequest request, int maxDeliveries = MaxDeliveries) =>
        Store.ExchangeAsync(request.Device, request, maxDeliveries);

    private static void AssertCommand(NewCommand expected, ExchangeResponse response)
    {
        Assert.Equal(ExchangeAnswer.Command, response.Answer);
        Assert.NotNull(response.Command);
        Assert.Equal(expected.Id, response.Command.Id);
        Assert.Equal(expected.Spec, response.Command.Spec);
    }

    private static void AssertNoCommand(ExchangeResponse response)
    {
        Assert.Equal(ExchangeAnswer.NoCommand, response.Answer);
        Assert.Null(response.Command);
    }

    private async Task<QueueInfo> QueueAsync(string id) => (await Store.GetQueueAsync(id))!;

    private async Task<CommandInfo> CommandAsync(QueueInfo queue, NewCommand command) =>
        (await Store.GetCommandsAsync(queue.Id)).Single(c => c.Id == command.Id);

    private async Task<RecordedState> RecordedAsync(string device = Device) =>
        (await Store.GetDeviceRuntimeAsync(device))?.Recorded ?? RecordedState.Empty;

    /// <summary>Every row of every table, as text: "nothing changes" means this is equal before and after.
    /// Tests move the clock first, so a rewrite with the same values still shows as a new updated_at.</summary>
    private async Task<string> SnapshotAsync()
    {
        var text = new StringBuilder();
        await using var connection = await OpenRawAsync();
        foreach (var table in Tables)
        {
            text.Append("# ").AppendLine(table);
            var rows = (await connection.QueryAsync($"SELECT * FROM {table}"))
                .Select(r => string.Join(", ", ((IDictionary<string, object>)r).Select(kv => $"{kv.Key}={Convert.ToString(kv.Value, CultureInfo.InvariantCulture)}")))
                .Order(StringComparer.Ordinal);
            foreach (var row in rows)
                text.AppendLine(row);
        }
        return text.ToString();
    }

    // ---- creating queues (CHECKLIST 26) --------------------------------------------------------

    [Fact]
    public async Task A_second_queue_for_the_same_device_is_blocked_by_the_active_one()
    {
        var commands = Writes(2);
        var first = await CreateQueueAsync(commands);
        Assert.Equal((Device, QueueStates.Pending, 0, 2, 1L, "test rollout"), (first.Device, first.Status, first.Position, first.Length, first.ModelRev, first.Reason));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var second = await Store.CreateQueueAsync(Device, Writes(1), "another rollout", 2);

        Assert.Null(second.Created);
        Assert.Equal(first, second.Blocking);
        Assert.Equal(before, await SnapshotAsync());

        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        var whileRunning = await Store.CreateQueueAsync(Device, Writes(1), "another rollout", 2);
        Assert.Null(whileRunning.Created);
        Assert.Equal((first.Id, QueueStates.Running), (whileRunning.Blocking!.Id, whileRunning.Blocking.Status));
        Assert.Equal(first.Id, (await Store.GetActiveQueueAsync(Device))!.Id);
    }

    [Fact]
    public async Task A_queue_for_another_device_is_not_blocked()
    {
        var first = await CreateQueueAsync(Writes(2), Device);

        var other = await CreateQueueAsync(Writes(2), OtherDevice);

        Assert.NotEqual(first.Id, other.Id);
        Assert.Equal(first.Id, (await Store.GetActiveQueueAsync(Device))!.Id);
        Assert.Equal(other.Id, (await Store.GetActiveQueueAsync(OtherDevice))!.Id);
    }

    [Fact]
    public async Task A_new_queue_can_be_created_once_the_previous_one_has_ended()
    {
        var write = WriteFile("/etc/a", "a");
        var done = await CreateQueueAsync([write]);
        AssertCommand(write, await ExchangeAsync(Inquiry()));
        AssertNoCommand(await ExchangeAsync(Report(Succeeded(write.Id))));
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(done.Id)).Status);

        Clock.Advance(TimeSpan.FromSeconds(1));
        var cancelled = await CreateQueueAsync(Writes(1));
        Assert.NotNull(await Store.CancelQueueAsync(Device, "changed my mind"));
        Clock.Advance(TimeSpan.FromSeconds(1));

        var third = await CreateQueueAsync(Writes(1));
        Assert.Equal(third, await Store.GetActiveQueueAsync(Device));
        Assert.Equal(third, await Store.GetLatestQueueAsync(Device));
        Assert.Equal([QueueStates.Succeeded, QueueStates.Cancelled, QueueStates.Pending],
            [(await QueueAsync(done.Id)).Status, (await QueueAsync(cancelled.Id)).Status, (await QueueAsync(third.Id)).Status]);
    }

    // ---- walking a queue -----------------------------------------------------------------------

    [Fact]
    public async Task Exchange_walks_a_queue_command_by_command()
    {
        var commands = Writes(3);
        var queue = await CreateQueueAsync(commands);

        var response = await ExchangeAsync(Inquiry());
        AssertCommand(commands[0], response);
        Assert.Equal((queue.Id, 0, 3), (response.Command!.QueueId, response.Command.Sequence, response.Command.QueueLength));
        Assert.Equal((QueueStates.Running, 0), ((await QueueAsync(queue.Id)).Status, (await QueueAsync(queue.Id)).Position));

        for (var i = 0; i < commands.Count; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(1));
            response = await ExchangeAsync(Report(Succeeded(commands[i].Id)));
            if (i + 1 < commands.Count)
            {
                AssertCommand(commands[i + 1], response);
                Assert.Equal(i + 1, response.Command!.Sequence);
                Assert.Equal((QueueStates.Running, i + 1), ((await QueueAsync(queue.Id)).Status, (await QueueAsync(queue.Id)).Position));
            }
            else
            {
                AssertNoCommand(response);
            }
        }

        var finished = await QueueAsync(queue.Id);
        Assert.Equal((QueueStates.Succeeded, 3, (string?)null, (DateTimeOffset?)Clock.Now), (finished.Status, finished.Position, finished.Error, finished.FinishedAt));
        Assert.Null(await Store.GetActiveQueueAsync(Device));
        var stored = await Store.GetCommandsAsync(queue.Id);
        Assert.Equal(commands.Select(c => c.Id), stored.Select(c => c.Id));
        Assert.All(stored, c => Assert.Equal((CommandStates.Succeeded, 1), (c.Status, c.Deliveries)));
        Assert.Equal(commands.Select(c => Succeeded(c.Id)), stored.Select(c => c.Result));
    }

    [Fact]
    public async Task A_finished_queue_answers_no_command_and_stays_succeeded()
    {
        var write = WriteFile("/etc/a", "a");
        var queue = await CreateQueueAsync([write]);
        AssertCommand(write, await ExchangeAsync(Inquiry()));
        AssertNoCommand(await ExchangeAsync(Report(Succeeded(write.Id))));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        AssertNoCommand(await ExchangeAsync(Inquiry()));
        AssertNoCommand(await ExchangeAsync(Inquiry()));

        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(queue.Id)).Status);
    }

    [Fact]
    public async Task A_device_without_any_queue_gets_no_command()
    {
        AssertNoCommand(await ExchangeAsync(Inquiry()));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM queues"));
    }

    [Fact]
    public async Task A_duplicate_result_is_not_applied_twice()
    {
        // Replaying the first result after the second would bring /etc/a back if it were applied again.
        var commands = new List<NewCommand> { WriteFile("/etc/a", "a"), DeleteFile("/etc/a"), WriteFile("/etc/b", "b") };
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        AssertCommand(commands[1], await ExchangeAsync(Report(Succeeded(commands[0].Id))));
        AssertCommand(commands[2], await ExchangeAsync(Report(Succeeded(commands[1].Id))));
        var state = Json(await RecordedAsync());
        Assert.DoesNotContain("/etc/a", state, StringComparison.Ordinal);

        var replay = Succeeded(commands[0].Id) with { Output = "replayed" };
        AssertCommand(commands[2], await ExchangeAsync(Report(replay)));
        AssertCommand(commands[2], await ExchangeAsync(Report(Succeeded(commands[1].Id) with { Output = "replayed" })));

        Assert.Equal(state, Json(await RecordedAsync()));
        Assert.Equal(2, (await QueueAsync(queue.Id)).Position);
        Assert.Equal(Succeeded(commands[0].Id), (await CommandAsync(queue, commands[0])).Result);
        Assert.Equal(3, (await CommandAsync(queue, commands[2])).Deliveries); // re-delivered, as to any inquiry

        AssertNoCommand(await ExchangeAsync(Report(Succeeded(commands[2].Id))));
        var final = Json(await RecordedAsync());
        AssertNoCommand(await ExchangeAsync(Report(Succeeded(commands[2].Id) with { Output = "replayed" })));
        Assert.Equal(final, Json(await RecordedAsync()));
        Assert.Equal((QueueStates.Succeeded, 3), ((await QueueAsync(queue.Id)).Status, (await QueueAsync(queue.Id)).Position));
    }

    [Fact]
    public async Task A_result_for_another_devices_command_is_refused_and_changes_nothing()
    {
        var mine = Writes(2);
        var theirs = Writes(2);
        await CreateQueueAsync(mine, Device);
        await CreateQueueAsync(theirs, OtherDevice);
        AssertCommand(mine[0], await ExchangeAsync(Inquiry(Device)));
        AssertCommand(theirs[0], await ExchangeAsync(Inquiry(OtherDevice)));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var result = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Report(Succeeded(mine[0].Id), OtherDevice)));
        var failed = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Report(Failed(mine[0].Id, "sabotage"), OtherDevice)));
        // "rebooted" naming another device's command is ignored, not refused (refusing would lock the sender out):
        var rebooted = await ExchangeAsync(Rebooted(mine[0].Id, OtherDevice) with { Inquire = false });

        Assert.All([result, failed], e => Assert.Equal(("foreign-command", 403), (e.Code, AgentEndpoints.StatusOf(e.Refusal))));
        Assert.Equal(ExchangeAnswer.NoCommand, rebooted.Answer);
        Assert.Contains(mine[0].Id, result.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_result_for_an_unknown_command_is_refused_and_changes_nothing()
    {
        var commands = Writes(2);
        await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var result = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Report(Succeeded("no-such-command"))));
        // An unknown "rebooted" id (restored database, re-enrolled agent with an old journal) is ignored, not refused:
        var rebooted = await ExchangeAsync(Rebooted("no-such-command") with { Inquire = false });

        Assert.Equal(("unknown-command", 409), (result.Code, AgentEndpoints.StatusOf(result.Refusal)));
        Assert.Equal(ExchangeAnswer.NoCommand, rebooted.Answer);
        Assert.Contains("no-such-command", result.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_failed_result_ends_the_queue_as_failed_with_the_error()
    {
        var commands = Writes(3);
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        AssertCommand(commands[1], await ExchangeAsync(Report(Succeeded(commands[0].Id))));
        Clock.Advance(TimeSpan.FromSeconds(5));

        AssertNoCommand(await ExchangeAsync(Report(Failed(commands[1].Id, "No space left on device writing /etc/rig/f1"))));

        var failed = await QueueAsync(queue.Id);
        Assert.Equal((QueueStates.Failed, (DateTimeOffset?)Clock.Now), (failed.Status, failed.FinishedAt));
        Assert.Contains("No space left on device writing /etc/rig/f1", failed.Error, StringComparison.Ordinal);
        Assert.Contains("command 2 (write /etc/rig/f1)", failed.Error, StringComparison.Ordinal);
        Assert.Null(await Store.GetActiveQueueAsync(Device));
        var stored = await Store.GetCommandsAsync(queue.Id);
        Assert.Equal([CommandStates.Succeeded, CommandStates.Failed, CommandStates.Pending], stored.Select(c => c.Status));
        Assert.Equal(Failed(commands[1].Id, "No space left on device writing /etc/rig/f1"), stored[1].Result);
        Assert.Equal(["/etc/rig/f0"], (await RecordedAsync()).Files.Keys);

        AssertNoCommand(await ExchangeAsync(Inquiry()));
        Assert.Equal(0, (await CommandAsync(queue, commands[2])).Deliveries);
    }

    [Fact]
    public async Task A_reboot_answered_rebooting_is_acknowledged_and_a_replay_gets_the_same_answer()
    {
        var commands = new List<NewCommand> { WriteFile("/etc/a", "a"), Reboot(), WriteFile("/etc/b", "b") };
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        AssertCommand(commands[1], await ExchangeAsync(Report(Succeeded(commands[0].Id))));

        var ack = await ExchangeAsync(Report(Rebooting(commands[1].Id)));

        Assert.Equal(new ExchangeResponse { Answer = ExchangeAnswer.RebootAcknowledged }, ack);
        Assert.Equal(QueueStates.Rebooting, (await QueueAsync(queue.Id)).Status);
        Assert.Equal(CommandStates.Rebooting, (await CommandAsync(queue, commands[1])).Status);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        Assert.Equal(ack, await ExchangeAsync(Report(Rebooting(commands[1].Id))));
        Assert.Equal(ack, await ExchangeAsync(Report(Rebooting(commands[1].Id), inquire: false)));
        AssertNoCommand(await ExchangeAsync(Inquiry())); // waiting for "rebooted": nothing is sent meanwhile

        Assert.Equal(before, await SnapshotAsync());
        var blocked = await Store.CreateQueueAsync(Device, Writes(1), "during reboot", null);
        Assert.Equal(queue.Id, blocked.Blocking?.Id);
    }

    [Fact]
    public async Task Rebooted_advances_the_queue_past_the_reboot()
    {
        var commands = new List<NewCommand> { Reboot(), WriteFile("/etc/b", "b") };
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        Assert.Equal(ExchangeAnswer.RebootAcknowledged, (await ExchangeAsync(Report(Rebooting(commands[0].Id)))).Answer);

        var next = await ExchangeAsync(Rebooted(commands[0].Id));

        AssertCommand(commands[1], next);
        Assert.Equal(1, next.Command!.Sequence);
        Assert.Equal((QueueStates.Running, 1), ((await QueueAsync(queue.Id)).Status, (await QueueAsync(queue.Id)).Position));
        var reboot = await CommandAsync(queue, commands[0]);
        Assert.Equal((CommandStates.Succeeded, CommandOutcome.Succeeded), (reboot.Status, reboot.Result!.Outcome));

        // A replayed "rebooted" and a late "rebooting" change nothing and do not skip the next command.
        AssertCommand(commands[1], await ExchangeAsync(Rebooted(commands[0].Id)));
        AssertCommand(commands[1], await ExchangeAsync(Report(Rebooting(commands[0].Id))));
        Assert.Equal(1, (await QueueAsync(queue.Id)).Position);

        AssertNoCommand(await ExchangeAsync(Report(Succeeded(commands[1].Id))));
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(queue.Id)).Status);
    }

    [Fact]
    public async Task A_device_that_rebooted_before_its_rebooting_report_was_recorded_still_advances()
    {
        var commands = new List<NewCommand> { Reboot(), WriteFile("/etc/b", "b") };
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));

        AssertCommand(commands[1], await ExchangeAsync(Rebooted(commands[0].Id)));

        Assert.Equal(CommandStates.Succeeded, (await CommandAsync(queue, commands[0])).Status);
    }

    [Fact]
    public async Task Only_a_reboot_command_can_answer_rebooting()
    {
        var commands = Writes(2);
        await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Report(Rebooting(commands[0].Id))));

        Assert.Equal(("bad-result", 400), (refused.Code, AgentEndpoints.StatusOf(refused.Refusal)));
        Assert.Equal(before, await SnapshotAsync());
    }

    // ---- several commands per answer -----------------------------------------------------------

    private static ExchangeRequest Batch(int max, params CommandResult[] results) => new()
    {
        ProtocolVersion = Rig.Protocol.ProtocolInfo.Version,
        Device = Device,
        RequestId = NewId(),
        Reason = InquiryReason.Continue,
        Results = results.Length > 0 ? results : null,
        MaxCommands = max,
    };

    private static IReadOnlyList<Command> AllOf(ExchangeResponse response) =>
        response.Command is null ? [] : [response.Command, .. response.More ?? []];

    [Fact]
    public async Task An_agent_that_takes_several_commands_gets_them_in_order_and_reports_them_together()
    {
        var commands = Writes(5);
        var queue = await CreateQueueAsync(commands);

        var first = AllOf(await ExchangeAsync(Batch(3)));

        Assert.Equal(commands.Take(3).Select(c => (c.Id, c.Spec)), first.Select(c => (c.Id, c.Spec)));
        Assert.Equal([0, 1, 2], first.Select(c => c.Sequence));
        Assert.All(await Store.GetCommandsAsync(queue.Id), c => Assert.Equal(c.Id == commands[3].Id || c.Id == commands[4].Id ? (CommandStates.Pending, 0) : (CommandStates.Sent, 1), (c.Status, c.Deliveries)));

        var second = AllOf(await ExchangeAsync(Batch(3, Succeeded(commands[0].Id), Succeeded(commands[1].Id), Succeeded(commands[2].Id))));

        Assert.Equal(commands.Skip(3).Select(c => c.Id), second.Select(c => c.Id));
        Assert.Equal((QueueStates.Running, 3), ((await QueueAsync(queue.Id)).Status, (await QueueAsync(queue.Id)).Position));
        AssertNoCommand(await ExchangeAsync(Batch(3, Succeeded(commands[3].Id), Succeeded(commands[4].Id))));
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(queue.Id)).Status);
        Assert.All(await Store.GetCommandsAsync(queue.Id), c => Assert.Equal((CommandStates.Succeeded, 1), (c.Status, c.Deliveries)));
        Assert.Equal(commands.Select(c => ((WriteFileCommand)c.Spec).Path), (await RecordedAsync()).Files.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_reboot_reported_without_the_results_before_it_is_refused_naming_them_and_changes_nothing()
    {
        // The agent ran a whole answer (two writes and the reboot), journaled it, and crashed before reporting; the
        // restarted agent reports only the reboot. Accepting it would move the queue past two unrecorded results.
        var commands = new List<NewCommand> { WriteFile("/etc/a", "a"), WriteFile("/etc/b", "b"), Reboot(), WriteFile("/etc/c", "c") };
        var queue = await CreateQueueAsync(commands);
        Assert.Equal(commands.Take(3).Select(c => c.Id), AllOf(await ExchangeAsync(Batch(8))).Select(c => c.Id));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Report(Rebooting(commands[2].Id))));
        var withOne = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Batch(8, Succeeded(commands[0].Id), Rebooting(commands[2].Id))));

        Assert.Equal(("missing-results", 409), (refused.Code, AgentEndpoints.StatusOf(refused.Refusal)));
        Assert.Equal([commands[0].Id, commands[1].Id], refused.Missing!);
        Assert.Equal([commands[1].Id], withOne.Missing!);
        Assert.Equal(before, await SnapshotAsync());

        // With every result, the reboot is acknowledged; after it the queue goes on at the command after the reboot.
        Assert.Equal(ExchangeAnswer.RebootAcknowledged, (await ExchangeAsync(Batch(8, Succeeded(commands[0].Id), Succeeded(commands[1].Id), Rebooting(commands[2].Id)))).Answer);
        AssertCommand(commands[3], await ExchangeAsync(Rebooted(commands[2].Id)));
        Assert.Equal([CommandStates.Succeeded, CommandStates.Succeeded, CommandStates.Succeeded, CommandStates.Sent], (await Store.GetCommandsAsync(queue.Id)).Select(c => c.Status));
    }

    [Fact]
    public async Task Two_results_for_one_service_in_one_request_both_reach_the_recorded_state()
    {
        // The second result builds on the first: restart (running) then enable (enabled) is a running, enabled service,
        // though both are recorded in the same exchange before anything is sent to the database.
        var commands = new List<NewCommand> { Service("nginx", ServiceAction.Restart), Service("nginx", ServiceAction.Enable), WriteFile("/etc/x", "x") };
        await CreateQueueAsync(commands);
        Assert.Equal(commands.Take(2).Select(c => c.Id), AllOf(await ExchangeAsync(Batch(2))).Select(c => c.Id));

        AssertCommand(commands[2], await ExchangeAsync(Batch(1, Succeeded(commands[0].Id), Succeeded(commands[1].Id))));

        var nginx = (await RecordedAsync()).Services["nginx"];
        Assert.Equal((true, true), (nginx.Running, nginx.Enabled));
    }

    [Fact]
    public async Task A_result_that_skips_a_command_without_a_result_is_refused_naming_it_and_changes_nothing()
    {
        // The same hole as with a reboot, for any command: an agent that lost its "reported" marks and reports only a
        // later result must not move the queue past the commands before it, whose results would then never be recorded.
        var commands = new List<NewCommand> { WriteFile("/etc/a", "a"), WriteFile("/etc/b", "b"), WriteFile("/etc/c", "c"), WriteFile("/etc/d", "d") };
        var queue = await CreateQueueAsync(commands);
        Assert.Equal(commands.Take(3).Select(c => c.Id), AllOf(await ExchangeAsync(Batch(3))).Select(c => c.Id));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var skipped = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Report(Succeeded(commands[2].Id))));
        var failedAhead = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Batch(3, Succeeded(commands[0].Id), Failed(commands[2].Id, "boom"))));

        Assert.Equal(("missing-results", 409), (skipped.Code, AgentEndpoints.StatusOf(skipped.Refusal)));
        Assert.Equal([commands[0].Id, commands[1].Id], skipped.Missing!);
        Assert.Equal([commands[1].Id], failedAhead.Missing!);
        Assert.Equal(before, await SnapshotAsync());

        // In order, the same results are recorded and the queue goes on.
        AssertCommand(commands[3], await ExchangeAsync(Batch(1, Succeeded(commands[0].Id), Succeeded(commands[1].Id), Succeeded(commands[2].Id))));
        Assert.Equal((QueueStates.Running, 3), ((await QueueAsync(queue.Id)).Status, (await QueueAsync(queue.Id)).Position));
    }

    [Fact]
    public async Task Rebooted_is_refused_while_a_command_before_the_reboot_has_no_result_and_changes_nothing()
    {
        // The device rebooted before any of its answer was recorded: "rebooted" alone must not skip the writes.
        var commands = new List<NewCommand> { WriteFile("/etc/a", "a"), Reboot(), WriteFile("/etc/c", "c") };
        var queue = await CreateQueueAsync(commands);
        Assert.Equal(2, AllOf(await ExchangeAsync(Batch(8))).Count);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Rebooted(commands[1].Id)));

        Assert.Equal("missing-results", refused.Code);
        Assert.Equal([commands[0].Id], refused.Missing!);
        Assert.Equal(before, await SnapshotAsync());
        var complete = Rebooted(commands[1].Id) with { Results = [Succeeded(commands[0].Id)], Inquire = true };
        AssertCommand(commands[2], await ExchangeAsync(complete));
        Assert.Equal(2, (await QueueAsync(queue.Id)).Position);
    }

    [Fact]
    public async Task Results_already_recorded_are_replays_and_do_not_break_the_order_check()
    {
        // An agent that lost its "reported" marks reports an old failure again together with a new queue's results.
        var first = new List<NewCommand> { WriteFile("/etc/a", "a") };
        var failedQueue = await CreateQueueAsync(first);
        AssertCommand(first[0], await ExchangeAsync(Inquiry()));
        AssertNoCommand(await ExchangeAsync(Report(Failed(first[0].Id, "disk on fire"))));
        var second = Writes(2);
        var queue = await CreateQueueAsync(second);
        Assert.Equal(2, AllOf(await ExchangeAsync(Batch(8))).Count);

        AssertNoCommand(await ExchangeAsync(Batch(8, Failed(first[0].Id, "disk on fire"), Succeeded(second[0].Id), Succeeded(second[1].Id))));

        Assert.Equal(QueueStates.Failed, (await QueueAsync(failedQueue.Id)).Status);
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(queue.Id)).Status);
    }

    [Fact]
    public async Task A_reboot_is_the_last_command_of_an_answer()
    {
        var commands = new List<NewCommand> { WriteFile("/etc/a", "a"), Reboot(), WriteFile("/etc/b", "b") };
        var queue = await CreateQueueAsync(commands);

        var answer = AllOf(await ExchangeAsync(Batch(32)));

        Assert.Equal([commands[0].Id, commands[1].Id], answer.Select(c => c.Id));
        var ack = await ExchangeAsync(Batch(32, Succeeded(commands[0].Id), Rebooting(commands[1].Id)) with { Inquire = false });
        Assert.Equal(ExchangeAnswer.RebootAcknowledged, ack.Answer);
        Assert.Equal(QueueStates.Rebooting, (await QueueAsync(queue.Id)).Status);
        Assert.Equal([CommandStates.Succeeded, CommandStates.Rebooting, CommandStates.Pending], (await Store.GetCommandsAsync(queue.Id)).Select(c => c.Status));
        Assert.Equal([commands[2].Id], AllOf(await ExchangeAsync(Rebooted(commands[1].Id) with { MaxCommands = 32 })).Select(c => c.Id));
    }

    [Fact]
    public async Task A_failure_in_an_answer_ends_the_queue_and_the_commands_after_it_are_pending_again()
    {
        var commands = Writes(4);
        var queue = await CreateQueueAsync(commands);
        Assert.Equal(4, AllOf(await ExchangeAsync(Batch(8))).Count);

        AssertNoCommand(await ExchangeAsync(Batch(8, Succeeded(commands[0].Id), Failed(commands[1].Id, "disk full"))));

        var failed = await QueueAsync(queue.Id);
        Assert.Equal(QueueStates.Failed, failed.Status);
        Assert.Contains("command 2 (write /etc/rig/f1) failed [test-failure]: disk full", failed.Error, StringComparison.Ordinal); // the code, so operators see it in every view
        Assert.Equal([(CommandStates.Succeeded, 1), (CommandStates.Failed, 1), (CommandStates.Pending, 1), (CommandStates.Pending, 1)],
            (await Store.GetCommandsAsync(queue.Id)).Select(c => (c.Status, c.Deliveries)));
        Assert.Equal(["/etc/rig/f0"], (await RecordedAsync()).Files.Keys);
    }

    [Fact]
    public async Task A_result_after_a_failure_in_the_same_request_is_refused_and_changes_nothing()
    {
        var commands = Writes(3);
        await CreateQueueAsync(commands);
        Assert.Equal(3, AllOf(await ExchangeAsync(Batch(3))).Count);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Batch(3, Failed(commands[0].Id, "boom"), Succeeded(commands[1].Id))));

        Assert.Equal(("bad-result", 400), (refused.Code, AgentEndpoints.StatusOf(refused.Refusal)));
        Assert.Contains(commands[1].Id, refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_request_reporting_one_command_twice_is_refused_and_changes_nothing()
    {
        var commands = Writes(2);
        await CreateQueueAsync(commands);
        Assert.Equal(2, AllOf(await ExchangeAsync(Batch(2))).Count);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();

        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(Batch(2, Succeeded(commands[0].Id), Succeeded(commands[0].Id))));

        Assert.Equal(("bad-result", 400), (refused.Code, AgentEndpoints.StatusOf(refused.Refusal)));
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task Rebooted_and_a_late_rebooting_for_the_same_command_in_one_request_do_not_reboot_again()
    {
        var commands = new List<NewCommand> { Reboot(), WriteFile("/etc/b", "b") };
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        Assert.Equal(ExchangeAnswer.RebootAcknowledged, (await ExchangeAsync(Report(Rebooting(commands[0].Id)))).Answer);

        var next = await ExchangeAsync(Rebooted(commands[0].Id) with { Result = Rebooting(commands[0].Id) });

        AssertCommand(commands[1], next);
        Assert.Equal((QueueStates.Running, 1), ((await QueueAsync(queue.Id)).Status, (await QueueAsync(queue.Id)).Position));
        Assert.Equal(CommandStates.Succeeded, (await CommandAsync(queue, commands[0])).Status);
    }

    [Fact]
    public async Task Commands_sent_but_not_reported_are_delivered_again_from_the_first_unreported()
    {
        var commands = Writes(4);
        var queue = await CreateQueueAsync(commands);
        Assert.Equal(4, AllOf(await ExchangeAsync(Batch(4))).Count);

        // The agent reports only the first (it stopped, came back, and asks again): the rest come again.
        var again = AllOf(await ExchangeAsync(Batch(4, Succeeded(commands[0].Id))));

        Assert.Equal(commands.Skip(1).Select(c => c.Id), again.Select(c => c.Id));
        Assert.Equal([1, 2, 2, 2], (await Store.GetCommandsAsync(queue.Id)).Select(c => c.Deliveries));
    }

    [Fact]
    public async Task An_answer_holds_few_installs_and_stays_within_its_byte_budget()
    {
        var installs = Enumerable.Range(0, Rig.Protocol.RigLimits.Default.MaxInstallsPerAnswer + 2).Select(i => Install($"pkg{i}", "1.0")).ToList();
        await CreateQueueAsync(installs);

        var answer = AllOf(await ExchangeAsync(Batch(32)));

        Assert.Equal(installs.Take(Rig.Protocol.RigLimits.Default.MaxInstallsPerAnswer).Select(c => c.Id), answer.Select(c => c.Id));

        var big = new string('x', Rig.Protocol.RigLimits.Default.MaxAnswerBytes / 3);
        var writes = Enumerable.Range(0, 6).Select(i => WriteFile($"/srv/big{i}", big)).ToList();
        var other = await Store.CreateQueueAsync("web-2", writes, "big files", 1);
        var bigAnswer = AllOf(await Store.ExchangeAsync("web-2", Batch(32) with { Device = "web-2" }, MaxDeliveries));
        Assert.InRange(bigAnswer.Count, 2, 4); // the first always; then until the budget is spent
        Assert.Equal(writes.Take(bigAnswer.Count).Select(c => c.Id), bigAnswer.Select(c => c.Id));
        Assert.NotNull(other.Created);
    }

    // ---- deliveries (CHECKLIST 17, 22) ---------------------------------------------------------

    [Fact]
    public async Task An_inquiry_without_a_result_redelivers_the_same_command_and_counts_deliveries()
    {
        var commands = Writes(2);
        var queue = await CreateQueueAsync(commands);

        for (var delivery = 1; delivery <= 3; delivery++)
        {
            AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
            Assert.Equal(delivery, (await CommandAsync(queue, commands[0])).Deliveries);
        }

        Assert.Equal(0, (await QueueAsync(queue.Id)).Position);
        Assert.Equal(0, (await CommandAsync(queue, commands[1])).Deliveries);
        AssertCommand(commands[1], await ExchangeAsync(Report(Succeeded(commands[0].Id))));
        Assert.Equal(1, (await CommandAsync(queue, commands[1])).Deliveries);
    }

    [Fact]
    public async Task After_max_deliveries_without_a_result_the_queue_fails_with_too_many_deliveries()
    {
        const int max = 3;
        var commands = Writes(2);
        var queue = await CreateQueueAsync(commands);
        for (var i = 0; i < max; i++)
            AssertCommand(commands[0], await ExchangeAsync(Inquiry(), max));

        AssertNoCommand(await ExchangeAsync(Inquiry(), max));

        var failed = await QueueAsync(queue.Id);
        Assert.Equal(QueueStates.Failed, failed.Status);
        Assert.Contains("delivered 3 times without a result", failed.Error, StringComparison.Ordinal);
        var command = await CommandAsync(queue, commands[0]);
        Assert.Equal((CommandStates.Failed, max, "too-many-deliveries"), (command.Status, command.Deliveries, command.Result!.ErrorCode));
        Assert.Equal(0, (await CommandAsync(queue, commands[1])).Deliveries);
        Assert.Null(await Store.GetActiveQueueAsync(Device));
        AssertNoCommand(await ExchangeAsync(Inquiry(), max));
    }

    // ---- cancel (CHECKLIST 28) -----------------------------------------------------------------

    [Fact]
    public async Task After_cancel_nothing_more_is_sent_but_a_late_result_is_still_recorded()
    {
        var commands = Writes(3);
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        AssertCommand(commands[1], await ExchangeAsync(Report(Succeeded(commands[0].Id))));

        var cancelled = await Store.CancelQueueAsync(Device, "operator stopped the rollout");

        Assert.Equal((queue.Id, QueueStates.Cancelled, "operator stopped the rollout"), (cancelled!.Id, cancelled.Status, cancelled.Error));
        AssertNoCommand(await ExchangeAsync(Inquiry()));
        Assert.Equal(1, (await CommandAsync(queue, commands[1])).Deliveries);

        AssertNoCommand(await ExchangeAsync(Report(Succeeded(commands[1].Id))));

        Assert.Equal(CommandStates.Succeeded, (await CommandAsync(queue, commands[1])).Status);
        Assert.Equal(["/etc/rig/f0", "/etc/rig/f1"], (await RecordedAsync()).Files.Keys.Order(StringComparer.Ordinal));
        var after = await QueueAsync(queue.Id);
        Assert.Equal((QueueStates.Cancelled, 1), (after.Status, after.Position));
        var never = await CommandAsync(queue, commands[2]);
        Assert.Equal((CommandStates.Pending, 0), (never.Status, never.Deliveries));
        Assert.Null(await Store.CancelQueueAsync(Device, "again"));
    }

    [Fact]
    public async Task A_queue_failed_before_its_agent_asked_is_never_delivered_and_one_already_delivered_is_not_failed()
    {
        // A rollout's device timeout: the agent never asked. The queue fails with the reason and nothing is sent later.
        var commands = Writes(2);
        var queue = await CreateQueueAsync(commands);
        Assert.True(await Store.FailUndeliveredQueueAsync(queue.Id, "waiting for agent: never enrolled, gave up after 5s"));
        var failed = await QueueAsync(queue.Id);
        Assert.Equal((QueueStates.Failed, "waiting for agent: never enrolled, gave up after 5s"), (failed.Status, failed.Error));
        AssertNoCommand(await ExchangeAsync(Inquiry()));
        Assert.All(await Store.GetCommandsAsync(queue.Id), c => Assert.Equal((CommandStates.Pending, 0), (c.Status, c.Deliveries)));
        Assert.False(await Store.FailUndeliveredQueueAsync(queue.Id, "again"));

        // The agent asked first: the queue is running and runs to its end; the timeout does not touch it.
        var next = await CreateQueueAsync(Writes(1));
        var delivered = await ExchangeAsync(Inquiry());
        Assert.Equal(ExchangeAnswer.Command, delivered.Answer);
        Assert.False(await Store.FailUndeliveredQueueAsync(next.Id, "too late"));
        Assert.Equal(QueueStates.Running, (await QueueAsync(next.Id)).Status);
        AssertNoCommand(await ExchangeAsync(Report(Succeeded(delivered.Command!.Id))));
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(next.Id)).Status);
    }

    // ---- recorded state ------------------------------------------------------------------------

    [Fact]
    public async Task Recorded_state_follows_install_write_file_service_and_inventory_results()
    {
        var commands = new List<NewCommand>
        {
            Install("base-tools", "1.0", "linux-base", "os"),
            Install("nginx", "1.24.0"),
            WriteFile("/etc/nginx/nginx.conf", "listen 80;"),
            Service("nginx", ServiceAction.Start),
            Service("nginx", ServiceAction.Enable),
            WriteFile("/etc/old.conf", "old"),
            DeleteFile("/etc/old.conf"),
        };
        await WalkAsync(commands);

        var expected = commands.Aggregate(RecordedState.Empty, (s, c) => RecordedStateUpdater.Apply(s, c.Spec, c.RoleKind, Succeeded(c.Id)));
        var recorded = await RecordedAsync();
        Assert.Equal(Json(expected), Json(recorded));
        Assert.Equal(new RecordedPackage("nginx", "1.24.0", "deb", Digest("nginx@1.24.0"), "app"), recorded.Packages["nginx"]);
        Assert.Equal("os", recorded.Packages["base-tools"].Kind);
        Assert.Equal(new RecordedFile("/etc/nginx/nginx.conf", Digest("listen 80;"), "0644", "root", "root", "app"), recorded.Files["/etc/nginx/nginx.conf"]);
        Assert.Equal(new RecordedService("nginx", true, true, "app"), recorded.Services["nginx"]);
        Assert.Null((await Store.GetDeviceRuntimeAsync(Device))!.Inventory);

        var inventory = new InventoryReport
        {
            Hostname = "web-1.acme",
            Platform = "sandbox",
            Packages = [new InstalledPackage("nginx", "1.24.1", "deb", Digest("nginx@1.24.1")), new InstalledPackage("openssl", "3.0", "deb", Digest("openssl"))],
            Files = [new ManagedFile("/etc/nginx/nginx.conf", Digest("edited by hand"), "0600", "root", "root")],
            Services = [new ServiceState("nginx", false, true)],
            BootCount = 3,
        };
        var check = Inventory();
        await WalkAsync([check], c => Succeeded(c.Id, inventory));

        var afterInventory = await Store.GetDeviceRuntimeAsync(Device);
        Assert.Equal(Json(RecordedStateUpdater.FromInventory(recorded, inventory)), Json(afterInventory!.Recorded));
        Assert.Equal(("web-1.acme", 3, 2), (afterInventory.Inventory!.Hostname, afterInventory.Inventory.BootCount, afterInventory.Inventory.Packages.Count));
        Assert.Equal("app", afterInventory.Recorded.Packages["nginx"].Kind);
        Assert.Null(afterInventory.Recorded.Packages["openssl"].Kind);

        // A later command changes the recorded state but keeps the last inventory.
        await WalkAsync([Service("nginx", ServiceAction.Start)]);
        var afterStart = await Store.GetDeviceRuntimeAsync(Device);
        Assert.True(afterStart!.Recorded.Services["nginx"].Running);
        Assert.Equal("web-1.acme", afterStart.Inventory?.Hostname);
    }

    [Fact]
    public async Task An_inventory_sent_with_an_inquiry_is_applied_only_when_no_queue_is_under_way()
    {
        await WalkAsync([Install("nginx", "1.24.0")]);
        var actual = new InventoryReport
        {
            Hostname = "web-1",
            Packages = [new InstalledPackage("nginx", "1.24.0", "deb", Digest("nginx@1.24.0"), "files-missing: /usr/sbin/nginx")],
            Files = [new ManagedFile("/etc/hand.conf", Digest("by hand"), "0644", "root", "root")],
        };

        // No queue: the check-in's inventory becomes the device's actual and recorded state (a damaged package is
        // recorded as such, so a plan reinstalls it).
        AssertNoCommand(await ExchangeAsync(Inquiry() with { Reason = InquiryReason.CheckIn, Inventory = actual }));
        var recorded = await RecordedAsync();
        Assert.Equal(RecordedStateUpdater.Damaged, recorded.Packages["nginx"].Sha256);
        Assert.Equal(["/etc/hand.conf"], recorded.Files.Keys);
        Assert.Equal("web-1", (await Store.GetDeviceRuntimeAsync(Device))!.Inventory!.Hostname);

        // A queue is running: an inventory that may predate its commands is not applied; their results are kept.
        var writes = Writes(2);
        var queue = await CreateQueueAsync(writes);
        AssertCommand(writes[0], await ExchangeAsync(Inquiry()));
        var stale = new InventoryReport { Hostname = "stale" };
        AssertCommand(writes[1], await ExchangeAsync(Report(Succeeded(writes[0].Id)) with { Inventory = stale }));
        AssertNoCommand(await ExchangeAsync(Report(Succeeded(writes[1].Id))));
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(queue.Id)).Status);
        Assert.Equal(["/etc/hand.conf", "/etc/rig/f0", "/etc/rig/f1"], (await RecordedAsync()).Files.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("web-1", (await Store.GetDeviceRuntimeAsync(Device))!.Inventory!.Hostname);

        // The inventory the agent sends after the queue is applied.
        AssertNoCommand(await ExchangeAsync(Inquiry() with { Reason = InquiryReason.Continue, Inventory = new InventoryReport { Hostname = "after" } }));
        Assert.Empty((await RecordedAsync()).Files);
        Assert.Equal("after", (await Store.GetDeviceRuntimeAsync(Device))!.Inventory!.Hostname);
    }

    [Fact]
    public async Task An_inventory_commands_native_package_list_is_kept_with_the_device_not_in_the_commands_history()
    {
        var inventory = Inventory();
        var queue = await CreateQueueAsync([inventory]);
        AssertCommand(inventory, await ExchangeAsync(Inquiry()));
        var report = new InventoryReport
        {
            Hostname = "web-1",
            NativePackages = [.. Enumerable.Range(0, 300).Select(i => new NativePackage($"lib{i}", "1.0-1", "amd64", "deb"))],
        };
        AssertNoCommand(await ExchangeAsync(Report(Succeeded(inventory.Id) with { Inventory = report })));

        Assert.Equal(300, (await Store.GetDeviceRuntimeAsync(Device))!.Inventory!.NativePackages!.Count);
        var stored = Assert.Single(await Store.GetCommandsAsync(queue.Id)).Result!.Inventory!;
        Assert.Equal("web-1", stored.Hostname);
        Assert.Null(stored.NativePackages);
    }

    [Fact]
    public async Task An_oversized_inventory_is_dropped_but_the_result_is_recorded_and_the_next_command_answered()
    {
        var commands = new List<NewCommand> { Inventory(), WriteFile("/etc/a", "a") };
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        var containerHost = new InventoryReport
        {
            Hostname = "docker-1",
            Hardware = new HardwareReport(8, 16_000, [], [.. Enumerable.Range(0, 1_500).Select(i => new NicReport($"veth{i}", "up", []))]),
        };

        AssertCommand(commands[1], await ExchangeAsync(Report(Succeeded(commands[0].Id, containerHost)) with { Inventory = containerHost }));

        Assert.Equal(CommandStates.Succeeded, (await Store.GetCommandsAsync(queue.Id))[0].Status);
        Assert.Null((await Store.GetCommandsAsync(queue.Id))[0].Result!.Inventory); // not kept in the history either
        var runtime = await Store.GetDeviceRuntimeAsync(Device);
        Assert.Null(runtime!.Inventory);
        Assert.Contains("inventory.hardware.nics holds 1500 items (limit 1024)", runtime.InventoryNote, StringComparison.Ordinal);

        // A check-in with a good inventory is stored and clears the note.
        AssertNoCommand(await ExchangeAsync(Report(Succeeded(commands[1].Id))));
        AssertNoCommand(await ExchangeAsync(Inquiry() with { Reason = InquiryReason.CheckIn, Inventory = InventoryLimits.Trim(containerHost) }));
        runtime = await Store.GetDeviceRuntimeAsync(Device);
        Assert.Equal("hardware.nics: 1024 of 1500", runtime!.Inventory!.Truncated);
        Assert.Null(runtime.InventoryNote);
    }

    [Fact]
    public async Task A_check_in_inventory_with_a_control_character_is_dropped_and_the_check_in_answered()
    {
        var writes = Writes(1);
        await CreateQueueAsync(writes);
        var hostile = new InventoryReport { Hostname = "web-1", Services = [new ServiceState("nginx\u001b[2J", true, true)] };

        AssertCommand(writes[0], await ExchangeAsync(Inquiry() with { Reason = InquiryReason.CheckIn, Inventory = hostile }));

        var runtime = await Store.GetDeviceRuntimeAsync(Device);
        Assert.Null(runtime!.Inventory);
        Assert.Contains("control character U+001B", runtime.InventoryNote, StringComparison.Ordinal);
        Assert.Empty(runtime.Recorded.Services);
    }

    [Fact]
    public async Task An_unchanged_inventory_is_not_written_again_a_changed_one_is()
    {
        var first = new InventoryReport
        {
            Hostname = "web-1",
            CollectedAt = DateTimeOffset.FromUnixTimeSeconds(1_000),
            FreeBytes = 5_000,
            Packages = [new InstalledPackage("nginx", "1.24.0", "deb", Digest("nginx@1.24.0"))],
            Files = [new ManagedFile("/etc/a", Digest("a"), "0644", "root", "root")],
        };
        AssertNoCommand(await ExchangeAsync(Inquiry() with { Reason = InquiryReason.CheckIn, Inventory = first }));
        Assert.Equal(1, await VersionAsync());
        var rowsBefore = await RowsAsync();

        // Same inventory, collected later, with other free space: only those two are updated.
        AssertNoCommand(await ExchangeAsync(Inquiry() with { Reason = InquiryReason.CheckIn, Inventory = first with { CollectedAt = DateTimeOffset.FromUnixTimeSeconds(2_000), FreeBytes = 4_000 } }));
        Assert.Equal(1, await VersionAsync());
        Assert.Equal(rowsBefore, await RowsAsync());
        var runtime = await Store.GetDeviceRuntimeAsync(Device);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(2_000), runtime!.Inventory!.CollectedAt);
        Assert.Equal(4_000, runtime.Inventory.FreeBytes);
        Assert.Equal(4_000, runtime.FreeBytes);

        // A file edited on the device: written.
        var edited = first with { Files = [new ManagedFile("/etc/a", Digest("edited"), "0644", "root", "root")] };
        AssertNoCommand(await ExchangeAsync(Inquiry() with { Reason = InquiryReason.CheckIn, Inventory = edited }));
        Assert.Equal(2, await VersionAsync());
        Assert.Equal(Digest("edited"), (await RecordedAsync()).Files["/etc/a"].Sha256);
        Assert.Equal(Digest("edited"), (await Store.GetDeviceRuntimeAsync(Device))!.Inventory!.Files[0].Sha256);

        Task<long> VersionAsync() => ScalarAsync("SELECT inventory_version FROM device_runtime WHERE device = @device", new { device = Device });
        async Task<string> RowsAsync()
        {
            // The row identity: SQLite's rowid, PostgreSQL's ctid (both change when a row is deleted and inserted again
            // or, for ctid, updated).
            await using var connection = await OpenRawAsync();
            var sql = ExpectedEngine == StoreEngine.Postgres ? "SELECT kind || key || ctid::text FROM recorded_items WHERE device = @device ORDER BY kind, key"
                : "SELECT kind || key || rowid FROM recorded_items WHERE device = @device ORDER BY kind, key";
            return string.Join(",", await Dapper.SqlMapper.QueryAsync<string>(connection, sql, new { device = Device }));
        }
    }

    [Fact]
    public async Task Runtimes_can_be_listed_for_some_devices_and_without_inventories()
    {
        foreach (var name in new[] { "a-1", "b-1", "c-1" })
            AssertNoCommand(await ExchangeAsync(Inquiry(name) with { Reason = InquiryReason.CheckIn, Inventory = new InventoryReport { Hostname = name, FreeBytes = 42 } }));
        await WalkAsync([WriteFile("/etc/x", "x")], device: "d-1"); // recorded state, no inventory

        var some = await Store.ListDeviceRuntimeAsync(["b-1", "d-1", "unknown"], withInventory: true);
        Assert.Equal(["b-1", "d-1"], some.Select(r => r.Device));
        Assert.Equal("b-1", some[0].Inventory!.Hostname);
        Assert.Equal(["/etc/x"], some[1].Recorded.Files.Keys);

        var lean = await Store.ListDeviceRuntimeAsync(null, withInventory: false);
        Assert.Equal(["a-1", "b-1", "c-1", "d-1"], lean.Select(r => r.Device));
        Assert.All(lean, r => Assert.Null(r.Inventory));
        Assert.Equal(42, lean[0].FreeBytes);
        Assert.Equal(Json((await Store.ListDeviceRuntimeAsync())[3].Recorded), Json(lean[3].Recorded));
    }

    /// <summary>Run a whole queue as a well-behaved agent would.</summary>
    private async Task WalkAsync(IReadOnlyList<NewCommand> commands, Func<NewCommand, CommandResult>? result = null, string device = Device)
    {
        var queue = await CreateQueueAsync(commands, device);
        var response = await ExchangeAsync(Inquiry(device));
        foreach (var command in commands)
        {
            AssertCommand(command, response);
            response = await ExchangeAsync(Report((result ?? (c => Succeeded(c.Id)))(command), device));
        }
        AssertNoCommand(response);
        Assert.Equal(QueueStates.Succeeded, (await QueueAsync(queue.Id)).Status);
    }

    [Fact]
    public async Task Devices_with_work_are_those_whose_queue_still_has_commands_to_send()
    {
        await CreateQueueAsync(Writes(2), "pending-1");
        await CreateQueueAsync(Writes(2), "running-1");
        await ExchangeAsync(Inquiry("running-1"));
        var reboot = new List<NewCommand> { Reboot(), WriteFile("/etc/b", "b") };
        await CreateQueueAsync(reboot, "rebooting-1");
        await ExchangeAsync(Inquiry("rebooting-1"));
        await ExchangeAsync(Report(Rebooting(reboot[0].Id), "rebooting-1", inquire: false));
        var done = Writes(1);
        await CreateQueueAsync(done, "done-1");
        await ExchangeAsync(Inquiry("done-1"));
        await ExchangeAsync(Report(Succeeded(done[0].Id), "done-1"));
        await CreateQueueAsync(Writes(1), "cancelled-1");
        await Store.CancelQueueAsync("cancelled-1", "test");

        Assert.Equal(["pending-1", "running-1"], await Store.ListDevicesWithWorkAsync());
    }
}
