using Rig.Protocol.Messages;

namespace Rig.Contracts;

/// <summary>The states of a queue (<see cref="QueueView.Status"/>). Active: pending, running, rebooting.</summary>
public static class QueueStates
{
    /// <summary>Created, nothing delivered yet.</summary>
    public const string Pending = "pending";
    /// <summary>Commands are being delivered.</summary>
    public const string Running = "running";
    /// <summary>A reboot was acknowledged; waiting for "rebooted".</summary>
    public const string Rebooting = "rebooting";
    /// <summary>Every command succeeded.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>A command failed; the rest was not sent.</summary>
    public const string Failed = "failed";
    /// <summary>Cancelled by an operator; nothing new is sent.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>True for pending, running and rebooting.</summary>
    public static bool IsActive(string status) => status is Pending or Running or Rebooting;
}

/// <summary>The states of a command (<see cref="CommandView.Status"/>).</summary>
public static class CommandStates
{
    /// <summary>Not delivered yet.</summary>
    public const string Pending = "pending";
    /// <summary>Delivered; no result yet.</summary>
    public const string Sent = "sent";
    /// <summary>A reboot command the agent accepted; done when the agent says "rebooted".</summary>
    public const string Rebooting = "rebooting";
    /// <summary>Done.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>Failed.</summary>
    public const string Failed = "failed";
}

/// <summary>A device's command queue: where it stands.</summary>
/// <param name="Status">One of <see cref="QueueStates"/>.</param>
/// <param name="Position">Commands finished so far.</param>
/// <param name="Length">Commands in the queue.</param>
/// <param name="ModelRev">The model revision it was planned from, when it was.</param>
public sealed record QueueView(string Id, string Device, string Status, int Position, int Length, string Reason, string? Error, long? ModelRev,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt);

/// <summary>A command of a queue with its state and result.</summary>
/// <param name="Sequence">Position in the queue, from 0.</param>
/// <param name="Status">One of <see cref="CommandStates"/>.</param>
/// <param name="Deliveries">How many times it was sent to the agent.</param>
public sealed record CommandView(string Id, string QueueId, int Sequence, string Kind, string Role, string Reason, string Status, int Deliveries, CommandSpec Spec, CommandResult? Result);

/// <summary>A queue with its commands and their results.</summary>
public sealed record QueueDetail(QueueView Queue, IReadOnlyList<CommandView> Commands);
