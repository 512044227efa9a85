using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>The trust hierarchy: who the caller is, operator tokens, teams and grants (docs/SECURITY.md).</summary>
    private static void MapTrust(RouteGroupBuilder api, OperatorServices services)
    {
        var trust = services.Trust;

        api.MapGet("/whoami", (HttpContext context) => Results.Json(trust.WhoAmI(CallerOf(context))))
            .Documented<WhoAmIView>("whoAmI", 200).WithSummary("The caller: operator, token, teams and the grants they hold.");

        api.MapGet("/tokens", async (HttpContext context, CancellationToken ct) => Results.Json(await trust.ListTokensAsync(CallerOf(context), ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<TokenView>>("listTokens", 200).WithSummary("Operator tokens (never their secrets): all with manage-trust, otherwise the caller's own.");

        api.MapPost("/tokens", async (TokenCreateRequest request, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.CreateTokenAsync(CallerOf(context), request, ct).ConfigureAwait(false), statusCode: 201))
            .Documented<TokenCreated>("createToken", 201, [.. JsonBodyErrors, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict])
            .WithSummary("Make an operator token (shown once). For oneself by anyone; for another operator, or joining a team, with manage-trust.");

        api.MapPost("/tokens/{name}/revoke", async (string name, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.RevokeTokenAsync(CallerOf(context), name, ct).ConfigureAwait(false)))
            .Documented<TokenView>("revokeToken", 200, StatusCodes.Status404NotFound).WithSummary("Revoke a live token: one's own, or anyone's with manage-trust.");

        api.MapGet("/teams", async (HttpContext context, CancellationToken ct) => Results.Json(await trust.ListTeamsAsync(CallerOf(context), ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<TeamView>>("listTeams", 200).WithSummary("Teams and their members (manage-trust).");

        api.MapPost("/teams", async (TeamCreateRequest request, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.CreateTeamAsync(CallerOf(context), request, ct).ConfigureAwait(false), statusCode: 201))
            .Documented<TeamView>("createTeam", 201, [.. JsonBodyErrors, StatusCodes.Status409Conflict]).WithSummary("Make a team (manage-trust).");

        api.MapDelete("/teams/{name}", async (string name, HttpContext context, CancellationToken ct) =>
        {
            await trust.DeleteTeamAsync(CallerOf(context), name, ct).ConfigureAwait(false);
            return Results.NoContent();
        }).DocumentedNoContent("deleteTeam", StatusCodes.Status404NotFound, StatusCodes.Status409Conflict).WithSummary("Delete a team without members and live grants (manage-trust).");

        api.MapPut("/teams/{name}/members/{operator}", async (string name, string @operator, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.AddMemberAsync(CallerOf(context), name, @operator, ct).ConfigureAwait(false)))
            .Documented<TeamView>("addTeamMember", 200, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("Add an operator to a team (manage-trust).");

        api.MapDelete("/teams/{name}/members/{operator}", async (string name, string @operator, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.RemoveMemberAsync(CallerOf(context), name, @operator, ct).ConfigureAwait(false)))
            .Documented<TeamView>("removeTeamMember", 200, StatusCodes.Status404NotFound).WithSummary("Remove an operator from a team (manage-trust).");

        api.MapGet("/grants", async (bool? history, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.ListGrantsAsync(CallerOf(context), history ?? false, ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<GrantView>>("listGrants", 200, QueryErrors).WithSummary("Live grants, or with history=true every version with who, when and why (manage-trust).");

        api.MapPost("/grants", async (GrantRequest request, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.AddGrantAsync(CallerOf(context), request, ct).ConfigureAwait(false), statusCode: 201))
            .Documented<GrantView>("addGrant", 201, [.. JsonBodyErrors, StatusCodes.Status404NotFound]).WithSummary("Give (or deny) a team verbs on a scope, with a reason (manage-trust).");

        api.MapPost("/grants/{id}/revoke", async (long id, string? message, HttpContext context, CancellationToken ct) =>
            Results.Json(await trust.RevokeGrantAsync(CallerOf(context), id, message, ct).ConfigureAwait(false)))
            .Documented<GrantView>("revokeGrant", 200, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("Revoke a live grant, with a reason (manage-trust).");
    }
}
