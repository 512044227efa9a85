namespace Rig.Contracts;

/// <summary>A request to roll out a revision.</summary>
/// <param name="Revision">Model revision (null: the current one).</param>
/// <param name="Devices">Device selector (names, globs, key=value; null: all).</param>
/// <param name="Canary">Devices in the first wave, alone.</param>
/// <param name="Batch">Devices per later wave: a number or a percentage of all devices.</param>
/// <param name="MaxParallel">Queues running at once.</param>
/// <param name="MaxFailures">Failed devices tolerated before the rollout pauses itself.</param>
/// <param name="Reason">Why (kept with the rollout and its queues).</param>
/// <param name="DeviceTimeout">How long a device's agent may take to ask for its queue before the device fails
/// (<c>90s</c>, <c>30m</c>, <c>2h</c>; null: the gateway's default).</param>
public sealed record RolloutStartRequest(long? Revision, string? Devices, int Canary = 0, string Batch = "100%", int MaxParallel = 50, int MaxFailures = 0, string? Reason = null,
    string? DeviceTimeout = null);

/// <summary>The states of a rollout (<see cref="RolloutView.Status"/>). Active: running, paused.</summary>
public static class RolloutStates
{
    /// <summary>Waves are being started.</summary>
    public const string Running = "running";
    /// <summary>Paused by an operator or by the failure threshold: running queues finish, nothing new starts.</summary>
    public const string Paused = "paused";
    /// <summary>Cancelled: queues of the rollout were cancelled, nothing new starts.</summary>
    public const string Cancelled = "cancelled";
    /// <summary>Every device finished without failure.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>Every device finished, some failed (within the threshold).</summary>
    public const string Failed = "failed";

    /// <summary>True for running and paused.</summary>
    public static bool IsActive(string status) => status is Running or Paused;
}

/// <summary>The rollout's own bookkeeping of a device (<see cref="RolloutDeviceView.Status"/>); operators act on
/// <see cref="RolloutDeviceStates"/>. Active: waiting, blocked, queued.</summary>
public static class RolloutDeviceStatuses
{
    /// <summary>Its wave has not started yet.</summary>
    public const string Waiting = "waiting";
    /// <summary>Its wave started but the device has another active queue; it waits for it.</summary>
    public const string Blocked = "blocked";
    /// <summary>Its queue runs.</summary>
    public const string Queued = "queued";
    /// <summary>Queue succeeded.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>Nothing to do: the device already matches the revision.</summary>
    public const string Unchanged = "unchanged";
    /// <summary>Queue failed, the plan had errors, or the agent did not ask for its queue within the device timeout.</summary>
    public const string Failed = "failed";
    /// <summary>Cancelled before or while running.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>True for waiting, blocked and queued.</summary>
    public static bool IsActive(string status) => status is Waiting or Blocked or Queued;

    /// <summary>True when the device is done in this rollout.</summary>
    public static bool IsFinished(string status) => !IsActive(status);
}

/// <summary>What an operator sees of a device in a rollout (<see cref="RolloutDeviceView.State"/>): its bookkeeping
/// refined by its queue and its agent. Each says what to do (docs/OPERATIONS.md, *Rollouts*).</summary>
public static class RolloutDeviceStates
{
    /// <summary>Its wave has not started yet (or the rollout is paused before it).</summary>
    public const string Pending = "pending";
    /// <summary>Its wave started, but the device has another active queue (a script, a converge); it waits for it.</summary>
    public const string Blocked = "blocked";
    /// <summary>Its queue exists and its agent, seen recently, has not asked for it yet (it is being poked).</summary>
    public const string Queued = "queued";
    /// <summary>Its queue exists and its agent cannot be expected to ask for it: never enrolled, certificates revoked,
    /// never connected, or not seen for a while; the detail says which.</summary>
    public const string WaitingForAgent = "waiting-for-agent";
    /// <summary>Its agent is running the queue.</summary>
    public const string Running = "running";
    /// <summary>Its agent accepted a reboot and has not come back yet.</summary>
    public const string Rebooting = "rebooting";
    /// <summary>Its queue succeeded.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>Nothing to do: the device already matches the revision; it is in no wave and sent nothing.</summary>
    public const string Unchanged = "unchanged";
    /// <summary>Its queue failed, its plan had errors, or its agent did not answer within the device timeout.</summary>
    public const string Failed = "failed";
    /// <summary>Cancelled before or while running.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Every state, in the order a device goes through them.</summary>
    public static IReadOnlyList<string> All { get; } = [Pending, Blocked, Queued, WaitingForAgent, Running, Rebooting, Succeeded, Unchanged, Failed, Cancelled];
}

/// <summary>A device's place and state in a rollout.</summary>
/// <param name="Wave">Its wave, or null when it had nothing to do when the rollout started (unchanged, in no wave).</param>
/// <param name="Status">The rollout's own bookkeeping (<see cref="RolloutDeviceStatuses"/>).</param>
/// <param name="Detail">Why: a failure's error, what blocks it, whom it waits for.</param>
/// <param name="State">What an operator acts on (<see cref="RolloutDeviceStates"/>).</param>
/// <param name="LastSeenAt">When the device's agent last talked to the gateway (null: never).</param>
public sealed record RolloutDeviceView(string Device, int Position, int? Wave, string Status, string? QueueId, string? Detail, string? State = null, DateTimeOffset? LastSeenAt = null);

/// <summary>A rollout with its devices.</summary>
/// <param name="Status">One of <see cref="RolloutStates"/>.</param>
/// <param name="Purpose">Set when a lifecycle step started it (decommission), null for an operator's rollout.</param>
/// <param name="DeviceTimeout">How long a device's agent may take to ask for its queue (<c>30m</c>, <c>90s</c>) before the device fails.</param>
public sealed record RolloutView(string Id, long Rev, string Selector, int Canary, string Batch, int MaxParallel, int MaxFailures, string Status, string Reason,
    string CreatedBy, string? Error, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt, IReadOnlyList<RolloutDeviceView> Devices, string? Purpose = null,
    string? DeviceTimeout = null)
{
    /// <summary>Number of waves (devices with nothing to do are in none).</summary>
    public int Waves => Devices.Max(d => d.Wave) is { } last ? last + 1 : 0;

    /// <summary>Devices by state in one line ("3 succeeded, 1 failed, 2 unchanged"), or that there was nothing to change.</summary>
    public string Summary => Devices.Count > 0 && Devices.All(d => d.Status == RolloutDeviceStatuses.Unchanged)
        ? $"nothing to change: {(Devices.Count == 1 ? "the device already matches" : $"all {Devices.Count} devices already match")} revision {Rev}"
        : string.Join(", ", RolloutDeviceStates.All.Select(s => (State: s, Count: Devices.Count(d => (d.State ?? d.Status) == s))).Where(x => x.Count > 0).Select(x => $"{x.Count} {x.State}"));
}
