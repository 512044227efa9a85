using System.Security.Cryptography.X509Certificates;
using Rig.Contracts;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>Why a token did not authenticate.</summary>
internal enum TokenRefusal
{
    Unknown,
    Expired,
}

/// <summary>Who may use the operator door: operator tokens (named, hashed, expiring), teams and grants, the read-only
/// metrics token, the CA certificate that workstations pin.</summary>
internal sealed class TrustService(Gateway.Gateway gateway, MetricsToken? metricsToken, OperatorAccess access)
{
    /// <summary>How long a token lives when its maker does not say.</summary>
    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromDays(90);

    /// <summary>The longest a token may live.</summary>
    public static readonly TimeSpan MaxTokenLifetime = TimeSpan.FromDays(400);

    private readonly Lock _placesLock = new();
    private (long Rev, ModelPlaces Places) _places = (-1, ModelPlaces.Empty);

    /// <summary>The caller an operator token names, with their teams, grants and the current model's places; or why not.</summary>
    public async Task<(Caller? Caller, TokenRefusal Refusal)> AuthenticateAsync(string token, CancellationToken ct)
    {
        var found = await gateway.Store.FindOperatorTokenAsync(Tokens.Hash(token), ct).ConfigureAwait(false);
        if (found is null)
            return (null, TokenRefusal.Unknown);
        if (found.ExpiresAt is { } expires && expires <= gateway.Clock.GetUtcNow())
            return (null, TokenRefusal.Expired);
        return (await CallerAsync(found.Operator, found.TokenName, ct).ConfigureAwait(false), TokenRefusal.Unknown);
    }

    /// <summary>The operator <paramref name="name"/> with their rights as they are now: for work that starts later on
    /// their behalf (a rollout's next wave, a resumed rollout after a restart), which must not outlive a revoked grant.</summary>
    public async Task<Caller> CallerAsync(string name, string? token, CancellationToken ct)
    {
        var grants = await gateway.Store.GrantsOfOperatorAsync(name, ct).ConfigureAwait(false);
        var teams = await gateway.Store.TeamsOfOperatorAsync(name, ct).ConfigureAwait(false);
        return new Caller(name) { Token = token, Teams = teams, Grants = grants, Places = await PlacesAsync(ct).ConfigureAwait(false) };
    }

    /// <summary>Where the current model's objects lie, rebuilt when a new revision is saved.</summary>
    public async Task<ModelPlaces> PlacesAsync(CancellationToken ct)
    {
        var rev = await gateway.Store.CurrentRevisionAsync(ct).ConfigureAwait(false);
        lock (_placesLock)
        {
            if (_places.Rev == rev)
                return _places.Places;
        }
        var (loaded, model) = await gateway.Store.LoadModelAsync(rev, ct).ConfigureAwait(false);
        var places = new ModelPlaces(model);
        lock (_placesLock)
        {
            if (loaded >= _places.Rev)
                _places = (loaded, places);
        }
        return places;
    }

    /// <summary>True when <paramref name="token"/> is the metrics token, or a live operator token of an operator who
    /// reads everything (the metrics count every customer's devices).</summary>
    public async Task<bool> MayScrapeMetricsAsync(string token, CancellationToken ct)
    {
        var hash = Tokens.Hash(token);
        if (metricsToken?.Matches(hash) == true)
            return true;
        if (await gateway.Store.FindOperatorTokenAsync(hash, ct).ConfigureAwait(false) is not { } found || found.ExpiresAt <= gateway.Clock.GetUtcNow())
            return false;
        return ModelScoping.OnEverything(await gateway.Store.GrantsOfOperatorAsync(found.Operator, ct).ConfigureAwait(false), Verb.Read);
    }

    /// <summary>The gateway's CA certificate (public; checked by its pin).</summary>
    public X509Certificate2 CaCertificate => gateway.Authority.Certificate;

    /// <summary>Who the caller is and what they may do.</summary>
    public WhoAmIView WhoAmI(Caller caller) => new(caller.Name, caller.Token, caller.Teams, [.. caller.Grants.Select(g => new GrantView(g.Id, g.Team, g.Deny,
        [.. g.Verbs.Select(v => v.Name())], ToView(g.Scope), g.Scope.ToString(), "", default, "", null, null, null))]);

    // ---- tokens ---------------------------------------------------------------------------------------------------

    /// <summary>Make a token. Anyone may make a token for themselves (not longer-lived than the one they use is not
    /// enforced: expiry is bounded by <see cref="MaxTokenLifetime"/>); a token for another operator, or joining a team,
    /// needs <c>manage-trust</c>.</summary>
    public async Task<TokenCreated> CreateTokenAsync(Caller caller, TokenCreateRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var owner = string.IsNullOrWhiteSpace(request.Operator) ? caller.Name : request.Operator.Trim();
        if (owner != caller.Name || request.Team is not null)
            access.Allow(caller, "trust.manage");
        CheckName(request.Name, "token name", "alice-laptop");
        CheckName(owner, "operator name", "alice");
        if (request.Team is not null)
            CheckName(request.Team, "team name", "shop-content");
        var lifetime = Lifetime(request.Expires);
        var secret = Tokens.Create("rigop_");
        var expiresAt = gateway.Clock.GetUtcNow() + lifetime;
        if (await gateway.Store.CreateOperatorTokenAsync(Tokens.Hash(secret), request.Name, owner, request.Team, expiresAt, caller.Name, ct).ConfigureAwait(false) is { } refusal)
            throw Refused(refusal);
        var stored = (await gateway.Store.ListOperatorTokensAsync(owner, ct).ConfigureAwait(false)).First(t => t.TokenName == request.Name && t.RevokedAt is null);
        return new TokenCreated(ToView(stored), secret);
    }

    /// <summary>The tokens: all of them with <c>manage-trust</c>, otherwise the caller's own.</summary>
    public async Task<IReadOnlyList<TokenView>> ListTokensAsync(Caller caller, CancellationToken ct)
    {
        var all = Rights.Allows(caller.Grants, Verb.ManageTrust, Place.Provider);
        return [.. (await gateway.Store.ListOperatorTokensAsync(all ? null : caller.Name, ct).ConfigureAwait(false)).Select(ToView)];
    }

    /// <summary>Revoke a live token: one's own, or anyone's with <c>manage-trust</c>. Another operator's token the
    /// caller may not manage answers as if it did not exist.</summary>
    public async Task<TokenView> RevokeTokenAsync(Caller caller, string name, CancellationToken ct)
    {
        var manages = Rights.Allows(caller.Grants, Verb.ManageTrust, Place.Provider);
        var own = (await gateway.Store.ListOperatorTokensAsync(manages ? null : caller.Name, ct).ConfigureAwait(false)).Any(t => t.TokenName == name && t.RevokedAt is null);
        if (!own)
            throw new TrustRefusedException("unknown-token", $"There is no live token named '{name}'.", "`rig token list` shows the tokens you can manage.", TrustRefusedException.Kind.NotFound);
        var revoked = await gateway.Store.RevokeOperatorTokenAsync(name, manages ? null : caller.Name, ct).ConfigureAwait(false)
            ?? throw new TrustRefusedException("unknown-token", $"There is no live token named '{name}'.", "`rig token list` shows the tokens you can manage.", TrustRefusedException.Kind.NotFound);
        return ToView(revoked);
    }

    /// <summary>Rotate a live token: a new secret under the same name and operator, with a fresh lifetime
    /// (<paramref name="expires"/>, default <see cref="DefaultTokenLifetime"/>); the old secret is refused from then on.
    /// One's own, or anyone's with <c>manage-trust</c>.</summary>
    public async Task<TokenCreated> RotateTokenAsync(Caller caller, string name, string? expires, CancellationToken ct)
    {
        var manages = Rights.Allows(caller.Grants, Verb.ManageTrust, Place.Provider);
        var mine = (await gateway.Store.ListOperatorTokensAsync(manages ? null : caller.Name, ct).ConfigureAwait(false)).Any(t => t.TokenName == name && t.RevokedAt is null);
        if (!mine)
            throw new TrustRefusedException("unknown-token", $"There is no live token named '{name}'.", "`rig token list` shows the tokens you can manage.", TrustRefusedException.Kind.NotFound);
        var lifetime = Lifetime(expires);
        var secret = Tokens.Create("rigop_");
        var rotated = await gateway.Store.RotateOperatorTokenAsync(name, manages ? null : caller.Name, Tokens.Hash(secret), gateway.Clock.GetUtcNow() + lifetime, caller.Name, ct).ConfigureAwait(false)
            ?? throw new TrustRefusedException("unknown-token", $"There is no live token named '{name}'.", "`rig token list` shows the tokens you can manage.", TrustRefusedException.Kind.NotFound);
        return new TokenCreated(ToView(rotated), secret);
    }

    private static TimeSpan Lifetime(string? text)
    {
        var lifetime = DefaultTokenLifetime;
        if (text is not null && (!Durations.TryParse(text, out lifetime, out _) || lifetime <= TimeSpan.Zero || lifetime > MaxTokenLifetime))
        {
            throw new TrustRefusedException("bad-expiry", $"Expiry '{text}' is not usable: {(lifetime > MaxTokenLifetime ? $"longer than the most a token may live, {Durations.Format(MaxTokenLifetime)}" : "give a duration like 30d, 12h or 90m")}.",
                "Tokens expire; make a new one before the old one does (rig token rotate NAME), then switch to it.", TrustRefusedException.Kind.Invalid);
        }
        return lifetime;
    }

    // ---- teams ----------------------------------------------------------------------------------------------------

    /// <summary>Every team with its members (needs <c>manage-trust</c>).</summary>
    public async Task<IReadOnlyList<TeamView>> ListTeamsAsync(Caller caller, CancellationToken ct)
    {
        access.Allow(caller, "trust.read");
        return [.. (await gateway.Store.ListTeamsAsync(ct).ConfigureAwait(false)).Select(ToView)];
    }

    /// <summary>Make a team.</summary>
    public async Task<TeamView> CreateTeamAsync(Caller caller, TeamCreateRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        access.Allow(caller, "trust.manage");
        CheckName(request.Name, "team name", "shop-content");
        if (await gateway.Store.CreateTeamAsync(request.Name, request.Description, caller.Name, ct).ConfigureAwait(false) is { } refusal)
            throw Refused(refusal);
        return await TeamAsync(request.Name, ct).ConfigureAwait(false);
    }

    /// <summary>Delete an empty team without live grants.</summary>
    public async Task DeleteTeamAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "trust.manage");
        if (await gateway.Store.DeleteTeamAsync(name, ct).ConfigureAwait(false) is { } refusal)
            throw Refused(refusal);
    }

    /// <summary>Add an operator to a team (the operator is made if new).</summary>
    public async Task<TeamView> AddMemberAsync(Caller caller, string team, string operatorName, CancellationToken ct)
    {
        access.Allow(caller, "trust.manage");
        CheckName(operatorName, "operator name", "alice");
        if (await gateway.Store.AddTeamMemberAsync(team, operatorName, caller.Name, ct).ConfigureAwait(false) is { } refusal)
            throw Refused(refusal);
        return await TeamAsync(team, ct).ConfigureAwait(false);
    }

    /// <summary>Remove an operator from a team.</summary>
    public async Task<TeamView> RemoveMemberAsync(Caller caller, string team, string operatorName, CancellationToken ct)
    {
        access.Allow(caller, "trust.manage");
        if (!await gateway.Store.RemoveTeamMemberAsync(team, operatorName, ct).ConfigureAwait(false))
            throw new TrustRefusedException("not-a-member", $"'{operatorName}' is not a member of team '{team}'.", "`rig team list` shows the teams and their members.", TrustRefusedException.Kind.NotFound);
        return await TeamAsync(team, ct).ConfigureAwait(false);
    }

    private async Task<TeamView> TeamAsync(string name, CancellationToken ct) =>
        ToView((await gateway.Store.ListTeamsAsync(ct).ConfigureAwait(false)).First(t => t.Name == name));

    // ---- grants ---------------------------------------------------------------------------------------------------

    /// <summary>The grants: live ones, or every version with <paramref name="history"/>.</summary>
    public async Task<IReadOnlyList<GrantView>> ListGrantsAsync(Caller caller, bool history, CancellationToken ct)
    {
        access.Allow(caller, "trust.read");
        return [.. (await gateway.Store.ListGrantsAsync(history, ct).ConfigureAwait(false)).Select(ToView)];
    }

    /// <summary>Add a grant, checked first: known verbs, a scope whose customers, sites and kinds exist in the current
    /// model (a typo would silently grant nothing) and whose device selector parses, and a reason.</summary>
    public async Task<GrantView> AddGrantAsync(Caller caller, GrantRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        access.Allow(caller, "trust.manage");
        var (verbs, verbError) = Security.Verbs.ParseList(request.Verbs ?? []);
        if (verbs is null)
            throw new TrustRefusedException("bad-verb", verbError!, $"Use verbs from: {string.Join(", ", Security.Verbs.Names)}.", TrustRefusedException.Kind.Invalid);
        if (string.IsNullOrWhiteSpace(request.Reason))
            throw new TrustRefusedException("reason-required", "A grant needs a reason: it is recorded with the grant and in the audit log.", "Pass -m \"why\".", TrustRefusedException.Kind.Invalid);
        var scope = ToScope(request.Scope);
        CheckScope(scope, caller.Places.Model);
        var names = request.Verbs!.Any(v => v.Trim() == "*") ? ["*"] : verbs.Select(v => v.Name()).ToList();
        var (grant, refusal) = await gateway.Store.AddGrantAsync(request.Team, request.Deny, names, scope, request.Reason.Trim(), caller.Name, ct).ConfigureAwait(false);
        if (refusal is not null)
            throw Refused(refusal);
        return ToView(grant!);
    }

    /// <summary>Revoke a live grant, recording who and why.</summary>
    public async Task<GrantView> RevokeGrantAsync(Caller caller, long id, string? reason, CancellationToken ct)
    {
        access.Allow(caller, "trust.manage");
        if (string.IsNullOrWhiteSpace(reason))
            throw new TrustRefusedException("reason-required", "Revoking a grant needs a reason: it is recorded with the grant and in the audit log.", "Pass -m \"why\".", TrustRefusedException.Kind.Invalid);
        return ToView(await gateway.Store.RevokeGrantAsync(id, caller.Name, reason.Trim(), ct).ConfigureAwait(false)
            ?? throw new TrustRefusedException("unknown-grant", $"There is no live grant {id}.", "`rig grant list` shows the live grants and their ids.", TrustRefusedException.Kind.NotFound));
    }

    private static void CheckScope(Scope scope, RigModel model)
    {
        void Known(IReadOnlyList<string>? names, IEnumerable<string> known, string what)
        {
            if (names is null)
                return;
            var set = known.ToHashSet(StringComparer.Ordinal);
            if (names.Count == 0)
                throw new TrustRefusedException("bad-scope", $"The scope's {what} list is empty: it would match nothing.", $"Leave {what} out to not restrict it, or name some.", TrustRefusedException.Kind.Invalid);
            var unknown = names.Where(n => !set.Contains(n)).ToList();
            if (unknown.Count > 0)
            {
                throw new TrustRefusedException("bad-scope", $"The scope names {what} that the model does not have: {string.Join(", ", unknown)}.",
                    $"The model's {what}: {(set.Count == 0 ? "none" : string.Join(", ", set.Order(StringComparer.Ordinal)))}. Add them to the model first, or fix the names.", TrustRefusedException.Kind.Invalid);
            }
        }
        Known(scope.Customers, model.Customers.Select(c => c.Name), "customers");
        Known(scope.Sites, model.Sites.Select(s => s.Name), "sites");
        Known(scope.Kinds, model.KindOrder(), "role kinds");
        if (scope.Devices is { } selector)
        {
            try
            {
                DeviceSelector.Parse(selector);
            }
            catch (FormatException e)
            {
                throw new TrustRefusedException("bad-scope", $"The scope's device selector is not valid: {e.Message}", "See docs/CLI.md, Selectors.", TrustRefusedException.Kind.Invalid);
            }
        }
    }

    private static void CheckName(string? name, string what, string example)
    {
        if (string.IsNullOrWhiteSpace(name) || !Protocol.Names.IsValidObjectName(name))
            throw new TrustRefusedException("bad-name", $"'{name}' is not a valid {what}: use {Protocol.Names.ObjectNameRule}.", $"For example '{example}'.", TrustRefusedException.Kind.Invalid);
    }

    private static TrustRefusedException Refused(TrustRefusal refusal) => new(refusal.Code, refusal.Message, refusal.Hint,
        refusal.Code is "not-found" or "team-unknown" ? TrustRefusedException.Kind.NotFound : refusal.Code is "token-exists" or "team-exists" or "team-in-use" ? TrustRefusedException.Kind.Conflict : TrustRefusedException.Kind.Invalid);

    internal static Scope ToScope(ScopeView? view) => view is null ? Scope.Everything : new Scope(view.Customers, view.Sites, view.Kinds, string.IsNullOrWhiteSpace(view.Devices) ? null : view.Devices.Trim());

    internal static ScopeView ToView(Scope scope) => new(scope.Customers, scope.Sites, scope.Kinds, scope.Devices);

    private TokenView ToView(OperatorTokenRecord t) => new(t.TokenName, t.Operator, t.CreatedAt, t.CreatedBy, t.ExpiresAt, t.RevokedAt,
        t.RevokedAt is not null ? "revoked" : t.ExpiresAt is { } e && e <= gateway.Clock.GetUtcNow() ? "expired" : "live");

    private static TeamView ToView(TeamRecord t) => new(t.Name, t.Description, t.CreatedAt, t.CreatedBy, t.Members);

    private static GrantView ToView(GrantRecord g) => new(g.Id, g.Team, g.Deny, g.Verbs, ToView(g.Scope), g.Scope.ToString(), g.Reason, g.CreatedAt, g.CreatedBy, g.RevokedAt, g.RevokedBy, g.RevokeReason);
}

/// <summary>A refused change to tokens, teams or grants: what was wrong and what to do.</summary>
internal sealed class TrustRefusedException(string code, string message, string hint, TrustRefusedException.Kind kind) : Protocol.Errors.RigException(code, message, retrySafe: false)
{
    /// <summary>Which HTTP answer it gets.</summary>
    public enum Kind
    {
        Invalid,
        NotFound,
        Conflict,
    }

    public string Hint { get; } = hint;

    public Kind Refusal { get; } = kind;
}
