using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Validation;
using Rig.Protocol.Messages;
using Rig.Server.Services;
using Rig.Server.Store;

namespace Rig.Server.Operations;

/// <summary>A model with the package catalog, indexed, ready to plan (templates parsed once).</summary>
internal sealed class ModelSnapshot
{
    /// <summary>Index <paramref name="model"/> (whose Packages is the catalog) at revision <paramref name="rev"/>.</summary>
    public ModelSnapshot(long rev, RigModel model)
    {
        Rev = rev;
        Model = model;
        Index = new ModelIndex(model);
        Builder = new DesiredStateBuilder(Index);
    }

    /// <summary>The revision (0 for a proposed model not saved yet).</summary>
    public long Rev { get; }
    /// <summary>The model.</summary>
    public RigModel Model { get; }
    /// <summary>Its index.</summary>
    public ModelIndex Index { get; }
    /// <summary>Desired-state builder over it.</summary>
    public DesiredStateBuilder Builder { get; }
}

/// <summary>Plans without sending anything: a proposed or stored model vs each device's recorded state ->
/// commands, unified diffs of configuration files, and checks against the devices' facts.</summary>
internal sealed class PlanService(RigStore store)
{
    /// <summary>The stored model at <paramref name="rev"/> (default: current) with the catalog.</summary>
    public async Task<ModelSnapshot> SnapshotAsync(long? rev, CancellationToken ct)
    {
        var (at, model) = await store.LoadModelAsync(rev, ct).ConfigureAwait(false);
        return new ModelSnapshot(at, model);
    }

    /// <summary>Plan a proposed model (its package list is replaced by the store's catalog) for
    /// <paramref name="devices"/> (all when null): nothing is saved, nothing is sent.</summary>
    public async Task<PlanReport> PlanProposedAsync(RigModel proposed, IReadOnlyList<string>? devices, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        var catalog = await store.ListPackagesAsync(ct).ConfigureAwait(false);
        var (baseRev, current) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var (kept, placeholderErrors) = SecretParameters.KeepStored(proposed, current); // "********" keeps the stored secret
        if (placeholderErrors.Count > 0)
            return new PlanReport(baseRev, placeholderErrors, [], []);
        var model = kept with { Packages = catalog };
        var structural = ModelValidator.Validate(model, renderTemplates: false);
        if (structural.Count > 0)
            return new PlanReport(baseRev, structural, [], (await store.DiffWithCurrentAsync(model, ct).ConfigureAwait(false)).ToViews());
        // Pinned as apply would store it, so that the model changes are what apply would record.
        var (pinned, pinErrors) = RolePinning.Pin(model, current);
        model = pinned;
        var changes = (await store.DiffWithCurrentAsync(model, ct).ConfigureAwait(false)).ToViews();
        if (pinErrors.Count > 0)
            return new PlanReport(baseRev, pinErrors, [], changes);
        var snapshot = new ModelSnapshot(0, model);
        var reports = await PlanDevicesAsync(snapshot, devices, includeRemoved: devices is null, ct).ConfigureAwait(false);
        return new PlanReport(baseRev, [], reports, changes);
    }

    /// <summary>Plan the stored model at <paramref name="rev"/> (default: current) for <paramref name="devices"/>
    /// (all when null): what a rollout of it would do now.</summary>
    public async Task<PlanReport> PlanStoredAsync(long? rev, IReadOnlyList<string>? devices, CancellationToken ct)
    {
        var snapshot = await SnapshotAsync(rev, ct).ConfigureAwait(false);
        var structural = ModelValidator.Validate(snapshot.Model, renderTemplates: false);
        if (structural.Count > 0)
            return new PlanReport(snapshot.Rev, structural, [], []);
        return new PlanReport(snapshot.Rev, [], await PlanDevicesAsync(snapshot, devices, includeRemoved: devices is null, ct).ConfigureAwait(false), []);
    }

    /// <summary>Plan devices of a snapshot. With <paramref name="includeRemoved"/>, devices the gateway knows but
    /// the model no longer has are planned too (everything removed).</summary>
    public async Task<IReadOnlyList<DevicePlanReport>> PlanDevicesAsync(ModelSnapshot snapshot, IReadOnlyList<string>? devices, bool includeRemoved, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var runtimes = (await store.ListDeviceRuntimeAsync(devices, withInventory: false, ct, withNative: true).ConfigureAwait(false)).ToDictionary(r => r.Device, StringComparer.Ordinal);
        var names = devices ?? [.. snapshot.Model.Devices.Select(d => d.Name).Concat(includeRemoved ? runtimes.Keys : []).Distinct().Order(StringComparer.Ordinal)];
        var planned = FleetPlanner.PlanAll(snapshot.Index, snapshot.Builder, names, name => Recorded(runtimes.GetValueOrDefault(name)));
        var plans = names.Select((name, i) => (Name: name, Plan: planned[i])).ToList();
        var digests = plans.SelectMany(p => OldDigests(p.Plan, runtimes.GetValueOrDefault(p.Name))).ToList();
        var contents = digests.Count == 0 ? new Dictionary<string, string>() : await store.RenderedContentsAsync(digests, ct).ConfigureAwait(false);
        var mask = store.Known.With(SecretParameters.Values(snapshot.Model)); // a proposed model's new secrets too
        return [.. plans.Select(p => Report(p.Name, p.Plan, runtimes.GetValueOrDefault(p.Name), contents, removed: !snapshot.Index.Devices.ContainsKey(p.Name), mask))];
    }

    /// <summary>The plan of one device (facts checked), without diffs: <see cref="FleetPlanner.Plan"/> with what the
    /// gateway recorded of it.</summary>
    public static DevicePlan Plan(ModelSnapshot snapshot, string device, DeviceRuntime? runtime)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return FleetPlanner.Plan(snapshot.Index, snapshot.Builder, device, Recorded(runtime));
    }

    /// <summary>What a plan reads of a device's runtime row (null when the gateway knows nothing of it).</summary>
    public static RecordedDevice? Recorded(DeviceRuntime? runtime) =>
        runtime is null ? null : new RecordedDevice(runtime.Recorded with { Native = runtime.Native }, runtime.FreeBytes);

    private static IEnumerable<string> OldDigests(DevicePlan plan, DeviceRuntime? runtime)
    {
        if (runtime is null)
            yield break;
        foreach (var spec in plan.Commands.Select(c => c.Spec))
        {
            var path = spec switch { WriteFileCommand w => w.Path, DeleteFileCommand d => d.Path, _ => null };
            if (path is not null && runtime.Recorded.Files.TryGetValue(path, out var file))
                yield return file.Sha256;
        }
    }

    private static DevicePlanReport Report(string device, DevicePlan plan, DeviceRuntime? runtime, IReadOnlyDictionary<string, string> contents, bool removed, SecretMask mask)
    {
        var fingerprint = RigStore.Fingerprint(runtime?.Recorded ?? RecordedState.Empty, runtime?.Native);
        if (!plan.IsValid)
            return new DevicePlanReport(device, "invalid", [], [], plan.Errors, 0) { Fingerprint = fingerprint };
        var diffs = new List<PlanFileDiff>();
        foreach (var spec in plan.Commands.Select(c => c.Spec))
        {
            switch (spec)
            {
                case WriteFileCommand w:
                    var old = runtime?.Recorded.Files.GetValueOrDefault(w.Path);
                    var before = old is null ? "" : contents.GetValueOrDefault(old.Sha256) ?? "";
                    var change = old is null ? "new" : old.Sha256 != w.Sha256 ? "changed" : "attributes";
                    var diff = change == "attributes"
                        ? $"mode {old!.Mode} -> {w.Mode}, owner {old.Owner}:{old.Group} -> {w.Owner}:{w.Group}\n"
                        : UnifiedDiff.Create(before, w.Content, old is null ? "/dev/null" : $"a{w.Path}", $"b{w.Path}");
                    if (old is not null && change == "changed" && old.Sha256 == "missing")
                        diff = "(the file was deleted on the device; showing the new file)\n" + diff;
                    else if (old is not null && change == "changed" && !contents.ContainsKey(old.Sha256))
                        diff = $"(previous content {old.Sha256[..Math.Min(12, old.Sha256.Length)]} is not in the gateway's store, e.g. edited on the device; showing the new file)\n" + diff;
                    diffs.Add(new PlanFileDiff(w.Path, change, mask.Mask(diff)));
                    break;
                case DeleteFileCommand d:
                    var gone = runtime?.Recorded.Files.GetValueOrDefault(d.Path);
                    var text = gone is null ? "" : contents.GetValueOrDefault(gone.Sha256) ?? "";
                    diffs.Add(new PlanFileDiff(d.Path, "deleted", mask.Mask(UnifiedDiff.Create(text, "", $"a{d.Path}", "/dev/null"))));
                    break;
            }
        }
        var commands = plan.Commands.Select(c => new PlanCommandView(c.Spec.Kind, c.Spec.Describe(), c.Role, c.Reason)).ToList();
        var outcome = removed ? "removed" : commands.Count == 0 ? "unchanged" : "changes";
        return new DevicePlanReport(device, outcome, commands, diffs, [], PlanChecks.DownloadBytes(plan)) { Fingerprint = fingerprint };
    }
}
