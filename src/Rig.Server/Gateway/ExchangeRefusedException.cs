using Rig.Protocol.Errors;

namespace Rig.Server.Gateway;

/// <summary>The gateway refuses an agent's request: the request is wrong (or not this device's), so sending it again
/// unchanged cannot help. The HTTP status is chosen from <see cref="Refusal"/> once, at the agent endpoint.</summary>
internal sealed class ExchangeRefusedException(RefusalCode refusal, string message) : RigException(refusal.Wire(), message, retrySafe: false)
{
    /// <summary>Why.</summary>
    public RefusalCode Refusal { get; } = refusal;

    /// <summary>With <see cref="RefusalCode.MissingResults"/>: the commands whose results the gateway needs first.</summary>
    public IReadOnlyList<string>? Missing { get; init; }
}
