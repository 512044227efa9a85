using Rig.Protocol.Errors;

namespace Rig.Server.Gateway;

/// <summary>What kind of refusal an operator's request met. The gateway says which; the operator API alone turns it
/// into an HTTP status (<see cref="Api.ApiErrors.StatusOf"/>).</summary>
internal enum OperatorRefusal
{
    /// <summary>The request itself is wrong (a bad value, a selector that matches nothing): change it.</summary>
    Invalid,
    /// <summary>It names something that does not exist (a revision, a rollout).</summary>
    NotFound,
    /// <summary>It conflicts with what is running now (devices in another rollout, a rollout already running).</summary>
    Conflict,
}

/// <summary>A rollout request that cannot be started: what was wrong and what to do. Not retry-safe: the same request
/// meets the same refusal until the operator changes it or what it conflicts with.</summary>
internal sealed class RolloutRefusedException(string code, string message, OperatorRefusal refusal) : RigException(code, message, retrySafe: false)
{
    /// <summary>Why, for the HTTP status.</summary>
    public OperatorRefusal Refusal { get; } = refusal;
}
