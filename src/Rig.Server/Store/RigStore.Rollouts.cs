using Dapper;

namespace Rig.Server.Store;

/// <summary>Rollout states. Active: running, paused.</summary>
public static class RolloutStatus
{
    /// <summary>Waves are being started.</summary>
    public const string Running = "running";
    /// <summary>Paused by an operator or by the failure threshold: running queues finish, nothing new starts.</summary>
    public const string Paused = "paused";
    /// <summary>Cancelled: queues of the rollout were cancelled, nothing new starts.</summary>
    public const string Cancelled = "cancelled";
    /// <summary>Every device finished without failure.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>Every device finished, some failed (within the threshold).</summary>
    public const string Failed = "failed";

    /// <summary>True for running and paused.</summary>
    public static bool IsActive(string status) => status is Running or Paused;
}

/// <summary>States of one device in a rollout. Active: waiting, blocked, queued.</summary>
public static class RolloutDeviceStatus
{
    /// <summary>Its wave has not started yet.</summary>
    public const string Waiting = "waiting";
    /// <summary>Its wave started but the device has another active queue; it waits for it.</summary>
    public const string Blocked = "blocked";
    /// <summary>Its queue runs.</summary>
    public const string Queued = "queued";
    /// <summary>Queue succeeded.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>Nothing to do: the device already matches the revision.</summary>
    public const string Unchanged = "unchanged";
    /// <summary>Queue failed, or the plan had errors.</summary>
    public const string Failed = "failed";
    /// <summary>Cancelled before or while running.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>True for waiting, blocked and queued.</summary>
    public static bool IsActive(string status) => status is Waiting or Blocked or Queued;

    /// <summary>True when the device is done in this rollout.</summary>
    public static bool IsFinished(string status) => !IsActive(status);
}

/// <summary>What to roll out and how.</summary>
public sealed record RolloutSpec(long Rev, string Selector, int Canary, string Batch, int MaxParallel, int MaxFailures, string Reason, string CreatedBy, string? Purpose = null);

/// <summary>A device's place and state in a rollout.</summary>
public sealed record RolloutDeviceInfo(string Device, int Position, int Wave, string Status, string? QueueId, string? Detail);

/// <summary>A rollout with its devices.</summary>
public sealed record RolloutInfo(string Id, long Rev, string Selector, int Canary, string Batch, int MaxParallel, int MaxFailures, string Status, string Reason,
    string CreatedBy, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt, IReadOnlyList<RolloutDeviceInfo> Devices, string? Purpose = null)
{
    /// <summary>Number of waves.</summary>
    public int Waves => Devices.Count == 0 ? 0 : Devices.Max(d => d.Wave) + 1;
}

/// <summary>Creating a rollout: the rollout, or the devices already in another active rollout.</summary>
public sealed record RolloutCreateResult(RolloutInfo? Created, IReadOnlyList<(string Device, string RolloutId)> Conflicts);

internal sealed record RolloutRow(string Id, long Rev, string Selector, long Canary, string Batch, long MaxParallel, long MaxFailures, string Status, string Reason,
    string CreatedBy, string? Error, long CreatedAt, long UpdatedAt, long? FinishedAt, string? Purpose);

internal sealed record RolloutDeviceRow(string RolloutId, string Device, long Position, long Wave, string Status, string? QueueId, string? Detail);

public sealed partial class RigStore
{
    private const string RolloutColumns = "id, rev, selector, canary, batch, max_parallel AS MaxParallel, max_failures AS MaxFailures, status, reason, created_by AS CreatedBy, error, created_at AS CreatedAt, updated_at AS UpdatedAt, finished_at AS FinishedAt, purpose";
    private const string RolloutDeviceColumns = "rollout_id AS RolloutId, device, position, wave, status, queue_id AS QueueId, detail";

    /// <summary>Create a rollout over <paramref name="devices"/> (in order, each with its wave), unless one of them is
    /// already in another active rollout: then nothing is created and the conflicts are returned.</summary>
    public Task<RolloutCreateResult> CreateRolloutAsync(RolloutSpec spec, IReadOnlyList<(string Device, int Wave)> devices, CancellationToken ct = default)
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
                "INSERT INTO rollouts (id, rev, selector, canary, batch, max_parallel, max_failures, status, reason, purpose, created_by, error, created_at, updated_at, finished_at) " +
                "VALUES (@id, @Rev, @Selector, @Canary, @Batch, @MaxParallel, @MaxFailures, @status, @Reason, @Purpose, @CreatedBy, NULL, @now, @now, NULL)",
                new { id, spec.Rev, spec.Selector, spec.Canary, spec.Batch, spec.MaxParallel, spec.MaxFailures, status = RolloutStatus.Running, spec.Reason, spec.Purpose, spec.CreatedBy, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
            for (var i = 0; i < devices.Count; i++)
            {
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO rollout_devices (rollout_id, device, position, wave, status, queue_id, detail, updated_at) VALUES (@id, @device, @i, @wave, @status, NULL, NULL, @now)",
                    new { id, device = devices[i].Device, i, wave = devices[i].Wave, status = RolloutDeviceStatus.Waiting, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
            }
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

    /// <summary>Set a rollout's status (and error); finished states stamp the finish time. Returns false when the
    /// rollout is unknown or already finished.</summary>
    public Task<bool> SetRolloutStatusAsync(string id, string status, string? error, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var now = NowMs;
        var changed = await c.ExecuteAsync(new CommandDefinition(
            "UPDATE rollouts SET status = @status, error = @error, updated_at = @now, finished_at = @finished WHERE id = @id AND status IN ('running', 'paused')",
            new { id, status, error, now, finished = RolloutStatus.IsActive(status) ? (long?)null : now }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return changed == 1;
    }, ct);

    /// <summary>Resume a paused rollout, optionally raising its failure threshold. False when it is not paused.</summary>
    public Task<bool> ResumeRolloutAsync(string id, int? maxFailures, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE rollouts SET status = 'running', error = NULL, max_failures = COALESCE(@maxFailures, max_failures), updated_at = @now WHERE id = @id AND status = 'paused'",
            new { id, maxFailures, now = NowMs }, tx, cancellationToken: ct)).ConfigureAwait(false) == 1, ct);

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
        var devices = await c.QueryAsync<RolloutDeviceRow>(new CommandDefinition($"SELECT {RolloutDeviceColumns} FROM rollout_devices WHERE rollout_id = @id ORDER BY position", new { id }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return new RolloutInfo(row.Id, row.Rev, row.Selector, (int)row.Canary, row.Batch, (int)row.MaxParallel, (int)row.MaxFailures, row.Status, row.Reason, row.CreatedBy, row.Error,
            DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(row.UpdatedAt), row.FinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null,
            [.. devices.Select(d => new RolloutDeviceInfo(d.Device, (int)d.Position, (int)d.Wave, d.Status, d.QueueId, d.Detail))], row.Purpose);
    }
}
