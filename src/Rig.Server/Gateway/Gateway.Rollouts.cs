using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>A request to roll out a revision.</summary>
/// <param name="Revision">Model revision (null: the current one).</param>
/// <param name="Devices">Device selector (names, globs, key=value; null: all).</param>
/// <param name="Canary">Devices in the first wave, alone.</param>
/// <param name="Batch">Devices per later wave: a number or a percentage of all devices.</param>
/// <param name="MaxParallel">Queues running at once.</param>
/// <param name="MaxFailures">Failed devices tolerated before the rollout pauses itself.</param>
/// <param name="Reason">Why (kept with the rollout and its queues).</param>
/// <param name="DeviceTimeout">How long a device's agent may take to ask for its queue before the device fails
/// (<c>90s</c>, <c>30m</c>, <c>2h</c>; null: <see cref="Rig.Protocol.RigLimits.RolloutDeviceTimeout"/>).</param>
internal sealed record RolloutRequest(long? Revision, string? Devices, int Canary = 0, string Batch = "100%", int MaxParallel = 50, int MaxFailures = 0, string? Reason = null,
    string? DeviceTimeout = null);

internal sealed partial class Gateway
{
    /// <summary>Signalled when rollouts change, so the engine acts at once instead of at its next tick.</summary>
    internal SemaphoreSlim RolloutSignal { get; } = new(0, int.MaxValue);

    // The devices whose queue ending the rollout engine waits for (queued or blocked in an active rollout), replaced
    // by the engine at every step; read on every exchange that ends a queue, so a plain reference swap, no lock.
    private volatile IReadOnlySet<string> _rolloutWaitsFor = new HashSet<string>();

    /// <summary>The rollout engine waits for the queues of <paramref name="devices"/> to end.</summary>
    internal void WatchQueuesOf(IReadOnlySet<string> devices) => _rolloutWaitsFor = devices;

    /// <summary><paramref name="device"/>'s queue ended (or it has none left to run): wake the rollout engine when it
    /// waits for that device, so the next device of a wave starts now rather than at the fallback poll.</summary>
    internal void QueueEnded(string device)
    {
        if (_rolloutWaitsFor.Contains(device))
            RolloutSignal.Release();
    }

    /// <summary>Held by the rollout engine while it steps a rollout and by pause, resume and cancel, so an operator's
    /// action never interleaves with a step that is starting queues from an older view of the rollout.</summary>
    internal SemaphoreSlim RolloutGate { get; } = new(1, 1);

    /// <summary>Start a rollout: select devices from the model at the revision, plan each of them, split the devices
    /// that will change into waves (the others are <c>unchanged</c>, in no wave), and refuse if any of them is already
    /// in another active rollout. A rollout where no device changes is finished at once.</summary>
    public Task<RolloutInfo> StartRolloutAsync(RolloutRequest request, string createdBy, CancellationToken ct, string? purpose = null) =>
        StartRolloutAsync(request, createdBy, null, ct, purpose);

    /// <summary>Start a rollout of the devices the request selects among those <paramref name="authorize"/> keeps (the
    /// caller's rights: it narrows the selection to what the caller may see and refuses devices the caller may not roll
    /// out to, by throwing).</summary>
    public async Task<RolloutInfo> StartRolloutAsync(RolloutRequest request, string createdBy, Func<IReadOnlyList<string>, IReadOnlyList<string>>? authorize, CancellationToken ct, string? purpose = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        var current = await store.CurrentRevisionAsync(ct).ConfigureAwait(false);
        var rev = request.Revision ?? current;
        if (rev < 1 || rev > current)
            throw new RolloutRefusedException("unknown-revision", $"Revision {rev} does not exist (the newest is {current}); see `rig history`.", OperatorRefusal.NotFound);
        // Four eyes: a revision (or an earlier one it includes) that needs approval and lacks it is not delivered. Work
        // with a purpose (a decommission's removal) is authorized by its own verb, not by approvals.
        if (purpose is null)
            await EnsureApprovedAsync(rev, ct).ConfigureAwait(false);
        if (request.MaxParallel < 1)
            throw new RolloutRefusedException("bad-rollout", $"--max-parallel {request.MaxParallel} must be at least 1.", OperatorRefusal.Invalid);
        if (request.MaxFailures < 0)
            throw new RolloutRefusedException("bad-rollout", $"--max-failures {request.MaxFailures} must be 0 or more.", OperatorRefusal.Invalid);
        var deviceTimeout = limits.RolloutDeviceTimeout;
        if (request.DeviceTimeout is not null)
        {
            if (DeviceTimeoutProblem(request.DeviceTimeout, limits) is { } problem)
                throw new RolloutRefusedException("bad-rollout", problem, OperatorRefusal.Invalid);
            Rig.Model.Durations.TryParse(request.DeviceTimeout, out deviceTimeout, out _);
        }
        DeviceSelector selector;
        try
        {
            selector = DeviceSelector.Parse(request.Devices);
        }
        catch (FormatException e)
        {
            throw new RolloutRefusedException("bad-selector", e.Message, OperatorRefusal.Invalid);
        }
        var snapshot = await Plans.SnapshotAsync(rev, ct).ConfigureAwait(false);
        var devices = selector.Select(snapshot.Model).Select(d => d.Name).ToList();
        if (authorize is not null)
            devices = [.. authorize(devices)];
        if (devices.Count == 0)
            throw new RolloutRefusedException("no-devices", $"No device of revision {rev} matches '{selector}'.", OperatorRefusal.Invalid);

        // Which devices will change: the canary and the batches are chosen among them only. A plan with errors counts
        // as a change (its wave reports the errors as a failure); each device is planned again when its wave starts.
        var runtimes = (await store.ListDeviceRuntimeAsync(devices, withInventory: false, ct, withNative: true).ConfigureAwait(false)).ToDictionary(r => r.Device, StringComparer.Ordinal);
        var changes = QueueWriter.Plan(snapshot, devices, runtimes).Select(plan => !plan.IsValid || !plan.IsEmpty).ToList();
        IReadOnlyList<(string Device, int? Wave)> waves;
        try
        {
            waves = Waves.AssignChanging([.. devices.Select((d, i) => (d, changes[i]))], request.Canary, request.Batch);
        }
        catch (FormatException e)
        {
            throw new RolloutRefusedException("bad-rollout", e.Message, OperatorRefusal.Invalid);
        }
        var spec = new RolloutSpec(rev, selector.Text, request.Canary, request.Batch, request.MaxParallel, request.MaxFailures, request.Reason ?? $"rollout of revision {rev}", createdBy, purpose)
        {
            DeviceTimeout = deviceTimeout,
        };
        var created = await store.CreateRolloutAsync(spec, waves, ct).ConfigureAwait(false);
        if (created.Created is null)
        {
            var list = string.Join(", ", created.Conflicts.Take(10).Select(c => $"{c.Device} (rollout {c.RolloutId})"));
            throw new RolloutRefusedException("devices-busy", $"{created.Conflicts.Count} device(s) are already in an active rollout: {list}; wait for it, or `rig rollout cancel` it.", OperatorRefusal.Conflict);
        }
        var rollout = created.Created;
        // Nothing to change: finished now. (A rollout with a purpose, such as a decommission, is finished by the
        // engine at its next step, which does the rest of the job.)
        if (purpose is null && rollout.Devices.All(d => d.Status == RolloutDeviceStatuses.Unchanged)
            && await store.SetRolloutStatusAsync(rollout.Id, RolloutStates.Succeeded, null, ct).ConfigureAwait(false))
            rollout = await store.GetRolloutAsync(rollout.Id, ct).ConfigureAwait(false) ?? rollout;
        RolloutSignal.Release();
        return rollout;
    }

    /// <summary>What is wrong with a <c>--device-timeout</c> value (with the value and what to give), or null when it
    /// is a duration within the limits.</summary>
    public static string? DeviceTimeoutProblem(string value, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (!Rig.Model.Durations.TryParse(value, out var timeout, out var error))
            return $"--device-timeout: {error}.";
        if (timeout < limits.MinRolloutDeviceTimeout || timeout > limits.MaxRolloutDeviceTimeout)
            return $"--device-timeout {value} is out of range: give {Rig.Model.Durations.Format(limits.MinRolloutDeviceTimeout)} to {Rig.Model.Durations.Format(limits.MaxRolloutDeviceTimeout)} (default {Rig.Model.Durations.Format(limits.RolloutDeviceTimeout)}).";
        return null;
    }

    /// <summary>Retry a rollout's failed devices: they go back into their waves and the rollout runs again with its
    /// settings (canary first, parallel limit, failure threshold, device timeout). Refused while the rollout runs, for a
    /// cancelled rollout, when no device failed, or when a failed device is now in another active rollout.</summary>
    public async Task<RolloutInfo> RetryRolloutAsync(string id, CancellationToken ct)
    {
        RolloutInfo retried;
        await RolloutGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var rollout = await store.GetRolloutAsync(id, ct).ConfigureAwait(false)
                ?? throw new RolloutRefusedException("unknown-rollout", $"There is no rollout '{id}'; see `rig rollout list`.", OperatorRefusal.NotFound);
            var failed = rollout.Devices.Where(d => d.Status == RolloutDeviceStatuses.Failed).Select(d => d.Device).ToList();
            if (rollout.Status == RolloutStates.Running)
            {
                throw new RolloutRefusedException("rollout-running",
                    $"Rollout {id} is still running ({rollout.Summary}); its failed devices can be retried once it has finished or paused: follow it with `rig rollout status {id} --follow`, or `rig rollout pause {id}` first.", OperatorRefusal.Conflict);
            }
            if (rollout.Status == RolloutStates.Cancelled)
            {
                throw new RolloutRefusedException("rollout-cancelled",
                    $"Rollout {id} was cancelled; start a new one for the devices you want (`rig rollout start {rollout.Rev} --devices ...`).", OperatorRefusal.Conflict);
            }
            if (failed.Count == 0)
                throw new RolloutRefusedException("nothing-to-retry", $"Rollout {id} has no failed devices ({rollout.Summary}); there is nothing to retry.", OperatorRefusal.Conflict);
            var result = await store.RetryRolloutAsync(id, ct).ConfigureAwait(false);
            if (result.Created is null)
            {
                var list = string.Join(", ", result.Conflicts.Take(10).Select(c => $"{c.Device} (rollout {c.RolloutId})"));
                throw new RolloutRefusedException("devices-busy", $"{result.Conflicts.Count} failed device(s) of rollout {id} are now in another active rollout: {list}; wait for it, or `rig rollout cancel` it.", OperatorRefusal.Conflict);
            }
            retried = result.Created;
        }
        finally
        {
            RolloutGate.Release();
        }
        RolloutSignal.Release();
        return retried;
    }

    /// <summary>Pause: running queues finish, nothing new starts.</summary>
    public async Task<bool> PauseRolloutAsync(string id, CancellationToken ct)
    {
        await RolloutGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await PauseRolloutGatedAsync(id, ct).ConfigureAwait(false);
        }
        finally
        {
            RolloutGate.Release();
        }
    }

    private async Task<bool> PauseRolloutGatedAsync(string id, CancellationToken ct)
    {
        var rollout = await store.GetRolloutAsync(id, ct).ConfigureAwait(false);
        if (rollout is not { Status: RolloutStates.Running })
            return false;
        var paused = await store.SetRolloutStatusAsync(id, RolloutStates.Paused, "paused by an operator", ct).ConfigureAwait(false);
        RolloutSignal.Release();
        return paused;
    }

    /// <summary>Resume a paused rollout, optionally raising its failure threshold.</summary>
    public async Task<bool> ResumeRolloutAsync(string id, int? maxFailures, CancellationToken ct)
    {
        bool resumed;
        await RolloutGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            resumed = await store.ResumeRolloutAsync(id, maxFailures, ct).ConfigureAwait(false);
        }
        finally
        {
            RolloutGate.Release();
        }
        RolloutSignal.Release();
        return resumed;
    }

    /// <summary>Cancel: queues of the rollout are cancelled (a command already running finishes and its result is
    /// recorded), devices not started are cancelled, nothing new starts.</summary>
    public async Task<bool> CancelRolloutAsync(string id, CancellationToken ct)
    {
        await RolloutGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await CancelRolloutGatedAsync(id, ct).ConfigureAwait(false);
        }
        finally
        {
            RolloutGate.Release();
        }
    }

    private async Task<bool> CancelRolloutGatedAsync(string id, CancellationToken ct)
    {
        var rollout = await store.GetRolloutAsync(id, ct).ConfigureAwait(false);
        if (rollout is null || !await store.SetRolloutStatusAsync(id, RolloutStates.Cancelled, "cancelled by an operator", ct).ConfigureAwait(false))
            return false;
        var open = rollout.Devices.Where(d => RolloutDeviceStatuses.IsActive(d.Status)).ToList();
        var queued = open.Where(d => d.Status == RolloutDeviceStatuses.Queued && d.QueueId is not null).ToList();
        var active = (await store.GetQueuesAsync([.. queued.Select(d => d.QueueId!)], ct).ConfigureAwait(false))
            .Where(q => QueueStates.IsActive(q.Status)).Select(q => q.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var device in queued.Where(d => active.Contains(d.QueueId!)))
            await store.CancelQueueAsync(device.Device, $"rollout {id} cancelled", ct).ConfigureAwait(false);
        await store.UpdateRolloutDevicesAsync(id, [.. open.Select(d => new RolloutDeviceUpdate(d.Device, RolloutDeviceStatuses.Cancelled, null, "rollout cancelled"))], ct).ConfigureAwait(false);
        RolloutSignal.Release();
        return true;
    }
}
