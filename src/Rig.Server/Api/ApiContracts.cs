using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Api;

/// <summary>An API error: what went wrong, the offending value, what to do.</summary>
public sealed record ApiError(string Code, string Message, IReadOnlyList<ModelError>? Errors = null);

/// <summary>Gateway status.</summary>
public sealed record StatusResponse(string Version, string AgentUrl, string CaPin, long ModelRevision, int Devices, int Packages);

/// <summary>Result of saving the model.</summary>
public sealed record ModelPutResponse(long Revision, bool Changed, int Added, int Modified, int Removed);

/// <summary>Request to converge devices (all when empty).</summary>
public sealed record ConvergeRequest(IReadOnlyList<string>? Devices, string? Reason);

/// <summary>Result of a converge.</summary>
public sealed record ConvergeResponse(IReadOnlyList<ConvergeDeviceResult> Devices);

/// <summary>One device as the operator sees it.</summary>
public sealed record DeviceStatus(string Name, string? Site, string? Tier, bool InModel, DateTimeOffset? LastSeenAt, string? AgentVersion, QueueInfo? Queue);

/// <summary>One device with its recorded state and latest queue's commands.</summary>
public sealed record DeviceDetail(DeviceStatus Status, RecordedState Recorded, InventoryReport? Inventory, IReadOnlyList<CommandInfo> Commands);

/// <summary>Result of importing a package.</summary>
public sealed record PackageAddResponse(PackageInfo Package, bool AlreadyPresent);
