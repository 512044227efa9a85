using Dapper;

namespace Rig.Server.Store;

/// <summary>Reads for the operator's overview (<c>rig status</c>, <c>rig device show</c>, <c>rig device log</c>): one
/// query per list, never one per device.</summary>
/// <summary>A device's agent as last seen: its version and when.</summary>
internal sealed record AgentSeen(string Device, string? AgentVersion, DateTimeOffset? LastSeenAt);

internal sealed record AgentSeenRow(string Device, string? AgentVersion, long? LastSeenAt);

internal sealed partial class RigStore
{
    /// <summary>Every device the gateway has a run-time row for, with its agent's version and last request (no
    /// recorded state, no inventory), in one query.</summary>
    public Task<IReadOnlyList<AgentSeen>> ListAgentsAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<AgentSeen>>(async c =>
        [.. (await c.QueryAsync<AgentSeenRow>(new CommandDefinition("SELECT device, agent_version AS AgentVersion, last_seen_at AS LastSeenAt FROM device_runtime", cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => new AgentSeen(r.Device, r.AgentVersion, r.LastSeenAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null))], ct);

    /// <summary>The newest queue (active or finished) of every device that has one, by device, in one query.</summary>
    public Task<IReadOnlyDictionary<string, QueueInfo>> ListLatestQueuesAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyDictionary<string, QueueInfo>>(async c =>
        (await c.QueryAsync<QueueRow>(new CommandDefinition(
            $"SELECT {QueueColumns} FROM queues q WHERE NOT EXISTS (SELECT 1 FROM queues n WHERE n.device = q.device AND (n.created_at > q.created_at OR (n.created_at = q.created_at AND n.id > q.id)))",
            cancellationToken: ct)).ConfigureAwait(false))
            .ToDictionary(r => r.Device, r => r.ToInfo(), StringComparer.Ordinal), ct);

    /// <summary>The device's newest <paramref name="count"/> queues, newest first.</summary>
    public Task<IReadOnlyList<QueueInfo>> ListRecentQueuesAsync(string device, int count, CancellationToken ct = default) => ReadAsync<IReadOnlyList<QueueInfo>>(async c =>
        [.. (await c.QueryAsync<QueueRow>(new CommandDefinition($"SELECT {QueueColumns} FROM queues WHERE device = @device ORDER BY created_at DESC, id DESC LIMIT @count",
            new { device, count }, cancellationToken: ct)).ConfigureAwait(false)).Select(r => r.ToInfo())], ct);

    /// <summary>The commands of a queue from sequence number <paramref name="fromSequence"/> on, in order (what a log
    /// stream has not sent yet).</summary>
    public Task<IReadOnlyList<CommandInfo>> GetCommandsFromAsync(string queueId, int fromSequence, CancellationToken ct = default) => ReadAsync<IReadOnlyList<CommandInfo>>(async c =>
        [.. (await c.QueryAsync<CommandRow>(new CommandDefinition(
            $"SELECT {CommandColumns} FROM commands c JOIN queues q ON q.id = c.queue_id WHERE c.queue_id = @queueId AND c.seq >= @fromSequence ORDER BY c.seq",
            new { queueId, fromSequence }, cancellationToken: ct)).ConfigureAwait(false)).Select(r => r.ToInfo(this))], ct);

    /// <summary>The newest certificate issued to each device (revoked or not), by device, in one query; only
    /// <paramref name="device"/>'s when given.</summary>
    public Task<IReadOnlyDictionary<string, CertificateRecord>> ListLatestCertificatesAsync(string? device = null, CancellationToken ct = default) => ReadAsync<IReadOnlyDictionary<string, CertificateRecord>>(async c =>
        (await c.QueryAsync<CertificateRow>(new CommandDefinition(
            "SELECT thumbprint, device, serial, issued_at AS IssuedAt, not_after AS NotAfter, revoked_at AS RevokedAt FROM certificates c " +
            $"WHERE {(device is null ? "" : "c.device = @device AND ")}NOT EXISTS (SELECT 1 FROM certificates n WHERE n.device = c.device AND (n.issued_at > c.issued_at OR (n.issued_at = c.issued_at AND n.thumbprint > c.thumbprint)))",
            new { device }, cancellationToken: ct)).ConfigureAwait(false))
            .ToDictionary(r => r.Device, r => new CertificateRecord(r.Thumbprint, r.Device, r.Serial, DateTimeOffset.FromUnixTimeMilliseconds(r.IssuedAt),
                DateTimeOffset.FromUnixTimeMilliseconds(r.NotAfter), r.RevokedAt is { } rv ? DateTimeOffset.FromUnixTimeMilliseconds(rv) : null), StringComparer.Ordinal), ct);
}
