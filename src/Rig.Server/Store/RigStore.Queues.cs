using System.Data.Common;
using System.Text.Json;
using Dapper;
using Rig.Model;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;

namespace Rig.Server.Store;

/// <summary>What an exchange answered, and which results it reported had been recorded before (replays: ignored).</summary>
internal sealed record ExchangeOutcome(ExchangeResponse Response, IReadOnlyList<string> Replayed);

/// <summary>A command to put in a new queue.</summary>
internal sealed record NewCommand(string Id, CommandSpec Spec, string Role, string? RoleKind, string Reason);

/// <summary>A queue.</summary>
internal sealed record QueueInfo(string Id, string Device, string Status, int Position, int Length, string Reason, string? Error, long? ModelRev,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt);

/// <summary>A command of a queue with its state and result.</summary>
internal sealed record CommandInfo(string Id, string QueueId, int Sequence, string Kind, string Role, string Reason, string Status, int Deliveries, CommandSpec Spec, CommandResult? Result);

/// <summary>Creating a queue: the queue, or the active queue that blocks it.</summary>
internal sealed record QueueCreateResult(QueueInfo? Created, QueueInfo? Blocking);

internal sealed record QueueRow(string Id, string Device, string Status, long Position, long Length, string Reason, string? Error, long? ModelRev, long CreatedAt, long UpdatedAt, long? FinishedAt)
{
    public QueueInfo ToInfo() => new(Id, Device, Status, (int)Position, (int)Length, Reason, Error, ModelRev,
        DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt), FinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null);
}

internal sealed record ServiceItemRow(string Device, string Key, string Body);

internal sealed record ExchangeCommandRow(string Id, string QueueId, long Seq, string Kind, string? RoleKind, string Spec, string Status, long Deliveries, string Device)
{
    /// <summary>The record, its spec opened by <paramref name="store"/> when sealed.</summary>
    public CommandRecord ToRecord(RigStore store) => new(Id, QueueId, Device, (int)Seq, Kind, RoleKind, QueueStateNames.ParseCommand(Status), (int)Deliveries, store.OpenSpec(Id, Spec));
}

internal sealed record CommandRow(string Id, string QueueId, long Seq, string Kind, string Role, string? RoleKind, string Reason, string Spec, string Status, long Deliveries, string? Result, string Device)
{
    private CommandSpec Masked(RigStore store)
    {
        var json = store.OpenSpec(Id, Spec);
        return JsonSerializer.Deserialize(store.Known.Mask(json), RigJson.Default.CommandSpec)!;
    }

    /// <summary>The command as the operator API shows it: its spec opened by <paramref name="store"/> when sealed, with
    /// every known secret value masked (a write-file's content).</summary>
    public CommandInfo ToInfo(RigStore store) => new(Id, QueueId, (int)Seq, Kind, Role, Reason, Status, (int)Deliveries, Masked(store),
        Result is null ? null : JsonSerializer.Deserialize(Result, RigJson.Default.CommandResult));
}

internal sealed partial class RigStore
{
    private const string QueueColumns = "id, device, status, position, length, reason, error, model_rev AS ModelRev, created_at AS CreatedAt, updated_at AS UpdatedAt, finished_at AS FinishedAt";
    private const string ExchangeColumns = "c.id, c.queue_id AS QueueId, c.seq, c.kind, c.role_kind AS RoleKind, c.spec, c.status, c.deliveries, q.device";
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
            if (Engine == StoreEngine.Postgres)
            {
                // The partial unique index is the guard, but a concurrent creator would get a duplicate-key error
                // instead of "blocked": serialise creators of one device. Every lock is taken up front, in the order of
                // the lock keys, so that two creators of the same devices (a rollout's wave and a converge) never wait
                // for each other in a circle, whatever order each was given its devices in.
                await c.ExecuteAsync(new CommandDefinition(
                    "SELECT pg_advisory_xact_lock(7353413, k) FROM (SELECT DISTINCT hashtext(d) AS k FROM unnest(@devices) AS d ORDER BY k) keys",
                    new { devices = queues.Select(q => q.Device).ToArray() }, tx, cancellationToken: ct)).ConfigureAwait(false);
            }
            foreach (var (device, commands) in queues)
            {
                var active = await ActiveQueueAsync(new Statements(c, tx), device, ct).ConfigureAwait(false);
                if (active is not null)
                {
                    results.Add(new QueueCreateResult(null, active.ToInfo()));
                    continue;
                }
                var id = Guid.CreateVersion7().ToString("n");
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO queues (id, device, status, position, length, model_rev, reason, error, created_at, updated_at, finished_at) VALUES (@id, @device, @status, 0, @length, @modelRev, @reason, NULL, @now, @now, NULL)",
                    new { id, device, status = QueueStates.Pending, length = commands.Count, modelRev, reason, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO commands (id, queue_id, seq, kind, role, role_kind, reason, spec, status, deliveries, sent_at, finished_at, result) VALUES (@Id, @QueueId, @Seq, @Kind, @Role, @RoleKind, @Reason, @Spec, @Status, 0, NULL, NULL, NULL)",
                    commands.Select((command, i) => new
                    {
                        command.Id, QueueId = id, Seq = i, command.Spec.Kind, command.Role, command.RoleKind, command.Reason,
                        Spec = SealSpec(command.Id, JsonSerializer.Serialize(command.Spec, RigJson.Default.CommandSpec)), Status = CommandStates.Pending,
                    }).ToList(), tx, cancellationToken: ct)).ConfigureAwait(false);
                var writes = commands.Select(x => x.Spec).OfType<WriteFileCommand>().DistinctBy(w => w.Sha256).Select(w => new { w.Sha256, Content = SealRendered(w.Sha256, w.Content) }).ToList();
                if (writes.Count > 0)
                {
                    await c.ExecuteAsync(new CommandDefinition("INSERT INTO rendered_files (sha256, content) VALUES (@Sha256, @Content) ON CONFLICT (sha256) DO NOTHING",
                        writes, tx, cancellationToken: ct)).ConfigureAwait(false);
                }
                results.Add(new QueueCreateResult(new QueueInfo(id, device, QueueStates.Pending, 0, commands.Count, reason, null, modelRev,
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
        [.. await c.QueryAsync<string>(new CommandDefinition($"SELECT device FROM queues WHERE status IN {QueueStateNames.WorkSql} ORDER BY device", cancellationToken: ct)).ConfigureAwait(false)], ct);

    /// <summary>The device's newest queue (active or finished), or null.</summary>
    public Task<QueueInfo?> GetLatestQueueAsync(string device, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QueryFirstOrDefaultAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE device = @device ORDER BY created_at DESC, id DESC", new { device }, cancellationToken: ct)).ConfigureAwait(false))?.ToInfo(), ct);

    /// <summary>A queue by id.</summary>
    public Task<QueueInfo?> GetQueueAsync(string id, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QuerySingleOrDefaultAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE id = @id", new { id }, cancellationToken: ct)).ConfigureAwait(false))?.ToInfo(), ct);

    /// <summary>The commands of a queue in order.</summary>
    public Task<IReadOnlyList<CommandInfo>> GetCommandsAsync(string queueId, CancellationToken ct = default) => ReadAsync<IReadOnlyList<CommandInfo>>(async c =>
        [.. (await c.QueryAsync<CommandRow>(new CommandDefinition($"SELECT {CommandColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE c.queue_id = @queueId ORDER BY c.seq", new { queueId }, cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => r.ToInfo(this))], ct);

    /// <summary>Cancel the device's active queue: nothing new is sent; a command already running finishes and
    /// its result is still recorded. Returns the cancelled queue or null.</summary>
    public Task<QueueInfo?> CancelQueueAsync(string device, string why, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var active = await ActiveQueueAsync(new Statements(c, tx), device, ct).ConfigureAwait(false);
        if (active is null)
            return null;
        await FinishQueueAsync(new Statements(c, tx), active.Id, QueueStates.Cancelled, why, ct).ConfigureAwait(false);
        return (await c.QuerySingleAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE id = @id", new { id = active.Id }, tx, cancellationToken: ct)).ConfigureAwait(false)).ToInfo();
    }, ct);

    /// <summary>Fail a queue whose agent never asked for it (a rollout's device timeout): only while it is still
    /// <c>pending</c>, decided under the queue's lock, so it is either delivered (and runs to its end as usual) or
    /// failed before anything was sent (and the agent gets nothing from it later). Its commands stay pending: none ran.
    /// Returns false when the agent took it first, or the queue is no longer active.</summary>
    public Task<bool> FailUndeliveredQueueAsync(string queueId, string error, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var s = new Statements(c, tx);
        var status = await s.QuerySingleOrDefaultAsync<string?>($"SELECT status FROM queues WHERE id = @queueId{ForUpdate}", new { queueId }, ct).ConfigureAwait(false);
        if (status != QueueStates.Pending)
            return false;
        await FinishQueueAsync(s, queueId, QueueStates.Failed, error, ct).ConfigureAwait(false);
        return true;
    }, ct);

    /// <summary>Fail queues that have waited in <c>rebooting</c> longer than <paramref name="timeout"/>: the device
    /// acknowledged a reboot and never came back (re-imaged, journal lost). Returns the devices concerned.</summary>
    public Task<IReadOnlyList<string>> FailStaleRebootsAsync(TimeSpan timeout, CancellationToken ct = default) => WriteAsync<IReadOnlyList<string>>(async (c, tx) =>
    {
        var cutoff = NowMs - (long)timeout.TotalMilliseconds;
        var stale = (await c.QueryAsync<QueueRow>(new CommandDefinition(
            $"SELECT {QueueColumns} FROM queues WHERE status = @status AND updated_at < @cutoff", new { status = QueueStates.Rebooting, cutoff }, tx, cancellationToken: ct)).ConfigureAwait(false)).ToList();
        foreach (var queue in stale)
        {
            var error = $"reboot-timeout: device {queue.Device} accepted a reboot at {DateTimeOffset.FromUnixTimeMilliseconds(queue.UpdatedAt):u} and did not come back within {timeout.TotalMinutes:0} min; check the device, then rebuild it or converge again";
            await c.ExecuteAsync(new CommandDefinition("UPDATE commands SET status = @failed, finished_at = @now WHERE queue_id = @id AND status = @rebooting",
                new { failed = CommandStates.Failed, now = NowMs, id = queue.Id, rebooting = CommandStates.Rebooting }, tx, cancellationToken: ct)).ConfigureAwait(false);
            await FinishQueueAsync(new Statements(c, tx), queue.Id, QueueStates.Failed, error, ct).ConfigureAwait(false);
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

    /// <summary>One exchange inside a transaction (the group writer runs many in one): read what it needs in one round
    /// trip, let <see cref="QueueMachine"/> decide, write the decision. A refused exchange has written nothing (the
    /// machine decides before anything is written), so it needs no savepoint.</summary>
    internal async Task<ExchangeOutcome> ExchangeCoreAsync(Statements s, string device, ExchangeRequest request, int maxDeliveries, CancellationToken ct)
    {
        var snapshot = await ReadExchangeAsync(s, device, request, ct).ConfigureAwait(false);
        var decision = QueueMachine.Decide(snapshot, new AnswerLimits(maxDeliveries, _answerBudget, _installsPerAnswer));
        if (decision.Refusal is { } refusal)
            throw refusal;
        var writes = new ExchangeWrites(unnest: false);
        await WriteDecisionAsync(s, device, decision, [], false, writes, ct).ConfigureAwait(false);
        await writes.FlushAsync(s, NowMs, ct).ConfigureAwait(false);
        return new ExchangeOutcome(decision.Response!, decision.Replayed);
    }

    /// <summary>A whole group-commit batch on PostgreSQL: the reads of every exchange in ONE round trip (the active queues of
    /// all its devices, locked; the commands the requests name; each active queue's window; the recorded services the
    /// results may change), then each exchange decided by <see cref="QueueMachine"/> and its writes held back, to go with the
    /// next round trip. A device that appears twice in a batch (an agent re-sending) has its second exchange in a second
    /// round, after the first one's writes. Returns one outcome or refusal per exchange, in order; any other error
    /// escapes (the group writer then runs the batch again exchange by exchange, each under a savepoint).</summary>
    internal async Task<IReadOnlyList<(ExchangeOutcome? Outcome, ExchangeRefusedException? Refusal)>> ExchangeBatchAsync(Statements s, IReadOnlyList<(string Device, ExchangeRequest Request, int MaxDeliveries)> batch, CancellationToken ct)
    {
        var results = new (ExchangeOutcome?, ExchangeRefusedException?)[batch.Count];
        var writes = new ExchangeWrites(unnest: true);
        var rounds = batch.Select((work, index) => (work, index)).GroupBy(x => x.work.Device, StringComparer.Ordinal)
            .SelectMany(g => g.Select((x, occurrence) => (x.work, x.index, occurrence))).GroupBy(x => x.occurrence).OrderBy(g => g.Key);
        foreach (var round in rounds)
        {
            var works = round.ToList();
            var devices = works.Select(x => x.work.Device).ToArray();
            var windows = works.Select(x => QueueMachine.WindowSize(x.work.Request)).ToArray();
            var ids = works.SelectMany(x => QueueMachine.NamedIds(x.work.Request)).Distinct(StringComparer.Ordinal).ToArray();
            var reporting = works.Where(x => x.work.Request.AllResults.Any()).Select(x => x.work.Device).ToArray();
            var queues = new List<QueueRow>();
            var named = new List<ExchangeCommandRow>();
            var windowRows = new List<ExchangeCommandRow>();
            var services = new Dictionary<(string Device, string Name), string?>();
            var reads = new List<(string Sql, object? Param)>
            {
                ($"SELECT {QueueColumns} FROM queues WHERE device = ANY(@devices) AND status IN {QueueStateNames.ActiveSql} ORDER BY id FOR UPDATE", new { devices }),
                ($"SELECT w.* FROM unnest(@devices, @windows) AS d(device, n) CROSS JOIN LATERAL (SELECT {ExchangeColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE q.device = d.device AND q.status IN {QueueStateNames.ActiveSql} AND c.seq >= q.position ORDER BY c.seq LIMIT d.n) w", new { devices, windows }),
            };
            if (ids.Length > 0)
                reads.Add(($"SELECT {ExchangeColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE c.id = ANY(@ids)", new { ids }));
            if (reporting.Length > 0)
                reads.Add(("SELECT device, key, body FROM recorded_items WHERE kind = 'service' AND device = ANY(@reporting)", new { reporting }));
            // Results to record: the audit chain's head, locked, in the same round trip (entries are linked in C#).
            var headRead = ids.Length > 0 && !writes.HasAuditHead ? reads.Count : -1;
            if (headRead >= 0)
                reads.Add((AuditHeadSql, null));
            await s.ReadManyAsync(reads, (i, reader) =>
            {
                if (i == headRead)
                {
                    writes.AuditHead(Statements.Rows<AuditHead>(reader).SingleOrDefault() ?? throw new InvalidOperationException("The audit log's head row is missing: the audit_head table was emptied; restore it from a backup."));
                    return;
                }
                switch (i)
                {
                    case 0: queues.AddRange(Statements.Rows<QueueRow>(reader)); break;
                    case 1: windowRows.AddRange(Statements.Rows<ExchangeCommandRow>(reader)); break;
                    case 2 when ids.Length > 0: named.AddRange(Statements.Rows<ExchangeCommandRow>(reader)); break;
                    default:
                        foreach (var item in Statements.Rows<ServiceItemRow>(reader))
                            services[(item.Device, item.Key)] = item.Body;
                        break;
                }
            }, ct).ConfigureAwait(false);
            var activeOf = queues.ToDictionary(q => q.Device, StringComparer.Ordinal);
            var windowOf = windowRows.Select(r => r.ToRecord(this)).GroupBy(r => r.Device, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Seq).ToList(), StringComparer.Ordinal);
            var namedById = named.Select(r => r.ToRecord(this)).ToDictionary(r => r.Id, StringComparer.Ordinal);
            foreach (var (work, index, _) in works)
            {
                var active = activeOf.GetValueOrDefault(work.Device);
                var window = windowOf.GetValueOrDefault(work.Device) ?? [];
                var mine = QueueMachine.NamedIds(work.Request).Select(id => namedById.GetValueOrDefault(id)).OfType<CommandRecord>().ToList();
                var snapshot = new ExchangeSnapshot(work.Device, work.Request,
                    active is null ? null : new QueueRecord(active.Id, active.Device, QueueStateNames.ParseQueue(active.Status), (int)active.Position, (int)active.Length),
                    mine, window);
                var decision = QueueMachine.Decide(snapshot, new AnswerLimits(work.MaxDeliveries, _answerBudget, _installsPerAnswer));
                if (decision.Refusal is { } refusal)
                {
                    results[index] = (null, refusal);
                    continue;
                }
                await WriteDecisionAsync(s, work.Device, decision, services, true, writes, ct).ConfigureAwait(false);
                results[index] = (new ExchangeOutcome(decision.Response!, decision.Replayed), null);
            }
            await writes.FlushAsync(s, NowMs, ct).ConfigureAwait(false); // before the next round reads
        }
        return results;
    }

    /// <summary>The exchange's reads, in one round trip: the device's active queue (locked), then the commands the request
    /// names together with the active queue's commands from its position on.</summary>
    private async Task<ExchangeSnapshot> ReadExchangeAsync(Statements s, string device, ExchangeRequest request, CancellationToken ct)
    {
        var named = QueueMachine.NamedIds(request).Select((id, i) => (Name: $"id{i}", Id: id)).ToList();
        var parameters = named.ToDictionary(n => n.Name, n => (object?)n.Id);
        parameters["device"] = device;
        parameters["window"] = QueueMachine.WindowSize(request);
        var window = $"SELECT * FROM (SELECT {ExchangeColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE q.device = @device AND q.status IN {QueueStateNames.ActiveSql} AND c.seq >= q.position ORDER BY c.seq LIMIT @window) w";
        var commands = named.Count == 0 ? window
            : $"SELECT {ExchangeColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE c.id IN ({string.Join(", ", named.Select(n => "@" + n.Name))}) UNION ALL {window}";
        var (queues, rows) = await s.QueryAsync<QueueRow, ExchangeCommandRow>(ActiveQueueSql(s), new { device }, commands, parameters, ct).ConfigureAwait(false);
        var active = queues.SingleOrDefault();
        var records = rows.Select(r => r.ToRecord(this)).DistinctBy(r => r.Id).ToList();
        // A named command of the active queue at or past its position is part of the window too.
        return new ExchangeSnapshot(device, request,
            active is null ? null : new QueueRecord(active.Id, active.Device, QueueStateNames.ParseQueue(active.Status), (int)active.Position, (int)active.Length),
            records, [.. records.Where(r => active is not null && r.QueueId == active.Id && r.Seq >= active.Position).OrderBy(r => r.Seq)]);
    }

    /// <summary>Gather what the machine decided into <paramref name="writes"/>: results, their effect on the device's
    /// recorded state, the delivery, the queue; commands that never ran are put back at once; an inventory (which reads
    /// the recorded state) first sends what was gathered.</summary>
    private async Task WriteDecisionAsync(Statements s, string device, ExchangeDecision decision, Dictionary<(string Device, string Name), string?> services, bool servicesComplete, ExchangeWrites writes, CancellationToken ct)
    {
        foreach (var end in decision.Ends)
            writes.End(end.Command.Id, end.State, Known.Mask(JsonSerializer.Serialize(ForHistory(end.Result), RigJson.Default.CommandResult)));
        if (decision.Ends.Count > 0)
        {
            // Every fresh result goes into the audit log in the transaction that records it: acknowledged means audited.
            if (!writes.HasAuditHead)
                writes.AuditHead(await s.QuerySingleOrDefaultAsync<AuditHead>(AuditHeadSql, null, ct).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("The audit log's head row is missing: the audit_head table was emptied; restore it from a backup."));
            var now = NowMs;
            foreach (var end in decision.Ends)
                writes.Audit(CommandResultEntry(device, end), now);
        }
        foreach (var applied in decision.Applied)
            await ApplyToRecordedStateAsync(s, device, applied.Command, applied.Result, services, servicesComplete, writes, ct).ConfigureAwait(false);
        if (decision.Unsend is var (unsendQueue, afterSeq))
        {
            await s.ExecuteAsync("UPDATE commands SET status = @pending WHERE queue_id = @id AND seq > @seq AND status = @sent",
                new { pending = CommandState.Pending.Name(), sent = CommandState.Sent.Name(), id = unsendQueue, seq = afterSeq }, ct).ConfigureAwait(false);
        }
        if (decision.Delivery is { } delivery)
            writes.Deliver(delivery);
        if (decision.Queue is { } queue)
            writes.Queue(queue with { Error = Known.MaskOrNull(queue.Error) }); // the agent's error may echo a secret
        if (decision.Inventory is { } inventory)
        {
            await writes.FlushAsync(s, NowMs, ct).ConfigureAwait(false);
            await StoreInventoryAsync(s, device, inventory, ct).ConfigureAwait(false);
        }
        if (decision.DroppedInventory is { } dropped)
            await NoteDroppedInventoryAsync(s, device, dropped, ct).ConfigureAwait(false);
    }

    /// <summary>The audit entry of a command's result: which command ended how, never its output.</summary>
    private static AuditEntry CommandResultEntry(string device, CommandEnd end)
    {
        var detail = new System.Text.Json.Nodes.JsonObject
        {
            ["queue"] = end.Command.QueueId,
            ["position"] = end.Command.Seq,
            ["kind"] = end.Command.Kind,
            ["durationMs"] = end.Result.DurationMs,
        };
        if (end.Result.ErrorCode is { } code)
            detail["errorCode"] = code;
        if (end.Result.FromJournal)
            detail["fromJournal"] = true;
        return new AuditEntry(null, "command.result", end.Command.Id, device, end.State.Name(), detail.ToJsonString());
    }

    private string ActiveQueueSql(Statements s) =>
        $"SELECT {QueueColumns} FROM queues WHERE device = @device AND status IN {QueueStateNames.ActiveSql}{(s.Transaction is null ? "" : ForUpdate)}";

    private async Task<QueueRow?> ActiveQueueAsync(Statements s, string device, CancellationToken ct) =>
        await s.QuerySingleOrDefaultAsync<QueueRow>(ActiveQueueSql(s), new { device }, ct).ConfigureAwait(false);

    /// <summary>What a command's row keeps of its result. An inventory's list of every native package (a few hundred
    /// entries, ~100-200 KB on a real device) is kept once per device, in the device's latest inventory; the
    /// command's own copy leaves it out, or every queue would store it again.</summary>
    private static CommandResult ForHistory(CommandResult result) =>
        result.Inventory is { NativePackages: not null } inventory ? result with { Inventory = inventory with { NativePackages = null } } : result;

    private async Task FinishQueueAsync(Statements s, string queueId, string status, string? error, CancellationToken ct) =>
        await s.ExecuteAsync("UPDATE queues SET status = @status, error = @error, updated_at = @now, finished_at = @now WHERE id = @queueId",
            new { status, error, now = NowMs, queueId }, ct).ConfigureAwait(false);

    /// <summary>Record what a succeeded command changed on the device: one row per package, file or service; an
    /// inventory replaces the device's rows (role kinds kept where names match).</summary>
    private async Task ApplyToRecordedStateAsync(Statements s, string device, CommandRecord command, CommandResult result, Dictionary<(string Device, string Name), string?> services, bool servicesComplete, ExchangeWrites writes, CancellationToken ct)
    {
        var spec = command.ParseSpec();
        switch (spec)
        {
            case InstallCommand i:
                foreach (var p in i.All)
                {
                    // The plan says which packages are the device's base system (Replaces), so no read is needed here.
                    var recorded = new RecordedPackage(p.Name, p.Version, p.Format, p.Sha256, command.RoleKind) { Auto = i.Dependency == true, Preinstalled = i.Replaces?.Contains(p.Name) == true };
                    writes.Item(device, "package", p.Name, JsonSerializer.Serialize(recorded, ModelJson.Default.RecordedPackage));
                }
                break;
            case RemoveCommand r:
                foreach (var name in r.All)
                    writes.Item(device, "package", name, null);
                break;
            case WriteFileCommand w:
                writes.Item(device, "file", w.Path, JsonSerializer.Serialize(new RecordedFile(w.Path, w.Sha256, w.Mode, w.Owner, w.Group, command.RoleKind), ModelJson.Default.RecordedFile));
                break;
            case DeleteFileCommand d:
                writes.Item(device, "file", d.Path, null);
                break;
            case ServiceCommand svc:
                // The batched path read every service of the reporting devices; the single path reads on a miss. Both
                // keep what they wrote, so a second result for the same service in one exchange builds on the first.
                if (!services.TryGetValue((device, svc.Name), out var body) && !servicesComplete)
                    body = await s.QuerySingleOrDefaultAsync<string?>("SELECT body FROM recorded_items WHERE device = @device AND kind = 'service' AND key = @key",
                        new { device, key = svc.Name }, ct).ConfigureAwait(false);
                var before = new RecordedState { Services = body is null ? new Dictionary<string, RecordedService>() : new Dictionary<string, RecordedService> { [svc.Name] = JsonSerializer.Deserialize(body, ModelJson.Default.RecordedService)! } };
                var after = JsonSerializer.Serialize(RecordedStateUpdater.Apply(before, svc, command.RoleKind, result).Services[svc.Name], ModelJson.Default.RecordedService);
                services[(device, svc.Name)] = after;
                writes.Item(device, "service", svc.Name, after);
                break;
            case NetworkCommand n:
                writes.Item(device, "network", n.Interface, JsonSerializer.Serialize(RecordedNetwork.From(n), ModelJson.Default.RecordedNetwork));
                break;
            case InventoryCommand when result.Inventory is { } inventory:
                await writes.FlushAsync(s, NowMs, ct).ConfigureAwait(false); // the inventory reads the recorded state
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
}
