using System.Data.Common;
using System.Text.Json;
using Dapper;
using Rig.Model;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Server.Store;

/// <summary>Queue states. Active: pending, running, rebooting.</summary>
public static class QueueStatus
{
    /// <summary>Created, nothing delivered yet.</summary>
    public const string Pending = "pending";
    /// <summary>Commands are being delivered.</summary>
    public const string Running = "running";
    /// <summary>A reboot was acknowledged; waiting for "rebooted".</summary>
    public const string Rebooting = "rebooting";
    /// <summary>Every command succeeded.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>A command failed; the rest was not sent.</summary>
    public const string Failed = "failed";
    /// <summary>Cancelled by an operator; nothing new is sent.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>True for pending, running and rebooting.</summary>
    public static bool IsActive(string status) => status is Pending or Running or Rebooting;
}

/// <summary>Command states.</summary>
public static class CommandStatus
{
    /// <summary>Not delivered yet.</summary>
    public const string Pending = "pending";
    /// <summary>Delivered; no result yet.</summary>
    public const string Sent = "sent";
    /// <summary>A reboot command the agent accepted; done when the agent says "rebooted".</summary>
    public const string Rebooting = "rebooting";
    /// <summary>Done.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>Failed.</summary>
    public const string Failed = "failed";
}

/// <summary>What an exchange answered, and which results it reported had been recorded before (replays: ignored).</summary>
internal sealed record ExchangeOutcome(ExchangeResponse Response, IReadOnlyList<string> Replayed);

/// <summary>A command to put in a new queue.</summary>
public sealed record NewCommand(string Id, CommandSpec Spec, string Role, string? RoleKind, string Reason);

/// <summary>A queue.</summary>
public sealed record QueueInfo(string Id, string Device, string Status, int Position, int Length, string Reason, string? Error, long? ModelRev,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt);

/// <summary>A command of a queue with its state and result.</summary>
public sealed record CommandInfo(string Id, string QueueId, int Sequence, string Kind, string Role, string Reason, string Status, int Deliveries, CommandSpec Spec, CommandResult? Result);

/// <summary>Creating a queue: the queue, or the active queue that blocks it.</summary>
public sealed record QueueCreateResult(QueueInfo? Created, QueueInfo? Blocking);

/// <summary>The gateway refuses a request (the agent's fault or a security problem).</summary>
public sealed class GatewayRefusedException(string code, string message, int statusCode) : Exception(message)
{
    /// <summary>Stable error code.</summary>
    public string Code { get; } = code;
    /// <summary>HTTP status to answer with.</summary>
    public int StatusCode { get; } = statusCode;
    /// <summary>With <c>missing-results</c>: the commands whose results the gateway needs first.</summary>
    public IReadOnlyList<string>? Missing { get; init; }
}

internal sealed record QueueRow(string Id, string Device, string Status, long Position, long Length, string Reason, string? Error, long? ModelRev, long CreatedAt, long UpdatedAt, long? FinishedAt)
{
    public QueueInfo ToInfo() => new(Id, Device, Status, (int)Position, (int)Length, Reason, Error, ModelRev,
        DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt), FinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null);
}

internal sealed record CommandRow(string Id, string QueueId, long Seq, string Kind, string Role, string? RoleKind, string Reason, string Spec, string Status, long Deliveries, string? Result, string Device)
{
    public CommandSpec ParseSpec() => JsonSerializer.Deserialize(Spec, RigJson.Default.CommandSpec)!;
    public CommandInfo ToInfo() => new(Id, QueueId, (int)Seq, Kind, Role, Reason, Status, (int)Deliveries, ParseSpec(),
        Result is null ? null : JsonSerializer.Deserialize(Result, RigJson.Default.CommandResult));
}

public sealed partial class RigStore
{
    private const string QueueColumns = "id, device, status, position, length, reason, error, model_rev AS ModelRev, created_at AS CreatedAt, updated_at AS UpdatedAt, finished_at AS FinishedAt";
    private const string CommandColumns = "c.id, c.queue_id AS QueueId, c.seq, c.kind, c.role, c.role_kind AS RoleKind, c.reason, c.spec, c.status, c.deliveries, c.result, q.device";

    /// <summary>Create a device's queue, unless it already has an active one (then that one is returned as blocking).</summary>
    public async Task<QueueCreateResult> CreateQueueAsync(string device, IReadOnlyList<NewCommand> commands, string reason, long? modelRev, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        return (await CreateQueuesAsync([(device, commands)], reason, modelRev, ct).ConfigureAwait(false))[0];
    }

    /// <summary>Create the queues of many devices in one transaction (a fleet-wide converge), each unless that device
    /// already has an active queue. Results are in the order given.</summary>
    public Task<IReadOnlyList<QueueCreateResult>> CreateQueuesAsync(IReadOnlyList<(string Device, IReadOnlyList<NewCommand> Commands)> queues, string reason, long? modelRev, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(queues);
        return WriteAsync<IReadOnlyList<QueueCreateResult>>(async (c, tx) =>
        {
            var results = new List<QueueCreateResult>(queues.Count);
            var now = NowMs;
            foreach (var (device, commands) in queues)
            {
                if (Engine == StoreEngine.Postgres)
                {
                    // The partial unique index is the guard, but a concurrent creator would get a duplicate-key error
                    // instead of "blocked": serialise creators of one device.
                    await c.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(7353413, hashtext(@device))", new { device }, tx, cancellationToken: ct)).ConfigureAwait(false);
                }
                var active = await ActiveQueueAsync(new Statements(c, tx), device, ct).ConfigureAwait(false);
                if (active is not null)
                {
                    results.Add(new QueueCreateResult(null, active.ToInfo()));
                    continue;
                }
                var id = Guid.CreateVersion7().ToString("n");
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO queues (id, device, status, position, length, model_rev, reason, error, created_at, updated_at, finished_at) VALUES (@id, @device, @status, 0, @length, @modelRev, @reason, NULL, @now, @now, NULL)",
                    new { id, device, status = QueueStatus.Pending, length = commands.Count, modelRev, reason, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO commands (id, queue_id, seq, kind, role, role_kind, reason, spec, status, deliveries, sent_at, finished_at, result) VALUES (@Id, @QueueId, @Seq, @Kind, @Role, @RoleKind, @Reason, @Spec, @Status, 0, NULL, NULL, NULL)",
                    commands.Select((command, i) => new
                    {
                        command.Id, QueueId = id, Seq = i, command.Spec.Kind, command.Role, command.RoleKind, command.Reason,
                        Spec = JsonSerializer.Serialize(command.Spec, RigJson.Default.CommandSpec), Status = CommandStatus.Pending,
                    }).ToList(), tx, cancellationToken: ct)).ConfigureAwait(false);
                var writes = commands.Select(x => x.Spec).OfType<WriteFileCommand>().DistinctBy(w => w.Sha256).Select(w => new { w.Sha256, w.Content }).ToList();
                if (writes.Count > 0)
                {
                    await c.ExecuteAsync(new CommandDefinition("INSERT INTO rendered_files (sha256, content) VALUES (@Sha256, @Content) ON CONFLICT (sha256) DO NOTHING",
                        writes, tx, cancellationToken: ct)).ConfigureAwait(false);
                }
                results.Add(new QueueCreateResult(new QueueInfo(id, device, QueueStatus.Pending, 0, commands.Count, reason, null, modelRev,
                    DateTimeOffset.FromUnixTimeMilliseconds(now), DateTimeOffset.FromUnixTimeMilliseconds(now), null), null));
            }
            return results;
        }, ct);
    }

    /// <summary>The device's active queue, or null.</summary>
    public Task<QueueInfo?> GetActiveQueueAsync(string device, CancellationToken ct = default) => ReadAsync(async c =>
        (await ActiveQueueAsync(new Statements(c, null), device, ct).ConfigureAwait(false))?.ToInfo(), ct);

    /// <summary>Devices whose active queue still has commands to send (pending or running, not waiting for a
    /// reboot): after a gateway restart these are poked again, since pokes in flight were lost with the process.</summary>
    public Task<IReadOnlyList<string>> ListDevicesWithWorkAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<string>>(async c =>
        [.. await c.QueryAsync<string>(new CommandDefinition("SELECT device FROM queues WHERE status IN ('pending', 'running') ORDER BY device", cancellationToken: ct)).ConfigureAwait(false)], ct);

    /// <summary>The device's newest queue (active or finished), or null.</summary>
    public Task<QueueInfo?> GetLatestQueueAsync(string device, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QueryFirstOrDefaultAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE device = @device ORDER BY created_at DESC, id DESC", new { device }, cancellationToken: ct)).ConfigureAwait(false))?.ToInfo(), ct);

    /// <summary>A queue by id.</summary>
    public Task<QueueInfo?> GetQueueAsync(string id, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QuerySingleOrDefaultAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE id = @id", new { id }, cancellationToken: ct)).ConfigureAwait(false))?.ToInfo(), ct);

    /// <summary>The commands of a queue in order.</summary>
    public Task<IReadOnlyList<CommandInfo>> GetCommandsAsync(string queueId, CancellationToken ct = default) => ReadAsync<IReadOnlyList<CommandInfo>>(async c =>
        [.. (await c.QueryAsync<CommandRow>(new CommandDefinition($"SELECT {CommandColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE c.queue_id = @queueId ORDER BY c.seq", new { queueId }, cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => r.ToInfo())], ct);

    /// <summary>Cancel the device's active queue: nothing new is sent; a command already running finishes and
    /// its result is still recorded. Returns the cancelled queue or null.</summary>
    public Task<QueueInfo?> CancelQueueAsync(string device, string why, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var active = await ActiveQueueAsync(new Statements(c, tx), device, ct).ConfigureAwait(false);
        if (active is null)
            return null;
        await FinishQueueAsync(new Statements(c, tx), active.Id, QueueStatus.Cancelled, why, ct).ConfigureAwait(false);
        return (await c.QuerySingleAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE id = @id", new { id = active.Id }, tx, cancellationToken: ct)).ConfigureAwait(false)).ToInfo();
    }, ct);

    /// <summary>Fail queues that have waited in <c>rebooting</c> longer than <paramref name="timeout"/>: the device
    /// acknowledged a reboot and never came back (re-imaged, journal lost). Returns the devices concerned.</summary>
    public Task<IReadOnlyList<string>> FailStaleRebootsAsync(TimeSpan timeout, CancellationToken ct = default) => WriteAsync<IReadOnlyList<string>>(async (c, tx) =>
    {
        var cutoff = NowMs - (long)timeout.TotalMilliseconds;
        var stale = (await c.QueryAsync<QueueRow>(new CommandDefinition(
            $"SELECT {QueueColumns} FROM queues WHERE status = @status AND updated_at < @cutoff", new { status = QueueStatus.Rebooting, cutoff }, tx, cancellationToken: ct)).ConfigureAwait(false)).ToList();
        foreach (var queue in stale)
        {
            var error = $"reboot-timeout: device {queue.Device} accepted a reboot at {DateTimeOffset.FromUnixTimeMilliseconds(queue.UpdatedAt):u} and did not come back within {timeout.TotalMinutes:0} min; check the device, then rebuild it or converge again";
            await c.ExecuteAsync(new CommandDefinition("UPDATE commands SET status = @failed, finished_at = @now WHERE queue_id = @id AND status = @rebooting",
                new { failed = CommandStatus.Failed, now = NowMs, id = queue.Id, rebooting = CommandStatus.Rebooting }, tx, cancellationToken: ct)).ConfigureAwait(false);
            await FinishQueueAsync(new Statements(c, tx), queue.Id, QueueStatus.Failed, error, ct).ConfigureAwait(false);
        }
        return [.. stale.Select(q => q.Device)];
    }, ct);

    /// <summary>The heart of the gateway: record the agent's result (idempotently), then pick and mark the next
    /// command, all in one transaction. A result is durable before the answer leaves (the commit happens first).</summary>
    public async Task<ExchangeResponse> ExchangeAsync(string device, ExchangeRequest request, int maxDeliveries, CancellationToken ct = default) =>
        (await RecordExchangeAsync(device, request, maxDeliveries, ct).ConfigureAwait(false)).Response;

    /// <summary><see cref="ExchangeAsync"/>, also saying which reported results were replays (already recorded, ignored).</summary>
    internal Task<ExchangeOutcome> RecordExchangeAsync(string device, ExchangeRequest request, int maxDeliveries, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _groupCommit.SubmitAsync(device, request, maxDeliveries, ct);
    }

    /// <summary>One exchange inside a transaction (the group writer runs many in one). Everything that can refuse
    /// the exchange is read and checked first, so a refused exchange has written nothing and needs no savepoint.</summary>
    internal async Task<ExchangeOutcome> ExchangeCoreAsync(Statements s, string device, ExchangeRequest request, int maxDeliveries, CancellationToken ct)
    {
        var replayed = new List<string>();
        return new ExchangeOutcome(await ExchangeCoreAsync(s, device, request, maxDeliveries, replayed, ct).ConfigureAwait(false), replayed);
    }

    private async Task<ExchangeResponse> ExchangeCoreAsync(Statements s, string device, ExchangeRequest request, int maxDeliveries, List<string> replayed, CancellationToken ct)
    {
        // ---- read and check ----
        // One round trip: the device's active queue (locked) and every command the request names.
        var ids = request.AllResults.Select(r => r.CommandId).ToList();
        if (request.Rebooted is { } rebootedId)
            ids.Add(rebootedId);
        var named = ids.Distinct(StringComparer.Ordinal).Select((id, i) => (Name: $"id{i}", Id: id)).ToList();
        var (queues, rows) = await s.QueryAsync<QueueRow, CommandRow>(
            ActiveQueueSql(s), new { device },
            named.Count == 0 ? null : $"SELECT {CommandColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE c.id IN ({string.Join(", ", named.Select(n => "@" + n.Name))})",
            named.ToDictionary(n => n.Name, n => (object?)n.Id), ct).ConfigureAwait(false);
        var queue = queues.SingleOrDefault();
        var known = rows.ToDictionary(r => r.Id, StringComparer.Ordinal);
        // An unknown "rebooted" id (restored database, re-enrolled agent with an old journal) is ignored: refusing it
        // would lock the device out, since the agent reports it until acknowledged.
        var rebooted = request.Rebooted is { } rid && known.TryGetValue(rid, out var r) && r.Device == device ? r : null;
        var reports = new List<(CommandResult Result, CommandRow Command)>();
        // A bad inventory (over the limits, control characters) is dropped, never the exchange carrying it: start-up
        // and check-in always carry one, so refusing them would refuse the device for ever. Why it was dropped is
        // kept on the device (drift shows it) until a good one arrives.
        string? dropped = null;
        CommandOutcome? lastFresh = null;
        foreach (var raw in request.AllResults)
        {
            var result = raw;
            if (result.Inventory is { } carried && ContractChecks.InventoryProblem(carried) is { } bad)
            {
                dropped ??= bad;
                result = result with { Inventory = null };
            }
            if (reports.Any(x => x.Command.Id == result.CommandId))
                throw new GatewayRefusedException("bad-result", $"The request reports command {result.CommandId} twice; report each command once.", 400);
            if (!known.TryGetValue(result.CommandId, out var command))
                throw new GatewayRefusedException("unknown-command", $"Command '{result.CommandId}' is not known to this gateway; the agent's result is not recorded.", 409);
            if (command.Device != device)
                throw new GatewayRefusedException("foreign-command", $"Command '{result.CommandId}' belongs to another device's queue; device '{device}' cannot answer it.", 403);
            // A result for a command already finished is a replay (an agent reports every result it has not seen
            // acknowledged, so after a crash it may repeat recorded ones): it is ignored below and takes no part in
            // the order check, which applies to the results that are new.
            if (command.Status is CommandStatus.Pending or CommandStatus.Sent)
            {
                if (lastFresh is { } previous && previous != CommandOutcome.Succeeded)
                    throw new GatewayRefusedException("bad-result", $"The result for command {result.CommandId} follows a result that did not succeed ({reports.Last(x => x.Command.Status is CommandStatus.Pending or CommandStatus.Sent).Result.CommandId}: {previous}); an agent stops at the first command that does not succeed.", 400);
                if (result.Outcome == CommandOutcome.Rebooting && command.Kind != "reboot")
                    throw new GatewayRefusedException("bad-result", $"Command {command.Id} is a {command.Kind}, not a reboot; it cannot answer 'rebooting'.", 400);
                lastFresh = result.Outcome;
            }
            else
            {
                replayed.Add(result.CommandId);
            }
            reports.Add((result, command));
        }

        // A reboot is accepted ("rebooting") or finished ("rebooted") only when every command before it in its queue
        // has its result, recorded or in this request: otherwise the queue would move past commands whose results were
        // never recorded (an agent that crashed between journaling an answer and reporting it, then reported only the
        // reboot). The agent is told which results are missing and nothing changes.
        var reboot = reports.FirstOrDefault(x => x.Result.Outcome == CommandOutcome.Rebooting && x.Command.Status is CommandStatus.Pending or CommandStatus.Sent).Command
            ?? (rebooted is { Status: CommandStatus.Rebooting or CommandStatus.Sent, Kind: "reboot" } ? rebooted : null);
        if (reboot is not null)
        {
            var unfinished = await s.QueryAsync<string>("SELECT id FROM commands WHERE queue_id = @queueId AND seq < @seq AND status IN ('pending', 'sent') ORDER BY seq",
                new { queueId = reboot.QueueId, seq = reboot.Seq }, ct).ConfigureAwait(false);
            var missing = unfinished.Where(id => !reports.Any(x => x.Command.Id == id && x.Result.Outcome == CommandOutcome.Succeeded)).ToList();
            if (missing.Count > 0)
            {
                throw new GatewayRefusedException("missing-results",
                    $"Command {reboot.Id} (reboot) cannot be recorded before the results of the {missing.Count} command(s) before it in its queue ({string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? ", ..." : "")}); report them first. Nothing was recorded.", 409)
                {
                    Missing = missing,
                };
            }
        }

        // ---- write ----
        // Sent also counts: the agent may have rebooted before its "rebooting" report was recorded.
        if (rebooted is { Status: CommandStatus.Rebooting or CommandStatus.Sent, Kind: "reboot" })
        {
            var result = new CommandResult { CommandId = rebooted.Id, Outcome = CommandOutcome.Succeeded, Output = "device rebooted" };
            await FinishCommandAsync(s, rebooted, CommandStatus.Succeeded, result, ct).ConfigureAwait(false);
            if (queue is not null && queue.Id == rebooted.QueueId)
                queue = await AdvanceAsync(s, queue, (int)rebooted.Seq + 1, ct).ConfigureAwait(false);
        }

        foreach (var (reported, command) in reports)
        {
            if (rebooted is { Status: CommandStatus.Rebooting or CommandStatus.Sent, Kind: "reboot" } && command.Id == rebooted.Id)
                continue; // finished just above by "rebooted" (the rows were read before any write)
            if (command.Status is CommandStatus.Pending or CommandStatus.Sent)
            {
                var ownQueue = queue is not null && queue.Id == command.QueueId;
                switch (reported.Outcome)
                {
                    case CommandOutcome.Succeeded:
                        await FinishCommandAsync(s, command, CommandStatus.Succeeded, reported, ct).ConfigureAwait(false);
                        await ApplyToRecordedStateAsync(s, device, command, reported, ct).ConfigureAwait(false);
                        if (ownQueue)
                            queue = await AdvanceAsync(s, queue!, (int)command.Seq + 1, ct).ConfigureAwait(false);
                        break;
                    case CommandOutcome.Failed:
                        await FinishCommandAsync(s, command, CommandStatus.Failed, reported, ct).ConfigureAwait(false);
                        if (ownQueue)
                        {
                            await FinishQueueAsync(s, queue!.Id, QueueStatus.Failed, $"command {command.Seq + 1} ({command.ParseSpec().Describe()}) failed{(reported.ErrorCode is { } code ? $" [{code}]" : "")}: {reported.Error}", ct).ConfigureAwait(false);
                            // Commands sent in the same answer after the failed one never ran: they are pending again.
                            await s.ExecuteAsync("UPDATE commands SET status = @pending WHERE queue_id = @id AND seq > @seq AND status = @sent",
                                new { pending = CommandStatus.Pending, sent = CommandStatus.Sent, id = queue.Id, seq = command.Seq }, ct).ConfigureAwait(false);
                            queue = null;
                        }
                        break;
                    case CommandOutcome.Rebooting:
                        await s.ExecuteAsync("UPDATE commands SET status = @status, result = @result WHERE id = @id",
                            new { status = CommandStatus.Rebooting, result = JsonSerializer.Serialize(reported, RigJson.Default.CommandResult), id = command.Id }, ct).ConfigureAwait(false);
                        if (ownQueue)
                        {
                            await s.ExecuteAsync("UPDATE queues SET status = @status, updated_at = @now WHERE id = @id",
                                new { status = QueueStatus.Rebooting, now = NowMs, id = queue!.Id }, ct).ConfigureAwait(false);
                        }
                        return new ExchangeResponse { Answer = ExchangeAnswer.RebootAcknowledged };
                }
            }
            else if (command.Status == CommandStatus.Rebooting && reported.Outcome == CommandOutcome.Rebooting)
            {
                return new ExchangeResponse { Answer = ExchangeAnswer.RebootAcknowledged }; // a replay: same answer, nothing applied twice
            }
        }

        // An inventory sent with an inquiry (start-up, check-in, after a queue) is the device's actual state. It is
        // applied only when no queue is under way (none, or one not delivered yet): while commands are in flight the
        // report may predate their effects, and replacing the recorded state with it would lose them. The agent sends
        // one again right after the queue, and every check-in.
        if (request.Inventory is { } actual && ContractChecks.InventoryProblem(actual) is { } badInventory)
            dropped ??= badInventory;
        else if (request.Inventory is { } good && (queue is null || queue.Status == QueueStatus.Pending))
            await StoreInventoryAsync(s, device, good, ct).ConfigureAwait(false);
        if (dropped is not null)
            await NoteDroppedInventoryAsync(s, device, dropped, ct).ConfigureAwait(false);

        if (!request.Inquire || queue is null || queue.Status == QueueStatus.Rebooting)
            return new ExchangeResponse { Answer = ExchangeAnswer.NoCommand };
        return await NextCommandsAsync(s, queue, maxDeliveries, Math.Clamp(request.MaxCommands ?? 1, 1, 256), ct).ConfigureAwait(false);
    }

    /// <summary>The next command(s) of the queue, marked sent: one, or up to <paramref name="max"/> when the agent takes
    /// several (stopping after a reboot, which must be the last of an answer, and past the answer's byte budget).</summary>
    private async Task<ExchangeResponse> NextCommandsAsync(Statements s, QueueRow queue, int maxDeliveries, int max, CancellationToken ct)
    {
        var rows = (await s.QueryAsync<CommandRow>($"SELECT {CommandColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE c.queue_id = @id AND c.seq >= @position ORDER BY c.seq LIMIT @max",
            new { id = queue.Id, position = queue.Position, max }, ct).ConfigureAwait(false)).ToList();
        if (rows.Count == 0)
        {
            await FinishQueueAsync(s, queue.Id, QueueStatus.Succeeded, null, ct).ConfigureAwait(false);
            return new ExchangeResponse { Answer = ExchangeAnswer.NoCommand };
        }
        var first = rows[0];
        if (first.Deliveries >= maxDeliveries)
        {
            var error = $"command {first.Seq + 1} ({first.ParseSpec().Describe()}) was delivered {first.Deliveries} times without a result; the agent may crash on it";
            await FinishCommandAsync(s, first, CommandStatus.Failed, new CommandResult { CommandId = first.Id, Outcome = CommandOutcome.Failed, Error = error, ErrorCode = "too-many-deliveries" }, ct).ConfigureAwait(false);
            await FinishQueueAsync(s, queue.Id, QueueStatus.Failed, error, ct).ConfigureAwait(false);
            return new ExchangeResponse { Answer = ExchangeAnswer.NoCommand };
        }
        var send = new List<Command>(rows.Count);
        var bytes = 0L;
        var installs = 0;
        foreach (var row in rows)
        {
            if (send.Count > 0 && (row.Deliveries >= maxDeliveries || bytes + row.Spec.Length > _answerBudget))
                break; // the cap is judged when it is first; the budget keeps answers small
            var spec = row.ParseSpec();
            if (spec is InstallCommand && ++installs > _installsPerAnswer && send.Count > 0)
                break; // installs are slow: few per answer, so a cancel takes effect soon
            bytes += row.Spec.Length;
            send.Add(new Command { Id = row.Id, QueueId = queue.Id, Sequence = (int)row.Seq, QueueLength = (int)queue.Length, Spec = spec });
            if (spec is RebootCommand)
                break;
        }
        var now = NowMs;
        await s.ExecuteAsync("UPDATE commands SET status = @status, deliveries = deliveries + 1, sent_at = @now WHERE queue_id = @id AND seq >= @from AND seq <= @to",
            new { status = CommandStatus.Sent, now, id = queue.Id, from = send[0].Sequence, to = send[^1].Sequence }, ct).ConfigureAwait(false);
        if (queue.Status == QueueStatus.Pending)
        {
            await s.ExecuteAsync("UPDATE queues SET status = @status, updated_at = @now WHERE id = @id",
                new { status = QueueStatus.Running, now, id = queue.Id }, ct).ConfigureAwait(false);
        }
        return new ExchangeResponse { Answer = ExchangeAnswer.Command, Command = send[0], More = send.Count > 1 ? send[1..] : null };
    }

    private string ActiveQueueSql(Statements s) =>
        $"SELECT {QueueColumns} FROM queues WHERE device = @device AND status IN ('pending', 'running', 'rebooting'){(s.Transaction is null ? "" : ForUpdate)}";

    private async Task<QueueRow?> ActiveQueueAsync(Statements s, string device, CancellationToken ct) =>
        await s.QuerySingleOrDefaultAsync<QueueRow>(ActiveQueueSql(s), new { device }, ct).ConfigureAwait(false);

    private async Task FinishCommandAsync(Statements s, CommandRow command, string status, CommandResult result, CancellationToken ct) =>
        await s.ExecuteAsync("UPDATE commands SET status = @status, result = @result, finished_at = @now WHERE id = @id",
            new { status, result = JsonSerializer.Serialize(ForHistory(result), RigJson.Default.CommandResult), now = NowMs, id = command.Id }, ct).ConfigureAwait(false);

    /// <summary>What a command's row keeps of its result. An inventory's list of every native package (a few hundred
    /// entries, ~100-200 KB on a real device) is kept once per device, in the device's latest inventory; the
    /// command's own copy leaves it out, or every queue would store it again.</summary>
    private static CommandResult ForHistory(CommandResult result) =>
        result.Inventory is { NativePackages: not null } inventory ? result with { Inventory = inventory with { NativePackages = null } } : result;

    private async Task<QueueRow> AdvanceAsync(Statements s, QueueRow queue, int position, CancellationToken ct)
    {
        var next = Math.Max((int)queue.Position, position);
        await s.ExecuteAsync("UPDATE queues SET position = @next, status = @status, updated_at = @now WHERE id = @id",
            new { next, status = QueueStatus.Running, now = NowMs, id = queue.Id }, ct).ConfigureAwait(false);
        return queue with { Position = next, Status = QueueStatus.Running };
    }

    private async Task FinishQueueAsync(Statements s, string queueId, string status, string? error, CancellationToken ct) =>
        await s.ExecuteAsync("UPDATE queues SET status = @status, error = @error, updated_at = @now, finished_at = @now WHERE id = @queueId",
            new { status, error, now = NowMs, queueId }, ct).ConfigureAwait(false);

    /// <summary>Record what a succeeded command changed on the device: one row per package, file or service; an
    /// inventory replaces the device's rows (role kinds kept where names match).</summary>
    private async Task ApplyToRecordedStateAsync(Statements s, string device, CommandRow command, CommandResult result, CancellationToken ct)
    {
        var spec = command.ParseSpec();
        switch (spec)
        {
            case InstallCommand i:
                foreach (var p in i.All)
                {
                    // The plan says which packages are the device's base system (Replaces), so no read is needed here.
                    var recorded = new RecordedPackage(p.Name, p.Version, p.Format, p.Sha256, command.RoleKind) { Auto = i.Dependency == true, Preinstalled = i.Replaces?.Contains(p.Name) == true };
                    await UpsertItemAsync(s, device, "package", p.Name, JsonSerializer.Serialize(recorded, ModelJson.Default.RecordedPackage), ct).ConfigureAwait(false);
                }
                break;
            case RemoveCommand r:
                foreach (var name in r.All)
                    await DeleteItemAsync(s, device, "package", name, ct).ConfigureAwait(false);
                break;
            case WriteFileCommand w:
                await UpsertItemAsync(s, device, "file", w.Path, JsonSerializer.Serialize(new RecordedFile(w.Path, w.Sha256, w.Mode, w.Owner, w.Group, command.RoleKind), ModelJson.Default.RecordedFile), ct).ConfigureAwait(false);
                break;
            case DeleteFileCommand d:
                await DeleteItemAsync(s, device, "file", d.Path, ct).ConfigureAwait(false);
                break;
            case ServiceCommand svc:
                var body = await s.QuerySingleOrDefaultAsync<string?>("SELECT body FROM recorded_items WHERE device = @device AND kind = 'service' AND key = @key",
                    new { device, key = svc.Name }, ct).ConfigureAwait(false);
                var before = new RecordedState { Services = body is null ? new Dictionary<string, RecordedService>() : new Dictionary<string, RecordedService> { [svc.Name] = JsonSerializer.Deserialize(body, ModelJson.Default.RecordedService)! } };
                var after = RecordedStateUpdater.Apply(before, svc, command.RoleKind, result).Services[svc.Name];
                await UpsertItemAsync(s, device, "service", svc.Name, JsonSerializer.Serialize(after, ModelJson.Default.RecordedService), ct).ConfigureAwait(false);
                break;
            case NetworkCommand n:
                await UpsertItemAsync(s, device, "network", n.Interface, JsonSerializer.Serialize(RecordedNetwork.From(n), ModelJson.Default.RecordedNetwork), ct).ConfigureAwait(false);
                break;
            case InventoryCommand when result.Inventory is { } inventory:
                await StoreInventoryAsync(s, device, inventory, ct).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Store an inventory as the device's actual state and bring its recorded state in line with it (so a
    /// plan repairs drift: a changed file is rewritten, a package removed behind Rig's back is installed again).
    /// Cheap when nothing changed, as on almost every check-in: only recorded items that differ are written, and the
    /// inventory itself is rewritten only when its digest (canonical JSON without <c>collectedAt</c> and
    /// <c>freeBytes</c>, which change every time) differs; else only those two small columns are updated.</summary>
    private async Task StoreInventoryAsync(Statements s, string device, InventoryReport inventory, CancellationToken ct)
    {
        var before = await RecordedStateAsync(s, device, ct).ConfigureAwait(false);
        await UpdateRecordedStateAsync(s, device, before, RecordedStateUpdater.FromInventory(before, inventory), ct).ConfigureAwait(false);
        var json = JsonSerializer.Serialize(inventory with { CollectedAt = null, FreeBytes = null }, RigJson.Default.InventoryReport);
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json)));
        var collectedAt = inventory.CollectedAt?.ToUnixTimeMilliseconds();
        var now = NowMs;
        var stored = await s.QuerySingleOrDefaultAsync<string?>("SELECT inventory_digest FROM device_runtime WHERE device = @device", new { device }, ct).ConfigureAwait(false);
        if (stored == digest)
        {
            await s.ExecuteAsync("UPDATE device_runtime SET inventory_collected_at = @collectedAt, inventory_free_bytes = @freeBytes, inventory_note = NULL WHERE device = @device", new { device, collectedAt, freeBytes = inventory.FreeBytes }, ct).ConfigureAwait(false);
            return;
        }
        var native = inventory.NativePackages is { } list ? JsonSerializer.Serialize(list, RigJson.Default.IReadOnlyListNativePackage) : null;
        await s.ExecuteAsync(
            "INSERT INTO device_runtime (device, inventory, inventory_digest, inventory_collected_at, inventory_free_bytes, inventory_version, inventory_note, native_packages, updated_at) VALUES (@device, @json, @digest, @collectedAt, @freeBytes, 1, NULL, @native, @now) " +
            "ON CONFLICT (device) DO UPDATE SET inventory = excluded.inventory, inventory_digest = excluded.inventory_digest, inventory_collected_at = excluded.inventory_collected_at, inventory_free_bytes = excluded.inventory_free_bytes, " +
            "inventory_version = device_runtime.inventory_version + 1, inventory_note = NULL, native_packages = excluded.native_packages, updated_at = excluded.updated_at",
            new { device, json, digest, collectedAt, freeBytes = inventory.FreeBytes, native, now }, ct).ConfigureAwait(false);
    }

    /// <summary>Keep why the device's last inventory was dropped; its last good inventory stays.</summary>
    private async Task NoteDroppedInventoryAsync(Statements s, string device, string problem, CancellationToken ct) =>
        await s.ExecuteAsync(
            "INSERT INTO device_runtime (device, inventory_note, updated_at) VALUES (@device, @note, @now) ON CONFLICT (device) DO UPDATE SET inventory_note = excluded.inventory_note",
            new { device, note = $"{DateTimeOffset.FromUnixTimeMilliseconds(NowMs):u}: the inventory the agent sent was dropped: {problem}", now = NowMs }, ct).ConfigureAwait(false);

    private static Task UpsertItemAsync(Statements s, string device, string kind, string key, string body, CancellationToken ct) =>
        s.ExecuteAsync("INSERT INTO recorded_items (device, kind, key, body) VALUES (@device, @kind, @key, @body) ON CONFLICT (device, kind, key) DO UPDATE SET body = excluded.body",
            new { device, kind, key, body }, ct);

    private static Task DeleteItemAsync(Statements s, string device, string kind, string key, CancellationToken ct) =>
        s.ExecuteAsync("DELETE FROM recorded_items WHERE device = @device AND kind = @kind AND key = @key", new { device, kind, key }, ct);
}
