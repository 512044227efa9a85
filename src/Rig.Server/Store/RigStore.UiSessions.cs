using Dapper;

namespace Rig.Server.Store;

/// <summary>A live web UI session: whose it is, the operator token it was opened with (by hash), and its deadlines.</summary>
internal sealed record UiSessionRecord(string IdHash, string TokenHash, string Operator, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset MaxAt);

/// <summary>Web UI sessions (schema v11, docs/UI.md). Rows are kept after sign-out (ended_at) and purged once expired.</summary>
internal sealed partial class RigStore
{
    private sealed record UiSessionRow(string IdHash, string TokenHash, string Operator, long CreatedAt, long ExpiresAt, long MaxAt)
    {
        public UiSessionRecord ToRecord() => new(IdHash, TokenHash, Operator, FromMs(CreatedAt), FromMs(ExpiresAt), FromMs(MaxAt));
    }

    /// <summary>Open a session; sessions that ended or expired more than a day ago are purged on the way.</summary>
    public Task OpenUiSessionAsync(UiSessionRecord session, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        var now = NowMs;
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM ui_sessions WHERE expires_at < @old OR ended_at < @old",
            new { old = now - (long)TimeSpan.FromDays(1).TotalMilliseconds }, tx, cancellationToken: ct)).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO ui_sessions (id_hash, token_hash, operator, created_at, expires_at, max_at, ended_at) VALUES (@IdHash, @TokenHash, @Operator, @created, @expires, @max, NULL)",
            new { session.IdHash, session.TokenHash, session.Operator, created = session.CreatedAt.ToUnixTimeMilliseconds(), expires = session.ExpiresAt.ToUnixTimeMilliseconds(), max = session.MaxAt.ToUnixTimeMilliseconds() },
            tx, cancellationToken: ct)).ConfigureAwait(false);
        return 0;
    }, ct);

    /// <summary>The session with this id hash when it has not ended and its deadlines are ahead, else null.</summary>
    public Task<UiSessionRecord?> FindUiSessionAsync(string idHash, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QuerySingleOrDefaultAsync<UiSessionRow>(new CommandDefinition(
            "SELECT id_hash AS IdHash, token_hash AS TokenHash, operator AS Operator, created_at AS CreatedAt, expires_at AS ExpiresAt, max_at AS MaxAt " +
            "FROM ui_sessions WHERE id_hash = @idHash AND ended_at IS NULL AND expires_at > @now AND max_at > @now", new { idHash, now = NowMs }, cancellationToken: ct)).ConfigureAwait(false))?.ToRecord(), ct);

    /// <summary>Move a live session's idle deadline on.</summary>
    public Task RenewUiSessionAsync(string idHash, DateTimeOffset expiresAt, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync(new CommandDefinition("UPDATE ui_sessions SET expires_at = @expires WHERE id_hash = @idHash AND ended_at IS NULL",
            new { idHash, expires = expiresAt.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct)).ConfigureAwait(false), ct);

    /// <summary>End a session (sign-out); true when it was live.</summary>
    public Task<bool> EndUiSessionAsync(string idHash, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync(new CommandDefinition("UPDATE ui_sessions SET ended_at = @now WHERE id_hash = @idHash AND ended_at IS NULL",
            new { idHash, now = NowMs }, tx, cancellationToken: ct)).ConfigureAwait(false) > 0, ct);
}
