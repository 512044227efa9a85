namespace Rig.Contracts;

/// <summary>What a device is doing, as <c>rig status</c> counts it and <c>rig device list</c> shows it. Each device has
/// exactly one state, the first that applies in this order.</summary>
public static class DeviceStates
{
    /// <summary>It has no valid certificate (none issued, or all revoked) and its agent never came (or the gateway forgot
    /// it for a rebuild): enroll it (<c>rig device token</c>).</summary>
    public const string NeverEnrolled = "never-enrolled";

    /// <summary>Enrolled, but its agent's last request is older than the seen window (or it never came after enrolling).</summary>
    public const string NotSeen = "not-seen";

    /// <summary>Its latest queue is pending, running or waiting for a reboot.</summary>
    public const string Changing = "changing";

    /// <summary>Its latest queue failed.</summary>
    public const string Failed = "failed";

    /// <summary>Its latest queue succeeded.</summary>
    public const string InSync = "in-sync";

    /// <summary>It never had a queue, or its latest queue was cancelled.</summary>
    public const string NotConverged = "not-converged";
}

/// <summary>Devices by <see cref="DeviceStates"/>.</summary>
public sealed record DeviceStateCounts(int InSync, int Changing, int Failed, int NeverEnrolled, int NotSeen, int NotConverged);

/// <summary>A rollout in a line: where it stands.</summary>
/// <param name="Devices">Devices in the rollout.</param>
/// <param name="Done">Devices finished (succeeded or unchanged).</param>
/// <param name="Failed">Devices failed.</param>
public sealed record RolloutSummary(string Id, long Revision, string Status, string Reason, string CreatedBy, DateTimeOffset CreatedAt, int Devices, int Done, int Failed, string? Error);

/// <summary>One fact of a device: what the model says beside what the agent discovered.</summary>
/// <param name="Fact">e.g. <c>cpuCount</c>, <c>memoryMiB</c>, <c>disk sda</c>, <c>nic eth0</c>, <c>osFamily</c>, <c>os</c>.</param>
/// <param name="Model">The model's value, or null when the model does not set it.</param>
/// <param name="Discovered">What the agent reported, or null when it did not (no inventory; the sandbox reports no hardware).</param>
/// <param name="Differs">True when both are known and disagree (the same comparison as <c>rig drift</c>, tolerances included).</param>
public sealed record DeviceFact(string Fact, string? Model, string? Discovered, bool Differs);

/// <summary>A role the model assigns to a device.</summary>
public sealed record DeviceRoleView(string Name, string Kind, string Version);

/// <summary>A device's agent as the gateway knows it.</summary>
/// <param name="Certificate">The newest certificate issued to the device, or null when it never enrolled.</param>
public sealed record DeviceAgentView(string? Version, DateTimeOffset? LastSeenAt, DeviceCertificateView? Certificate);

/// <summary>An agent certificate: when it expires, whether it was revoked.</summary>
public sealed record DeviceCertificateView(string Serial, string Thumbprint, DateTimeOffset IssuedAt, DateTimeOffset NotAfter, DateTimeOffset? RevokedAt);

/// <summary>A finished command in a device's log: what ran, how it ended, its output.</summary>
/// <param name="Sequence">Position in the queue, from 0.</param>
/// <param name="Status"><c>succeeded</c> or <c>failed</c>.</param>
/// <param name="Output">The tail of its output as the agent reported it.</param>
public sealed record CommandLogEntry(string Id, int Sequence, int Of, string Kind, string Description, string Role, string Status, string? ErrorCode, string? Error, string? Output, long DurationMs, bool FromJournal);

/// <summary>A device's queue log: the finished commands after a cursor (<c>GET /api/v1/devices/{name}/log</c>).</summary>
/// <param name="Cursor">Pass it back as <c>cursor</c> to get only what came after.</param>
/// <param name="Finished">True when the queue is no longer active: nothing more will come.</param>
public sealed record DeviceLog(string Device, QueueView Queue, IReadOnlyList<CommandLogEntry> Commands, string Cursor, bool Finished);

/// <summary>One line of a followed log (<c>GET /api/v1/devices/{name}/log?follow=true</c>, NDJSON).</summary>
/// <param name="Type"><c>queue</c> (first: the queue as it is), <c>command</c> (a command finished), <c>end</c> (the queue
/// finished; the last line).</param>
/// <param name="Cursor">Resume after this line with <c>cursor</c>.</param>
public sealed record DeviceLogEvent(string Type, string Device, string Cursor, QueueView? Queue, CommandLogEntry? Command);
