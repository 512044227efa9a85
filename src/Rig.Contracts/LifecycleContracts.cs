using Rig.Model.Planning;
using Rig.Protocol.Messages;

namespace Rig.Contracts;

/// <summary>Gateway store counters, for benchmarks and <c>rig status</c>.</summary>
/// <param name="Exchanges">Agent exchanges recorded.</param>
/// <param name="Commits">Transactions committed for them.</param>
/// <param name="Batches">Group-commit batches.</param>
/// <param name="LargestBatch">The most exchanges one batch held.</param>
public sealed record StoreStatsView(long Exchanges, long Commits, long Batches, long LargestBatch);

/// <summary>A model object that differs between two revisions (or between the model and a proposal).</summary>
/// <param name="Kind"><c>device</c>, <c>role</c>, <c>assignment</c>, ...</param>
/// <param name="Change"><c>added</c>, <c>changed</c> or <c>removed</c>.</param>
/// <param name="Before">Its JSON before, null when added.</param>
/// <param name="After">Its JSON after, null when removed.</param>
public sealed record ModelChangeView(string Kind, string Name, string Change, string? Before, string? After);

/// <summary>A new enrollment token, shown once, with what an agent needs beside it: the gateway's agent URL and the CA pin.</summary>
public sealed record EnrollmentTokenView(string Device, string Token, string CaPin, DateTimeOffset ExpiresAt, string? AgentUrl = null);

/// <summary>What converging one device did.</summary>
/// <param name="Outcome"><c>queued</c>, <c>unchanged</c>, <c>busy</c> (another queue is active) or <c>invalid</c>.</param>
/// <param name="QueueId">The new queue, or the blocking one when busy.</param>
/// <param name="Commands">Number of commands queued.</param>
/// <param name="Errors">Plan errors when invalid or busy.</param>
/// <param name="Poked">True when the agent was poked.</param>
public sealed record ConvergeDeviceView(string Device, string Outcome, string? QueueId, int Commands, IReadOnlyList<ModelError> Errors, bool Poked);

/// <summary>Scale out: a new device like the one named in the path.</summary>
/// <param name="Name">The new device's name.</param>
/// <param name="Hostname">Its host name (default: derived from the source's).</param>
/// <param name="Addresses">Its IP addresses (required when the source has addresses).</param>
/// <param name="Macs">MAC addresses for the source's network interfaces, in order (interfaces without one are left out until discovery reports them).</param>
/// <param name="Message">Why (recorded with the revision).</param>
public sealed record CloneDeviceRequest(string Name, string? Hostname, IReadOnlyList<string>? Addresses, IReadOnlyList<string>? Macs, string? Message);

/// <summary>A lifecycle step (clone, decommission, rebuild, a stored script's run) that changed the model and/or started work.</summary>
/// <param name="Revision">The model revision it made (0 when the model did not change).</param>
/// <param name="Changes">Model objects it changed.</param>
/// <param name="Errors">Why nothing was done.</param>
/// <param name="Rollout">The rollout it started, if any.</param>
/// <param name="Queues">Queues it created directly (rebuild, scripts).</param>
/// <param name="Token">An enrollment token (rebuild).</param>
public sealed record LifecycleResponse(long Revision, IReadOnlyList<ModelChangeView> Changes, IReadOnlyList<ModelError> Errors, RolloutView? Rollout,
    IReadOnlyList<ConvergeDeviceView> Queues, EnrollmentTokenView? Token);

/// <summary>A script to store.</summary>
public sealed record ScriptRequest(string? Description, IReadOnlyList<CommandSpec> Commands);

/// <summary>Where to run a script.</summary>
public sealed record ScriptRunRequest(string? Devices);

/// <summary>A stored script: a named list of commands an operator may run on devices.</summary>
public sealed record ScriptView(string Name, string Description, IReadOnlyList<CommandSpec> Commands, string CreatedBy, DateTimeOffset UpdatedAt);
