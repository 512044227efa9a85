using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Rig.Server.Security;
using Rig.Server.Services;
using Rig.Server.Store;

namespace Rig.Server.Ui;

/// <summary>Web UI sessions: signing in with an operator token opens one, kept in the database (so any gateway sharing
/// it serves any page) and held by the browser as a random id in a <c>__Host-</c> cookie that is HttpOnly, Secure and
/// SameSite=Strict. A session lives <see cref="Idle"/> past its last use and never longer than <see cref="Lifetime"/>;
/// the operator token it was opened with must stay live, so revoking or expiring that token ends the session too.</summary>
internal sealed class UiSessions(RigStore store, TrustService trust, TimeProvider clock)
{
    /// <summary>Idle time after which a session ends: long enough to read a plan, short enough that an unattended
    /// browser does not stay signed in for the night.</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromMinutes(30);

    /// <summary>The longest a session lives however much it is used: a working day; then sign in again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    /// <summary>A session's idle deadline is moved on (one write) only once less than this is left, not on every request.</summary>
    private static readonly TimeSpan RenewWhenLeft = Idle - TimeSpan.FromMinutes(1);

    /// <summary>The session cookie. The <c>__Host-</c> prefix makes the browser refuse it unless it is Secure, for the
    /// whole host (Path=/) and without a Domain: no sibling host can set or read it.</summary>
    public const string Cookie = "__Host-rig-session";

    /// <summary>The cookie that ties the sign-in form to the browser that asked for it (login CSRF).</summary>
    public const string SignInCookie = "__Host-rig-signin";

    /// <summary>A signed-in request: the operator with their rights now, and the session's anti-forgery token.</summary>
    public sealed record Resumed(Caller Caller, string Csrf, string IdHash);

    /// <summary>Open a session for a valid operator token; null and why when the token is refused.</summary>
    public async Task<(string? SessionId, TokenRefusal Refusal)> SignInAsync(string token, CancellationToken ct)
    {
        var (caller, refusal) = await trust.AuthenticateAsync(token, ct).ConfigureAwait(false);
        if (caller is null)
            return (null, refusal);
        var id = Tokens.Create("rigui_");
        var now = clock.GetUtcNow();
        await store.OpenUiSessionAsync(new UiSessionRecord(Tokens.Hash(id), Tokens.Hash(token), caller.Name, now, now + Idle, now + Lifetime), ct).ConfigureAwait(false);
        return (id, TokenRefusal.Unknown);
    }

    /// <summary>The session of this request, renewed when due; null when there is none, it ended or expired, or its
    /// operator token is no longer live.</summary>
    public async Task<Resumed?> ResumeAsync(HttpContext context, CancellationToken ct)
    {
        var id = context.Request.Cookies[Cookie];
        if (string.IsNullOrEmpty(id) || id.Length > 200)
            return null;
        var idHash = Tokens.Hash(id);
        var session = await store.FindUiSessionAsync(idHash, ct).ConfigureAwait(false);
        if (session is null)
            return null;
        var token = await store.FindOperatorTokenAsync(session.TokenHash, ct).ConfigureAwait(false);
        var now = clock.GetUtcNow();
        if (token is null || token.Operator != session.Operator || token.ExpiresAt is { } expires && expires <= now)
        {
            await store.EndUiSessionAsync(idHash, ct).ConfigureAwait(false);
            return null;
        }
        if (session.ExpiresAt - now < RenewWhenLeft)
        {
            var next = Min(now + Idle, session.MaxAt);
            await store.RenewUiSessionAsync(idHash, next, ct).ConfigureAwait(false);
            SetCookie(context, id, next - now);
        }
        var caller = await trust.CallerAsync(session.Operator, token.TokenName, ct).ConfigureAwait(false);
        return new Resumed(caller, Csrf(id), idHash);
    }

    /// <summary>End the session with this secret id, if there is one (a browser signing in again leaves none behind).</summary>
    public Task EndAsync(string id, CancellationToken ct) => store.EndUiSessionAsync(Tokens.Hash(id), ct);

    /// <summary>End the session of this request (sign-out) and clear its cookie.</summary>
    public async Task SignOutAsync(HttpContext context, string idHash, CancellationToken ct)
    {
        await store.EndUiSessionAsync(idHash, ct).ConfigureAwait(false);
        context.Response.Cookies.Delete(Cookie, new CookieOptions { Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
    }

    /// <summary>Give the browser its session cookie, lasting as long as the session's idle deadline.</summary>
    public static void SetCookie(HttpContext context, string id, TimeSpan maxAge) =>
        context.Response.Cookies.Append(Cookie, id, new CookieOptions
        {
            Secure = true,
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            MaxAge = maxAge,
            IsEssential = true,
        });

    /// <summary>The anti-forgery token of a session: derived from its secret id, which only the browser's HttpOnly cookie
    /// and the gateway know, so a page of another site can neither read nor compute it, and any gateway can check it
    /// without storing it.</summary>
    public static string Csrf(string sessionId) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(sessionId), "rig-ui-csrf"u8)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Constant-time comparison of a posted anti-forgery token with the expected one.</summary>
    public static bool CsrfMatches(string expected, string? posted) =>
        posted is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(posted));

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
