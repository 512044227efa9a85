namespace Rig.Contracts;

/// <summary>Make an operator token (<c>rig token create</c>). The operator is made if new.</summary>
/// <param name="Name">The token's name, unique among live tokens (e.g. <c>alice-laptop</c>).</param>
/// <param name="Operator">Whose token it is (default: the caller's own).</param>
/// <param name="Team">A team to add the operator to (needs <c>manage-trust</c>).</param>
/// <param name="Expires">How long it lives: <c>30d</c>, <c>12h</c>, <c>90m</c> (default <c>90d</c>; at most <c>400d</c>).</param>
public sealed record TokenCreateRequest(string Name, string? Operator = null, string? Team = null, string? Expires = null);

/// <summary>An operator token as listed: never its secret.</summary>
public sealed record TokenView(string Name, string Operator, DateTimeOffset CreatedAt, string? CreatedBy, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, string State);

/// <summary>A token just made: the secret is shown here once and never again.</summary>
public sealed record TokenCreated(TokenView Token, string Secret);

/// <summary>Make a team.</summary>
public sealed record TeamCreateRequest(string Name, string? Description = null);

/// <summary>A team and its members.</summary>
public sealed record TeamView(string Name, string? Description, DateTimeOffset CreatedAt, string CreatedBy, IReadOnlyList<string> Members);

/// <summary>Where a grant applies: every list given restricts (null: no restriction); none given = everything.</summary>
/// <param name="Customers">Customer names.</param>
/// <param name="Sites">Site names.</param>
/// <param name="Kinds">Role kinds (<c>os</c>, <c>app</c>, <c>content</c>, declared kinds).</param>
/// <param name="Devices">A device selector (<c>site=shop,tier=web</c>, names, globs).</param>
public sealed record ScopeView(IReadOnlyList<string>? Customers = null, IReadOnlyList<string>? Sites = null, IReadOnlyList<string>? Kinds = null, string? Devices = null);

/// <summary>Give (or, with <paramref name="Deny"/>, deny) a team verbs on a scope; <paramref name="Reason"/> is recorded.</summary>
public sealed record GrantRequest(string Team, IReadOnlyList<string> Verbs, ScopeView? Scope, string Reason, bool Deny = false);

/// <summary>A grant as stored: who made it, when, why; who revoked it.</summary>
public sealed record GrantView(long Id, string Team, bool Deny, IReadOnlyList<string> Verbs, ScopeView Scope, string ScopeText, string Reason, DateTimeOffset CreatedAt, string CreatedBy,
    DateTimeOffset? RevokedAt, string? RevokedBy, string? RevokeReason);

/// <summary>Who the caller is: operator, token, teams and the grants they hold.</summary>
public sealed record WhoAmIView(string Operator, string? Token, IReadOnlyList<string> Teams, IReadOnlyList<GrantView> Grants);
