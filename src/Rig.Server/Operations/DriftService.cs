using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Server.Store;

namespace Rig.Server.Operations;

/// <summary>Model vs reality per device: the current model's desired state and facts against the inventory each
/// agent last reported (<see cref="Drift.Compare"/>). Read-only.</summary>
internal sealed class DriftService(RigStore store, Protocol.RigLimits limits)
{
    /// <summary>Drift of <paramref name="devices"/> (all of the model's devices, and those only the gateway still
    /// knows, when null).</summary>
    public async Task<DriftReport> CompareAsync(IReadOnlyList<string>? devices, CancellationToken ct)
    {
        var (rev, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var snapshot = new ModelSnapshot(rev, model);
        var runtimes = (await store.ListDeviceRuntimeAsync(devices, withInventory: true, ct).ConfigureAwait(false)).ToDictionary(r => r.Device, StringComparer.Ordinal);
        var names = devices ?? [.. model.Devices.Select(d => d.Name).Concat(runtimes.Keys).Distinct().Order(StringComparer.Ordinal)];
        var reports = new List<DeviceDrift>(names.Count);
        foreach (var name in names)
            reports.Add(Compare(snapshot, name, runtimes.GetValueOrDefault(name)));
        return new DriftReport(rev, reports);
    }

    private DeviceDrift Compare(ModelSnapshot snapshot, string name, DeviceRuntime? runtime)
    {
        snapshot.Index.Devices.TryGetValue(name, out var device);
        if (runtime?.Inventory is not { } inventory)
        {
            var every = limits.CheckInInterval.TotalMinutes >= 1 ? $"{limits.CheckInInterval.TotalMinutes:0} minutes" : $"{limits.CheckInInterval.TotalSeconds:0} seconds";
            return new DeviceDrift(name, DriftOutcome.NoInventory, device is not null, null, [],
                runtime?.InventoryNote is { } dropped ? $"no inventory stored: {dropped}; see the gateway's log and the agent's version"
                : $"no inventory yet; the agent reports at start-up and every {every} and after each queue; start (or restart) the agent to have it report now");
        }
        var desired = device is null ? new DesiredState(name, [], []) : snapshot.Builder.Build(name);
        if (desired.Errors.Count > 0)
            return new DeviceDrift(name, DriftOutcome.Invalid, device is not null, inventory.CollectedAt, [],
                $"the model cannot be rendered for this device ({desired.Errors[0].Message}); fix the model, see `rig plan`");
        var items = Drift.Compare(desired, device, inventory, snapshot.Model.Packages);
        var notes = new[]
        {
            device is null ? "not in the model: everything Rig installed is extra" : null,
            inventory.Truncated is { } cut ? $"the agent's report was truncated to the protocol's limits ({cut}); what was left out is not compared" : null,
            runtime.InventoryNote is { } note ? $"compared with an older inventory: {note}" : null,
        }.OfType<string>().ToList();
        return new DeviceDrift(name, items.Count == 0 ? DriftOutcome.None : DriftOutcome.Drift, device is not null, inventory.CollectedAt, items,
            notes.Count == 0 ? null : string.Join("; ", notes));
    }
}
