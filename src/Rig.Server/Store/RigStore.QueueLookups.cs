using Dapper;

namespace Rig.Server.Store;

/// <summary>A change of one device's place in a rollout (<see cref="RigStore.UpdateRolloutDevicesAsync"/>).</summary>
/// <param name="QueueId">The queue it now waits for (null: keep the one recorded).</param>
internal sealed record RolloutDeviceUpdate(string Device, string Status, string? QueueId, string? Detail);

internal sealed partial class RigStore
{
    /// <summary>Ids per query when reading queues by id: well under SQLite's limit of bound parameters.</summary>
    private const int QueueIdsPerQuery = 500;

    /// <summary>The queues with these ids (unknown ids are left out), read in one query per 500 ids: what the rollout
    /// engine reads of a wave at every step.</summary>
    public Task<IReadOnlyList<QueueInfo>> GetQueuesAsync(IReadOnlyCollection<string> ids, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
            return Task.FromResult<IReadOnlyList<QueueInfo>>([]);
        // PostgreSQL takes the ids as one array parameter (Dapper passes arrays to Npgsql as they are); SQLite gets the
        // list expanded into one parameter per id.
        var match = Engine == StoreEngine.Postgres ? "= ANY(@chunk)" : "IN @chunk";
        return ReadAsync<IReadOnlyList<QueueInfo>>(async c =>
        {
            var queues = new List<QueueInfo>(ids.Count);
            foreach (var chunk in ids.Chunk(QueueIdsPerQuery))
            {
                queues.AddRange((await c.QueryAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE id {match}", new { chunk }, cancellationToken: ct)).ConfigureAwait(false))
                    .Select(r => r.ToInfo()));
            }
            return queues;
        }, ct);
    }

    /// <summary>Record the states of many devices of a rollout in one transaction (a wave started, queues finished),
    /// with its audit entry (a wave started) in the same transaction when one is given.</summary>
    public Task UpdateRolloutDevicesAsync(string id, IReadOnlyList<RolloutDeviceUpdate> updates, CancellationToken ct = default, AuditEntry? audit = null)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0)
            return Task.CompletedTask;
        var now = NowMs;
        return WriteAsync(async (c, tx) =>
        {
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE rollout_devices SET status = @Status, queue_id = COALESCE(@QueueId, queue_id), detail = @Detail, updated_at = @now WHERE rollout_id = @id AND device = @Device",
                updates.Select(u => new { id, u.Device, u.Status, u.QueueId, u.Detail, now }).ToList(), tx, cancellationToken: ct)).ConfigureAwait(false);
            if (audit is not null)
                await AppendAuditAsync(new Statements(c, tx), [audit], ct).ConfigureAwait(false);
            return 0;
        }, ct);
    }
}
