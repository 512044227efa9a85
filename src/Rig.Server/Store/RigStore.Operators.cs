using System.Data.Common;
using System.Text.Json;
using Dapper;
using Rig.Server.Security;

namespace Rig.Server.Store;

/// <summary>An operator token as stored: its name, whose it is, when it expires (never its secret: only its SHA-256 is kept).</summary>
internal sealed record OperatorTokenRecord(string TokenName, string Operator, DateTimeOffset CreatedAt, string? CreatedBy, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt);

/// <summary>A team and its members.</summary>
internal sealed record TeamRecord(string Name, string? Description, DateTimeOffset CreatedAt, string CreatedBy, IReadOnlyList<string> Members);

/// <summary>A grant as stored, with who made it and why, and who revoked it.</summary>
internal sealed record GrantRecord(long Id, string Team, bool Deny, IReadOnlyList<string> Verbs, Scope Scope, string Reason, DateTimeOffset CreatedAt, string CreatedBy,
    DateTimeOffset? RevokedAt, string? RevokedBy, string? RevokeReason)
{
    /// <summary>The grant the predicate reads.</summary>
    public Grant ToGrant() => new(Id, Team, Deny, Security.Verbs.ParseList(Verbs).Verbs ?? [], Scope);
}

/// <summary>Why a trust change was refused (the service turns it into an API error).</summary>
internal sealed record TrustRefusal(string Code, string Message, string Hint);

/// <summary>Operators, teams, grants and operator tokens (schema v7, docs/SECURITY.md).</summary>
internal sealed partial class RigStore
{
    private static readonly JsonSerializerOptions ScopeJson = new(JsonSerializerOptions.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private const string TokenColumns = "token_name AS TokenName, name AS Operator, created_at AS CreatedAt, created_by AS CreatedBy, expires_at AS ExpiresAt, revoked_at AS RevokedAt";

    private sealed record TokenRow(string TokenName, string Operator, long CreatedAt, string? CreatedBy, long? ExpiresAt, long? RevokedAt)
    {
        public OperatorTokenRecord ToRecord() => new(TokenName, Operator, FromMs(CreatedAt), CreatedBy, ExpiresAt is { } e ? FromMs(e) : null, RevokedAt is { } r ? FromMs(r) : null);
    }

    private sealed record GrantRow(long Id, string Team, long Deny, string Verbs, string Scope, string Reason, long CreatedAt, string CreatedBy, long? RevokedAt, string? RevokedBy, string? RevokeReason)
    {
        public GrantRecord ToRecord() => new(Id, Team, Deny != 0, JsonSerializer.Deserialize<List<string>>(Verbs) ?? [], JsonSerializer.Deserialize<Security.Scope>(Scope, ScopeJson) ?? Security.Scope.Everything,
            Reason, FromMs(CreatedAt), CreatedBy, RevokedAt is { } r ? FromMs(r) : null, RevokedBy, RevokeReason);
    }

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <summary>The first operator of a new gateway (<c>rig server init</c>): a member of <c>admins</c>, which may do
    /// everything, with one token.</summary>
    public Task AddFirstOperatorAsync(string tokenHash, string name, DateTimeOffset? expiresAt, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var now = NowMs;
        await EnsureOperatorAsync(c, tx, name, "init", now, ct).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO team_members (team, operator, added_at, added_by) SELECT 'admins', @name, @now, 'init' WHERE NOT EXISTS (SELECT 1 FROM team_members WHERE team = 'admins' AND operator = @name)",
            new { name, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
        await InsertTokenAsync(c, tx, tokenHash, $"{name}-init", name, expiresAt, "init", now, ct).ConfigureAwait(false);
        return 0;
    }, ct);

    /// <summary>Store a new operator token named <paramref name="tokenName"/> for <paramref name="operatorName"/>
    /// (made if new), optionally adding the operator to <paramref name="team"/>, in one transaction. Refused when a live
    /// token has that name or the team does not exist.</summary>
    public Task<TrustRefusal?> CreateOperatorTokenAsync(string tokenHash, string tokenName, string operatorName, string? team, DateTimeOffset? expiresAt, string createdBy, CancellationToken ct = default) =>
        WriteAsync<TrustRefusal?>(async (c, tx) =>
        {
            var now = NowMs;
            if (await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM operator_tokens WHERE token_name = @tokenName AND revoked_at IS NULL", new { tokenName }, tx, cancellationToken: ct)).ConfigureAwait(false) > 0)
                return new TrustRefusal("token-exists", $"A live token is already named '{tokenName}'.", $"Choose another name, or revoke it first: rig token revoke {tokenName}.");
            if (team is not null && await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM teams WHERE name = @team", new { team }, tx, cancellationToken: ct)).ConfigureAwait(false) == 0)
                return new TrustRefusal("team-unknown", $"There is no team '{team}'.", "List the teams with `rig team list`, or create it with `rig team create`.");
            await EnsureOperatorAsync(c, tx, operatorName, createdBy, now, ct).ConfigureAwait(false);
            if (team is not null)
                await AddMemberCoreAsync(c, tx, team, operatorName, createdBy, now, ct).ConfigureAwait(false);
            await InsertTokenAsync(c, tx, tokenHash, tokenName, operatorName, expiresAt, createdBy, now, ct).ConfigureAwait(false);
            return null;
        }, ct);

    private static Task EnsureOperatorAsync(DbConnection c, DbTransaction tx, string name, string createdBy, long now, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO operators (name, created_at, created_by) SELECT @name, @now, @createdBy WHERE NOT EXISTS (SELECT 1 FROM operators WHERE name = @name)",
            new { name, now, createdBy }, tx, cancellationToken: ct));

    private static Task InsertTokenAsync(DbConnection c, DbTransaction tx, string tokenHash, string tokenName, string operatorName, DateTimeOffset? expiresAt, string createdBy, long now, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO operator_tokens (token_hash, name, created_at, revoked_at, token_name, expires_at, created_by) VALUES (@tokenHash, @operatorName, @now, NULL, @tokenName, @expires, @createdBy)",
            new { tokenHash, operatorName, now, tokenName, expires = expiresAt?.ToUnixTimeMilliseconds(), createdBy }, tx, cancellationToken: ct));

    /// <summary>The live token with this hash (unrevoked; expiry is the caller's to judge, so it can say "expired"), or null.</summary>
    public Task<OperatorTokenRecord?> FindOperatorTokenAsync(string tokenHash, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
            $"SELECT {TokenColumns} FROM operator_tokens WHERE token_hash = @tokenHash AND revoked_at IS NULL", new { tokenHash }, cancellationToken: ct)).ConfigureAwait(false))?.ToRecord(), ct);

    /// <summary>Every token (revoked ones too, for the record), newest first; only those of <paramref name="operatorName"/> when given.</summary>
    public Task<IReadOnlyList<OperatorTokenRecord>> ListOperatorTokensAsync(string? operatorName, CancellationToken ct = default) => ReadAsync<IReadOnlyList<OperatorTokenRecord>>(async c =>
        [.. (await c.QueryAsync<TokenRow>(new CommandDefinition(
            $"SELECT {TokenColumns} FROM operator_tokens{(operatorName is null ? "" : " WHERE name = @operatorName")} ORDER BY created_at DESC, token_name",
            new { operatorName }, cancellationToken: ct)).ConfigureAwait(false)).Select(r => r.ToRecord())], ct);

    /// <summary>Revoke the live token named <paramref name="tokenName"/>; returns the revoked token, or null when none is live.</summary>
    public Task<OperatorTokenRecord?> RevokeOperatorTokenAsync(string tokenName, CancellationToken ct = default) => RevokeOperatorTokenAsync(tokenName, null, ct);

    /// <summary>Revoke the live token named <paramref name="tokenName"/>, only when it belongs to <paramref name="owner"/>
    /// (null: anyone's), checked in the same transaction.</summary>
    public Task<OperatorTokenRecord?> RevokeOperatorTokenAsync(string tokenName, string? owner, CancellationToken ct) => WriteAsync(async (c, tx) =>
    {
        var row = await c.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
            $"SELECT {TokenColumns} FROM operator_tokens WHERE token_name = @tokenName AND revoked_at IS NULL", new { tokenName }, tx, cancellationToken: ct)).ConfigureAwait(false);
        if (row is null || (owner is not null && row.Operator != owner))
            return null;
        var now = NowMs;
        await c.ExecuteAsync(new CommandDefinition("UPDATE operator_tokens SET revoked_at = @now WHERE token_name = @tokenName AND revoked_at IS NULL", new { tokenName, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return row.ToRecord() with { RevokedAt = FromMs(now) };
    }, ct);

    /// <summary>Replace the live token named <paramref name="tokenName"/> by a new secret under the same name and
    /// operator, in one transaction: the old secret is refused from then on. Null when no live token has that name.</summary>
    public Task<OperatorTokenRecord?> RotateOperatorTokenAsync(string tokenName, string? owner, string newHash, DateTimeOffset? expiresAt, string rotatedBy, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var old = await c.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
            $"SELECT {TokenColumns} FROM operator_tokens WHERE token_name = @tokenName AND revoked_at IS NULL", new { tokenName }, tx, cancellationToken: ct)).ConfigureAwait(false);
        if (old is null || (owner is not null && old.Operator != owner))
            return null;
        var now = NowMs;
        await c.ExecuteAsync(new CommandDefinition("UPDATE operator_tokens SET revoked_at = @now WHERE token_name = @tokenName AND revoked_at IS NULL", new { tokenName, now }, tx, cancellationToken: ct)).ConfigureAwait(false);
        await InsertTokenAsync(c, tx, newHash, tokenName, old.Operator, expiresAt, rotatedBy, now, ct).ConfigureAwait(false);
        return new OperatorTokenRecord(tokenName, old.Operator, FromMs(now), rotatedBy, expiresAt, null);
    }, ct);

    /// <summary>The live grants of every team <paramref name="operatorName"/> belongs to.</summary>
    public Task<IReadOnlyList<Grant>> GrantsOfOperatorAsync(string operatorName, CancellationToken ct = default) => ReadAsync<IReadOnlyList<Grant>>(async c =>
        [.. (await c.QueryAsync<GrantRow>(new CommandDefinition(
            $"SELECT {GrantColumns} FROM grants g WHERE g.revoked_at IS NULL AND g.team IN (SELECT team FROM team_members WHERE operator = @operatorName) ORDER BY g.id",
            new { operatorName }, cancellationToken: ct)).ConfigureAwait(false)).Select(r => r.ToRecord().ToGrant())], ct);

    /// <summary>The teams <paramref name="operatorName"/> belongs to.</summary>
    public Task<IReadOnlyList<string>> TeamsOfOperatorAsync(string operatorName, CancellationToken ct = default) => ReadAsync<IReadOnlyList<string>>(async c =>
        [.. await c.QueryAsync<string>(new CommandDefinition("SELECT team FROM team_members WHERE operator = @operatorName ORDER BY team", new { operatorName }, cancellationToken: ct)).ConfigureAwait(false)], ct);

    private const string GrantColumns = "g.id AS Id, g.team AS Team, g.deny AS Deny, g.verbs AS Verbs, g.scope AS Scope, g.reason AS Reason, g.created_at AS CreatedAt, g.created_by AS CreatedBy, g.revoked_at AS RevokedAt, g.revoked_by AS RevokedBy, g.revoke_reason AS RevokeReason";

    /// <summary>Every team with its members, by name.</summary>
    public Task<IReadOnlyList<TeamRecord>> ListTeamsAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<TeamRecord>>(async c =>
    {
        var members = (await c.QueryAsync<(string Team, string Operator)>(new CommandDefinition("SELECT team, operator FROM team_members ORDER BY operator", cancellationToken: ct)).ConfigureAwait(false))
            .ToLookup(m => m.Team, m => m.Operator, StringComparer.Ordinal);
        return [.. (await c.QueryAsync<(string Name, string? Description, long CreatedAt, string CreatedBy)>(new CommandDefinition(
                "SELECT name, description, created_at, created_by FROM teams ORDER BY name", cancellationToken: ct)).ConfigureAwait(false))
            .Select(t => new TeamRecord(t.Name, t.Description, FromMs(t.CreatedAt), t.CreatedBy, [.. members[t.Name]]))];
    }, ct);

    /// <summary>Make a team; refused when it exists.</summary>
    public Task<TrustRefusal?> CreateTeamAsync(string name, string? description, string createdBy, CancellationToken ct = default) => WriteAsync<TrustRefusal?>(async (c, tx) =>
    {
        if (await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM teams WHERE name = @name", new { name }, tx, cancellationToken: ct)).ConfigureAwait(false) > 0)
            return new TrustRefusal("team-exists", $"Team '{name}' exists.", "Choose another name; `rig team list` shows the teams.");
        await c.ExecuteAsync(new CommandDefinition("INSERT INTO teams (name, description, created_at, created_by) VALUES (@name, @description, @now, @createdBy)",
            new { name, description, now = NowMs, createdBy }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return null;
    }, ct);

    /// <summary>Delete a team with no live grants and no members; refused otherwise, saying which.</summary>
    public Task<TrustRefusal?> DeleteTeamAsync(string name, CancellationToken ct = default) => WriteAsync<TrustRefusal?>(async (c, tx) =>
    {
        if (await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM teams WHERE name = @name", new { name }, tx, cancellationToken: ct)).ConfigureAwait(false) == 0)
            return new TrustRefusal("not-found", $"There is no team '{name}'.", "`rig team list` shows the teams.");
        var grants = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM grants WHERE team = @name AND revoked_at IS NULL", new { name }, tx, cancellationToken: ct)).ConfigureAwait(false);
        var members = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM team_members WHERE team = @name", new { name }, tx, cancellationToken: ct)).ConfigureAwait(false);
        if (grants + members > 0)
            return new TrustRefusal("team-in-use", $"Team '{name}' still has {members} member(s) and {grants} live grant(s).", $"Remove its members (rig team remove {name} OPERATOR) and revoke its grants (rig grant revoke ID) first.");
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM teams WHERE name = @name", new { name }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return null;
    }, ct);

    /// <summary>Add an operator (made if new) to a team; refused when the team does not exist.</summary>
    public Task<TrustRefusal?> AddTeamMemberAsync(string team, string operatorName, string addedBy, CancellationToken ct = default) => WriteAsync<TrustRefusal?>(async (c, tx) =>
    {
        if (await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM teams WHERE name = @team", new { team }, tx, cancellationToken: ct)).ConfigureAwait(false) == 0)
            return new TrustRefusal("not-found", $"There is no team '{team}'.", "`rig team list` shows the teams; `rig team create` makes one.");
        var now = NowMs;
        await EnsureOperatorAsync(c, tx, operatorName, addedBy, now, ct).ConfigureAwait(false);
        await AddMemberCoreAsync(c, tx, team, operatorName, addedBy, now, ct).ConfigureAwait(false);
        return null;
    }, ct);

    private static Task AddMemberCoreAsync(DbConnection c, DbTransaction tx, string team, string operatorName, string addedBy, long now, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO team_members (team, operator, added_at, added_by) SELECT @team, @operatorName, @now, @addedBy WHERE NOT EXISTS (SELECT 1 FROM team_members WHERE team = @team AND operator = @operatorName)",
            new { team, operatorName, now, addedBy }, tx, cancellationToken: ct));

    /// <summary>Remove an operator from a team; false when they were not a member.</summary>
    public Task<bool> RemoveTeamMemberAsync(string team, string operatorName, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM team_members WHERE team = @team AND operator = @operatorName", new { team, operatorName }, tx, cancellationToken: ct)).ConfigureAwait(false) > 0, ct);

    /// <summary>Add a grant; refused when the team does not exist. Returns the grant made.</summary>
    public Task<(GrantRecord? Grant, TrustRefusal? Refusal)> AddGrantAsync(string team, bool deny, IReadOnlyList<string> verbs, Scope scope, string reason, string createdBy, CancellationToken ct = default) =>
        WriteAsync<(GrantRecord?, TrustRefusal?)>(async (c, tx) =>
        {
            if (await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM teams WHERE name = @team", new { team }, tx, cancellationToken: ct)).ConfigureAwait(false) == 0)
                return (null, new TrustRefusal("team-unknown", $"There is no team '{team}'.", "`rig team list` shows the teams; `rig team create` makes one."));
            var id = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                "INSERT INTO grants (team, deny, verbs, scope, reason, created_at, created_by) VALUES (@team, @deny, @verbs, @scope, @reason, @now, @createdBy) RETURNING id",
                new { team, deny = deny ? 1L : 0L, verbs = JsonSerializer.Serialize(verbs), scope = JsonSerializer.Serialize(scope, ScopeJson), reason, now = NowMs, createdBy }, tx, cancellationToken: ct)).ConfigureAwait(false);
            return (await GrantAsync(c, tx, id, ct).ConfigureAwait(false), null);
        }, ct);

    /// <summary>Revoke a live grant; returns it revoked, or null when there is no live grant with that id.</summary>
    public Task<GrantRecord?> RevokeGrantAsync(long id, string revokedBy, string reason, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var changed = await c.ExecuteAsync(new CommandDefinition(
            "UPDATE grants SET revoked_at = @now, revoked_by = @revokedBy, revoke_reason = @reason WHERE id = @id AND revoked_at IS NULL",
            new { id, now = NowMs, revokedBy, reason }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return changed == 0 ? null : await GrantAsync(c, tx, id, ct).ConfigureAwait(false);
    }, ct);

    private static async Task<GrantRecord?> GrantAsync(DbConnection c, DbTransaction tx, long id, CancellationToken ct) =>
        (await c.QuerySingleOrDefaultAsync<GrantRow>(new CommandDefinition($"SELECT {GrantColumns} FROM grants g WHERE g.id = @id", new { id }, tx, cancellationToken: ct)).ConfigureAwait(false))?.ToRecord();

    /// <summary>The grants, by id: live ones, or with <paramref name="history"/> every version ever made.</summary>
    public Task<IReadOnlyList<GrantRecord>> ListGrantsAsync(bool history, CancellationToken ct = default) => ReadAsync<IReadOnlyList<GrantRecord>>(async c =>
        [.. (await c.QueryAsync<GrantRow>(new CommandDefinition(
            $"SELECT {GrantColumns} FROM grants g{(history ? "" : " WHERE g.revoked_at IS NULL")} ORDER BY g.id", cancellationToken: ct)).ConfigureAwait(false)).Select(r => r.ToRecord())], ct);
}
