using System.Net;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>Scale out: a new device like <c>from</c>.</summary>
/// <param name="Name">The new device's name.</param>
/// <param name="Hostname">Its host name (default: derived from the source's).</param>
/// <param name="Addresses">Its IP addresses (required when the source has addresses).</param>
/// <param name="Macs">MAC addresses for the source's network interfaces, in order (interfaces without one are left out until discovery reports them).</param>
/// <param name="Message">Why (recorded with the revision).</param>
internal sealed record CloneRequest(string Name, string? Hostname, IReadOnlyList<string>? Addresses, IReadOnlyList<string>? Macs, string? Message);

/// <summary>A lifecycle step that changed the model and/or started work.</summary>
/// <param name="Revision">The model revision it made (0 when the model did not change).</param>
/// <param name="Changes">Model objects it changed.</param>
/// <param name="Errors">Why nothing was done.</param>
/// <param name="Rollout">The rollout it started, if any.</param>
/// <param name="Queues">Queues it created directly (rebuild, scripts).</param>
/// <param name="Token">An enrollment token (rebuild).</param>
internal sealed record LifecycleResult(long Revision, IReadOnlyList<ModelChange> Changes, IReadOnlyList<ModelError> Errors, RolloutInfo? Rollout, IReadOnlyList<ConvergeDeviceResult> Queues, EnrollmentToken? Token);

internal sealed partial class Gateway
{
    /// <summary>Purpose prefix of the rollout that empties a device being decommissioned.</summary>
    public const string DecommissionPurpose = "decommission:";

    /// <summary>Scale-out: add a device with the source's facts, role assignments and interconnections (both
    /// directions), as a new model revision. Nothing is sent: plan and roll out the revision next; its plan is a
    /// full install of the clone and a re-configuration of exactly the devices whose templates read the changed
    /// interconnections.</summary>
    public async Task<LifecycleResult> CloneAsync(string from, CloneRequest request, string author, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (_, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var source = model.Devices.FirstOrDefault(d => d.Name == from);
        if (source is null)
            return Refused("device.unknown", $"devices/{from}", $"Device '{from}' is not in the model; nothing to clone.");
        if (model.Devices.Any(d => d.Name == request.Name))
            return Refused("name.duplicate", $"devices/{request.Name}", $"Device '{request.Name}' already exists; choose another name.");
        var addresses = request.Addresses ?? [];
        if (source.Addresses.Count > 0 && addresses.Count == 0)
            return Refused("device.address-missing", $"devices/{request.Name}/addresses", $"'{from}' has addresses ({string.Join(", ", source.Addresses)}); give the clone its own with --address.");
        var taken = model.Devices.SelectMany(d => d.Addresses).ToHashSet(StringComparer.Ordinal);
        if (addresses.FirstOrDefault(taken.Contains) is { } clash)
            return Refused("device.address-duplicate", $"devices/{request.Name}/addresses", $"Address {clash} already belongs to another device.");
        var macs = request.Macs ?? [];
        var nics = source.Hardware.Nics.Select((n, i) => i < macs.Count ? n with { Mac = macs[i], Address = i == 0 ? addresses.FirstOrDefault() : null } : null).OfType<Nic>().ToList();
        var hostname = request.Hostname ?? (source.Hostname is { } h && h.StartsWith(source.Name, StringComparison.Ordinal) ? request.Name + h[source.Name.Length..] : null);
        var clone = source with { Name = request.Name, Hostname = hostname, Addresses = addresses, Hardware = source.Hardware with { Nics = nics } };
        var links = model.Links
            .Where(l => l.From == from || l.To == from)
            .Select(l => l with { From = l.From == from ? request.Name : l.From, To = l.To == from ? request.Name : l.To })
            .ToList();
        var assignments = model.Assignments.Where(a => a.Device == from).Select(a => a with { Device = request.Name });
        var changed = model with
        {
            Devices = [.. model.Devices, clone],
            Links = [.. model.Links, .. links],
            Assignments = [.. model.Assignments, .. assignments],
        };
        var applied = await ApplyAsync(changed, author, request.Message ?? $"clone {request.Name} from {from}", ct).ConfigureAwait(false);
        return new LifecycleResult(applied.Saved?.Rev ?? 0, applied.Changes, applied.Errors, null, [], null);
    }

    /// <summary>Decommission, step 1: a revision where the device has no roles and no interconnections, rolled out
    /// to the device (its software is removed in reverse role order) and to its former neighbours (re-planned
    /// without it). When that rollout succeeds the engine finishes the job (<see cref="FinishDecommissionAsync"/>).</summary>
    public async Task<LifecycleResult> DecommissionAsync(string device, string author, string? message, CancellationToken ct) =>
        await DecommissionAsync(device, author, message, null, ct).ConfigureAwait(false);

    /// <summary><see cref="DecommissionAsync(string, string, string?, CancellationToken)"/>, refused with
    /// <c>plan.revision-moved</c> unless the current revision is still <paramref name="baseRevision"/> (the one its
    /// plan, <see cref="PlanDecommissionAsync"/>, was shown on).</summary>
    public async Task<LifecycleResult> DecommissionAsync(string device, string author, string? message, long? baseRevision, CancellationToken ct)
    {
        var (_, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        if (!model.Devices.Any(d => d.Name == device))
            return Refused("device.unknown", $"devices/{device}", $"Device '{device}' is not in the model.");
        var (changed, neighbours) = Emptied(model, device);
        var expect = baseRevision is { } rev ? new ModelSaveExpectation(rev, new Dictionary<string, string>()) : null;
        var applied = await ApplyAsync(changed, author, message ?? $"decommission {device}", expect, ct).ConfigureAwait(false);
        if (applied.Moved.Count > 0)
            return new LifecycleResult(0, [], applied.Moved, null, [], null);
        if (applied.Saved is null)
            return new LifecycleResult(0, [], applied.Errors, null, [], null);
        var rollout = await StartRolloutAsync(
            new RolloutRequest(applied.Saved.Rev, string.Join(',', neighbours.Prepend(device)), Reason: $"decommission {device}"),
            author, ct, DecommissionPurpose + device).ConfigureAwait(false);
        return new LifecycleResult(applied.Saved.Rev, applied.Changes, [], rollout, [], null);
    }

    /// <summary>What decommissioning <paramref name="device"/> would do (nothing is saved or sent): the plan of the
    /// revision it would record, for the device (everything removed, reverse role order) and its neighbours
    /// (re-configured without it). Null when the device is not in the model.</summary>
    public async Task<PlanReport?> PlanDecommissionAsync(string device, CancellationToken ct)
    {
        var (_, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        if (!model.Devices.Any(d => d.Name == device))
            return null;
        var (changed, neighbours) = Emptied(model, device);
        return await Plans.PlanProposedAsync(changed, [device, .. neighbours], ct).ConfigureAwait(false);
    }

    /// <summary>The model with <paramref name="device"/> left without roles and interconnections, and its former neighbours.</summary>
    private static (RigModel Model, IReadOnlyList<string> Neighbours) Emptied(RigModel model, string device)
    {
        var neighbours = model.Links.Where(l => l.From == device || l.To == device).Select(l => l.From == device ? l.To : l.From).Distinct().Order(StringComparer.Ordinal).ToList();
        var changed = model with
        {
            Links = [.. model.Links.Where(l => l.From != device && l.To != device)],
            Assignments = [.. model.Assignments.Where(a => a.Device != device)],
        };
        return (changed, neighbours);
    }

    /// <summary>Decommission, step 2 (after the emptying rollout succeeded): the device leaves the model, its
    /// certificates are revoked and its recorded state forgotten, so the hardware is free for reassignment.</summary>
    public async Task FinishDecommissionAsync(string device, string author, CancellationToken ct)
    {
        var (_, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        if (model.Devices.Any(d => d.Name == device))
        {
            var removed = model with
            {
                Devices = [.. model.Devices.Where(d => d.Name != device)],
                Links = [.. model.Links.Where(l => l.From != device && l.To != device)],
                Assignments = [.. model.Assignments.Where(a => a.Device != device)],
            };
            await store.SaveModelAsync(removed, author, $"decommissioned {device}: removed from the model", ct).ConfigureAwait(false);
        }
        await RevokeAsync(device, ct).ConfigureAwait(false);
        await store.ForgetDeviceAsync(device, ct).ConfigureAwait(false);
    }

    /// <summary>Disaster recovery: the device lost everything. Its old agent identity is revoked, what the gateway
    /// recorded about it is forgotten, and a full install of the current revision is queued; the returned token
    /// enrolls the fresh agent, which then finds the queue waiting. The rebuilt device is the model's, file by file.</summary>
    public async Task<LifecycleResult> RebuildAsync(string device, string author, CancellationToken ct) =>
        await RebuildAsync(device, author, null, ct).ConfigureAwait(false);

    /// <summary><see cref="RebuildAsync(string, string, CancellationToken)"/> with the operator's reason, kept as the
    /// reason of the queue it creates.</summary>
    public async Task<LifecycleResult> RebuildAsync(string device, string author, string? message, CancellationToken ct)
    {
        var snapshot = await Plans.SnapshotAsync(null, ct).ConfigureAwait(false);
        if (!snapshot.Index.Devices.ContainsKey(device))
            return Refused("device.unknown", $"devices/{device}", $"Device '{device}' is not in the model; only modelled devices can be rebuilt from it.");
        await store.CancelQueueAsync(device, $"rebuild requested by {author}", ct).ConfigureAwait(false);
        QueueEnded(device);
        await RevokeAsync(device, ct).ConfigureAwait(false);
        await store.ForgetDeviceAsync(device, ct).ConfigureAwait(false);
        var reason = string.IsNullOrWhiteSpace(message) ? $"rebuild of {device} by {author}" : $"rebuild of {device} by {author}: {message}";
        var queued = ConvergeDeviceResult.From((await Queues.WriteAsync(QueueOrder.Converge(snapshot, [device], reason), ct).ConfigureAwait(false))[0], poked: false);
        var token = await CreateEnrollmentTokenAsync(device, ct).ConfigureAwait(false);
        return new LifecycleResult(snapshot.Rev, [], queued.Errors, null, [queued], token);
    }

    /// <summary>Run a stored script on the selected devices: one queue per device with the script's commands.
    /// Busy devices are reported, never given a second queue.</summary>
    public Task<LifecycleResult> RunScriptAsync(string name, string? devices, string author, CancellationToken ct) => RunScriptAsync(name, devices, author, null, ct);

    /// <summary>Run a stored script on the devices the selector chooses among those <paramref name="authorize"/> keeps
    /// (the caller's rights: narrows to what they see, throws for devices they may not run scripts on).</summary>
    public async Task<LifecycleResult> RunScriptAsync(string name, string? devices, string author, Func<IReadOnlyList<string>, IReadOnlyList<string>>? authorize, CancellationToken ct)
    {
        var script = await store.GetScriptAsync(name, ct).ConfigureAwait(false);
        if (script is null)
            return Refused("script.unknown", $"scripts/{name}", $"There is no stored script '{name}'; see `rig script list`.");
        DeviceSelector selector;
        try
        {
            selector = DeviceSelector.Parse(devices);
        }
        catch (FormatException e)
        {
            return Refused("bad-selector", "devices", e.Message);
        }
        var (rev, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        IReadOnlyList<string> targets = [.. selector.Select(model).Select(d => d.Name)];
        if (authorize is not null)
            targets = authorize(targets);
        if (targets.Count == 0)
            return Refused("no-devices", "devices", $"No device matches '{selector}'.");
        var order = QueueOrder.Run(rev, targets, script.Commands, $"script:{name}", $"script {name} run by {author}", $"script {name} by {author}");
        var results = await Queues.WriteAsync(order, ct).ConfigureAwait(false);
        // Its queues are written: the work started on the operator's behalf goes into the audit log (a transaction of
        // its own, after the queues; the operator's request has its own entry too).
        var queued = results.Count(r => r.Outcome == QueueOutcome.Queued);
        if (queued > 0)
        {
            await store.AppendAuditAsync([new AuditEntry(author, "script.wave", name, null, "ok",
                new System.Text.Json.Nodes.JsonObject { ["script"] = name, ["revision"] = rev, ["devices"] = queued }.ToJsonString())], ct).ConfigureAwait(false);
        }
        var poked = await PokeAsync(results, nudgeBlocked: false, ct).ConfigureAwait(false);
        return new LifecycleResult(rev, [], [], null, [.. results.Select((r, i) => ConvergeDeviceResult.From(r, poked[i]))], null);
    }

    /// <summary>Check and store a script: only service, reboot and inventory commands (a script never changes what
    /// the model says a device has; files and packages come from the model).</summary>
    public async Task<IReadOnlyList<ModelError>> SaveScriptAsync(string name, string description, IReadOnlyList<CommandSpec> commands, string author, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var errors = new List<ModelError>();
        if (!Names.IsValidObjectName(name))
            errors.Add(new ModelError("name.invalid", $"scripts/{name}", $"Script name '{name}' is not valid: use {Names.ObjectNameRule}."));
        if (commands.Count == 0)
            errors.Add(new ModelError("script.empty", $"scripts/{name}", "A script needs at least one command."));
        for (var i = 0; i < commands.Count; i++)
        {
            switch (commands[i])
            {
                case ServiceCommand s when !Names.IsValidServiceName(s.Name):
                    errors.Add(new ModelError("item.service-invalid", $"scripts/{name}/commands/{i}", $"Service name '{s.Name}' is not valid."));
                    break;
                case ServiceCommand or RebootCommand or InventoryCommand:
                    break;
                default:
                    errors.Add(new ModelError("script.command-not-allowed", $"scripts/{name}/commands/{i}", $"A script may hold service, reboot and inventory commands, not '{commands[i].Kind}': files and packages come from the model."));
                    break;
            }
        }
        if (errors.Count == 0)
            await store.SaveScriptAsync(name, description, commands, author, ct).ConfigureAwait(false);
        return errors;
    }

    private static LifecycleResult Refused(string code, string where, string message) => new(0, [], [new ModelError(code, where, message)], null, [], null);
}
