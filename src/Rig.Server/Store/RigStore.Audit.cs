using Dapper;

namespace Rig.Server.Store;

/// <summary>Which audit entries to read: all filters optional, paged by seq.</summary>
/// <param name="After">Only entries with a greater seq (the previous page's last).</param>
/// <param name="Since">Only entries at or after this time.</param>
/// <param name="Limit">At most this many, oldest first.</param>
internal sealed record AuditQuery(long After = 0, DateTimeOffset? Since = null, string? Device = null, string? Operator = null, int Limit = 100);

internal sealed partial class RigStore
{
    private const string AuditColumns = "seq, at, operator, action, target, device, customer, outcome, detail, prev_hash AS PrevHash, hash";

    /// <summary>The chain head's read: locked on PostgreSQL, so concurrent appenders wait for each other instead of
    /// both linking after the same entry (on SQLite the one writer already excludes them).</summary>
    internal string AuditHeadSql => $"SELECT seq, hash FROM audit_head WHERE id = 1{ForUpdate}";

    /// <summary>Append entries to the audit log inside the caller's transaction: the head is read under its lock,
    /// the entries linked after it and the head moved, all committed (or rolled back) with the caller's work.</summary>
    internal async Task<IReadOnlyList<AuditRow>> AppendAuditAsync(Statements s, IReadOnlyList<AuditEntry> entries, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
            return [];
        var head = await s.QuerySingleOrDefaultAsync<AuditHead>(AuditHeadSql, null, ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The audit log's head row is missing: the audit_head table was emptied; restore it from a backup.");
        var rows = AuditChain.Link(head, entries, NowMs);
        await s.ExecuteAsync("INSERT INTO audit_log (seq, at, operator, action, target, device, customer, outcome, detail, prev_hash, hash) " +
            "VALUES (@Seq, @At, @Operator, @Action, @Target, @Device, @Customer, @Outcome, @Detail, @PrevHash, @Hash)", rows, ct).ConfigureAwait(false);
        await s.ExecuteAsync("UPDATE audit_head SET seq = @Seq, hash = @Hash WHERE id = 1", new { rows[^1].Seq, rows[^1].Hash }, ct).ConfigureAwait(false);
        return rows;
    }

    /// <summary>Append entries in a transaction of their own (an operator action already committed, a rollout wave
    /// already written).</summary>
    public Task<IReadOnlyList<AuditRow>> AppendAuditAsync(IReadOnlyList<AuditEntry> entries, CancellationToken ct = default) =>
        WriteAsync((c, tx) => AppendAuditAsync(new Statements(c, tx), entries, ct), ct);

    /// <summary>Entries matching <paramref name="query"/>, oldest first.</summary>
    public Task<IReadOnlyList<AuditRow>> ListAuditAsync(AuditQuery query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var where = new List<string> { "seq > @After" };
        if (query.Since is not null)
            where.Add("at >= @since");
        if (query.Device is not null)
            where.Add("device = @Device");
        if (query.Operator is not null)
            where.Add("operator = @Operator");
        var sql = $"SELECT {AuditColumns} FROM audit_log WHERE {string.Join(" AND ", where)} ORDER BY seq LIMIT @Limit";
        return ReadAsync<IReadOnlyList<AuditRow>>(async c => [.. await c.QueryAsync<AuditRow>(new CommandDefinition(sql,
            new { query.After, since = query.Since?.ToUnixTimeMilliseconds(), query.Device, query.Operator, query.Limit }, cancellationToken: ct)).ConfigureAwait(false)], ct);
    }

    /// <summary>The chain's newest seq and hash as the head row records them.</summary>
    public Task<AuditHead> AuditHeadAsync(CancellationToken ct = default) => ReadAsync(async c =>
        await c.QuerySingleOrDefaultAsync<AuditHead>(new CommandDefinition("SELECT seq, hash FROM audit_head WHERE id = 1", cancellationToken: ct)).ConfigureAwait(false)
            ?? new AuditHead(0, AuditChain.Genesis), ct);

    /// <summary>Recompute the whole chain from its first entry, page by page (<paramref name="pageSize"/> entries per
    /// read, so a long log is never held in memory), and compare its end with the head row. The head is read first and
    /// only entries up to it are checked: an entry appended meanwhile moved the head in the same transaction, so it is
    /// the next verification's.</summary>
    public async Task<AuditVerification> VerifyAuditAsync(int pageSize = 1000, CancellationToken ct = default)
    {
        var stored = await AuditHeadAsync(ct).ConfigureAwait(false);
        var verifier = new AuditChain.Verifier(stored);
        var (after, last) = (0L, stored.Seq);
        while (true)
        {
            var page = await ReadAsync<IReadOnlyList<AuditRow>>(async c => [.. await c.QueryAsync<AuditRow>(new CommandDefinition(
                $"SELECT {AuditColumns} FROM audit_log WHERE seq > @after AND seq <= @last ORDER BY seq LIMIT @pageSize", new { after, last, pageSize }, cancellationToken: ct)).ConfigureAwait(false)], ct).ConfigureAwait(false);
            foreach (var row in page)
                verifier.Add(row);
            if (page.Count < pageSize || verifier.Break is not null)
                break;
            after = page[^1].Seq;
        }
        var result = verifier.Finish();
        if (result.Break is not null)
            return result;
        // Every append moves the head in its own transaction, so an entry beyond the head (read again now) was put there
        // by hand: it is outside the chain, and it would also make the next real append fail.
        var now = await AuditHeadAsync(ct).ConfigureAwait(false);
        var stray = await ReadAsync(c => c.QueryFirstOrDefaultAsync<AuditRow>(new CommandDefinition(
            $"SELECT {AuditColumns} FROM audit_log WHERE seq > @seq ORDER BY seq LIMIT 1", new { seq = now.Seq }, cancellationToken: ct)), ct).ConfigureAwait(false);
        return stray is null ? result : result with
        {
            Break = new AuditBreak(stray.Seq, stray.Action, "appended",
                $"Entry {stray.Seq} ({stray.Action}) lies beyond the chain's head (entry {now.Seq}): it was added outside the gateway."),
        };
    }
}
