using Rig.Server.Gateway;

namespace Rig.Server.Store;

/// <summary>The writes of one or many exchanges, gathered and then sent as few statements as possible: on PostgreSQL one
/// statement per table for the whole group-commit batch (arrays through <c>unnest</c>), on SQLite (in-process, no round
/// trips to save) one statement per row. Rows of different exchanges of one batch never overlap (one exchange per device
/// per round, see <see cref="RigStore.ExchangeBatchAsync"/>), so their order within a table does not matter; for a
/// recorded item written twice, the last write wins.</summary>
internal sealed class ExchangeWrites(bool unnest)
{
    private readonly List<(string Id, string State, string Result, bool Finished)> _ends = [];
    private readonly Dictionary<(string Device, string Kind, string Key), string?> _items = [];
    private readonly List<Delivery> _deliveries = [];
    private readonly List<QueueChange> _queues = [];
    private readonly List<AuditRow> _audit = [];
    private AuditHead? _auditHead;

    /// <summary>Statements sent by <see cref="FlushAsync"/> so far (for the benchmarks' per-exchange counts).</summary>
    public int Statements { get; private set; }

    public void End(string commandId, CommandState state, string result) => _ends.Add((commandId, state.Name(), result, state != CommandState.Rebooting));

    /// <summary>Upsert a recorded item, or delete it (<paramref name="body"/> null).</summary>
    public void Item(string device, string kind, string key, string? body)
    {
        _items.Remove((device, kind, key)); // keep the order of last writes
        _items[(device, kind, key)] = body;
    }

    public void Deliver(Delivery delivery) => _deliveries.Add(delivery);

    public void Queue(QueueChange change) => _queues.Add(change);

    /// <summary>True once the audit chain's head was read (under its lock) in this transaction.</summary>
    public bool HasAuditHead => _auditHead is not null;

    /// <summary>The audit chain's head as read in this transaction; entries are linked after it in C#.</summary>
    public void AuditHead(AuditHead head) => _auditHead = head;

    /// <summary>Link an audit entry after the previous one (the head must have been read: <see cref="AuditHead"/>).</summary>
    public void Audit(AuditEntry entry, long at)
    {
        var row = AuditChain.Link(_auditHead ?? throw new InvalidOperationException("The audit head was not read in this transaction."), entry, at);
        _audit.Add(row);
        _auditHead = new AuditHead(row.Seq, row.Hash);
    }

    /// <summary>Send what was gathered (held back by a pipelined <see cref="Statements"/> until its next round trip).</summary>
    public async Task FlushAsync(Statements s, long now, CancellationToken ct)
    {
        if (unnest)
            await FlushArraysAsync(s, now, ct).ConfigureAwait(false);
        else
            await FlushRowsAsync(s, now, ct).ConfigureAwait(false);
        _ends.Clear();
        _items.Clear();
        _deliveries.Clear();
        _queues.Clear();
        _audit.Clear();
    }

    private async Task FlushRowsAsync(Statements s, long now, CancellationToken ct)
    {
        foreach (var (id, state, result, finished) in _ends)
        {
            await Run(finished ? "UPDATE commands SET status = @state, result = @result, finished_at = @now WHERE id = @id" : "UPDATE commands SET status = @state, result = @result WHERE id = @id",
                new { state, result, now, id }).ConfigureAwait(false);
        }
        foreach (var ((device, kind, key), body) in _items)
        {
            await Run(body is null ? "DELETE FROM recorded_items WHERE device = @device AND kind = @kind AND key = @key"
                : "INSERT INTO recorded_items (device, kind, key, body) VALUES (@device, @kind, @key, @body) ON CONFLICT (device, kind, key) DO UPDATE SET body = excluded.body",
                new { device, kind, key, body }).ConfigureAwait(false);
        }
        foreach (var d in _deliveries)
        {
            await Run("UPDATE commands SET status = @sent, deliveries = deliveries + 1, sent_at = @now WHERE queue_id = @id AND seq >= @from AND seq <= @to",
                new { sent = CommandState.Sent.Name(), now, id = d.QueueId, from = d.From, to = d.To }).ConfigureAwait(false);
        }
        foreach (var q in _queues)
        {
            await Run("UPDATE queues SET status = @status, position = @position, error = @error, updated_at = @now, finished_at = @finished WHERE id = @id",
                new { status = q.State.Name(), position = q.Position, error = q.Error, now, finished = q.State.IsActive() ? (long?)null : now, id = q.QueueId }).ConfigureAwait(false);
        }
        foreach (var a in _audit)
        {
            await Run("INSERT INTO audit_log (seq, at, operator, action, target, device, customer, outcome, detail, prev_hash, hash) " +
                "VALUES (@Seq, @At, @Operator, @Action, @Target, @Device, @Customer, @Outcome, @Detail, @PrevHash, @Hash)", a).ConfigureAwait(false);
        }
        if (_audit.Count > 0)
            await Run("UPDATE audit_head SET seq = @Seq, hash = @Hash WHERE id = 1", new { _audit[^1].Seq, _audit[^1].Hash }).ConfigureAwait(false);

        Task Run(string sql, object param)
        {
            Statements++;
            return s.ExecuteAsync(sql, param, ct);
        }
    }

    private async Task FlushArraysAsync(Statements s, long now, CancellationToken ct)
    {
        if (_ends.Count > 0)
        {
            await Run("UPDATE commands c SET status = u.state, result = u.result, finished_at = CASE WHEN u.finished THEN @now ELSE c.finished_at END " +
                "FROM unnest(@ids, @states, @results, @finished) AS u(id, state, result, finished) WHERE c.id = u.id",
                new { now, ids = _ends.Select(e => e.Id).ToArray(), states = _ends.Select(e => e.State).ToArray(), results = _ends.Select(e => e.Result).ToArray(), finished = _ends.Select(e => e.Finished).ToArray() }).ConfigureAwait(false);
        }
        var deletes = _items.Where(i => i.Value is null).Select(i => i.Key).ToList();
        if (deletes.Count > 0)
        {
            await Run("DELETE FROM recorded_items r USING unnest(@devices, @kinds, @keys) AS u(device, kind, key) WHERE r.device = u.device AND r.kind = u.kind AND r.key = u.key",
                new { devices = deletes.Select(k => k.Device).ToArray(), kinds = deletes.Select(k => k.Kind).ToArray(), keys = deletes.Select(k => k.Key).ToArray() }).ConfigureAwait(false);
        }
        var upserts = _items.Where(i => i.Value is not null).ToList();
        if (upserts.Count > 0)
        {
            await Run("INSERT INTO recorded_items (device, kind, key, body) SELECT * FROM unnest(@devices, @kinds, @keys, @bodies) ON CONFLICT (device, kind, key) DO UPDATE SET body = excluded.body",
                new { devices = upserts.Select(i => i.Key.Device).ToArray(), kinds = upserts.Select(i => i.Key.Kind).ToArray(), keys = upserts.Select(i => i.Key.Key).ToArray(), bodies = upserts.Select(i => i.Value!).ToArray() }).ConfigureAwait(false);
        }
        if (_deliveries.Count > 0)
        {
            await Run("UPDATE commands c SET status = @sent, deliveries = c.deliveries + 1, sent_at = @now FROM unnest(@queues, @froms, @tos) AS u(queue_id, first, last) " +
                "WHERE c.queue_id = u.queue_id AND c.seq >= u.first AND c.seq <= u.last",
                new { sent = CommandState.Sent.Name(), now, queues = _deliveries.Select(d => d.QueueId).ToArray(), froms = _deliveries.Select(d => d.From).ToArray(), tos = _deliveries.Select(d => d.To).ToArray() }).ConfigureAwait(false);
        }
        if (_queues.Count > 0)
        {
            await Run("UPDATE queues q SET status = u.state, position = u.position, error = u.error, updated_at = @now, finished_at = CASE WHEN u.finished THEN @now ELSE NULL END " +
                "FROM unnest(@ids, @states, @positions, @errors, @finished) AS u(id, state, position, error, finished) WHERE q.id = u.id",
                new
                {
                    now, ids = _queues.Select(q => q.QueueId).ToArray(), states = _queues.Select(q => q.State.Name()).ToArray(), positions = _queues.Select(q => q.Position).ToArray(),
                    errors = _queues.Select(q => q.Error).ToArray(), finished = _queues.Select(q => !q.State.IsActive()).ToArray(),
                }).ConfigureAwait(false);
        }
        if (_audit.Count > 0)
        {
            await Run("INSERT INTO audit_log (seq, at, operator, action, target, device, customer, outcome, detail, prev_hash, hash) " +
                "SELECT * FROM unnest(@seqs, @ats, @operators, @actions, @targets, @devices, @customers, @outcomes, @details, @prevs, @hashes)",
                new
                {
                    seqs = _audit.Select(a => a.Seq).ToArray(), ats = _audit.Select(a => a.At).ToArray(), operators = _audit.Select(a => a.Operator).ToArray(),
                    actions = _audit.Select(a => a.Action).ToArray(), targets = _audit.Select(a => a.Target).ToArray(), devices = _audit.Select(a => a.Device).ToArray(),
                    customers = _audit.Select(a => a.Customer).ToArray(), outcomes = _audit.Select(a => a.Outcome).ToArray(), details = _audit.Select(a => a.Detail).ToArray(),
                    prevs = _audit.Select(a => a.PrevHash).ToArray(), hashes = _audit.Select(a => a.Hash).ToArray(),
                }).ConfigureAwait(false);
            await Run("UPDATE audit_head SET seq = @Seq, hash = @Hash WHERE id = 1", new { _audit[^1].Seq, _audit[^1].Hash }).ConfigureAwait(false);
        }

        Task Run(string sql, object param)
        {
            Statements++;
            return s.ExecuteAsync(sql, param, ct);
        }
    }
}
