using Rig.Server.Security;

namespace Rig.Server.Services;

/// <summary>Who is calling the operator door: the operator named by the token that authenticated the request
/// (<c>Api/OperatorApi.Auth.cs</c>), with the grants of their teams and where the current model's objects lie, both read
/// when the request arrived. Every service method takes one, so rights are checked where the work is.</summary>
/// <param name="Name">The operator's name, as recorded with revisions, rollouts, approvals, scripts and audit entries.</param>
internal sealed record Caller(string Name)
{
    /// <summary>The name of the token used (for the audit log).</summary>
    public string? Token { get; init; }

    /// <summary>The teams the operator belongs to.</summary>
    public IReadOnlyList<string> Teams { get; init; } = [];

    /// <summary>The live grants of those teams.</summary>
    public IReadOnlyList<Grant> Grants { get; init; } = [];

    /// <summary>Where the objects of the current model lie (read once per request).</summary>
    public ModelPlaces Places { get; init; } = ModelPlaces.Empty;
}
