using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Validation;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>What converging one device did.</summary>
/// <param name="Device">The device.</param>
/// <param name="Outcome"><c>queued</c>, <c>unchanged</c>, <c>busy</c> (another queue is active) or <c>invalid</c>.</param>
/// <param name="QueueId">The new queue, or the blocking one when busy.</param>
/// <param name="Commands">Number of commands queued.</param>
/// <param name="Errors">Plan errors when invalid.</param>
/// <param name="Poked">True when the agent was poked.</param>
public sealed record ConvergeDeviceResult(string Device, string Outcome, string? QueueId, int Commands, IReadOnlyList<ModelError> Errors, bool Poked);

public sealed partial class Gateway
{
    /// <summary>Plan the current model for the given devices (all assigned devices when empty), queue the
    /// commands of each device that needs changes, and poke its agent. A device with an active queue is not
    /// given a second one (queues never interleave on a device).</summary>
    public async Task<IReadOnlyList<ConvergeDeviceResult>> ConvergeAsync(IReadOnlyList<string> devices, string reason, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(devices);
        var (rev, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var index = new ModelIndex(model);
        var modelErrors = ModelValidator.Validate(model, renderTemplates: false);
        var targets = devices.Count > 0 ? devices : [.. model.Devices.Select(d => d.Name)];
        var builder = new DesiredStateBuilder(index);
        var results = new List<ConvergeDeviceResult>();
        foreach (var device in targets)
        {
            if (modelErrors.Count > 0)
            {
                results.Add(new ConvergeDeviceResult(device, "invalid", null, 0, modelErrors, false));
                continue;
            }
            var runtime = await store.GetDeviceRuntimeAsync(device, ct).ConfigureAwait(false);
            var plan = Planner.Plan(builder.Build(device), runtime?.Recorded ?? RecordedState.Empty, index.KindOrder);
            if (!plan.IsValid)
            {
                results.Add(new ConvergeDeviceResult(device, "invalid", null, 0, plan.Errors, false));
                continue;
            }
            if (plan.IsEmpty)
            {
                results.Add(new ConvergeDeviceResult(device, "unchanged", null, 0, [], false));
                continue;
            }
            var kinds = index.RolesFor(device).ToDictionary(r => r.Name, r => r.Kind, StringComparer.Ordinal);
            var commands = plan.Commands
                .Select(c => new NewCommand(Guid.CreateVersion7().ToString("n"), c.Spec, c.Role, kinds.GetValueOrDefault(c.Role), c.Reason))
                .ToList();
            var created = await store.CreateQueueAsync(device, commands, reason, rev, ct).ConfigureAwait(false);
            if (created.Created is null)
            {
                results.Add(new ConvergeDeviceResult(device, "busy", created.Blocking!.Id, 0,
                    [new ModelError("device.busy", $"devices/{device}", $"Device '{device}' is busy with queue {created.Blocking.Id} ({created.Blocking.Status}, {created.Blocking.Position}/{created.Blocking.Length}); wait for it or cancel it.")], false));
                continue;
            }
            Log.QueueCreated(logger, device, created.Created.Id, commands.Count);
            GatewayTelemetry.Queues.Add(1);
            results.Add(new ConvergeDeviceResult(device, "queued", created.Created.Id, commands.Count, [], false));
        }

        // Every queue is durable before any agent is poked; pokes go out in parallel.
        var poked = await Task.WhenAll(results.Select(r => r.Outcome == "queued" ? PokeAsync(r.Device, ct) : Task.FromResult(false))).ConfigureAwait(false);
        return [.. results.Select((r, i) => r with { Poked = poked[i] })];
    }
}
