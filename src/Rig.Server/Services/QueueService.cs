using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>Why a device log cannot be read.</summary>
internal enum LogRefusal
{
    /// <summary>The cursor is not one the log gave (QUEUE:NEXT), or names another queue than <c>queue</c>.</summary>
    BadCursor,
    /// <summary>The device has no queue with that id.</summary>
    UnknownQueue,
    /// <summary>The device is known but has had no queue yet.</summary>
    NoQueue,
    /// <summary>The device is neither in the model nor known to the gateway.</summary>
    UnknownDevice,
}

/// <summary>Queues and their output: one queue with its commands, a device's command log after a cursor, and
/// waiting for a device's next result (a followed log).</summary>
internal sealed class QueueService(Gateway.Gateway gateway, OperatorAccess access)
{
    private RigStore Store => gateway.Store;

    /// <summary>One queue with its commands and results, or null.</summary>
    public async Task<QueueDetail?> GetDetailAsync(Caller caller, string id, CancellationToken ct)
    {
        access.Allow(caller, "queue.read");
        // A queue of a device the caller may not see is answered as if there were no such queue.
        if (await Store.GetQueueAsync(id, ct).ConfigureAwait(false) is not { } queue || !OperatorAccess.MaySee(caller, queue.Device))
            return null;
        return new QueueDetail(queue.ToView(), (await Store.GetCommandsAsync(queue.Id, ct).ConfigureAwait(false)).ToViews());
    }

    /// <summary>A queue as it is now, or null.</summary>
    public async Task<QueueView?> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        var queue = await Store.GetQueueAsync(id, ct).ConfigureAwait(false);
        return queue is not null && OperatorAccess.MaySee(caller, queue.Device) ? queue.ToView() : null;
    }

    /// <summary>The queue a log request is about and the first command it has not seen: <paramref name="queueId"/> or the
    /// cursor's queue (<c>QUEUE:NEXT</c>), else the device's latest queue; or why there is none.</summary>
    public async Task<(QueueView? Queue, int Next, LogRefusal? Refusal)> ResolveLogAsync(Caller caller, string device, string? queueId, string? cursor, CancellationToken ct)
    {
        access.Allow(caller, "device.read", device);
        var next = 0;
        if (cursor is not null)
        {
            var colon = cursor.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(cursor.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out next)
                || (queueId is not null && queueId != cursor[..colon]))
                return (null, 0, LogRefusal.BadCursor);
            queueId = cursor[..colon];
        }
        QueueInfo? queue;
        if (queueId is not null)
        {
            queue = await Store.GetQueueAsync(queueId, ct).ConfigureAwait(false);
            return queue is null || queue.Device != device ? (null, 0, LogRefusal.UnknownQueue) : (queue.ToView(), next, null);
        }
        queue = await Store.GetLatestQueueAsync(device, ct).ConfigureAwait(false);
        if (queue is not null)
            return (queue.ToView(), 0, null);
        var known = await Store.GetDeviceAsync(device, ct).ConfigureAwait(false) is not null || await Store.GetDeviceRuntimeAsync(device, ct).ConfigureAwait(false) is not null;
        return (null, 0, known ? LogRefusal.NoQueue : LogRefusal.UnknownDevice);
    }

    /// <summary>The finished commands of <paramref name="queue"/> from <paramref name="next"/> on, in order, stopping
    /// at the first that has not finished; and the next sequence number after them.</summary>
    public async Task<(IReadOnlyList<CommandLogEntry> Entries, int Next)> FinishedAfterAsync(Caller caller, QueueView queue, int next, CancellationToken ct)
    {
        access.Allow(caller, "device.read", queue.Device);
        var entries = new List<CommandLogEntry>();
        foreach (var c in await Store.GetCommandsFromAsync(queue.Id, next, ct).ConfigureAwait(false))
        {
            if (c.Sequence != next || c.Status is not (CommandStates.Succeeded or CommandStates.Failed))
                break;
            entries.Add(new CommandLogEntry(c.Id, c.Sequence, queue.Length, c.Kind, c.Spec.Describe(), c.Role, c.Status, c.Result?.ErrorCode, c.Result?.Error, c.Result?.Output,
                c.Result?.DurationMs ?? 0, c.Result?.FromJournal ?? false));
            next++;
        }
        return (entries, next);
    }

    /// <summary>Wait until something happens to <paramref name="device"/> (a result, a cancel) or <paramref name="timeout"/> passes.</summary>
    public Task WaitForActivityAsync(string device, TimeSpan timeout, CancellationToken ct) => gateway.Activity.WaitAsync(device, timeout, ct);
}
