using Rig.Model.Planning;
using Rig.Model.Validation;
using Rig.Server.Operations;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>What converging one device did.</summary>
/// <param name="Device">The device.</param>
/// <param name="Outcome"><c>queued</c>, <c>unchanged</c>, <c>busy</c> (another queue is active) or <c>invalid</c>.</param>
/// <param name="QueueId">The new queue, or the blocking one when busy.</param>
/// <param name="Commands">Number of commands queued.</param>
/// <param name="Errors">Plan errors when invalid or busy.</param>
/// <param name="Poked">True when the agent was poked.</param>
public sealed record ConvergeDeviceResult(string Device, string Outcome, string? QueueId, int Commands, IReadOnlyList<ModelError> Errors, bool Poked);

public sealed partial class Gateway
{
    /// <summary>Plan the current model for the given devices (all devices of the model when empty), queue the
    /// commands of each device that needs changes, and poke its agent. A device with an active queue is not
    /// given a second one (queues never interleave on a device).</summary>
    public async Task<IReadOnlyList<ConvergeDeviceResult>> ConvergeAsync(IReadOnlyList<string> devices, string reason, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(devices);
        var snapshot = await Plans.SnapshotAsync(null, ct).ConfigureAwait(false);
        var targets = devices.Count > 0 ? devices : [.. snapshot.Model.Devices.Select(d => d.Name)];
        var modelErrors = ModelValidator.Validate(snapshot.Model, renderTemplates: false);
        if (modelErrors.Count > 0)
            return [.. targets.Select(d => new ConvergeDeviceResult(d, "invalid", null, 0, modelErrors, false))];

        // Plan every device at once (all cores), then create every queue in one transaction.
        var runtimes = (await store.ListDeviceRuntimeAsync(targets, withInventory: false, ct, withNative: true).ConfigureAwait(false)).ToDictionary(r => r.Device, StringComparer.Ordinal);
        var plans = new DevicePlan[targets.Count];
        Parallel.For(0, targets.Count, i => plans[i] = PlanService.Plan(snapshot, targets[i], runtimes.GetValueOrDefault(targets[i])));
        var results = new ConvergeDeviceResult[targets.Count];
        var toQueue = new List<(int Index, string Device, IReadOnlyList<NewCommand> Commands)>();
        for (var i = 0; i < targets.Count; i++)
        {
            if (!plans[i].IsValid)
                results[i] = new ConvergeDeviceResult(targets[i], "invalid", null, 0, plans[i].Errors, false);
            else if (plans[i].IsEmpty)
                results[i] = new ConvergeDeviceResult(targets[i], "unchanged", null, 0, [], false);
            else
                toQueue.Add((i, targets[i], ToCommands(snapshot, targets[i], plans[i])));
        }
        var busyWithWork = new HashSet<string>(StringComparer.Ordinal);
        for (var chunk = 0; chunk < toQueue.Count; chunk += 500)
        {
            var part = toQueue.Skip(chunk).Take(500).ToList();
            var created = await store.CreateQueuesAsync([.. part.Select(q => (q.Device, q.Commands))], reason, snapshot.Rev, ct).ConfigureAwait(false);
            for (var j = 0; j < part.Count; j++)
            {
                results[part[j].Index] = Queued(part[j].Device, part[j].Commands.Count, created[j]);
                if (created[j].Blocking is { Status: QueueStatus.Pending or QueueStatus.Running })
                    busyWithWork.Add(part[j].Device);
            }
        }

        // Every queue is durable before any agent is poked; pokes are paced (PokeScheduler), not awaited. A busy
        // device whose queue still has commands to send is poked too: converging again nudges a stalled agent.
        for (var i = 0; i < results.Length; i++)
        {
            var nudge = results[i].Outcome == "busy" && busyWithWork.Contains(results[i].Device);
            if ((results[i].Outcome == "queued" || nudge) && runtimes.GetValueOrDefault(results[i].Device) is { PokePort: not null })
            {
                if (Pokes is { } pokes)
                    pokes.Schedule(results[i].Device);
                else
                    await PokeAsync(results[i].Device, ct).ConfigureAwait(false);
                results[i] = results[i] with { Poked = true };
            }
        }
        return results;
    }

    private static List<NewCommand> ToCommands(ModelSnapshot snapshot, string device, DevicePlan plan)
    {
        var kinds = snapshot.Index.RolesFor(device).ToDictionary(r => r.Name, r => r.Kind, StringComparer.Ordinal);
        return [.. plan.Commands.Select(c => new NewCommand(Guid.CreateVersion7().ToString("n"), c.Spec, c.Role, kinds.GetValueOrDefault(c.Role), c.Reason))];
    }

    private ConvergeDeviceResult Queued(string device, int commands, QueueCreateResult created)
    {
        if (created.Created is null)
        {
            var blocking = created.Blocking!;
            return new ConvergeDeviceResult(device, "busy", blocking.Id, 0,
                [new ModelError("device.busy", $"devices/{device}", $"Device '{device}' is busy with queue {blocking.Id} ({blocking.Status}, {blocking.Position}/{blocking.Length}: {blocking.Reason}); wait for it or cancel it with `rig device cancel {device}`.")], false);
        }
        ServerLog.QueueCreated(logger, device, created.Created.Id, commands);
        GatewayTelemetry.Queues.Add(1);
        return new ConvergeDeviceResult(device, "queued", created.Created.Id, commands, [], false);
    }

    /// <summary>Plan one device against a model snapshot and queue the commands (not poked). The plan is checked
    /// against the device's facts first; an empty plan queues nothing; a busy device gets no second queue.</summary>
    public async Task<ConvergeDeviceResult> PlanAndQueueAsync(ModelSnapshot snapshot, string device, string reason, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var runtime = await store.GetDeviceRuntimeAsync(device, ct).ConfigureAwait(false);
        var plan = PlanService.Plan(snapshot, device, runtime);
        if (!plan.IsValid)
            return new ConvergeDeviceResult(device, "invalid", null, 0, plan.Errors, false);
        if (plan.IsEmpty)
            return new ConvergeDeviceResult(device, "unchanged", null, 0, [], false);
        var commands = ToCommands(snapshot, device, plan);
        return Queued(device, commands.Count, await store.CreateQueueAsync(device, commands, reason, snapshot.Rev, ct).ConfigureAwait(false));
    }
}
