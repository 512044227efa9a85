namespace Rig.Server.Services;

/// <summary>Who is calling the operator door: today the operator named by the API token that authenticated the
/// request (<c>Api/OperatorApi.Auth.cs</c>). Every service method takes one, so rights can be checked where the work is.</summary>
/// <param name="Name">The operator's name, as recorded with revisions, rollouts and scripts.</param>
internal sealed record Caller(string Name);

/// <summary>The one seam where operator rights will live (DESIGN.md, <em>Trust</em>: one predicate answers both "may this
/// operator call this?" and "which rows may this operator see?"). Every service method passes its caller through
/// <see cref="Allow"/>, and every list it returns through <see cref="Visible"/>. Today any authenticated operator may do
/// and see everything: both allow all. The rights model itself is the next issue's.</summary>
internal sealed class OperatorAccess
{
    /// <summary>Check that <paramref name="caller"/> may perform <paramref name="action"/> (the audit log's action name,
    /// e.g. <c>rollout.start</c>, <c>device.read</c>) on <paramref name="device"/> (null: not about one device). Today: allowed.</summary>
    public void Allow(Caller caller, string action, string? device = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentException.ThrowIfNullOrEmpty(action);
        _ = device;
    }

    /// <summary>The rows of a list that <paramref name="caller"/> may see; <paramref name="deviceOf"/> names the device a
    /// row is about (null: a row about no single device). Today: every row.</summary>
    public IReadOnlyList<T> Visible<T>(Caller caller, IEnumerable<T> rows, Func<T, string?> deviceOf)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(deviceOf);
        return [.. rows];
    }
}
