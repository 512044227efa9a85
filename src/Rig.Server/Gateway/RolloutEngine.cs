using Microsoft.Extensions.Logging;
using Rig.Server.Operations;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>Drives rollouts from their persisted state, so a gateway restart loses nothing: on every tick (and
/// whenever an operator acts) it refreshes each active rollout's devices from their queues, pauses a rollout
/// whose failures pass its threshold, starts the devices of the first unfinished wave up to the parallel limit,
/// and finishes rollouts whose devices are all done. Waves never overlap: a wave starts when the previous one
/// is finished.</summary>
public sealed class RolloutEngine : IAsyncDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private readonly Gateway _gateway;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<long, ModelSnapshot> _snapshots = [];
    private Task? _loop;
    private long _lastSweep;

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
            try
            {
                await _gateway.RolloutSignal.WaitAsync(Tick, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass over every active rollout (and, every few seconds, over queues stuck in a reboot).</summary>
    public async Task StepAsync(CancellationToken ct)
    {
        var store = _gateway.Store;
        if (Environment.TickCount64 - _lastSweep > 10_000)
        {
            _lastSweep = Environment.TickCount64;
            foreach (var device in await store.FailStaleRebootsAsync(_gateway.Limits.RebootTimeout, ct).ConfigureAwait(false))
                ServerLog.RebootTimedOut(_logger, device, _gateway.Limits.RebootTimeout);
        }
        foreach (var id in await store.ListActiveRolloutIdsAsync(ct).ConfigureAwait(false))
        {
            // One rollout at a time with the operator's pause/resume/cancel, read afresh under the gate: a step
            // never starts a queue for a rollout an operator has just cancelled or paused (CHECKLIST 28).
            await _gateway.RolloutGate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                if (await store.GetRolloutAsync(id, ct).ConfigureAwait(false) is { } rollout && RolloutStatus.IsActive(rollout.Status))
                    await StepAsync(rollout, ct).ConfigureAwait(false);
            }
            finally
            {
                _gateway.RolloutGate.Release();
            }
        }
    }

    private async Task StepAsync(RolloutInfo rollout, CancellationToken ct)
    {
        var store = _gateway.Store;
        var devices = rollout.Devices.ToDictionary(d => d.Device, StringComparer.Ordinal);

        // 1. What happened to the queues we started. A queue whose agent has not asked for it within the rollout's
        // device timeout is failed before anything is sent (the store decides under the queue's lock, so an agent that
        // asks at that very moment either gets the whole queue or nothing), and the device fails with the reason.
        var deviceTimeout = Rig.Model.Durations.TryParse(rollout.DeviceTimeout, out var t, out _) ? t : _gateway.Limits.RolloutDeviceTimeout;
        var now = _gateway.Clock.GetUtcNow();
        foreach (var device in rollout.Devices.Where(d => d.Status == RolloutDeviceStatus.Queued && d.QueueId is not null))
        {
            var queue = await store.GetQueueAsync(device.QueueId!, ct).ConfigureAwait(false);
            if (queue is { Status: QueueStatus.Pending } && now - queue.CreatedAt >= deviceTimeout)
            {
                var waiting = device.State == RolloutDeviceState.WaitingForAgent && device.Detail is { } d
                    ? d
                    : $"waiting for agent: it was poked and did not ask for its queue{(device.LastSeenAt is { } seen ? $" (last seen {seen.UtcDateTime:u})" : "")}";
                var why = $"{waiting}, gave up after {rollout.DeviceTimeout}";
                if (await store.FailUndeliveredQueueAsync(queue.Id, why, ct).ConfigureAwait(false))
                {
                    ServerLog.RolloutDeviceFailed(_logger, rollout.Id, device.Device, why);
                    queue = await store.GetQueueAsync(queue.Id, ct).ConfigureAwait(false);
                }
            }
            if (queue is null || QueueStatus.IsActive(queue.Status))
                continue;
            var status = queue.Status switch
            {
                QueueStatus.Succeeded => RolloutDeviceStatus.Succeeded,
                QueueStatus.Cancelled => RolloutDeviceStatus.Cancelled,
                _ => RolloutDeviceStatus.Failed,
            };
            await store.UpdateRolloutDeviceAsync(rollout.Id, device.Device, status, null, queue.Error, ct).ConfigureAwait(false);
            devices[device.Device] = device with { Status = status, Detail = queue.Error };
        }

        // 2. The failure threshold, while there is something left to protect: devices not started yet. (With only
        // running queues left, a pause would stop nothing and flicker to "failed" at the next tick.)
        var failed = devices.Values.Count(d => d.Status == RolloutDeviceStatus.Failed);
        var open = devices.Values.Where(d => RolloutDeviceStatus.IsActive(d.Status)).ToList();
        if (rollout.Status == RolloutStatus.Running && failed > rollout.MaxFailures && open.Any(d => d.Status != RolloutDeviceStatus.Queued))
        {
            var why = $"{failed} device(s) failed, more than --max-failures {rollout.MaxFailures}; running queues finish, nothing new starts. Fix the cause, then `rig rollout resume {rollout.Id}` (optionally with a higher --max-failures) or `rig rollout cancel {rollout.Id}`.";
            await store.SetRolloutStatusAsync(rollout.Id, RolloutStatus.Paused, why, ct).ConfigureAwait(false);
            ServerLog.RolloutPaused(_logger, rollout.Id, why);
            return;
        }

        // 3. Finished?
        if (open.Count == 0)
        {
            var finished = await store.SetRolloutStatusAsync(rollout.Id, failed > 0 ? RolloutStatus.Failed : RolloutStatus.Succeeded, failed > 0 ? $"{failed} device(s) failed" : null, ct).ConfigureAwait(false);
            if (finished && failed == 0 && rollout.Purpose is { } purpose && purpose.StartsWith(Gateway.DecommissionPurpose, StringComparison.Ordinal))
            {
                var device = purpose[Gateway.DecommissionPurpose.Length..];
                await _gateway.FinishDecommissionAsync(device, rollout.CreatedBy, ct).ConfigureAwait(false);
                ServerLog.Decommissioned(_logger, device);
            }
            return;
        }
        if (rollout.Status != RolloutStatus.Running)
            return;

        // 4. Start devices of the first unfinished wave, up to the parallel limit.
        var wave = open.Min(d => d.Wave);
        var running = devices.Values.Count(d => d.Status == RolloutDeviceStatus.Queued);
        var snapshot = await SnapshotAsync(rollout.Rev, ct).ConfigureAwait(false);
        var started = new List<string>();
        foreach (var device in devices.Values.Where(d => d.Wave == wave && d.Status is RolloutDeviceStatus.Waiting or RolloutDeviceStatus.Blocked).OrderBy(d => d.Position))
        {
            if (running >= rollout.MaxParallel)
                break;
            var result = await _gateway.PlanAndQueueAsync(snapshot, device.Device, $"rollout {rollout.Id} of revision {rollout.Rev}", ct).ConfigureAwait(false);
            var detail = result.Errors.Count == 0 ? null : string.Join("; ", result.Errors.Select(e => e.Message));
            switch (result.Outcome)
            {
                case "queued":
                    await store.UpdateRolloutDeviceAsync(rollout.Id, device.Device, RolloutDeviceStatus.Queued, result.QueueId, null, ct).ConfigureAwait(false);
                    started.Add(device.Device);
                    running++;
                    break;
                case "unchanged":
                    await store.UpdateRolloutDeviceAsync(rollout.Id, device.Device, RolloutDeviceStatus.Unchanged, null, "already matches the revision", ct).ConfigureAwait(false);
                    break;
                case "busy":
                    if (device.Status != RolloutDeviceStatus.Blocked)
                        await store.UpdateRolloutDeviceAsync(rollout.Id, device.Device, RolloutDeviceStatus.Blocked, null, detail, ct).ConfigureAwait(false);
                    break;
                default:
                    await store.UpdateRolloutDeviceAsync(rollout.Id, device.Device, RolloutDeviceStatus.Failed, null, detail, ct).ConfigureAwait(false);
                    break;
            }
        }
        foreach (var device in started)
        {
            if (_gateway.Pokes is { } pokes)
                pokes.Schedule(device);
            else
                await _gateway.PokeAsync(device, ct).ConfigureAwait(false);
        }
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
