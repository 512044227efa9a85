namespace Rig.Server.Gateway;

/// <summary>A queue's state. Active: <see cref="Pending"/>, <see cref="Running"/>, <see cref="Rebooting"/>; a device has at
/// most one active queue.</summary>
internal enum QueueState
{
    /// <summary>Created, nothing delivered yet.</summary>
    Pending,
    /// <summary>Commands are being delivered.</summary>
    Running,
    /// <summary>A reboot was acknowledged; waiting for "rebooted".</summary>
    Rebooting,
    /// <summary>Every command succeeded.</summary>
    Succeeded,
    /// <summary>A command failed (or was never taken in time); the rest was not sent.</summary>
    Failed,
    /// <summary>Cancelled by an operator; nothing new is sent.</summary>
    Cancelled,
}

/// <summary>A command's state.</summary>
internal enum CommandState
{
    /// <summary>Not delivered yet (or delivered after a failed one in the same answer, so it never ran).</summary>
    Pending,
    /// <summary>Delivered; no result yet.</summary>
    Sent,
    /// <summary>A reboot the agent accepted; done when the agent says "rebooted".</summary>
    Rebooting,
    /// <summary>Done.</summary>
    Succeeded,
    /// <summary>Failed.</summary>
    Failed,
}

/// <summary>The states by the names the database stores and the operator API shows (<see cref="Rig.Contracts.QueueStates"/>,
/// <see cref="Rig.Contracts.CommandStates"/>), and the one list of active queue states the SQL uses.</summary>
internal static class QueueStateNames
{
    /// <summary>True for pending, running and rebooting.</summary>
    public static bool IsActive(this QueueState state) => state is QueueState.Pending or QueueState.Running or QueueState.Rebooting;

    /// <summary>True for a command that has not ended: pending or sent (a reboot in progress has been accepted).</summary>
    public static bool IsOpen(this CommandState state) => state is CommandState.Pending or CommandState.Sent;

    /// <summary>Stored name (<c>running</c>).</summary>
    public static string Name(this QueueState state) => state switch
    {
        QueueState.Pending => Rig.Contracts.QueueStates.Pending,
        QueueState.Running => Rig.Contracts.QueueStates.Running,
        QueueState.Rebooting => Rig.Contracts.QueueStates.Rebooting,
        QueueState.Succeeded => Rig.Contracts.QueueStates.Succeeded,
        QueueState.Failed => Rig.Contracts.QueueStates.Failed,
        QueueState.Cancelled => Rig.Contracts.QueueStates.Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>Stored name (<c>sent</c>).</summary>
    public static string Name(this CommandState state) => state switch
    {
        CommandState.Pending => Rig.Contracts.CommandStates.Pending,
        CommandState.Sent => Rig.Contracts.CommandStates.Sent,
        CommandState.Rebooting => Rig.Contracts.CommandStates.Rebooting,
        CommandState.Succeeded => Rig.Contracts.CommandStates.Succeeded,
        CommandState.Failed => Rig.Contracts.CommandStates.Failed,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>A queue state from its stored name.</summary>
    public static QueueState ParseQueue(string name) => name switch
    {
        Rig.Contracts.QueueStates.Pending => QueueState.Pending,
        Rig.Contracts.QueueStates.Running => QueueState.Running,
        Rig.Contracts.QueueStates.Rebooting => QueueState.Rebooting,
        Rig.Contracts.QueueStates.Succeeded => QueueState.Succeeded,
        Rig.Contracts.QueueStates.Failed => QueueState.Failed,
        Rig.Contracts.QueueStates.Cancelled => QueueState.Cancelled,
        _ => throw new InvalidOperationException($"Unknown queue state '{name}' in the database."),
    };

    /// <summary>A command state from its stored name.</summary>
    public static CommandState ParseCommand(string name) => name switch
    {
        Rig.Contracts.CommandStates.Pending => CommandState.Pending,
        Rig.Contracts.CommandStates.Sent => CommandState.Sent,
        Rig.Contracts.CommandStates.Rebooting => CommandState.Rebooting,
        Rig.Contracts.CommandStates.Succeeded => CommandState.Succeeded,
        Rig.Contracts.CommandStates.Failed => CommandState.Failed,
        _ => throw new InvalidOperationException($"Unknown command state '{name}' in the database."),
    };

    /// <summary><c>('pending', 'running', 'rebooting')</c>: the active states, for SQL.</summary>
    public static readonly string ActiveSql = $"('{QueueState.Pending.Name()}', '{QueueState.Running.Name()}', '{QueueState.Rebooting.Name()}')";

    /// <summary><c>('pending', 'running')</c>: active queues with commands still to send (not waiting for a reboot).</summary>
    public static readonly string WorkSql = $"('{QueueState.Pending.Name()}', '{QueueState.Running.Name()}')";
}
