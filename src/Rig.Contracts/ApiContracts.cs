using System.Text.Json.Serialization;
using System.Text.Json;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;

namespace Rig.Contracts;

/// <summary>An API error: what went wrong, the offending value, what to do. It never travels alone: every error
/// answer of the operator API is <see cref="ApiErrorResponse"/> (<c>{"error":{...}}</c>), written by
/// the gateway's one error writer.</summary>
/// <param name="Code">Stable, machine-readable (<c>unknown-device</c>, <c>invalid-model</c>, <c>token-refused</c>).</param>
/// <param name="Message">What was wrong, naming the offending value.</param>
/// <param name="Errors">Every model error, when the request was a model, script or lifecycle change that did not validate.</param>
/// <param name="Hint">The next step, when there is a useful one: a command to run, a value to change.</param>
public sealed record ApiError(
    string Code,
    string Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ModelError>? Errors = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Hint = null);

/// <summary>The one error shape of the operator API: <c>{"error":{"code","message","hint"?,"errors"?}}</c>, with a 4xx or
/// 5xx status.</summary>
public sealed record ApiErrorResponse(ApiError Error);

/// <summary>Gateway status: what it is, and the fleet at a glance (<c>rig status</c>).</summary>
public sealed record StatusResponse(string Version, string AgentUrl, string CaPin, long ModelRevision, int Devices, int Packages, StoreStatsView Store, string Engine)
{
    /// <summary>Devices (in the model or known to the gateway) by state; see <see cref="DeviceStates"/>.</summary>
    public DeviceStateCounts DeviceStates { get; init; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>Agents whose last request came within the last <see cref="SeenWindowSeconds"/>.</summary>
    public int AgentsSeen { get; init; }

    /// <summary>The window of <see cref="AgentsSeen"/> and of the <c>not-seen</c> state: two check-in intervals.</summary>
    public int SeenWindowSeconds { get; init; }

    /// <summary>Running and paused rollouts, newest first.</summary>
    public IReadOnlyList<RolloutSummary> ActiveRollouts { get; init; } = [];
}

/// <summary>Result of saving the model.</summary>
public sealed record ModelPutResponse(long Revision, bool Changed, int Added, int Modified, int Removed);

/// <summary>Request to converge devices (all when empty).</summary>
public sealed record ConvergeRequest(IReadOnlyList<string>? Devices, string? Reason);

/// <summary>Result of a converge.</summary>
public sealed record ConvergeResponse(IReadOnlyList<ConvergeDeviceView> Devices);

/// <summary>One device as the operator sees it.</summary>
public sealed record DeviceStatus(string Name, string? Site, string? Tier, bool InModel, DateTimeOffset? LastSeenAt, string? AgentVersion, QueueView? Queue)
{
    /// <summary>One of <see cref="DeviceStates"/>.</summary>
    public string State { get; init; } = Contracts.DeviceStates.NotConverged;
}

/// <summary>One device with its recorded state and latest queue's commands.</summary>
public sealed record DeviceDetail(DeviceStatus Status, RecordedState Recorded, InventoryReport? Inventory, IReadOnlyList<CommandView> Commands)
{
    /// <summary>Why the agent's last inventory was dropped (over the limits, control characters), or null.</summary>
    public string? InventoryNote { get; init; }

    /// <summary>When the agent collected the inventory the gateway has (its clock), or null when it has none.</summary>
    public DateTimeOffset? LastInventoryAt { get; init; }

    /// <summary>The model's facts beside what the agent discovered, one row per fact.</summary>
    public IReadOnlyList<DeviceFact> Facts { get; init; } = [];

    /// <summary>The roles the model assigns, in install order, with their versions.</summary>
    public IReadOnlyList<DeviceRoleView> Roles { get; init; } = [];

    /// <summary>The agent: version, last request, certificate.</summary>
    public DeviceAgentView? Agent { get; init; }

    /// <summary>The queue before the latest (<see cref="DeviceStatus.Queue"/>), or null.</summary>
    public QueueView? PreviousQueue { get; init; }

    /// <summary>The commands of <see cref="PreviousQueue"/>, with their results.</summary>
    public IReadOnlyList<CommandView> PreviousCommands { get; init; } = [];
}

/// <summary>Result of revoking a device's agent certificates.</summary>
/// <param name="Device">The device.</param>
/// <param name="Revoked">Certificates revoked (0: the device had none, or no such device).</param>
public sealed record DeviceRevokeResponse(string Device, int Revoked);

/// <summary>Result of poking a device's agent.</summary>
/// <param name="Device">The device.</param>
/// <param name="Poked">True when the poke reached the agent (false: the gateway knows no poke address for it, or nothing answered there).</param>
public sealed record DevicePokeResponse(string Device, bool Poked);

/// <summary>Result of importing a package.</summary>
public sealed record PackageAddResponse(PackageInfo Package, bool AlreadyPresent);

/// <summary>A command a plan would send.</summary>
public sealed record PlanCommandView(string Kind, string Description, string Role, string Reason);

/// <summary>How a configuration file would change: <c>new</c>, <c>changed</c>, <c>attributes</c> (mode/owner), <c>deleted</c>.</summary>
public sealed record PlanFileDiff(string Path, string Change, string Diff);

/// <summary>The plan of one device.</summary>
/// <param name="Device">The device.</param>
/// <param name="Outcome"><c>unchanged</c>, <c>changes</c>, <c>invalid</c>, or <c>removed</c> (no longer in the model: everything is removed).</param>
/// <param name="Commands">Commands that would run, in order.</param>
/// <param name="Diffs">Unified diffs of rendered configuration files.</param>
/// <param name="Errors">Why the device cannot be planned.</param>
/// <param name="DownloadBytes">Package bytes the plan downloads.</param>
public sealed record DevicePlanReport(string Device, string Outcome, IReadOnlyList<PlanCommandView> Commands, IReadOnlyList<PlanFileDiff> Diffs, IReadOnlyList<ModelError> Errors, long DownloadBytes)
{
    /// <summary>The fingerprint of what the gateway had recorded for the device when it was planned: a saved plan is
    /// applied only while it is still the same.</summary>
    public string? Fingerprint { get; init; }
}

/// <summary>A whole plan: model errors, per-device plans, and the model objects that change.</summary>
public sealed record PlanReport(long BaseRevision, IReadOnlyList<ModelError> Errors, IReadOnlyList<DevicePlanReport> Devices, IReadOnlyList<ModelChangeView> ModelChanges)
{
    /// <summary>True when the model or any device plan has errors.</summary>
    public bool HasErrors => Errors.Count > 0 || Devices.Any(d => d.Errors.Count > 0);

    /// <summary>True when any device would change.</summary>
    public bool HasChanges => Devices.Any(d => d.Commands.Count > 0);
}

/// <summary>What a plan removes: devices leaving the model, role assignments, packages from devices. Applying such a
/// plan from the CLI asks first (or wants <c>--yes</c>).</summary>
/// <param name="Devices">Devices leaving the model.</param>
/// <param name="Assignments">Role assignments removed, as <c>device|role</c>.</param>
/// <param name="Packages">Packages removed from devices, as <c>device: package</c>.</param>
public sealed record PlanRemovals(IReadOnlyList<string> Devices, IReadOnlyList<string> Assignments, IReadOnlyList<string> Packages)
{
    /// <summary>True when nothing is removed.</summary>
    public bool IsEmpty => Devices.Count + Assignments.Count + Packages.Count == 0;

    /// <summary>What <paramref name="plan"/> removes.</summary>
    public static PlanRemovals Of(PlanReport plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var devices = plan.ModelChanges.Where(c => c.Kind == "device" && c.Change == "removed").Select(c => c.Name)
            .Concat(plan.Devices.Where(d => d.Outcome == "removed").Select(d => d.Device)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var assignments = plan.ModelChanges.Where(c => c.Kind == "assignment" && c.Change == "removed").Select(c => c.Name).Order(StringComparer.Ordinal).ToList();
        var packages = plan.Devices.SelectMany(d => d.Commands.Where(c => c.Kind == "remove").Select(c => $"{d.Device}: {c.Description}")).ToList();
        return new PlanRemovals(devices, assignments, packages);
    }

    /// <summary>One line for people: "device web-2; role assignment web-1|shop-content; web-1: remove nginx".</summary>
    public override string ToString() =>
        string.Join("; ", Devices.Select(d => $"device {d}").Concat(Assignments.Select(a => $"role assignment {a}")).Concat(Packages));
}

/// <summary>A device's recorded state as a saved plan saw it.</summary>
public sealed record DeviceFingerprint(string Device, string Fingerprint);

/// <summary>A plan saved to a file by <c>rig plan PATH -o FILE</c> and applied by <c>rig apply FILE</c> (or
/// <c>POST /api/v1/plans/apply</c>): exactly this model is recorded, and only while the current revision is still
/// <see cref="BaseRevision"/> and every device in <see cref="Devices"/> (those the plan changes) has the recorded
/// state it had. The format is versioned (<see cref="Format"/>, <see cref="Version"/>): a gateway refuses a version
/// it does not know rather than guess; fields may be added within a version, never renamed or removed.</summary>
/// <param name="Format">Always <c>rig-plan</c>.</param>
/// <param name="Version">The format version (<see cref="CurrentVersion"/>).</param>
/// <param name="CreatedAt">When the plan was made.</param>
/// <param name="BaseRevision">The model revision the plan was made on.</param>
/// <param name="Model">The model to record (the operator API's model JSON, docs/MODEL.md).</param>
/// <param name="Devices">The fingerprint of every device the plan changes or removes.</param>
/// <param name="Plan">The plan as it was shown, for people and for <c>rig apply</c> to show again.</param>
public sealed record SavedPlan(string Format, int Version, DateTimeOffset CreatedAt, long BaseRevision, JsonElement Model, IReadOnlyList<DeviceFingerprint> Devices, PlanReport Plan)
{
    /// <summary>The <see cref="Format"/> of every saved plan.</summary>
    public const string FormatName = "rig-plan";

    /// <summary>The format version this build writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>A saved plan of <paramref name="model"/> (its JSON) from the plan the gateway made of it.</summary>
    public static SavedPlan Of(PlanReport plan, JsonElement model, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var devices = plan.Devices.Where(d => d.Outcome is "changes" or "removed" && d.Fingerprint is not null)
            .Select(d => new DeviceFingerprint(d.Device, d.Fingerprint!)).ToList();
        return new SavedPlan(FormatName, CurrentVersion, now, plan.BaseRevision, model, devices, plan);
    }
}

/// <summary>Result of an apply: the new revision and what changed.</summary>
public sealed record ApplyResponse(long Revision, bool Changed, IReadOnlyList<ModelChangeView> Changes);

/// <summary>A model revision as listed by history.</summary>
public sealed record RevisionView(long Revision, string Author, string Message, DateTimeOffset CreatedAt, int Changes)
{
    /// <summary>Its approval state, one of <see cref="ApprovalStates"/> (<c>rig approval REV</c> for the details).</summary>
    public string? Approval { get; init; }
}

/// <summary>A model object diff between two revisions.</summary>
public sealed record ModelDiffEntry(string Kind, string Name, string Change, string Diff);

/// <summary>A model as of a revision, with every device's rendered configuration.</summary>
public sealed record ModelAsOf(long Revision, DateTimeOffset? CreatedAt, RigModel Model, IReadOnlyList<RenderedDevice> Devices);

/// <summary>A device's rendered configuration files at a revision.</summary>
public sealed record RenderedDevice(string Device, IReadOnlyList<RenderedFile> Files, IReadOnlyList<ModelError> Errors);

/// <summary>One rendered file.</summary>
public sealed record RenderedFile(string Path, string Sha256, string Mode, string Owner, string Group, string Content);

/// <summary>How a device's drift came out.</summary>
public static class DriftOutcome
{
    /// <summary>The device is as the model wants it.</summary>
    public const string None = "none";
    /// <summary>Differences found.</summary>
    public const string Drift = "drift";
    /// <summary>The agent never reported an inventory.</summary>
    public const string NoInventory = "no-inventory";
    /// <summary>The model cannot be rendered for the device.</summary>
    public const string Invalid = "invalid";
}

/// <summary>Model vs reality for one device.</summary>
/// <param name="Device">The device.</param>
/// <param name="Outcome">One of <see cref="DriftOutcome"/>.</param>
/// <param name="InModel">False for a device only the gateway still knows.</param>
/// <param name="CollectedAt">When the agent collected the inventory compared (its clock), null when unknown.</param>
/// <param name="Items">The differences, by kind then item.</param>
/// <param name="Note">Why there is nothing to compare, or a remark, for a human.</param>
public sealed record DeviceDrift(string Device, string Outcome, bool InModel, DateTimeOffset? CollectedAt, IReadOnlyList<DriftItem> Items, string? Note);

/// <summary>Drift of several devices against the model at <paramref name="ModelRevision"/>.</summary>
public sealed record DriftReport(long ModelRevision, IReadOnlyList<DeviceDrift> Devices)
{
    /// <summary>True when any device drifted.</summary>
    public bool HasDrift => Devices.Any(d => d.Outcome == DriftOutcome.Drift);

    /// <summary>True when any device could not be compared (no inventory, model errors).</summary>
    public bool HasErrors => Devices.Any(d => d.Outcome is DriftOutcome.NoInventory or DriftOutcome.Invalid);
}
