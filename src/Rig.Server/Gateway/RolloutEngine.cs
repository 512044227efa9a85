using Microsoft.Extensions.Logging;
using Rig.Server.Operations;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>Drives rollouts from their persisted state, so a gateway restart loses nothing: at every step it
/// refreshes each active rollout's devices from their queues (one query per rollout), pauses a rollout whose failures
/// pass its threshold, starts the devices of the first unfinished wave up to the parallel limit (one transaction per
/// batch of devices, through <see cref="QueueWriter"/>), and finishes rollouts whose devices are all done. Waves never
/// overlap: a wave starts when the previous one is finished. It steps when an operator acts, when a queue of a device
/// it waits for ends (<see cref="Gateway.QueueEnded"/>), and otherwise every <see cref="Rig.Protocol.RigLimits.RolloutFallbackPoll"/>.</summary>
internal sealed class RolloutEngine : IAsyncDisposable
{
    private readonly Gateway _gateway;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<long, ModelSnapshot> _snapshots = [];
    private Task? _loop;
    private long? _lastSweep;

    /// <summary>An engine for <paramref name="gateway"/>.</summary>
    public RolloutEngine(Gateway gateway, ILogger logger)
    {
        _gateway = gateway;
        _logger = logger;
    }

    /// <summary>Start the loop.</summary>
    public void Start() => _loop = RunAsync(_stop.Token);

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await StepAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or IOException)
            {
                ServerLog.RolloutStepFailed(_logger, e);
            }
            using var poll = new CancellationTokenSource(_gateway.Limits.RolloutFallbackPoll, _gateway.Clock);
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stop, poll.Token);
            try
            {
                await _gateway.RolloutSignal.WaitAsync(wake.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                // the fallback poll
            }
            catch (OperationCanceledException)
            {
                return;
            }
            // Signals that came while stepping or waiting are all answered by the next step.
            while (_gateway.RolloutSignal.Wait(0))
            {
            }
        }
    }

    /// <summary>One pass over every active rollout (and, every <see cref="Rig.Protocol.RigLimits.RebootSweepInterval"/>,
    /// over queues stuck in a reboot).</summary>
    public async Task StepAsync(CancellationToken ct)
    {
        var store = _gateway.Store;
        var clock = _gateway.Clock;
        if (_lastSweep is not { } last || clock.GetElapsedTime(last) >= _gateway.Limits.RebootSweepInterval)
        {
            _lastSweep = clock.GetTimestamp();
            foreach (var device in await store.FailStaleRebootsAsync(_gateway.Limits.RebootTimeout, ct).ConfigureAwait(false))
                ServerLog.RebootTimedOut(_logger, device, _gateway.Limits.RebootTimeout);
        }
        var waitingFor = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in await store.ListActiveRolloutIdsAsync(ct).ConfigureAwait(false))
        {
            // One rollout at a time with the operator's pause/resume/cancel, read afresh under the gate: a step
            // never starts a queue for a rollout an operator has just cancelled or paused (CHECKLIST 28).
            await _gateway.RolloutGate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                if (await store.GetRolloutAsync(id, ct).ConfigureAwait(false) is { } rollout && RolloutStates.IsActive(rollout.Status))
                    waitingFor.UnionWith(await StepAsync(rollout, ct).ConfigureAwait(false));
            }
            finally
            {
                _gateway.RolloutGate.Release();
            }
        }
        _gateway.WatchQueuesOf(waitingFor);
    }

    /// <summary>Step one rollout; returns the devices whose queue ending should wake the engine (queued and blocked).</summary>
    private async Task<IEnumerable<string>> StepAsync(RolloutInfo rollout, CancellationToken ct)
    {
        var store = _gateway.Store;
        var devices = rollout.Devices.ToDictionary(d => d.Device, StringComparer.Ordinal);
        IEnumerable<string> WaitingFor() => devices.Values.Where(d => d.Status is RolloutDeviceStatuses.Queued or RolloutDeviceStatuses.Blocked).Select(d => d.Device);

        // 1. What happened to the queues we started, read in one query. A queue whose agent has not asked for it within
        // the rollout's device timeout is failed before anything is sent (the store decides under the queue's lock, so an
        // agent that asks at that very moment either gets the whole queue or nothing), and the device fails with the reason.
        var deviceTimeout = Rig.Model.Durations.TryParse(rollout.DeviceTimeout, out var t, out _) ? t : _gateway.Limits.RolloutDeviceTimeout;
        var now = _gateway.Clock.GetUtcNow();
        var started = rollout.Devices.Where(d => d.Status == RolloutDeviceStatuses.Queued && d.QueueId is not null).ToList();
        var queues = (await store.GetQueuesAsync([.. started.Select(d => d.QueueId!)], ct).ConfigureAwait(false)).ToDictionary(q => q.Id, StringComparer.Ordinal);
        var finished = new List<RolloutDeviceUpdate>();
        foreach (var device in started)
        {
            var queue = queues.GetValueOrDefault(device.QueueId!);
            if (queue is { Status: QueueStates.Pending } && now - queue.CreatedAt >= deviceTimeout)
            {
                var waiting = device.State == RolloutDeviceStates.WaitingForAgent && device.Detail is { } d
                    ? d
                    : $"waiting for agent: it was poked and did not ask for its queue{(device.LastSeenAt is { } seen ? $" (last seen {seen.UtcDateTime:u})" : "")}";
                var why = $"{waiting}, gave up after {rollout.DeviceTimeout}";
                if (await store.FailUndeliveredQueueAsync(queue.Id, why, ct).ConfigureAwait(false))
                {
                    ServerLog.RolloutDeviceFailed(_logger, rollout.Id, device.Device, why);
                    queue = await store.GetQueueAsync(queue.Id, ct).ConfigureAwait(false);
                }
            }
            if (queue is null || QueueStates.IsActive(queue.Status))
                continue;
            var status = queue.Status switch
            {
                QueueStates.Succeeded => RolloutDeviceStatuses.Succeeded,
                QueueStates.Cancelled => RolloutDeviceStatuses.Cancelled,
                _ => RolloutDeviceStatuses.Failed,
            };
            finished.Add(new RolloutDeviceUpdate(device.Device, status, null, queue.Error));
            devices[device.Device] = device with { Status = status, Detail = queue.Error };
        }
        await store.UpdateRolloutDevicesAsync(rollout.Id, finished, ct).ConfigureAwait(false);

        // 2. The failure threshold, while there is something left to protect: devices not started yet. (With only
        // running queues left, a pause would stop nothing and flicker to "failed" at the next tick.)
        var failed = devices.Values.Count(d => d.Status == RolloutDeviceStatuses.Failed);
        var open = devices.Values.Where(d => RolloutDeviceStatuses.IsActive(d.Status)).ToList();
        if (rollout.Status == RolloutStates.Running && failed > rollout.MaxFailures && open.Any(d => d.Status != RolloutDeviceStatuses.Queued))
        {
            var why = $"{failed} device(s) failed, more than --max-failures {rollout.MaxFailures}; running queues finish, nothing new starts. Fix the cause, then `rig rollout resume {rollout.Id}` (optionally with a higher --max-failures) or `rig rollout cancel {rollout.Id}`.";
            await store.SetRolloutStatusAsync(rollout.Id, RolloutStates.Paused, why, ct).ConfigureAwait(false);
            ServerLog.RolloutPaused(_logger, rollout.Id, why);
            return WaitingFor();
        }

        // 3. Finished?
        if (open.Count == 0)
        {
            var done = await store.SetRolloutStatusAsync(rollout.Id, failed > 0 ? RolloutStates.Failed : RolloutStates.Succeeded, failed > 0 ? $"{failed} device(s) failed" : null, ct).ConfigureAwait(false);
            if (done && failed == 0 && rollout.Purpose is { } purpose && purpose.StartsWith(Gateway.DecommissionPurpose, StringComparison.Ordinal))
            {
                var device = purpose[Gateway.DecommissionPurpose.Length..];
                await _gateway.FinishDecommissionAsync(device, rollout.CreatedBy, ct).ConfigureAwait(false);
                ServerLog.Decommissioned(_logger, device);
            }
            return [];
        }
        if (rollout.Status != RolloutStates.Running)
            return WaitingFor();

        // 4. Start devices of the first unfinished wave, up to the parallel limit: each batch planned at once and written
        // in one transaction, its devices' new states in another. A device that turns out unchanged, blocked or invalid
        // takes no slot, so the next devices of the wave are tried in the same step.
        var wave = open.Min(d => d.Wave);
        var running = devices.Values.Count(d => d.Status == RolloutDeviceStatuses.Queued);
        var candidates = new Queue<RolloutDeviceInfo>(devices.Values.Where(d => d.Wave == wave && d.Status is RolloutDeviceStatuses.Waiting or RolloutDeviceStatuses.Blocked).OrderBy(d => d.Position));
        ModelSnapshot? snapshot = null;
        if (running < rollout.MaxParallel && candidates.Count > 0)
        {
            // Rights are checked again as work starts on the starter's behalf: a grant revoked since stops new waves.
            snapshot = await SnapshotAsync(rollout.Rev, ct).ConfigureAwait(false);
            var refused = await _gateway.DevicesRefusedAsync(rollout.CreatedBy, Security.Verb.Rollout, candidates.Select(d => d.Device), snapshot.Model, ct).ConfigureAwait(false);
            if (refused.Count > 0)
            {
                var why = $"operator '{rollout.CreatedBy}', who started it, no longer holds 'rollout' on {string.Join(", ", refused.Take(10))}{(refused.Count > 10 ? $" and {refused.Count - 10} more" : "")}: nothing new starts. Cancel it (`rig rollout cancel {rollout.Id}`) and start a new rollout as an operator who holds the right.";
                await store.SetRolloutStatusAsync(rollout.Id, RolloutStates.Paused, why, ct).ConfigureAwait(false);
                ServerLog.RolloutPaused(_logger, rollout.Id, why);
                return WaitingFor();
            }
        }
        while (running < rollout.MaxParallel && candidates.Count > 0)
        {
            var batch = new List<RolloutDeviceInfo>();
            while (batch.Count < rollout.MaxParallel - running && candidates.Count > 0)
                batch.Add(candidates.Dequeue());
            snapshot ??= await SnapshotAsync(rollout.Rev, ct).ConfigureAwait(false);
            var order = QueueOrder.Converge(snapshot, [.. batch.Select(d => d.Device)], $"rollout {rollout.Id} of revision {rollout.Rev}");
            var results = await _gateway.Queues.WriteAsync(order, ct).ConfigureAwait(false);
            var updates = new List<RolloutDeviceUpdate>(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                var (device, result) = (batch[i], results[i]);
                var detail = result.Errors.Count == 0 ? null : string.Join("; ", result.Errors.Select(e => e.Message));
                var update = result.Outcome switch
                {
                    QueueOutcome.Queued => new RolloutDeviceUpdate(device.Device, RolloutDeviceStatuses.Queued, result.Queue!.Id, null),
                    QueueOutcome.Unchanged => new RolloutDeviceUpdate(device.Device, RolloutDeviceStatuses.Unchanged, null, "already matches the revision"),
                    // Its own queue from an earlier step whose bookkeeping was lost (the gateway stopped between the two
                    // transactions): adopt it rather than wait for it as if it were another's.
                    QueueOutcome.Blocked when result.Queue!.Reason == order.Reason => new RolloutDeviceUpdate(device.Device, RolloutDeviceStatuses.Queued, result.Queue.Id, null),
                    QueueOutcome.Blocked when device.Status == RolloutDeviceStatuses.Blocked => null, // still waiting for the same kind of thing
                    QueueOutcome.Blocked => new RolloutDeviceUpdate(device.Device, RolloutDeviceStatuses.Blocked, null, detail),
                    _ => new RolloutDeviceUpdate(device.Device, RolloutDeviceStatuses.Failed, null, detail),
                };
                if (update is null)
                    continue;
                updates.Add(update);
                devices[device.Device] = device with { Status = update.Status, QueueId = update.QueueId ?? device.QueueId, Detail = update.Detail };
                if (update.Status == RolloutDeviceStatuses.Queued)
                    running++;
            }
            // The devices this batch started go into the audit log on behalf of the rollout's starter, with their states.
            var startedNow = updates.Count(u => u.Status == RolloutDeviceStatuses.Queued);
            var audit = startedNow == 0 ? null : new AuditEntry(rollout.CreatedBy, "rollout.wave", rollout.Id, null, "ok",
                new System.Text.Json.Nodes.JsonObject { ["rollout"] = rollout.Id, ["revision"] = rollout.Rev, ["wave"] = wave, ["devices"] = startedNow }.ToJsonString());
            await store.UpdateRolloutDevicesAsync(rollout.Id, updates, ct, audit).ConfigureAwait(false);
            await _gateway.PokeAsync(results, nudgeBlocked: false, ct).ConfigureAwait(false);
        }
        return WaitingFor();
    }

    private async Task<ModelSnapshot> SnapshotAsync(long rev, CancellationToken ct)
    {
        if (_snapshots.TryGetValue(rev, out var cached))
            return cached;
        var snapshot = await _gateway.Plans.SnapshotAsync(rev, ct).ConfigureAwait(false);
        if (_snapshots.Count > 16)
            _snapshots.Clear();
        _snapshots[rev] = snapshot;
        return snapshot;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
