using System.Text.Json;
using Rig.Protocol;
using Rig.Protocol.Errors;
using Rig.Protocol.Messages;

namespace Rig.Server.Gateway;

/// <summary>A queue as an exchange reads it.</summary>
internal sealed record QueueRecord(string Id, string Device, QueueState State, int Position, int Length);

/// <summary>A command as an exchange reads it; <see cref="Spec"/> is its JSON (parsed only when it is sent or described).</summary>
internal sealed record CommandRecord(string Id, string QueueId, string Device, int Seq, string Kind, string? RoleKind, CommandState State, int Deliveries, string Spec)
{
    /// <summary>The parsed command.</summary>
    public CommandSpec ParseSpec() => JsonSerializer.Deserialize(Spec, RigJson.Default.CommandSpec)!;
}

/// <summary>Everything one exchange reads, in one round trip: the device's active queue; the commands the request
/// names (results, "rebooted"), wherever they are; and the active queue's commands from its position on, in order
/// (<see cref="QueueMachine.WindowSize"/> of them), which hold what may be sent next.</summary>
internal sealed record ExchangeSnapshot(string Device, ExchangeRequest Request, QueueRecord? Active, IReadOnlyList<CommandRecord> Named, IReadOnlyList<CommandRecord> Window);

/// <summary>Limits the machine applies to an answer.</summary>
internal sealed record AnswerLimits(int MaxDeliveries, int MaxAnswerBytes, int MaxInstallsPerAnswer)
{
    /// <summary>From the gateway's limits.</summary>
    public static AnswerLimits From(RigLimits limits, int maxDeliveries) => new(maxDeliveries, limits.MaxAnswerBytes, limits.MaxInstallsPerAnswer);
}

/// <summary>A command that ends (or, for an accepted reboot, enters <see cref="CommandState.Rebooting"/>) with a result.</summary>
internal sealed record CommandEnd(CommandRecord Command, CommandState State, CommandResult Result);

/// <summary>Commands <see cref="From"/>..<see cref="To"/> (sequence numbers, inclusive) of a queue are sent once more.</summary>
internal sealed record Delivery(string QueueId, int From, int To);

/// <summary>The queue's new state and position; <see cref="Error"/> with a failure. Terminal states also stamp the finish time.</summary>
internal sealed record QueueChange(string QueueId, QueueState State, int Position, string? Error);

/// <summary>What an exchange writes, and what it answers. A refused exchange writes nothing.</summary>
internal sealed record ExchangeDecision
{
    /// <summary>Set when the request is refused: nothing below applies.</summary>
    public ExchangeRefusedException? Refusal { get; init; }

    /// <summary>The answer (null when refused).</summary>
    public ExchangeResponse? Response { get; init; }

    /// <summary>Reported results that were recorded before (ignored).</summary>
    public IReadOnlyList<string> Replayed { get; init; } = [];

    /// <summary>Results to record, in order.</summary>
    public IReadOnlyList<CommandEnd> Ends { get; init; } = [];

    /// <summary>Succeeded commands whose effect is recorded as the device's state (package, file, service, network,
    /// inventory), in order.</summary>
    public IReadOnlyList<CommandEnd> Applied { get; init; } = [];

    /// <summary>After a failure: commands of this queue after this sequence number that were sent in the same answer
    /// never ran; they go back to pending.</summary>
    public (string QueueId, int AfterSeq)? Unsend { get; init; }

    /// <summary>Commands sent with this answer.</summary>
    public Delivery? Delivery { get; init; }

    /// <summary>The active queue's new state, when it changed.</summary>
    public QueueChange? Queue { get; init; }

    /// <summary>An inventory to store as the device's actual state.</summary>
    public InventoryReport? Inventory { get; init; }

    /// <summary>Why an inventory the agent sent was dropped (kept on the device until a good one arrives).</summary>
    public string? DroppedInventory { get; init; }

    internal static ExchangeDecision Refused(RefusalCode code, string message, IReadOnlyList<string>? missing = null) =>
        new() { Refusal = new ExchangeRefusedException(code, message) { Missing = missing } };
}

/// <summary>The protocol's rules for one exchange, as a pure function: it takes what the exchange read
/// (<see cref="ExchangeSnapshot"/>) and returns what to write and what to answer (<see cref="ExchangeDecision"/>). No
/// database, no clock: the store reads the snapshot, applies the decision and stamps the times in one transaction, so
/// an answer leaves only after its writes are durable.
/// <list type="bullet">
/// <item>A result for a command that already ended is a replay: ignored, whatever it says.</item>
/// <item>New results of the active queue must follow one another from the queue's position on: a result that would
/// skip a command whose result was never recorded is refused as <see cref="RefusalCode.MissingResults"/>, naming those
/// commands (an agent that lost its "reported" marks re-sends them from its journal). So the queue never moves past a
/// command without its result, and everything before the position has ended.</item>
/// <item>After a result that did not succeed, no new result may follow in the same request.</item>
/// <item>A reboot is accepted ("rebooting") or finished ("rebooted") only when every command before it has its result.</item>
/// <item>A failure fails the queue; commands sent after it in the same answer go back to pending (they never ran).</item>
/// <item>A command delivered <see cref="AnswerLimits.MaxDeliveries"/> times without a result fails the queue (the
/// agent may crash on it).</item>
/// <item>An inventory is applied only when no queue is under way (none, or one not yet delivered); a bad one is dropped,
/// never the exchange carrying it.</item>
/// </list></summary>
internal static class QueueMachine
{
    /// <summary>Most commands one answer carries (the agent asks for up to this many).</summary>
    public const int MaxCommandsPerAnswer = 256;

    /// <summary>How many of the active queue's commands, from its position on, the exchange must read: every new
    /// result lies among them (they follow one another from the position), and so does the next answer.</summary>
    public static int WindowSize(ExchangeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return (request.Results?.Count ?? 0) + (request.Result is null ? 0 : 1) + (request.Rebooted is null ? 0 : 1) + Math.Clamp(request.MaxCommands ?? 1, 1, MaxCommandsPerAnswer) + 1;
    }

    /// <summary>The ids the exchange names (results and "rebooted"), without repeats.</summary>
    public static IReadOnlyList<string> NamedIds(ExchangeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var ids = request.AllResults.Select(r => r.CommandId).ToList();
        if (request.Rebooted is { } rebooted)
            ids.Add(rebooted);
        return [.. ids.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Decide one exchange.</summary>
    public static ExchangeDecision Decide(ExchangeSnapshot snapshot, AnswerLimits limits)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(limits);
        var (device, request) = (snapshot.Device, snapshot.Request);
        var known = new Dictionary<string, CommandRecord>(StringComparer.Ordinal);
        foreach (var row in snapshot.Window.Concat(snapshot.Named))
            known.TryAdd(row.Id, row);
        var active = snapshot.Active;

        // ---- check: everything that can refuse the exchange, before anything is decided ----
        // An unknown "rebooted" id (restored database, re-enrolled agent with an old journal) is ignored: refusing it
        // would lock the device out, since the agent reports it until acknowledged.
        var rebooted = request.Rebooted is { } rid && known.TryGetValue(rid, out var r) && r.Device == device ? r : null;
        var reports = new List<(CommandResult Result, CommandRecord Command)>();
        var replayed = new List<string>();
        // A bad inventory (over the limits, control characters) is dropped, never the exchange carrying it: start-up
        // and check-in always carry one, so refusing them would refuse the device for ever.
        string? dropped = null;
        (CommandResult Result, CommandRecord Command)? lastFresh = null;
        foreach (var raw in request.AllResults)
        {
            var result = raw;
            if (result.Inventory is { } carried && ContractChecks.InventoryProblem(carried) is { } bad)
            {
                dropped ??= bad;
                result = result with { Inventory = null };
            }
            if (reports.Any(x => x.Command.Id == result.CommandId))
                return ExchangeDecision.Refused(RefusalCode.BadResult, $"The request reports command {result.CommandId} twice; report each command once.");
            if (!known.TryGetValue(result.CommandId, out var command))
                return ExchangeDecision.Refused(RefusalCode.UnknownCommand, $"Command '{result.CommandId}' is not known to this gateway; the agent's result is not recorded.");
            if (command.Device != device)
                return ExchangeDecision.Refused(RefusalCode.ForeignCommand, $"Command '{result.CommandId}' belongs to another device's queue; device '{device}' cannot answer it.");
            // A result for a command already ended is a replay (an agent reports every result it has not seen
            // acknowledged, so after a crash it may repeat recorded ones): ignored, and no part of the order checks.
            if (command.State.IsOpen())
            {
                if (lastFresh is { } previous && previous.Result.Outcome != CommandOutcome.Succeeded)
                    return ExchangeDecision.Refused(RefusalCode.BadResult, $"The result for command {result.CommandId} follows a result that did not succeed ({previous.Result.CommandId}: {previous.Result.Outcome}); an agent stops at the first command that does not succeed.");
                if (result.Outcome == CommandOutcome.Rebooting && command.Kind != "reboot")
                    return ExchangeDecision.Refused(RefusalCode.BadResult, $"Command {command.Id} is a {command.Kind}, not a reboot; it cannot answer 'rebooting'.");
                lastFresh = (result, command);
            }
            else
            {
                replayed.Add(result.CommandId);
            }
            reports.Add((result, command));
        }

        // New results of the active queue follow one another from its position; so does a reboot being accepted or
        // finished. Whatever would skip a command without a result is refused, naming the commands missing.
        if (active is not null)
        {
            var fresh = reports.Where(x => x.Command.QueueId == active.Id && x.Command.State.IsOpen()).Select(x => x.Command).ToList();
            var rebootInQueue = rebooted is { State: CommandState.Rebooting or CommandState.Sent, Kind: "reboot" } && rebooted.QueueId == active.Id ? rebooted : null;
            var furthest = fresh.Select(c => c.Seq).Append(rebootInQueue?.Seq ?? -1).Max();
            if (furthest >= active.Position)
            {
                var covered = fresh.Select(c => c.Seq).ToHashSet();
                if (rebootInQueue is not null)
                    covered.Add(rebootInQueue.Seq);
                var missing = snapshot.Window.Where(c => c.QueueId == active.Id && c.Seq >= active.Position && c.Seq < furthest && !covered.Contains(c.Seq) && c.State.IsOpen())
                    .OrderBy(c => c.Seq).Select(c => c.Id).ToList();
                var gap = Enumerable.Range(active.Position, furthest - active.Position).Count(seq => !covered.Contains(seq)
                    && !snapshot.Window.Any(c => c.QueueId == active.Id && c.Seq == seq && !c.State.IsOpen()));
                if (gap > 0)
                {
                    var ahead = fresh.Where(c => c.Seq == furthest).Select(c => c.Id).FirstOrDefault() ?? rebootInQueue!.Id;
                    var what = rebootInQueue is not null && rebootInQueue.Seq == furthest ? $"{ahead} (reboot)" : ahead;
                    return ExchangeDecision.Refused(RefusalCode.MissingResults,
                        $"Command {what} cannot be recorded before the results of the {gap} command(s) before it in its queue ({string.Join(", ", missing.Take(5))}{(gap > 5 ? ", ..." : "")}); report them first. Nothing was recorded.",
                        missing);
                }
            }
        }

        // ---- decide the writes ----
        var ends = new List<CommandEnd>();
        var applied = new List<CommandEnd>();
        (string, int)? unsend = null;
        var queue = active; // the active queue as the exchange goes on; null once it has failed
        QueueRecord? written = null; // the queue's state to write
        string? queueError = null;
        InventoryReport? inventory = null;

        // Sent also counts: the agent may have rebooted before its "rebooting" report was recorded.
        var finishesReboot = rebooted is { State: CommandState.Rebooting or CommandState.Sent, Kind: "reboot" };
        if (finishesReboot)
        {
            ends.Add(new CommandEnd(rebooted!, CommandState.Succeeded, new CommandResult { CommandId = rebooted!.Id, Outcome = CommandOutcome.Succeeded, Output = "device rebooted" }));
            if (queue is not null && queue.Id == rebooted.QueueId)
                Advance(rebooted.Seq + 1);
        }

        foreach (var (reported, command) in reports)
        {
            if (finishesReboot && command.Id == rebooted!.Id)
                continue; // finished just above by "rebooted"
            if (command.State.IsOpen())
            {
                var own = queue is not null && queue.Id == command.QueueId;
                switch (reported.Outcome)
                {
                    case CommandOutcome.Succeeded:
                        var end = new CommandEnd(command, CommandState.Succeeded, reported);
                        ends.Add(end);
                        applied.Add(end);
                        if (own)
                            Advance(command.Seq + 1);
                        break;
                    case CommandOutcome.Failed:
                        ends.Add(new CommandEnd(command, CommandState.Failed, reported));
                        if (own)
                        {
                            queueError = $"command {command.Seq + 1} ({command.ParseSpec().Describe()}) failed{(reported.ErrorCode is { } code ? $" [{code}]" : "")}: {reported.Error}";
                            written = queue! with { State = QueueState.Failed };
                            unsend = (command.QueueId, command.Seq);
                            queue = null;
                        }
                        break;
                    case CommandOutcome.Rebooting:
                        ends.Add(new CommandEnd(command, CommandState.Rebooting, reported));
                        if (own)
                        {
                            queue = queue! with { State = QueueState.Rebooting };
                            written = queue;
                        }
                        return Decision(new ExchangeResponse { Answer = ExchangeAnswer.RebootAcknowledged }, withInventory: false);
                }
            }
            else if (command.State == CommandState.Rebooting && reported.Outcome == CommandOutcome.Rebooting)
            {
                return Decision(new ExchangeResponse { Answer = ExchangeAnswer.RebootAcknowledged }, withInventory: false); // a replay: same answer
            }
        }

        // An inventory sent with an inquiry is the device's actual state. It is applied only when no queue is under way
        // (none, or one not delivered yet): while commands are in flight the report may predate their effects.
        if (request.Inventory is { } actual && ContractChecks.InventoryProblem(actual) is { } badInventory)
            dropped ??= badInventory;
        else if (request.Inventory is { } good && (queue is null || queue.State == QueueState.Pending))
            inventory = good;

        if (!request.Inquire || queue is null || queue.State == QueueState.Rebooting)
            return Decision(new ExchangeResponse { Answer = ExchangeAnswer.NoCommand });
        return Next();

        void Advance(int position)
        {
            queue = queue! with { Position = Math.Max(queue.Position, position), State = QueueState.Running };
            written = queue;
        }

        ExchangeDecision Decision(ExchangeResponse? response, bool withInventory = true, Delivery? delivery = null) => new()
        {
            Response = response,
            Replayed = replayed,
            Ends = ends,
            Applied = applied,
            Unsend = unsend,
            Delivery = delivery,
            Queue = written is null ? null : new QueueChange(written.Id, written.State, written.Position, queueError),
            Inventory = withInventory ? inventory : null,
            DroppedInventory = dropped,
        };

        // The next command(s) of the queue: one, or up to MaxCommands when the agent takes several (stopping after a
        // reboot, which must be the last of an answer, and past the answer's byte budget).
        ExchangeDecision Next()
        {
            var q = queue!;
            var rows = snapshot.Window.Where(c => c.QueueId == q.Id && c.Seq >= q.Position).OrderBy(c => c.Seq)
                .Take(Math.Clamp(request.MaxCommands ?? 1, 1, MaxCommandsPerAnswer)).ToList();
            if (rows.Count == 0 && q.Position >= q.Length)
            {
                written = q with { State = QueueState.Succeeded };
                return Decision(new ExchangeResponse { Answer = ExchangeAnswer.NoCommand });
            }
            if (rows.Count == 0)
                throw new InvalidOperationException($"Queue {q.Id} is at position {q.Position} of {q.Length} but the exchange read no command from there (the window read too few).");
            var first = rows[0];
            if (first.Deliveries >= limits.MaxDeliveries)
            {
                var error = $"command {first.Seq + 1} ({first.ParseSpec().Describe()}) was delivered {first.Deliveries} times without a result; the agent may crash on it";
                ends.Add(new CommandEnd(first, CommandState.Failed, new CommandResult { CommandId = first.Id, Outcome = CommandOutcome.Failed, Error = error, ErrorCode = "too-many-deliveries" }));
                written = q with { State = QueueState.Failed };
                queueError = error;
                return Decision(new ExchangeResponse { Answer = ExchangeAnswer.NoCommand });
            }
            var send = new List<Command>(rows.Count);
            var bytes = 0L;
            var installs = 0;
            foreach (var row in rows)
            {
                if (send.Count > 0 && (row.Deliveries >= limits.MaxDeliveries || bytes + row.Spec.Length > limits.MaxAnswerBytes))
                    break; // the cap is judged when it is first; the budget keeps answers small
                var spec = row.ParseSpec();
                if (spec is InstallCommand && ++installs > limits.MaxInstallsPerAnswer && send.Count > 0)
                    break; // installs are slow: few per answer, so a cancel takes effect soon
                bytes += row.Spec.Length;
                send.Add(new Command { Id = row.Id, QueueId = q.Id, Sequence = row.Seq, QueueLength = q.Length, Spec = spec });
                if (spec is RebootCommand)
                    break;
            }
            if (q.State == QueueState.Pending)
            {
                written = q with { State = QueueState.Running };
            }
            return Decision(new ExchangeResponse { Answer = ExchangeAnswer.Command, Command = send[0], More = send.Count > 1 ? send[1..] : null },
                delivery: new Delivery(q.Id, send[0].Sequence, send[^1].Sequence));
        }
    }
}
