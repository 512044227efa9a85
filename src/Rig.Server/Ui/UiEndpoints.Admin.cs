using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Rig.Model.Domain;
using Rig.Server.Security;
using Rig.Server.Services;
using Rig.Server.Ui.Components;

namespace Rig.Server.Ui;

/// <summary>One page of the package store as the operator sees it, filtered by <paramref name="Query"/>.</summary>
public sealed record PackagesData(IReadOnlyList<PackageInfo> Packages, int Matching, int Total, string? Query, int Page, int Pages);

/// <summary>Teams, grants and tokens: <paramref name="Teams"/> and <paramref name="Grants"/> are null for an operator
/// without manage-trust (they see their own tokens only). <paramref name="Created"/> is a token just made, shown once.</summary>
public sealed record TrustData(IReadOnlyList<TokenView> Tokens, IReadOnlyList<TeamView>? Teams, IReadOnlyList<GrantView>? Grants, bool History,
    TrustChoices Choices, TokenCreated? Created);

/// <summary>What the grant form offers: the verbs and the model's customers, sites and role kinds.</summary>
public sealed record TrustChoices(IReadOnlyList<string> Verbs, IReadOnlyList<string> Customers, IReadOnlyList<string> Sites, IReadOnlyList<string> Kinds);

/// <summary>The enrollment page: devices of the model the operator may enroll (filtered by <paramref name="Query"/>,
/// at most <see cref="UiEndpoints.EnrollmentListed"/>), and a token just made with the lines to run on the device.</summary>
public sealed record EnrollmentData(IReadOnlyList<string> Devices, int Matching, string? Query, string? Selected, EnrollmentTokenView? Created, string? AgentUrl);

internal static partial class UiEndpoints
{
    /// <summary>Packages per page of the package list.</summary>
    internal const int PackagesPerPage = 100;

    /// <summary>Devices offered at most in the enrollment form's list; past that, the operator narrows it with the filter.</summary>
    internal const int EnrollmentListed = 500;

    static partial void MapAdminPages(WebApplication app, OperatorServices services, UiSessions sessions)
    {
        app.MapGet(Prefix + "/packages", (HttpContext context, string? q, int? page, CancellationToken ct) => PackagesAsync(context, services, q, page, ct));

        app.MapGet(Prefix + "/trust", (HttpContext context, string? history, CancellationToken ct) => TrustAsync(context, services, history is "1" or "true", null, ct));
        // A token's secret is only ever in the answer to the POST that made it: a GET of that address is the page without it.
        app.MapGet(Prefix + "/trust/tokens", () => SeeOther(Prefix + "/trust"));
        app.MapPost(Prefix + "/trust/tokens", (HttpContext context, CancellationToken ct) => CreateTokenAsync(context, services, ct));
        app.MapPost(Prefix + "/trust/tokens/{name}/revoke", (string name, HttpContext context, CancellationToken ct) =>
            ActAsync(context, services.Audit, "token.revoke", $"name={name}", null, Prefix + "/trust", async caller =>
            {
                var revoked = await services.Trust.RevokeTokenAsync(caller, name, ct).ConfigureAwait(false);
                return $"Token '{revoked.Name}' of {revoked.Operator} revoked: it no longer signs in nor calls the API.";
            }));
        app.MapPost(Prefix + "/trust/teams", async (HttpContext context, CancellationToken ct) =>
        {
            var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
            var name = Field(form["name"]);
            return await ActAsync(context, services.Audit, "team.create", $"name={name}", null, Prefix + "/trust", async caller =>
            {
                var team = await services.Trust.CreateTeamAsync(caller, new TeamCreateRequest(name ?? "", Field(form["description"])), ct).ConfigureAwait(false);
                return $"Team '{team.Name}' made. Add members and grants to it below.";
            }).ConfigureAwait(false);
        });
        app.MapPost(Prefix + "/trust/teams/{team}/members", async (string team, HttpContext context, CancellationToken ct) =>
        {
            var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
            var member = Field(form["operator"]) ?? "";
            return await ActAsync(context, services.Audit, "team.member-add", $"name={team} operator={member}", null, Prefix + "/trust", async caller =>
            {
                await services.Trust.AddMemberAsync(caller, team, member, ct).ConfigureAwait(false);
                return $"{member} is now a member of team '{team}'.";
            }).ConfigureAwait(false);
        });
        app.MapPost(Prefix + "/trust/teams/{team}/members/{operator}/remove", (string team, string @operator, HttpContext context, CancellationToken ct) =>
            ActAsync(context, services.Audit, "team.member-remove", $"name={team} operator={@operator}", null, Prefix + "/trust", async caller =>
            {
                await services.Trust.RemoveMemberAsync(caller, team, @operator, ct).ConfigureAwait(false);
                return $"{@operator} is no longer a member of team '{team}'.";
            }));
        app.MapPost(Prefix + "/trust/grants", async (HttpContext context, CancellationToken ct) =>
        {
            var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
            var team = Field(form["team"]) ?? "";
            var scope = new ScopeView(List(form["customers"]), List(form["sites"]), List(form["kinds"]), Field(form["devices"]));
            var request = new GrantRequest(team, [.. form["verbs"].Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!)],
                scope is { Customers: null, Sites: null, Kinds: null, Devices: null } ? null : scope, Field(form["reason"]) ?? "", form["deny"] == "1");
            return await ActAsync(context, services.Audit, "grant.add", $"team={team}", null, Prefix + "/trust", async caller =>
            {
                var grant = await services.Trust.AddGrantAsync(caller, request, ct).ConfigureAwait(false);
                return $"Grant {grant.Id} added: team '{grant.Team}' {(grant.Deny ? "is denied" : "may")} {string.Join(", ", grant.Verbs)} on {grant.ScopeText}.";
            }).ConfigureAwait(false);
        });
        app.MapPost(Prefix + "/trust/grants/{id:long}/revoke", async (long id, HttpContext context, CancellationToken ct) =>
        {
            var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
            var reason = Field(form["reason"]);
            return await ActAsync(context, services.Audit, "grant.revoke", $"id={id}", null, Prefix + "/trust", async caller =>
            {
                var grant = await services.Trust.RevokeGrantAsync(caller, id, reason, ct).ConfigureAwait(false);
                return $"Grant {grant.Id} of team '{grant.Team}' revoked.";
            }).ConfigureAwait(false);
        });

        app.MapGet(Prefix + "/enrollment", (HttpContext context, string? q, string? device, CancellationToken ct) => EnrollmentAsync(context, services, q, device, null, ct));
        app.MapPost(Prefix + "/enrollment", (HttpContext context, CancellationToken ct) => CreateEnrollmentTokenAsync(context, services, ct));
    }

    // ---- packages -------------------------------------------------------------------------------------------------

    private static async Task<IResult> PackagesAsync(HttpContext context, OperatorServices services, string? q, int? page, CancellationToken ct)
    {
        var all = await services.Packages.ListAsync(CallerOf(context), ct).ConfigureAwait(false);
        var query = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        var matching = (query is null ? all : all.Where(p => Matches(p, query)))
            .OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Customer, StringComparer.Ordinal).ThenBy(p => p.Version, StringComparer.Ordinal).ToList();
        var pages = Math.Max(1, (matching.Count + PackagesPerPage - 1) / PackagesPerPage);
        var current = Math.Clamp(page ?? 1, 1, pages);
        return Page<PackagesPage>(context, new Dictionary<string, object?>
        {
            ["Data"] = new PackagesData([.. matching.Skip((current - 1) * PackagesPerPage).Take(PackagesPerPage)], matching.Count, all.Count, query, current, pages),
        });
    }

    private static bool Matches(PackageInfo package, string query) =>
        package.Name.Contains(query, StringComparison.OrdinalIgnoreCase) || package.Version.Contains(query, StringComparison.OrdinalIgnoreCase)
        || package.Sha256.StartsWith(query, StringComparison.OrdinalIgnoreCase) || (package.Customer?.Contains(query, StringComparison.OrdinalIgnoreCase) ?? false);

    // ---- teams, grants, tokens ------------------------------------------------------------------------------------

    private static async Task<IResult> TrustAsync(HttpContext context, OperatorServices services, bool history, TokenCreated? created, CancellationToken ct)
    {
        var caller = CallerOf(context);
        var manages = FrameOf(context).MayOnEverything("manage-trust");
        var tokens = await services.Trust.ListTokensAsync(caller, ct).ConfigureAwait(false);
        var teams = manages ? await services.Trust.ListTeamsAsync(caller, ct).ConfigureAwait(false) : null;
        var grants = manages ? await services.Trust.ListGrantsAsync(caller, history, ct).ConfigureAwait(false) : null;
        var model = caller.Places.Model;
        var choices = new TrustChoices(Verbs.Names, [.. model.Customers.Select(c => c.Name)], [.. model.Sites.Select(s => s.Name)], model.KindOrder());
        return Page<TrustPage>(context, new Dictionary<string, object?> { ["Data"] = new TrustData(tokens, teams, grants, history, choices, created) });
    }

    private static async Task<IResult> CreateTokenAsync(HttpContext context, OperatorServices services, CancellationToken ct)
    {
        var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
        var request = new TokenCreateRequest(Field(form["name"]) ?? "", Field(form["operator"]), Field(form["team"]), Field(form["expires"]));
        TokenCreated? created = null;
        var answer = await ActAsync(context, services.Audit, "token.create", $"name={request.Name}", null, Prefix + "/trust", async caller =>
        {
            created = await services.Trust.CreateTokenAsync(caller, request, ct).ConfigureAwait(false);
            return $"Token '{created.Token.Name}' made for {created.Token.Operator}.";
        }).ConfigureAwait(false);
        if (created is null)
            return answer;
        ShowHere(context, $"Token '{created.Token.Name}' made for {created.Token.Operator}.");
        return await TrustAsync(context, services, false, created, ct).ConfigureAwait(false);
    }

    // ---- enrollment -----------------------------------------------------------------------------------------------

    private static async Task<IResult> EnrollmentAsync(HttpContext context, OperatorServices services, string? q, string? device, EnrollmentTokenView? created, CancellationToken ct)
    {
        var frame = FrameOf(context);
        if (!frame.May("manage-devices", null))
            throw new ForbiddenException("Enrollment tokens need the manage-devices right, which you do not hold anywhere.", "Ask an operator with manage-trust for a grant of manage-devices.");
        var caller = CallerOf(context);
        var query = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        var devices = (await services.Devices.ListAsync(caller, ct).ConfigureAwait(false))
            .Where(d => d.InModel && frame.May("manage-devices", d.Name) && (query is null || d.Name.Contains(query, StringComparison.OrdinalIgnoreCase)))
            .Select(d => d.Name).ToList();
        var agentUrl = created?.AgentUrl ?? (await services.Status.GetAsync(caller, ct).ConfigureAwait(false)).AgentUrl;
        return Page<EnrollmentPage>(context, new Dictionary<string, object?>
        {
            ["Data"] = new EnrollmentData([.. devices.Take(EnrollmentListed)], devices.Count, query, device ?? created?.Device, created, agentUrl),
        });
    }

    private static async Task<IResult> CreateEnrollmentTokenAsync(HttpContext context, OperatorServices services, CancellationToken ct)
    {
        var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
        var device = Field(form["device"]) ?? "";
        EnrollmentTokenView? created = null;
        var answer = await ActAsync(context, services.Audit, "device.token", $"name={device}", device, Prefix + "/enrollment", async caller =>
        {
            created = await services.Devices.CreateEnrollmentTokenAsync(caller, device, ct).ConfigureAwait(false)
                ?? throw new NotVisibleException("unknown-device", $"Device '{device}' is not in the model.", "Add the device to the model and apply it first.");
            return $"Enrollment token made for {device}.";
        }).ConfigureAwait(false);
        if (created is null)
            return answer;
        ShowHere(context, $"Enrollment token made for {device}; it is shown on this page only.");
        return await EnrollmentAsync(context, services, null, null, created, ct).ConfigureAwait(false);
    }

    // ---- shared -----------------------------------------------------------------------------------------------------

    /// <summary>An action whose outcome is drawn in this very answer (a secret shown once): its message goes on this
    /// page instead of into the flash cookie <see cref="ActAsync"/> left for the next one.</summary>
    private static void ShowHere(HttpContext context, string message)
    {
        // Set-Cookie headers apply in order: this one, after ActAsync's, leaves no flash for the next page.
        context.Response.Cookies.Delete(FlashCookie, new CookieOptions { Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
        context.Items[FrameKey] = FrameOf(context) with { Flash = message, FlashIsError = false };
    }

    /// <summary>A form field, trimmed; null when absent or blank.</summary>
    private static string? Field(StringValues value) => string.IsNullOrWhiteSpace(value.ToString()) ? null : value.ToString().Trim();

    /// <summary>A comma- or space-separated list field; null (no restriction) when blank.</summary>
    private static IReadOnlyList<string>? List(StringValues value) =>
        Field(value) is { } text ? [.. text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] : null;
}
