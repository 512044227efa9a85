using Dapper;

namespace Rig.Server.Store;

/// <summary>What an operator sees of a device in a rollout (<see cref="RolloutDeviceStates"/>): its bookkeeping
/// (<see cref="RolloutDeviceStatuses"/>) refined by the device's queue and its agent, computed when the rollout is read.</summary>
internal static class RolloutDeviceClassifier
{
    /// <summary>The state and detail of a device from its stored status and detail, its queue's status and its agent.
    /// Pure: <paramref name="now"/> and <paramref name="absentAfter"/> decide when an agent counts as not seen.</summary>
    public static (string State, string? Detail) Classify(string status, string? detail, string? queueStatus, AgentPresence agent, DateTimeOffset now, TimeSpan absentAfter)
    {
        ArgumentNullException.ThrowIfNull(agent);
        switch (status)
        {
            case RolloutDeviceStatuses.Waiting:
                return (RolloutDeviceStates.Pending, detail);
            case RolloutDeviceStatuses.Blocked:
                return (RolloutDeviceStates.Blocked, detail);
            case RolloutDeviceStatuses.Queued:
                switch (queueStatus)
                {
                    case QueueStates.Running:
                        return (RolloutDeviceStates.Running, detail);
                    case QueueStates.Rebooting:
                        return (RolloutDeviceStates.Rebooting, detail);
                    case QueueStates.Succeeded:
                        return (RolloutDeviceStates.Succeeded, detail);
                    case QueueStates.Failed:
                        return (RolloutDeviceStates.Failed, detail);
                    case QueueStates.Cancelled:
                        return (RolloutDeviceStates.Cancelled, detail);
                }
                return WaitingFor(agent, now, absentAfter) is { } waiting ? (RolloutDeviceStates.WaitingForAgent, waiting) : (RolloutDeviceStates.Queued, detail);
            default:
                return (status, detail); // succeeded, unchanged, failed, cancelled are the same word
        }
    }

    /// <summary>Why the agent cannot be expected to ask for its queue ("waiting for agent: never enrolled"), or null
    /// when it was seen within <paramref name="absentAfter"/>.</summary>
    public static string? WaitingFor(AgentPresence agent, DateTimeOffset now, TimeSpan absentAfter)
    {
        ArgumentNullException.ThrowIfNull(agent);
        if (agent.EnrolledAt is null)
            return "waiting for agent: never enrolled";
        if (!agent.HasValidCertificate)
            return "waiting for agent: its certificates are revoked; enroll it again";
        if (agent.LastSeenAt is not { } seen)
            return $"waiting for agent: enrolled at {agent.EnrolledAt.Value.UtcDateTime:u}, never connected";
        return now - seen > absentAfter ? $"waiting for agent: not seen since {seen.UtcDateTime:u}" : null;
    }
}

/// <summary>What the gateway knows of a device's agent: when it first enrolled (null: never), whether a certificate
/// of it is still valid, when it last talked to the gateway.</summary>
internal sealed record AgentPresence(DateTimeOffset? EnrolledAt, bool HasValidCertificate, DateTimeOffset? LastSeenAt);

/// <summary>What to roll out and how.</summary>
internal sealed record RolloutSpec(long Rev, string Selector, int Canary, string Batch, int MaxParallel, int MaxFailures, string Reason, string CreatedBy, string? Purpose = null)
{
    /// <summary>How long a device's agent may take to ask for its queue before the device fails.</summary>
    public TimeSpan DeviceTimeout { get; init; } = Rig.Protocol.RigLimits.Default.RolloutDeviceTimeout;
}

/// <summary>A device's place and state in a rollout.</summary>
/// <param name="Wave">Its wave, or null when it had nothing to do when the rollout started (unchanged, in no wave).</param>
/// <param name="Status">The rollout's own bookkeeping (<see cref="RolloutDeviceStatuses"/>).</param>
/// <param name="Detail">Why: a failure's error, what blocks it, whom it waits for.</param>
/// <param name="State">What an operator acts on (<see cref="RolloutDeviceStates"/>), computed when read.</param>
/// <param name="LastSeenAt">When the device's agent last talked to the gateway (null: never).</param>
internal sealed record RolloutDeviceInfo(string Device, int Position, int? Wave, string Status, string? QueueId, string? Detail, string? State = null, DateTimeOffset? LastSeenAt = null);

/// <summary>A rollout with its devices.</summary>
/// <param name="DeviceTimeout">How long a device's agent may take to ask for its queue (<c>30m</c>, <c>90s</c>) before the device fails.</param>
internal sealed record RolloutInfo(string Id, long Rev, string Selector, int Canary, string Batch, int MaxParallel, int MaxFailures, string Status, string Reason,
    string CreatedBy, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt, IReadOnlyList<RolloutDeviceInfo> Devices, string? Purpose = null,
    string? DeviceTimeout = null)
{
    /// <summary>Number of waves (devices with nothing to do are in none).</summary>
    public int Waves => Devices.Max(d => d.Wave) is { } last ? last + 1 : 0;

    /// <summary>Devices by state in one line ("3 succeeded, 1 failed, 2 unchanged"), or that there was nothing to change.</summary>
    public string Summary => Devices.Count > 0 && Devices.All(d => d.Status == RolloutDeviceStatuses.Unchanged)
        ? $"nothing to change: {(Devices.Count == 1 ? "the device already matches" : $"all {Devices.Count} devices already match")} revision {Rev}"
        : string.Join(", ", RolloutDeviceStates.All.Select(s => (State: s, Count: Devices.Count(d => (d.State ?? d.Status) == s))).Where(x => x.Count > 0).Select(x => $"{x.Count} {x.State}"));
}

/// <summary>Creating a rollout: the rollout, or the devices already in another active rollout.</summary>
internal sealed record RolloutCreateResult(RolloutInfo? Created, IReadOnlyList<(string Device, string RolloutId)> Conflicts);

internal sealed record RolloutRow(string Id, long Rev, string Selector, long Canary, string Batch, long MaxParallel, long MaxFailures, string Status, string Reason,
    string CreatedBy, string? Error, long CreatedAt, long UpdatedAt, long? FinishedAt, string? Purpose, long DeviceTimeoutMs);

internal sealed record RolloutDeviceRow(string RolloutId, string Device, long Position, long Wave, string Status, string? QueueId, string? Detail,
    string? QueueStatus, long? LastSeenAt, long EnrolledAt, long ValidCertificates);

internal sealed partial class RigStore
{
    private const string RolloutColumns = "id, rev, selector, canary, batch, max_parallel AS MaxParallel, max_failures AS MaxFailures, status, reason, created_by AS CreatedBy, error, created_at AS CreatedAt, updated_at AS UpdatedAt, finished_at AS FinishedAt, purpose, device_timeout_ms AS DeviceTimeoutMs";

    // A device's row with what its state is computed from: its queue's status and its agent (enrolled, certificates, last seen).
    private const string RolloutDeviceSql =
        "SELECT d.rollout_id AS RolloutId, d.device, d.position, d.wave, d.status, d.queue_id AS QueueId, d.detail, q.status AS QueueStatus, r.last_seen_at AS LastSeenAt, " +
        // COALESCE: SQLite reports an untyped NULL as a blob, which Dapper cannot map to a number (0: never enrolled).
        "COALESCE((SELECT MIN(c.issued_at) FROM certificates c WHERE c.device = d.device), 0) AS EnrolledAt, " +
        "(SELECT COUNT(*) FROM certificates c WHERE c.device = d.device AND c.revoked_at IS NULL) AS ValidCertificates " +
        "FROM rollout_devices d LEFT JOIN queues q ON q.id = d.queue_id LEFT JOIN device_runtime r ON r.device = d.device WHERE d.rollout_id = @id ORDER BY d.position";

    /// <summary>Stored in <c>rollout_devices.wave</c> for a device in no wave (nothing to do when the rollout started).</summary>
    private const int NoWave = -1;

    /// <summary>Create a rollout over <paramref name="devices"/> (in order, each with its wave; a device without a wave has
    /// nothing to do and is recorded <c>unchanged</c>), unless one of them is already in another active rollout: then
    /// nothing is created and the conflicts are returned.</summary>
    public Task<RolloutCreateResult> CreateRolloutAsync(RolloutSpec spec, IReadOnlyList<(string Device, int? Wave)> devices, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(devices);
        return WriteAsync(async (c, tx) =>
        {
            if (Engine == StoreEngine.Postgres)
                await c.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(7353414)", transaction: tx, cancellationToken: ct)).ConfigureAwait(false);
            var busy = (await c.QueryAsync<(string Device, string RolloutId)>(new CommandDefinition(
                    "SELECT d.device, d.rollout_id FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id " +
                    "WHERE r.status IN ('running', 'paused') AND d.status IN ('waiting', 'blocked', 'queued')", transaction: tx, cancellationToken: ct)).ConfigureAwait(false))
                .Where(b => devices.Any(d => d.Device == b.Device)).ToList();
            if (busy.Count > 0)
                return new RolloutCreateResult(null, busy);
            var id = Guid.CreateVersion7().ToString("n")[..12];
            var now = NowMs;
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO rollouts (id, rev, selector, canary, batch, max_parallel, max_failures, status, reason, purpose, created_by, error, created_at, updated_at, finished_at, device_timeout_ms) " +
                "VALUES (@id, @Rev, @Selector, @Canary, @Batch, @MaxParallel, @MaxFailures, @status, @Reason, @Purpose, @CreatedBy, NULL, @now, @now, NULL, @timeout)",
                new { id, spec.Rev, spec.Selector, spec.Canary, spec.Batch, spec.MaxParallel, spec.MaxFailures, status = RolloutStates.Running, spec.Reason, spec.Purpose, spec.CreatedBy, now,
                    timeout = (long)spec.DeviceTimeout.TotalMilliseconds }, tx, cancellationToken: ct)).ConfigureAwait(false);
            var unchanged = $"nothing to do: already matches revision {spec.Rev}";
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO rollout_devices (rollout_id, device, position, wave, status, queue_id, detail, updated_at) VALUES (@id, @device, @i, @wave, @status, NULL, @detail, @now)",
                devices.Select((d, i) => new
                {
                    id, device = d.Device, i, wave = d.Wave ?? NoWave, status = d.Wave is null ? RolloutDeviceStatuses.Unchanged : RolloutDeviceStatuses.Waiting,
                    detail = d.Wave is null ? unchanged : null, now,
                }).ToList(), tx, cancellationToken: ct)).ConfigureAwait(false);
            return new RolloutCreateResult(await LoadRolloutAsync(c, tx, id, ct).ConfigureAwait(false), []);
        }, ct);
    }

    /// <summary>A rollout with its devices, or null.</summary>
    public Task<RolloutInfo?> GetRolloutAsync(string id, CancellationToken ct = default) => ReadAsync(c => LoadRolloutAsync(c, null, id, ct), ct);

    /// <summary>Rollouts, newest first (only running and paused ones when <paramref name="activeOnly"/>).</summary>
    public Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(bool activeOnly, int limit = 50, CancellationToken ct = default) => ReadAsync<IReadOnlyList<RolloutInfo>>(async c =>
    {
        var ids = await c.QueryAsync<string>(new CommandDefinition(
            $"SELECT id FROM rollouts {(activeOnly ? "WHERE status IN ('running', 'paused')" : "")} ORDER BY created_at DESC, id DESC LIMIT @limit", new { limit }, cancellationToken: ct)).ConfigureAwait(false);
        var list = new List<RolloutInfo>();
        foreach (var id in ids)
            list.Add((await LoadRolloutAsync(c, null, id, ct).ConfigureAwait(false))!);
        return list;
    }, ct);

    /// <summary>Ids of the running and paused rollouts, oldest first (the engine reads each one afresh).</summary>
    public Task<IReadOnlyList<string>> ListActiveRolloutIdsAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<string>>(async c =>
        [.. await c.QueryAsync<string>(new CommandDefinition("SELECT id FROM rollouts WHERE status IN ('running', 'paused') ORDER BY created_at, id", cancellationToken: ct)).ConfigureAwait(false)], ct);

    /// <summary>Set a rollout's status (and error); finished states stamp the finish time. Returns false when the
    /// rollout is unknown or already finished.</summary>
    public Task<bool> SetRolloutStatusAsync(string id, string status, string? error, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var now = NowMs;
        var changed = await c.ExecuteAsync(new CommandDefinition(
            "UPDATE rollouts SET status = @status, error = @error, updated_at = @now, finished_at = @finished WHERE id = @id AND status IN ('running', 'paused')",
            new { id, status, error, now, finished = RolloutStates.IsActive(status) ? (long?)null : now }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return changed == 1;
    }, ct);

    /// <summary>Resume a paused rollout, optionally raising its failure threshold. False when it is not paused.</summary>
    public Task<bool> ResumeRolloutAsync(string id, int? maxFailures, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE rollouts SET status = 'running', error = NULL, max_failures = COALESCE(@maxFailures, max_failures), updated_at = @now WHERE id = @id AND status = 'paused'",
            new { id, maxFailures, now = NowMs }, tx, cancellationToken: ct)).ConfigureAwait(false) == 1, ct);

    /// <summary>Put the failed devices of a rollout back into their waves (no queue, no detail) and set the rollout
    /// running again, unless one of them is now in another active rollout: then nothing changes and the conflicts are
    /// returned. The caller checks that the rollout is neither running nor cancelled.</summary>
    public Task<RolloutCreateResult> RetryRolloutAsync(string id, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        if (Engine == StoreEngine.Postgres)
            await c.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(7353414)", transaction: tx, cancellationToken: ct)).ConfigureAwait(false);
        var busy = (await c.QueryAsync<(string Device, string RolloutId)>(new CommandDefinition(
                "SELECT o.device, o.rollout_id FROM rollout_devices o JOIN rollouts r ON r.id = o.rollout_id JOIN rollout_devices f ON f.device = o.device AND f.rollout_id = @id " +
                "WHERE o.rollout_id <> @id AND r.status IN ('running', 'paused') AND o.status IN ('waiting', 'blocked', 'queued') AND f.status = 'failed'",
                new { id }, tx, cancellationToken: ct)).ConfigureAwait(false)).ToList();
        if (busy.Count > 0)
            return new RolloutCreateResult(null, busy);
        var now = NowMs;
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE rollout_devices SET status = @waiting, queue_id = NULL, detail = NULL, updated_at = @now WHERE rollout_id = @id AND status = @failed",
            new { id, waiting = RolloutDeviceStatuses.Waiting, failed = RolloutDeviceStatuses.Failed, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE rollouts SET status = @running, error = NULL, updated_at = @now, finished_at = NULL WHERE id = @id",
            new { id, running = RolloutStates.Running, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return new RolloutCreateResult(await LoadRolloutAsync(c, tx, id, ct).ConfigureAwait(false), []);
    }, ct);

    /// <summary>Record a device's state in a rollout.</summary>
    public Task UpdateRolloutDeviceAsync(string id, string device, string status, string? queueId, string? detail, CancellationToken ct = default) => WriteAsync((c, tx) =>
        c.ExecuteAsync(new CommandDefinition(
            "UPDATE rollout_devices SET status = @status, queue_id = COALESCE(@queueId, queue_id), detail = @detail, updated_at = @now WHERE rollout_id = @id AND device = @device",
            new { id, device, status, queueId, detail, now = NowMs }, tx, cancellationToken: ct)), ct);

    private async Task<RolloutInfo?> LoadRolloutAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx, string id, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<RolloutRow>(new CommandDefinition($"SELECT {RolloutColumns} FROM rollouts WHERE id = @id", new { id }, tx, cancellationToken: ct)).ConfigureAwait(false);
        if (row is null)
            return null;
        var devices = await c.QueryAsync<RolloutDeviceRow>(new CommandDefinition(RolloutDeviceSql, new { id }, tx, cancellationToken: ct)).ConfigureAwait(false);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(NowMs);
        return new RolloutInfo(row.Id, row.Rev, row.Selector, (int)row.Canary, row.Batch, (int)row.MaxParallel, (int)row.MaxFailures, row.Status, row.Reason, row.CreatedBy, row.Error,
            DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(row.UpdatedAt), row.FinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null,
            [.. devices.Select(d => ToInfo(d, now))], row.Purpose, Rig.Model.Durations.Format(TimeSpan.FromMilliseconds(row.DeviceTimeoutMs)));
    }

    private static RolloutDeviceInfo ToInfo(RolloutDeviceRow d, DateTimeOffset now)
    {
        static DateTimeOffset? At(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;
        var agent = new AgentPresence(d.EnrolledAt > 0 ? At(d.EnrolledAt) : null, d.ValidCertificates > 0, At(d.LastSeenAt));
        var (state, detail) = RolloutDeviceClassifier.Classify(d.Status, d.Detail, d.QueueStatus, agent, now, Rig.Protocol.RigLimits.Default.AgentAbsentAfter);
        return new RolloutDeviceInfo(d.Device, (int)d.Position, d.Wave == NoWave ? null : (int)d.Wave, d.Status, d.QueueId, detail, state, agent.LastSeenAt);
    }
}
