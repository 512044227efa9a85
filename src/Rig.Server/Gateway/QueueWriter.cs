using Microsoft.Extensions.Logging;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Operations;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>What queuing work on one device came to.</summary>
internal enum QueueOutcome
{
    /// <summary>A queue was written.</summary>
    Queued,
    /// <summary>The device already matches: nothing to queue.</summary>
    Unchanged,
    /// <summary>The device has an active queue; it was left alone (queues never interleave on a device).</summary>
    Blocked,
    /// <summary>The plan has errors: nothing was queued.</summary>
    Invalid,
}

/// <summary>What an order did on one device.</summary>
/// <param name="Queue">The queue written (<see cref="QueueOutcome.Queued"/>) or the active one that blocks the device
/// (<see cref="QueueOutcome.Blocked"/>).</param>
/// <param name="Commands">Commands queued.</param>
/// <param name="Errors">Why it was invalid or blocked.</param>
/// <param name="Pokeable">True when the gateway knows where to poke the device's agent.</param>
internal sealed record DeviceQueueResult(string Device, QueueOutcome Outcome, QueueInfo? Queue, int Commands, IReadOnlyList<ModelError> Errors, bool Pokeable);

/// <summary>What to queue on which devices: the plan of a model revision (converge, rollout waves, rebuild), or the
/// same explicit commands on every device (a stored script).</summary>
internal sealed record QueueOrder
{
    private QueueOrder(long rev, IReadOnlyList<string> devices, string reason, ModelSnapshot? snapshot, IReadOnlyList<CommandSpec>? commands, string? role, string? commandReason)
    {
        Rev = rev;
        Devices = devices;
        Reason = reason;
        Snapshot = snapshot;
        Commands = commands;
        Role = role;
        CommandReason = commandReason;
    }

    /// <summary>The model revision the queues are recorded against.</summary>
    public long Rev { get; }

    /// <summary>The devices, in the order results are returned.</summary>
    public IReadOnlyList<string> Devices { get; }

    /// <summary>Why (kept with every queue).</summary>
    public string Reason { get; }

    /// <summary>The model to converge to, or null for explicit commands.</summary>
    public ModelSnapshot? Snapshot { get; }

    /// <summary>The explicit commands, or null to plan the model.</summary>
    public IReadOnlyList<CommandSpec>? Commands { get; }

    private string? Role { get; }
    private string? CommandReason { get; }

    /// <summary>Plan each device against <paramref name="snapshot"/> and queue what brings it there.</summary>
    public static QueueOrder Converge(ModelSnapshot snapshot, IReadOnlyList<string> devices, string reason)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return new(snapshot.Rev, devices, reason, snapshot, null, null, null);
    }

    /// <summary>Queue <paramref name="commands"/> on every device, labelled with <paramref name="role"/> (e.g.
    /// <c>script:restart-web</c>) and <paramref name="commandReason"/>.</summary>
    public static QueueOrder Run(long rev, IReadOnlyList<string> devices, IReadOnlyList<CommandSpec> commands, string role, string commandReason, string reason) =>
        new(rev, devices, reason, null, commands, role, commandReason);

    /// <summary>The commands of one device: the explicit ones, or its plan's with the kind of the role each came from.</summary>
    internal List<NewCommand> CommandsFor(string device, DevicePlan? plan)
    {
        if (Commands is not null)
            return [.. Commands.Select(c => new NewCommand(Guid.CreateVersion7().ToString("n"), c, Role!, null, CommandReason!))];
        var kinds = Snapshot!.Index.RolesFor(device).ToDictionary(r => r.Name, r => r.Kind, StringComparer.Ordinal);
        return [.. plan!.Commands.Select(c => new NewCommand(Guid.CreateVersion7().ToString("n"), c.Spec, c.Role, kinds.GetValueOrDefault(c.Role), c.Reason))];
    }
}

/// <summary>The one way work reaches devices' queues: plan every device of an order at once (all cores, templates
/// parsed once: <see cref="FleetPlanner"/>), then write the queues of the devices that change in one transaction per
/// batch of <see cref="Rig.Protocol.RigLimits.QueueWriteBatch"/> devices. A device with an active queue is reported
/// blocked, never given a second queue. Nothing is poked here: the caller pokes once everything is durable.</summary>
internal sealed class QueueWriter(RigStore store, ILogger logger, int batchSize)
{
    /// <summary>Plan <paramref name="devices"/> of <paramref name="snapshot"/> against what the gateway recorded of
    /// them (<paramref name="runtimes"/>, read with their native packages). Pure: this is what converge and rollouts plan
    /// with, and what the plan benchmark measures.</summary>
    public static IReadOnlyList<DevicePlan> Plan(ModelSnapshot snapshot, IReadOnlyList<string> devices, IReadOnlyDictionary<string, DeviceRuntime> runtimes)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(runtimes);
        return FleetPlanner.PlanAll(snapshot.Index, snapshot.Builder, devices, d => PlanService.Recorded(runtimes.GetValueOrDefault(d)));
    }

    /// <summary>Carry out <paramref name="order"/>: one result per device, in the order's order.</summary>
    public async Task<IReadOnlyList<DeviceQueueResult>> WriteAsync(QueueOrder order, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(order);
        var devices = order.Devices;
        var planning = order.Snapshot is not null;
        var runtimes = (await store.ListDeviceRuntimeAsync(devices, withInventory: false, ct, withNative: planning).ConfigureAwait(false))
            .ToDictionary(r => r.Device, StringComparer.Ordinal);
        bool Pokeable(string device) => runtimes.GetValueOrDefault(device) is { PokePort: not null };
        var plans = planning ? Plan(order.Snapshot!, devices, runtimes) : null;

        var results = new DeviceQueueResult[devices.Count];
        var toQueue = new List<(int Index, IReadOnlyList<NewCommand> Commands)>(devices.Count);
        for (var i = 0; i < devices.Count; i++)
        {
            var plan = plans?[i];
            if (plan is { IsValid: false })
                results[i] = new DeviceQueueResult(devices[i], QueueOutcome.Invalid, null, 0, plan.Errors, Pokeable(devices[i]));
            else if (plan is { IsEmpty: true })
                results[i] = new DeviceQueueResult(devices[i], QueueOutcome.Unchanged, null, 0, [], Pokeable(devices[i]));
            else
                toQueue.Add((i, order.CommandsFor(devices[i], plan)));
        }

        for (var start = 0; start < toQueue.Count; start += batchSize)
        {
            var batch = toQueue.GetRange(start, Math.Min(batchSize, toQueue.Count - start));
            var created = await store.CreateQueuesAsync([.. batch.Select(q => (devices[q.Index], q.Commands))], order.Reason, order.Rev, ct).ConfigureAwait(false);
            for (var j = 0; j < batch.Count; j++)
            {
                var (index, commands) = batch[j];
                var device = devices[index];
                if (created[j].Created is { } queue)
                {
                    ServerLog.QueueCreated(logger, device, queue.Id, commands.Count);
                    GatewayTelemetry.Queues.Add(1);
                    results[index] = new DeviceQueueResult(device, QueueOutcome.Queued, queue, commands.Count, [], Pokeable(device));
                }
                else
                {
                    var blocking = created[j].Blocking!;
                    results[index] = new DeviceQueueResult(device, QueueOutcome.Blocked, blocking, 0,
                        [new ModelError("device.busy", $"devices/{device}", $"Device '{device}' is busy with queue {blocking.Id} ({blocking.Status}, {blocking.Position}/{blocking.Length}: {blocking.Reason}); wait for it or cancel it with `rig device cancel {device}`.")],
                        Pokeable(device));
                }
            }
        }
        return results;
    }
}
