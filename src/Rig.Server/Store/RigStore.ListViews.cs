using Dapper;

namespace Rig.Server.Store;

/// <summary>A model revision with the number of model objects it touched.</summary>
internal sealed record RevisionSummary(long Rev, string Author, string Message, DateTimeOffset CreatedAt, int Changes);

internal sealed record RevisionRow(long Rev, string Author, string Message, long CreatedAt);

/// <summary>Settable properties, not a constructor: with no rows SQLite reports the computed count's type as a blob, and
/// Dapper matches a constructor by the reported types.</summary>
internal sealed class RevisionSummaryRow
{
    public long Rev { get; set; }
    public string Author { get; set; } = "";
    public string Message { get; set; } = "";
    public long CreatedAt { get; set; }
    public long Changes { get; set; }
}

/// <summary>The reads behind the operator API's lists: each list is a fixed number of statements whatever its length
/// (never one per revision, rollout or queue).</summary>
internal sealed partial class RigStore
{
    /// <summary>The newest <paramref name="limit"/> revisions, newest first, each with the number of model objects it
    /// touched (added, changed or removed): one statement.</summary>
    public Task<IReadOnlyList<RevisionSummary>> ListRevisionSummariesAsync(int limit, CancellationToken ct = default) => ReadAsync<IReadOnlyList<RevisionSummary>>(async c =>
        [.. (await c.QueryAsync<RevisionSummaryRow>(new CommandDefinition(
                "SELECT r.rev, r.author, r.message, r.created_at AS CreatedAt, COALESCE(t.changes, 0) AS Changes " +
                "FROM (SELECT rev, author, message, created_at FROM model_revisions ORDER BY rev DESC LIMIT @limit) r " +
                "LEFT JOIN (SELECT touched.rev, COUNT(*) AS changes FROM (SELECT DISTINCT m.rev, e.kind, e.name FROM model_entities e " +
                "JOIN (SELECT rev FROM model_revisions ORDER BY rev DESC LIMIT @limit) m ON e.rev_from = m.rev OR e.rev_to = m.rev) touched GROUP BY touched.rev) t ON t.rev = r.rev " +
                "ORDER BY r.rev DESC", new { limit }, cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => new RevisionSummary(r.Rev, r.Author, r.Message, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), (int)r.Changes))], ct);

    /// <summary>The objects each of <paramref name="revs"/> added, changed or removed, by revision: one query.</summary>
    public Task<ILookup<long, (string Kind, string Name)>> ChangedObjectsAsync(IReadOnlyCollection<long> revs, CancellationToken ct = default) => ReadAsync(async c =>
    {
        var list = revs.ToArray();
        var rows = await c.QueryAsync<(long RevFrom, long? RevTo, string Kind, string Name)>(new CommandDefinition(
            "SELECT rev_from, rev_to, kind, name FROM model_entities WHERE rev_from >= @low OR rev_to >= @low", new { low = list.Length == 0 ? long.MaxValue : list.Min() }, cancellationToken: ct)).ConfigureAwait(false);
        var wanted = list.ToHashSet();
        return rows.SelectMany(r => new[] { (Rev: r.RevFrom, r.Kind, r.Name), (Rev: r.RevTo ?? -1, r.Kind, r.Name) })
            .Where(r => wanted.Contains(r.Rev)).Distinct().ToLookup(r => r.Rev, r => (r.Kind, r.Name));
    }, ct);

    /// <summary>One revision (null when there is none with that number).</summary>
    public Task<ModelRevision?> GetRevisionAsync(long rev, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QuerySingleOrDefaultAsync<RevisionRow>(new CommandDefinition(
            "SELECT rev, author, message, created_at AS CreatedAt FROM model_revisions WHERE rev = @rev", new { rev }, cancellationToken: ct)).ConfigureAwait(false)) is { } r
            ? new ModelRevision(r.Rev, r.Author, r.Message, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt))
            : null, ct);

    /// <summary>Rollouts with their devices, newest first (only running and paused ones when <paramref name="activeOnly"/>):
    /// two statements, the rollouts and all their devices, whatever the number of rollouts.</summary>
    public Task<IReadOnlyList<RolloutInfo>> ListRolloutsWithDevicesAsync(bool activeOnly, int limit, CancellationToken ct = default) => ReadAsync<IReadOnlyList<RolloutInfo>>(async c =>
    {
        var rows = (await c.QueryAsync<RolloutRow>(new CommandDefinition(
            $"SELECT {RolloutColumns} FROM rollouts {(activeOnly ? "WHERE status IN ('running', 'paused')" : "")} ORDER BY created_at DESC, id DESC LIMIT @limit",
            new { limit }, cancellationToken: ct)).ConfigureAwait(false)).ToList();
        if (rows.Count == 0)
            return [];
        var devices = (await c.QueryAsync<RolloutDeviceRow>(new CommandDefinition(RolloutDevicesOfSql, new { ids = rows.Select(r => r.Id).ToArray() }, cancellationToken: ct)).ConfigureAwait(false))
            .ToLookup(d => d.RolloutId, StringComparer.Ordinal);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(NowMs);
        return [.. rows.Select(row => new RolloutInfo(row.Id, row.Rev, row.Selector, (int)row.Canary, row.Batch, (int)row.MaxParallel, (int)row.MaxFailures, row.Status, row.Reason, row.CreatedBy, row.Error,
            DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(row.UpdatedAt), row.FinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null,
            [.. devices[row.Id].Select(d => ToInfo(d, now))], row.Purpose, Rig.Model.Durations.Format(TimeSpan.FromMilliseconds(row.DeviceTimeoutMs))))];
    }, ct);

    /// <summary>A filter on <paramref name="column"/> by the list parameter <c>@ids</c>: Dapper expands <c>IN @ids</c>
    /// for SQLite, Npgsql takes the list as one array.</summary>
    private string InIds(string column) => Engine == StoreEngine.Postgres ? $"{column} = ANY(@ids)" : $"{column} IN @ids";

    /// <summary>The devices of several rollouts: the same columns as one rollout's (<see cref="RolloutDeviceSql"/>).</summary>
    private string RolloutDevicesOfSql =>
        "SELECT d.rollout_id AS RolloutId, d.device, d.position, d.wave, d.status, d.queue_id AS QueueId, d.detail, q.status AS QueueStatus, r.last_seen_at AS LastSeenAt, " +
        "COALESCE((SELECT MIN(c.issued_at) FROM certificates c WHERE c.device = d.device), 0) AS EnrolledAt, " +
        "(SELECT COUNT(*) FROM certificates c WHERE c.device = d.device AND c.revoked_at IS NULL) AS ValidCertificates " +
        "FROM rollout_devices d LEFT JOIN queues q ON q.id = d.queue_id LEFT JOIN device_runtime r ON r.device = d.device WHERE " + InIds("d.rollout_id") + " ORDER BY d.rollout_id, d.position";

    /// <summary>The commands of several queues, each queue's in order: one statement.</summary>
    public Task<IReadOnlyDictionary<string, IReadOnlyList<CommandInfo>>> GetCommandsOfQueuesAsync(IReadOnlyCollection<string> queueIds, CancellationToken ct = default) =>
        ReadAsync<IReadOnlyDictionary<string, IReadOnlyList<CommandInfo>>>(async c =>
        {
            if (queueIds.Count == 0)
                return new Dictionary<string, IReadOnlyList<CommandInfo>>(StringComparer.Ordinal);
            var rows = await c.QueryAsync<CommandRow>(new CommandDefinition(
                $"SELECT {CommandColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE {InIds("c.queue_id")} ORDER BY c.queue_id, c.seq",
                new { ids = queueIds.ToArray() }, cancellationToken: ct)).ConfigureAwait(false);
            var byQueue = rows.GroupBy(r => r.QueueId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<CommandInfo>)[.. g.Select(r => r.ToInfo(this))], StringComparer.Ordinal);
            foreach (var id in queueIds)
                byQueue.TryAdd(id, []);
            return byQueue;
        }, ct);
}
