using System.Text.Json;
using Rig.Protocol;
using Rig.Protocol.Errors;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;

namespace Rig.Server.Tests.Gateway;

/// <summary>The queue machine on its own: a snapshot in, writes and an answer out; no database. (The property tests
/// drive it with random runs; these pin single rules by example.)</summary>
public sealed class QueueMachineTests
{
    private static readonly AnswerLimits Limits = new(MaxDeliveries: 3, MaxAnswerBytes: 1 << 20, MaxInstallsPerAnswer: 4);

    private static CommandRecord Cmd(int seq, CommandState state = CommandState.Pending, int deliveries = 0, CommandSpec? spec = null, string queue = "q1", string device = "web-1") =>
        new($"c{seq}", queue, device, seq, spec is RebootCommand ? "reboot" : "write-file", "app", state, deliveries,
            JsonSerializer.Serialize(spec ?? new WriteFileCommand($"/etc/f{seq}", "x", "sha", "0644", "root", "root"), RigJson.Default.CommandSpec));

    private static ExchangeRequest Request(int max = 1, string? rebooted = null, params CommandResult[] results) => new()
    {
        ProtocolVersion = ProtocolInfo.Version, Device = "web-1", RequestId = "r", Reason = InquiryReason.Continue,
        Results = results.Length == 0 ? null : results, MaxCommands = max, Rebooted = rebooted,
    };

    private static CommandResult Ok(int seq) => new() { CommandId = $"c{seq}", Outcome = CommandOutcome.Succeeded };

    private static ExchangeDecision Decide(QueueRecord? queue, IReadOnlyList<CommandRecord> commands, ExchangeRequest request) =>
        QueueMachine.Decide(new ExchangeSnapshot("web-1", request, queue, commands, [.. commands.Where(c => queue is not null && c.QueueId == queue.Id && c.Seq >= queue.Position)]), Limits);

    [Fact]
    public void A_pending_queue_delivers_its_first_commands_and_starts_running()
    {
        var decision = Decide(new QueueRecord("q1", "web-1", QueueState.Pending, 0, 3), [Cmd(0), Cmd(1), Cmd(2)], Request(max: 2));

        Assert.Equal(["c0", "c1"], new[] { decision.Response!.Command! }.Concat(decision.Response.More ?? []).Select(c => c.Id));
        Assert.Equal(new Delivery("q1", 0, 1), decision.Delivery);
        Assert.Equal(new QueueChange("q1", QueueState.Running, 0, null), decision.Queue);
        Assert.Empty(decision.Ends);
    }

    [Fact]
    public void A_result_records_the_command_advances_the_queue_and_the_last_one_finishes_it()
    {
        var queue = new QueueRecord("q1", "web-1", QueueState.Running, 1, 2);
        var decision = Decide(queue, [Cmd(0, CommandState.Succeeded), Cmd(1, CommandState.Sent, 1)], Request(1, null, Ok(1)));

        Assert.Equal(["c1"], decision.Ends.Select(e => e.Command.Id));
        Assert.Equal(["c1"], decision.Applied.Select(e => e.Command.Id));
        Assert.Equal(new QueueChange("q1", QueueState.Succeeded, 2, null), decision.Queue);
        Assert.Equal(ExchangeAnswer.NoCommand, decision.Response!.Answer);
        Assert.Null(decision.Delivery);
    }

    [Fact]
    public void A_replayed_result_changes_nothing_and_is_named_as_a_replay()
    {
        var queue = new QueueRecord("q1", "web-1", QueueState.Running, 1, 3);
        var decision = Decide(queue, [Cmd(0, CommandState.Succeeded), Cmd(1, CommandState.Sent, 1), Cmd(2)], Request(1, null, new CommandResult { CommandId = "c0", Outcome = CommandOutcome.Failed }));

        Assert.Equal(["c0"], decision.Replayed);
        Assert.Empty(decision.Ends);
        Assert.Equal("c1", decision.Response!.Command!.Id); // delivered again: no result for it yet
    }

    [Fact]
    public void A_result_skipping_an_unrecorded_command_is_refused_with_the_missing_ids_and_writes_nothing()
    {
        var queue = new QueueRecord("q1", "web-1", QueueState.Running, 0, 3);
        var decision = Decide(queue, [Cmd(0, CommandState.Sent, 1), Cmd(1, CommandState.Sent, 1), Cmd(2, CommandState.Sent, 1)], Request(1, null, Ok(2)));

        Assert.Equal(RefusalCode.MissingResults, decision.Refusal!.Refusal);
        Assert.Equal(["c0", "c1"], decision.Refusal.Missing!);
        Assert.Empty(decision.Ends);
        Assert.Null(decision.Queue);
    }

    [Fact]
    public void A_failure_fails_the_queue_and_puts_back_what_was_sent_after_it()
    {
        var queue = new QueueRecord("q1", "web-1", QueueState.Running, 0, 3);
        var failed = new CommandResult { CommandId = "c0", Outcome = CommandOutcome.Failed, Error = "disk full", ErrorCode = "disk-full" };
        var decision = Decide(queue, [Cmd(0, CommandState.Sent, 1), Cmd(1, CommandState.Sent, 1), Cmd(2)], Request(1, null, failed));

        Assert.Equal(QueueState.Failed, decision.Queue!.State);
        Assert.Contains("[disk-full]: disk full", decision.Queue.Error, StringComparison.Ordinal);
        Assert.Equal(("q1", 0), decision.Unsend);
        Assert.Equal(ExchangeAnswer.NoCommand, decision.Response!.Answer);
    }

    [Fact]
    public void A_command_delivered_too_often_fails_the_queue_instead_of_being_sent_again()
    {
        var queue = new QueueRecord("q1", "web-1", QueueState.Running, 0, 1);
        var decision = Decide(queue, [Cmd(0, CommandState.Sent, Limits.MaxDeliveries)], Request());

        Assert.Equal("too-many-deliveries", Assert.Single(decision.Ends).Result.ErrorCode);
        Assert.Equal(QueueState.Failed, decision.Queue!.State);
        Assert.Null(decision.Delivery);
    }

    [Fact]
    public void A_reboot_ends_an_answer_and_rebooted_moves_the_queue_past_it()
    {
        var reboot = new RebootCommand("kernel");
        var queue = new QueueRecord("q1", "web-1", QueueState.Pending, 0, 3);
        var commands = new[] { Cmd(0), Cmd(1, spec: reboot), Cmd(2) };
        var first = Decide(queue, commands, Request(max: 8));
        Assert.Equal(new Delivery("q1", 0, 1), first.Delivery);

        var accepted = Decide(queue with { State = QueueState.Running }, [Cmd(0, CommandState.Sent, 1), Cmd(1, CommandState.Sent, 1, reboot), Cmd(2)],
            Request(8, null, Ok(0), new CommandResult { CommandId = "c1", Outcome = CommandOutcome.Rebooting }));
        Assert.Equal(ExchangeAnswer.RebootAcknowledged, accepted.Response!.Answer);
        Assert.Equal(QueueState.Rebooting, accepted.Queue!.State);

        var back = Decide(new QueueRecord("q1", "web-1", QueueState.Rebooting, 1, 3), [Cmd(1, CommandState.Rebooting, 1, reboot), Cmd(2)], Request(8, "c1"));
        Assert.Equal("c2", back.Response!.Command!.Id);
        Assert.Equal((QueueState.Running, 2), (back.Queue!.State, back.Queue.Position));
    }
}
