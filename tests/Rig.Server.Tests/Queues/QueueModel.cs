using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Tests.Queues;

/// <summary>The reference model of the gateway's queue semantics (docs/PROTOCOL.md "Queues, ids and exactly-once",
/// "Reboots and missing results", "Several commands per answer"), written to be read, not to be fast: plain objects,
/// one method per rule. Every exchange is checked completely before anything changes, so a refusal changes nothing.
/// What it leaves out: inventories (never sent by the property runs), the answer's byte budget (the runs' commands are
/// a few bytes), reboot timeouts (no clock), and queues failed before delivery by a rollout.</summary>
internal sealed class QueueModel
{
    private sealed class Queue(string id, string device, IReadOnlyList<Cmd> commands)
    {
        public string Id { get; } = id;
        public string Device { get; } = device;
        public string Status { get; set; } = QueueStates.Pending;
        public int Position { get; set; }
        public IReadOnlyList<Cmd> Commands { get; } = commands;
    }

    private sealed class Cmd(string id, int seq, CommandSpec spec)
    {
        public string Id { get; } = id;
        public int Seq { get; } = seq;
        public CommandSpec Spec { get; } = spec;
        public Queue Queue { get; set; } = null!;
        public string Status { get; set; } = CommandStates.Pending;
        public int Deliveries { get; set; }
        public CommandResult? Result { get; set; }
        public bool IsReboot => Spec is RebootCommand;
        /// <summary>Pending or sent: a result for it is new, not a replay.</summary>
        public bool Open => Status is CommandStates.Pending or CommandStates.Sent;
    }

    private readonly List<Queue> _queues = [];
    private readonly Dictionary<string, Cmd> _commands = new(StringComparer.Ordinal);

    /// <summary>What an exchange answered, and which reported results it applied (new ones; the rest were replays).</summary>
    public sealed record Outcome(ExchangeReply Reply, IReadOnlyList<string> Applied);

    /// <summary>The device's active queue (pending, running or rebooting). Two would break the first rule, so that throws.</summary>
    private Queue? Active(string device)
    {
        var active = _queues.Where(q => q.Device == device && QueueStates.IsActive(q.Status)).ToList();
        if (active.Count > 1)
            throw new InvalidOperationException($"device {device} has {active.Count} active queues");
        return active.SingleOrDefault();
    }

    /// <summary>A new queue, unless the device has an active one (then that one blocks it).</summary>
    public (string? Created, string? Blocking) CreateQueue(string device, IReadOnlyList<NewCommand> commands)
    {
        if (Active(device) is { } blocking)
            return (null, blocking.Id);
        var queue = new Queue($"model-q{_queues.Count}", device, [.. commands.Select((c, i) => new Cmd(c.Id, i, c.Spec))]);
        foreach (var command in queue.Commands)
        {
            command.Queue = queue;
            _commands.Add(command.Id, command);
        }
        _queues.Add(queue);
        return (queue.Id, null);
    }

    /// <summary>Cancel the active queue: nothing more is sent; commands keep their states, late results are still recorded.</summary>
    public bool Cancel(string device)
    {
        if (Active(device) is not { } queue)
            return false;
        queue.Status = QueueStates.Cancelled;
        return true;
    }

    /// <summary>True when the command exists and its queue has ended or it has a result (used by the runs' oracle).</summary>
    public bool IsFinished(string commandId) => _commands.TryGetValue(commandId, out var c) && !c.Open;

    /// <summary>The status of a queue by id.</summary>
    public string QueueStatusOf(string queueId) => _queues.Single(q => q.Id == queueId).Status;

    /// <summary>The status of a command by id.</summary>
    public string CommandStatusOf(string commandId) => _commands[commandId].Status;

    public QueueView Read(string queueId)
    {
        var queue = _queues.Single(q => q.Id == queueId);
        return new QueueView(queue.Id, queue.Status, queue.Position,
            [.. queue.Commands.Select(c => new CommandView(c.Id, c.Status, c.Deliveries, c.Result?.Outcome, c.Result?.ErrorCode))]);
    }

    public Outcome Exchange(string device, ExchangeRequest request, int maxDeliveries)
    {
        // ---- check everything first: a refusal changes nothing ----
        var reports = new List<(CommandResult Result, Cmd Command, bool New)>();
        CommandOutcome? lastNew = null;
        foreach (var result in request.AllResults)
        {
            if (reports.Any(r => r.Command.Id == result.CommandId))
                return Refuse("bad-result", "a command reported twice in one request");
            if (!_commands.TryGetValue(result.CommandId, out var command))
                return Refuse("unknown-command", $"no command {result.CommandId}");
            if (command.Queue.Device != device)
                return Refuse("foreign-command", $"{result.CommandId} is another device's");
            // A result for a finished command is a replay: ignored, and not part of the order check.
            if (command.Open)
            {
                if (lastNew is { } previous && previous != CommandOutcome.Succeeded)
                    return Refuse("bad-result", "a result after one that did not succeed");
                if (result.Outcome == CommandOutcome.Rebooting && !command.IsReboot)
                    return Refuse("bad-result", "only a reboot answers rebooting");
                lastNew = result.Outcome;
            }
            reports.Add((result, command, command.Open));
        }
        // "rebooted" naming an unknown or another device's command is ignored (refusing it would lock the agent out).
        var rebooted = request.Rebooted is { } rid && _commands.TryGetValue(rid, out var named) && named.Queue.Device == device ? named : null;
        var rebootDone = rebooted is { IsReboot: true, Status: CommandStates.Rebooting or CommandStates.Sent } ? rebooted : null;

        // The active queue never moves past a command without its result: its new results (and a reboot being finished)
        // must follow one another from its position, else the commands skipped are asked for. (A reboot is accepted or
        // finished only when every command before it has its result: the same rule.)
        if (Active(device) is { } current)
        {
            var covered = reports.Where(r => r.New && r.Command.Queue == current).Select(r => r.Command.Seq).ToHashSet();
            if (rebootDone is not null && rebootDone.Queue == current)
                covered.Add(rebootDone.Seq);
            if (covered.Count > 0 && covered.Max() >= current.Position)
            {
                var missing = current.Commands.Where(c => c.Seq >= current.Position && c.Seq < covered.Max() && !covered.Contains(c.Seq) && c.Open).Select(c => c.Id).ToList();
                if (missing.Count > 0)
                    return new Outcome(ExchangeReply.Refused("missing-results", missing, $"results missing before {covered.Max()}"), []);
            }
        }

        // ---- apply ----
        var applied = new List<string>();
        var queue = Active(device);
        if (rebootDone is not null)
        {
            Finish(rebootDone, CommandStates.Succeeded, new CommandResult { CommandId = rebootDone.Id, Outcome = CommandOutcome.Succeeded, Output = "device rebooted" });
            if (queue == rebootDone.Queue)
                Advance(queue, rebootDone.Seq + 1);
        }
        foreach (var (result, command, isNew) in reports)
        {
            if (command == rebootDone)
                continue;
            if (!isNew)
            {
                if (command.Status == CommandStates.Rebooting && result.Outcome == CommandOutcome.Rebooting)
                    return Answer(ExchangeAnswer.RebootAcknowledged); // a replay gets the same answer
                continue;
            }
            applied.Add(command.Id);
            var own = queue is not null && queue == command.Queue;
            switch (result.Outcome)
            {
                case CommandOutcome.Succeeded:
                    Finish(command, CommandStates.Succeeded, result);
                    if (own)
                        Advance(queue!, command.Seq + 1);
                    break;
                case CommandOutcome.Failed:
                    Finish(command, CommandStates.Failed, result);
                    if (own)
                    {
                        queue!.Status = QueueStates.Failed;
                        // The commands sent with it after it never ran.
                        foreach (var later in queue.Commands.Where(c => c.Seq > command.Seq && c.Status == CommandStates.Sent))
                            later.Status = CommandStates.Pending;
                        queue = null;
                    }
                    break;
                case CommandOutcome.Rebooting:
                    command.Status = CommandStates.Rebooting;
                    command.Result = result;
                    if (own)
                        queue!.Status = QueueStates.Rebooting;
                    return new Outcome(ExchangeReply.Answered(new ExchangeResponse { Answer = ExchangeAnswer.RebootAcknowledged }), applied);
            }
        }

        if (!request.Inquire || queue is null || queue.Status == QueueStates.Rebooting)
            return new Outcome(ExchangeReply.Answered(new ExchangeResponse { Answer = ExchangeAnswer.NoCommand }), applied);
        return new Outcome(ExchangeReply.Answered(Next(queue, maxDeliveries, Math.Clamp(request.MaxCommands ?? 1, 1, 256))), applied);

        Outcome Refuse(string code, string why) => new(ExchangeReply.Refused(code, null, why), []);
        Outcome Answer(ExchangeAnswer answer) => new(ExchangeReply.Answered(new ExchangeResponse { Answer = answer }), applied);
    }

    /// <summary>The next commands from the queue's position: the first always (unless it was delivered
    /// <paramref name="maxDeliveries"/> times already: then the queue fails), then more up to <paramref name="max"/>,
    /// stopping before a command at its cap and before a fifth install, and after a reboot.</summary>
    private static ExchangeResponse Next(Queue queue, int maxDeliveries, int max)
    {
        var rest = queue.Commands.Where(c => c.Seq >= queue.Position).Take(max).ToList();
        if (rest.Count == 0)
        {
            queue.Status = QueueStates.Succeeded;
            return new ExchangeResponse { Answer = ExchangeAnswer.NoCommand };
        }
        if (rest[0].Deliveries >= maxDeliveries)
        {
            Finish(rest[0], CommandStates.Failed, new CommandResult { CommandId = rest[0].Id, Outcome = CommandOutcome.Failed, ErrorCode = "too-many-deliveries", Error = "delivered too often" });
            queue.Status = QueueStates.Failed;
            return new ExchangeResponse { Answer = ExchangeAnswer.NoCommand };
        }
        var send = new List<Cmd>();
        var installs = 0;
        foreach (var command in rest)
        {
            if (send.Count > 0 && command.Deliveries >= maxDeliveries)
                break;
            if (command.Spec is InstallCommand && ++installs > RigLimits.Default.MaxInstallsPerAnswer && send.Count > 0)
                break;
            send.Add(command);
            if (command.IsReboot)
                break;
        }
        foreach (var command in send)
        {
            command.Status = CommandStates.Sent;
            command.Deliveries++;
        }
        if (queue.Status == QueueStates.Pending)
            queue.Status = QueueStates.Running;
        var wire = send.Select(c => new Command { Id = c.Id, QueueId = queue.Id, Sequence = c.Seq, QueueLength = queue.Commands.Count, Spec = c.Spec }).ToList();
        return new ExchangeResponse { Answer = ExchangeAnswer.Command, Command = wire[0], More = wire.Count > 1 ? wire[1..] : null };
    }

    private static void Finish(Cmd command, string status, CommandResult result)
    {
        command.Status = status;
        command.Result = result;
    }

    private static void Advance(Queue queue, int position)
    {
        queue.Position = Math.Max(queue.Position, position);
        queue.Status = QueueStates.Running;
    }
}
