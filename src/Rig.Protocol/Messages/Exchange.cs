using System.Text.Json.Serialization;

namespace Rig.Protocol.Messages;

/// <summary>How a command ended on the agent.</summary>
[JsonConverter(typeof(WireEnumConverter<CommandOutcome>))]
public enum CommandOutcome
{
    /// <summary>Done.</summary>
    Succeeded,
    /// <summary>Failed; the queue stops.</summary>
    Failed,
    /// <summary>A reboot command was accepted; the device is going down. The gateway answers nothing more.</summary>
    Rebooting,
}

/// <summary>The result of one command, as journaled by the agent before it is reported.</summary>
public sealed record CommandResult
{
    /// <summary>The command this result is for.</summary>
    public required string CommandId { get; init; }

    /// <summary>How it ended.</summary>
    public required CommandOutcome Outcome { get; init; }

    /// <summary>What went wrong, for a human (the offending value and what to do).</summary>
    public string? Error { get; init; }

    /// <summary>A stable machine-readable error code (e.g. <c>digest-mismatch</c>).</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Tail of the command's output, at most <see cref="RigLimits.MaxOutputChars"/>.</summary>
    public string? Output { get; init; }

    /// <summary>Wall time the command took on the agent.</summary>
    public long DurationMs { get; init; }

    /// <summary>True when the agent answered from its journal instead of running the command (a re-delivery).</summary>
    public bool FromJournal { get; init; }

    /// <summary>For <c>inventory</c>: what the device has.</summary>
    public InventoryReport? Inventory { get; init; }
}

/// <summary>Why the agent is asking.</summary>
[JsonConverter(typeof(WireEnumConverter<InquiryReason>))]
public enum InquiryReason
{
    /// <summary>It was poked.</summary>
    Poke,
    /// <summary>Polling mode interval.</summary>
    Poll,
    /// <summary>The agent started.</summary>
    Startup,
    /// <summary>Periodic check-in.</summary>
    CheckIn,
    /// <summary>It reports a result and asks for the next command.</summary>
    Continue,
}

/// <summary>Agent to gateway: optionally the result of the previous command, and a request for the next.</summary>
public sealed record ExchangeRequest
{
    /// <summary>Protocol version the agent speaks.</summary>
    public required int ProtocolVersion { get; init; }

    /// <summary>The device the agent believes it is; must match the client certificate or the request is refused.</summary>
    public required string Device { get; init; }

    /// <summary>Unique per logical request; a retry of the same request reuses it (logs correlate on it).</summary>
    public required string RequestId { get; init; }

    /// <summary>Why the agent asks.</summary>
    public InquiryReason Reason { get; init; }

    /// <summary>The agent's version.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>Port of the agent's poke listener, or null in polling mode. The gateway pairs it with the
    /// address the connection came from, unless <see cref="PokeHost"/> names one.</summary>
    public int? PokePort { get; init; }

    /// <summary>Host the gateway should poke, when it differs from the connection's source address.</summary>
    public string? PokeHost { get; init; }

    /// <summary>Result of the command last received.</summary>
    public CommandResult? Result { get; init; }

    /// <summary>Results of several commands received together, in the order they ran (after <see cref="Result"/>).
    /// The agent stops at the first failure or reboot; commands it did not run are delivered again.</summary>
    public IReadOnlyList<CommandResult>? Results { get; init; }

    /// <summary>Every result this request reports, in order: <see cref="Result"/>, then <see cref="Results"/>.</summary>
    [JsonIgnore]
    public IEnumerable<CommandResult> AllResults => (Result is null ? [] : new[] { Result }).Concat(Results ?? []);

    /// <summary>How many commands the agent takes in one answer (null: one). Fewer round trips per queue; each
    /// command still has its own journal entries.</summary>
    public int? MaxCommands { get; init; }

    /// <summary>The id of a reboot command that has now completed (the device came back).</summary>
    public string? Rebooted { get; init; }

    /// <summary>What the device has now: sent with the start-up and check-in inquiries and once after each queue
    /// (docs/PROTOCOL.md "Inventory"). The gateway stores it unless a queue is running for the device.</summary>
    public InventoryReport? Inventory { get; init; }

    /// <summary>False when the agent only reports (it is about to reboot or stop).</summary>
    // `set`, not `init`: for init-only members the JSON source generator passes default(T) when the member is
    // absent, which would overwrite the default below (absent must mean the default, not null/false).
    public bool Inquire { get; set; } = true;
}

/// <summary>What the gateway answers.</summary>
[JsonConverter(typeof(WireEnumConverter<ExchangeAnswer>))]
public enum ExchangeAnswer
{
    /// <summary>Here is the next command.</summary>
    Command,
    /// <summary>Nothing to do; close the session.</summary>
    NoCommand,
    /// <summary>The reboot was recorded; the gateway expects "rebooted" next and sends nothing now.</summary>
    RebootAcknowledged,
}

/// <summary>Gateway to agent: the next command or "no command".</summary>
public sealed record ExchangeResponse
{
    /// <summary>The answer.</summary>
    public required ExchangeAnswer Answer { get; init; }

    /// <summary>The next command when <see cref="Answer"/> is <see cref="ExchangeAnswer.Command"/>.</summary>
    public Command? Command { get; init; }

    /// <summary>Further commands to run after <see cref="Command"/>, in order (only when the agent asked for more
    /// than one). A reboot is always the last command of an answer.</summary>
    public IReadOnlyList<Command>? More { get; init; }
}

/// <summary>An error from the gateway: what went wrong and whether a retry can help. <paramref name="Missing"/> comes
/// with <c>missing-results</c>: the commands whose results the gateway needs before it can record the request.</summary>
public sealed record ErrorResponse(string Code, string Message, bool Retryable, IReadOnlyList<string>? Missing = null);
