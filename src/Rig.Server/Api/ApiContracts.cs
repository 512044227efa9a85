using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Api;

/// <summary>An API error: what went wrong, the offending value, what to do.</summary>
public sealed record ApiError(string Code, string Message, IReadOnlyList<ModelError>? Errors = null)
{
    /// <summary>What to do next, when the message does not say it.</summary>
    public string? Hint { get; init; }
}

/// <summary>Gateway status: what it is, and the fleet at a glance (<c>rig status</c>).</summary>
public sealed record StatusResponse(string Version, string AgentUrl, string CaPin, long ModelRevision, int Devices, int Packages, StoreStats Store, string Engine)
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
public sealed record ConvergeResponse(IReadOnlyList<ConvergeDeviceResult> Devices);

/// <summary>One device as the operator sees it.</summary>
public sealed record DeviceStatus(string Name, string? Site, string? Tier, bool InModel, DateTimeOffset? LastSeenAt, string? AgentVersion, QueueInfo? Queue)
{
    /// <summary>One of <see cref="DeviceStates"/>.</summary>
    public string State { get; init; } = Api.DeviceStates.NotConverged;
}

/// <summary>One device with its recorded state and latest queue's commands.</summary>
public sealed record DeviceDetail(DeviceStatus Status, RecordedState Recorded, InventoryReport? Inventory, IReadOnlyList<CommandInfo> Commands)
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
    public QueueInfo? PreviousQueue { get; init; }

    /// <summary>The commands of <see cref="PreviousQueue"/>, with their results.</summary>
    public IReadOnlyList<CommandInfo> PreviousCommands { get; init; } = [];
}

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
public sealed record DevicePlanReport(string Device, string Outcome, IReadOnlyList<PlanCommandView> Commands, IReadOnlyList<PlanFileDiff> Diffs, IReadOnlyList<ModelError> Errors, long DownloadBytes);

/// <summary>A whole plan: model errors, per-device plans, and the model objects that change.</summary>
public sealed record PlanReport(long BaseRevision, IReadOnlyList<ModelError> Errors, IReadOnlyList<DevicePlanReport> Devices, IReadOnlyList<ModelChange> ModelChanges)
{
    /// <summary>True when the model or any device plan has errors.</summary>
    public bool HasErrors => Errors.Count > 0 || Devices.Any(d => d.Errors.Count > 0);

    /// <summary>True when any device would change.</summary>
    public bool HasChanges => Devices.Any(d => d.Commands.Count > 0);
}

/// <summary>Result of an apply: the new revision and what changed.</summary>
public sealed record ApplyResponse(long Revision, bool Changed, IReadOnlyList<ModelChange> Changes);

/// <summary>A model revision as listed by history.</summary>
public sealed record RevisionView(long Revision, string Author, string Message, DateTimeOffset CreatedAt, int Changes);

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
