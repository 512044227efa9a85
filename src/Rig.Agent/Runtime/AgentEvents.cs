namespace Rig.Agent.Runtime;

/// <summary>Every event the agent logs, by name: the <c>event</c> of its log lines, which operators grep. One catalogue
/// for the assembly, as the gateway's <c>ServerLog</c> (the agent writes its own lines without Microsoft.Extensions.Logging,
/// for Native AOT: <see cref="AgentLog"/>); docs/OPERATIONS.md lists them all, and a test keeps the two in step. A name
/// never changes meaning. The level in each summary is the one the event is written at.</summary>
internal static class AgentEvents
{
    /// <summary>Info: the agent listens for pokes (address, port, gateway).</summary>
    public const string Listening = "listening";
    /// <summary>Info: the agent cannot be poked and asks on an interval instead.</summary>
    public const string Polling = "polling";
    /// <summary>Debug: a poke came in; the agent opens a new connection to its gateway.</summary>
    public const string Poked = "poked";
    /// <summary>Warning: accepting a poke connection failed; the listener carries on.</summary>
    public const string PokeAccept = "poke-accept";
    /// <summary>Warning: a request to the gateway failed in transport (retried with backoff).</summary>
    public const string GatewayUnavailable = "gateway-unavailable";
    /// <summary>Warning: the gateway has not answered for the unreachable deadline: what to check (the agent keeps trying).</summary>
    public const string GatewayUnreachable = "gateway-unreachable";
    /// <summary>Info: the gateway answers again after being unreachable.</summary>
    public const string GatewayReachable = "gateway-reachable";
    /// <summary>Warning: the gateway refused the request; the session ends.</summary>
    public const string Refused = "refused";
    /// <summary>Warning: the gateway needs the results of earlier commands before a reboot; the agent re-sends those its journal has.</summary>
    public const string MissingResults = "missing-results";
    /// <summary>Warning: the gateway does not know a command the agent reports (restored database, re-enrolled agent): the result is dropped.</summary>
    public const string DroppedResult = "dropped-result";
    /// <summary>Warning: the gateway answered "command" without one.</summary>
    public const string BadAnswer = "bad-answer";
    /// <summary>Debug: the queue answered "no command".</summary>
    public const string Idle = "idle";
    /// <summary>Info: a command finished.</summary>
    public const string Done = "done";
    /// <summary>Info: a command failed (its error goes to the gateway with the result).</summary>
    public const string Failed = "failed";
    /// <summary>Info: a command delivered again had already run: answered from the journal, not run twice.</summary>
    public const string Replayed = "replayed";
    /// <summary>Info: the agent reboots the device (the gateway recorded the reboot).</summary>
    public const string Rebooting = "rebooting";
    /// <summary>Info: the agent is back after a reboot command.</summary>
    public const string Rebooted = "rebooted";
    /// <summary>Warning: a reboot the agent started has not happened (same boot); it reboots again.</summary>
    public const string NotRebooted = "not-rebooted";
    /// <summary>Warning: a network change was rolled back at start (the gateway was not reachable through it).</summary>
    public const string NetworkRecovered = "network-recovered";
    /// <summary>Info: the agent's program was replaced (an upgrade); it exits so the new version starts.</summary>
    public const string Restarting = "restarting";
    /// <summary>Warning: the inventory could not be collected; it goes with the next check-in.</summary>
    public const string InventoryFailed = "inventory-failed";
    /// <summary>Debug: results could not be marked reported in the journal (they are sent again; the gateway ignores replays).</summary>
    public const string Journal = "journal";
    /// <summary>Warning: the device's disk is full: the journal (or a result) could not be written.</summary>
    public const string DiskFull = Platform.DiskFull.Code;
    /// <summary>Warning: another I/O error writing the journal.</summary>
    public const string IoError = "io-error";
    /// <summary>Error: the agent stops on an error (bad configuration, a refused enrollment).</summary>
    public const string AgentError = "agent-error";
}
