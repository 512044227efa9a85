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
        var modelErrors = ModelValidator.Validate(snapshot.Model, renderTemplates: false);
        var targets = devices.Count > 0 ? devices : [.. snapshot.Model.Devices.Select(d => d.Name)];
        var results = new List<ConvergeDeviceResult>();
        foreach (var device in targets)
        {
            if (modelErrors.Count > 0)
            {
                results.Add(new ConvergeDeviceResult(device, "invalid", null, 0, modelErrors, false));
                continue;
            }
            results.Add(await PlanAndQueueAsync(snapshot, device, reason, ct).ConfigureAwait(false));
        }

        // Every queue is durable before any agent is poked; pokes go out in parallel.
        var poked = await Task.WhenAll(results.Select(r => r.Outcome == "queued" ? PokeAsync(r.Device, ct) : Task.FromResult(false))).ConfigureAwait(false);
        return [.. results.Select((r, i) => r with { Poked = poked[i] })];
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
        var kinds = snapshot.Index.RolesFor(device).ToDictionary(r => r.Name, r => r.Kind, StringComparer.Ordinal);
        var commands = plan.Commands
            .Select(c => new NewCommand(Guid.CreateVersion7().ToString("n"), c.Spec, c.Role, kinds.GetValueOrDefault(c.Role), c.Reason))
            .ToList();
        var created = await store.CreateQueueAsync(device, commands, reason, snapshot.Rev, ct).ConfigureAwait(false);
        if (created.Created is null)
        {
            var blocking = created.Blocking!;
            return new ConvergeDeviceResult(device, "busy", blocking.Id, 0,
                [new ModelError("device.busy", $"devices/{device}", $"Device '{device}' is busy with queue {blocking.Id} ({blocking.Status}, {blocking.Position}/{blocking.Length}: {blocking.Reason}); wait for it or cancel it with `rig device cancel {device}`.")], false);
        }
        Log.QueueCreated(logger, device, created.Created.Id, commands.Count);
        GatewayTelemetry.Queues.Add(1);
        return new ConvergeDeviceResult(device, "queued", created.Created.Id, commands.Count, [], false);
    }
}
