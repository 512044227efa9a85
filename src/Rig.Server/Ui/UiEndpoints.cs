using System.Reflection;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Rig.Protocol.Errors;
using Rig.Server.Security;
using Rig.Server.Services;
using Rig.Server.Ui.Components;

namespace Rig.Server.Ui;

/// <summary>The web UI (docs/UI.md): pages rendered on the server (Razor components, static rendering) under
/// <c>/ui/</c> on the operator listener, live parts over Server-Sent Events. A page is a view: its endpoint reads the
/// data through the same services as the API, with the signed-in operator as the caller, so a page shows exactly
/// what the API would. Every form posts an anti-forgery token; every action answers with a redirect (post, redirect,
/// get) carrying its outcome in a one-time flash cookie.</summary>
internal static partial class UiEndpoints
{
    public const string Prefix = "/ui";

    private const string FrameKey = "rig.ui.frame";
    private const string SessionKey = "rig.ui.session";
    private const string CallerKey = "rig.caller";
    private const string FlashCookie = "__Host-rig-flash";
    private const string MaskKey = "rig.ui.mask";

    /// <summary>Mask known secret values in a text the UI writes outside the response-body guard (an error page drawn
    /// after the pipeline, a flash message carried in a cookie).</summary>
    private static string Masked(HttpContext context, string text) => context.Items[MaskKey] is Rig.Model.Domain.SecretMask mask && mask.Reveals(text) ? mask.Mask(text) : text;

    /// <summary>The Content-Security-Policy of every UI answer: scripts, styles, images and streams from this origin only
    /// (no inline script or style, so injected markup cannot run), no framing, forms post only here.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public static void Map(WebApplication app, OperatorServices services, UiSessions sessions)
    {
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path == "/" && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)))
            {
                context.Response.Redirect(Prefix + "/");
                return;
            }
            // Routing ignores case, so the door must too: /UI/... is the UI and is guarded as such.
            if (!path.StartsWithSegments(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            context.Items[MaskKey] = services.KnownSecrets;
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            if (path.StartsWithSegments(Prefix + "/static", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments(Prefix + "/sign-in", StringComparison.OrdinalIgnoreCase))
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            headers.CacheControl = "no-store";
            var resumed = await sessions.ResumeAsync(context, context.RequestAborted).ConfigureAwait(false);
            if (resumed is null)
            {
                if (HttpMethods.IsGet(context.Request.Method) && !IsStream(context.Request))
                {
                    context.Response.Redirect($"{Prefix}/sign-in?next={Uri.EscapeDataString(context.Request.Path + context.Request.QueryString)}");
                    return;
                }
                await Problem(context, StatusCodes.Status401Unauthorized, "You are not signed in, or your session ended.", "Sign in again; nothing was done.").ConfigureAwait(false);
                return;
            }
            if (HttpMethods.IsPost(context.Request.Method))
            {
                var posted = context.Request.HasFormContentType ? (await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false))["_csrf"].ToString() : null;
                if (!UiSessions.CsrfMatches(resumed.Csrf, posted))
                {
                    await Problem(context, StatusCodes.Status403Forbidden, "The form was refused: its anti-forgery token is missing or wrong.",
                        "Forms are accepted only from this gateway's own pages: open the page again and resend. Nothing was done.").ConfigureAwait(false);
                    return;
                }
            }
            else if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            {
                await Problem(context, StatusCodes.Status405MethodNotAllowed, $"The web UI does not take {context.Request.Method}.", "Use the pages' forms, or the API.").ConfigureAwait(false);
                return;
            }
            var caller = resumed.Caller;
            context.Items[CallerKey] = caller;
            context.Items[SessionKey] = resumed;
            context.Items["rig.operator"] = caller.Name;
            var flash = context.Request.Cookies[FlashCookie];
            if (flash is not null)
                context.Response.Cookies.Delete(FlashCookie, new CookieOptions { Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
            context.Items[FrameKey] = new UiFrame
            {
                Operator = caller.Name,
                Teams = caller.Teams,
                Csrf = resumed.Csrf,
                Path = context.Request.Path.Value ?? Prefix,
                Flash = flash is { Length: > 2 } ? flash[2..] : null,
                FlashIsError = flash?.StartsWith("e:", StringComparison.Ordinal) == true,
                May = (verb, device) => Verbs.TryParse(verb, out var v) && (device is null ? Rights.AllowsSomewhere(caller.Grants, v) : OperatorAccess.May(caller, v, device)),
                MayOnEverything = verb => Verbs.TryParse(verb, out var v) && Rights.Allows(caller.Grants, v, Place.Provider),
            };
            try
            {
                await next(context).ConfigureAwait(false);
                if (context.Response.StatusCode == StatusCodes.Status404NotFound && !context.Response.HasStarted && context.Response.ContentType is null)
                    await Problem(context, StatusCodes.Status404NotFound, $"There is no page {context.Request.Path}.", "The menu above lists the pages.").ConfigureAwait(false);
            }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                // A query value that is not what the page takes (page=abc, a number past its range): the binder's message names it.
                await Problem(context, StatusCodes.Status400BadRequest, $"The address is not valid: {e.Message}", "Correct the value in the address, or open the page from the menu; nothing was done.").ConfigureAwait(false);
            }
            catch (RigException e) when (!context.Response.HasStarted)
            {
                var status = Api.ApiErrors.StatusOf(e);
                var hint = e is AccessException access ? access.Hint : e is TrustRefusedException trust ? trust.Hint : null;
                await Problem(context, status == StatusCodes.Status500InternalServerError ? StatusCodes.Status400BadRequest : status, e.Message, hint).ConfigureAwait(false);
            }
        });

        app.MapGet(Prefix + "/static/{file}", (string file) => Static(file));
        app.MapGet(Prefix + "/sign-in", (HttpContext context, string? next, string? error) => SignInForm(context, next, error));
        app.MapPost(Prefix + "/sign-in", (HttpContext context, CancellationToken _) => SignInAsync(context, sessions));
        app.MapPost(Prefix + "/sign-out", async (HttpContext context, CancellationToken ct) =>
        {
            await sessions.SignOutAsync(context, ((UiSessions.Resumed)context.Items[SessionKey]!).IdHash, ct).ConfigureAwait(false);
            return Results.Redirect(Prefix + "/sign-in?signedOut=1");
        });
        app.MapGet(Prefix + "/", (HttpContext context, CancellationToken ct) => DashboardAsync(context, services, ct));
        MapDevicePages(app, services, sessions);
        MapChangePages(app, services, sessions);
        MapRolloutPages(app, services, sessions);
        MapAdminPages(app, services, sessions);
    }

    /// <summary>Sites (topology), the device list and a device's page with its live output (UiEndpoints.Devices.cs).</summary>
    static partial void MapDevicePages(WebApplication app, OperatorServices services, UiSessions sessions);

    /// <summary>Change review with approvals, history, the model as of a date, the audit log (UiEndpoints.Changes.cs).</summary>
    static partial void MapChangePages(WebApplication app, OperatorServices services, UiSessions sessions);

    /// <summary>Rollouts: start, the live view, pause/resume/cancel/retry, failed devices' output (UiEndpoints.Rollouts.cs).</summary>
    static partial void MapRolloutPages(WebApplication app, OperatorServices services, UiSessions sessions);

    /// <summary>Packages, teams/grants/tokens and enrollment tokens (UiEndpoints.Admin.cs).</summary>
    static partial void MapAdminPages(WebApplication app, OperatorServices services, UiSessions sessions);

    // ---- helpers the pages share ------------------------------------------------------------

    /// <summary>The signed-in operator of this request.</summary>
    internal static Caller CallerOf(HttpContext context) => (Caller)context.Items[CallerKey]!;

    /// <summary>The page frame of this request.</summary>
    internal static UiFrame FrameOf(HttpContext context) => (UiFrame)context.Items[FrameKey]!;

    /// <summary>Render page <typeparamref name="TPage"/> with its frame and <paramref name="parameters"/>.</summary>
    internal static IResult Page<TPage>(HttpContext context, IReadOnlyDictionary<string, object?> parameters, int status = StatusCodes.Status200OK) where TPage : IComponent
    {
        var all = new Dictionary<string, object?>(parameters, StringComparer.Ordinal) { ["Frame"] = FrameOf(context) };
        return new PageResult<TPage>(all, status);
    }

    /// <summary>A whole page: rendered like a live fragment (<see cref="UiLive.RenderAsync"/>), so both get the same
    /// encoding and the same <see cref="VisibleControls"/> pass.</summary>
    private sealed class PageResult<TPage>(Dictionary<string, object?> parameters, int status) : IResult where TPage : IComponent
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var html = await UiLive.RenderAsync<TPage>(httpContext, parameters).ConfigureAwait(false);
            await Results.Content(html, "text/html; charset=utf-8", System.Text.Encoding.UTF8, status).ExecuteAsync(httpContext).ConfigureAwait(false);
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("&#x([0-9A-Fa-f]{1,6});|[\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]")]
    private static partial System.Text.RegularExpressions.Regex ControlInHtml();

    /// <summary>Control characters in rendered HTML made visible: the encoder writes an ESC from a model value or a
    /// device as <c>&amp;#x1B;</c>, which the browser turns back into an invisible ESC. Every C0 control but tab and
    /// line breaks becomes its Unicode picture (␛, ␇), DEL ␡, C1 controls and the bidirectional overrides and isolates
    /// (which could reorder what an operator reads) U+FFFD; as references or raw.</summary>
    internal static string VisibleControls(string html) => ControlInHtml().Replace(html, m =>
    {
        var c = m.Groups[1].Success ? int.Parse(m.Groups[1].ValueSpan, NumberStyles.HexNumber, CultureInfo.InvariantCulture) : m.Value[0];
        return c switch
        {
            '\t' or '\n' or '\r' => m.Value,
            < 0x20 => ((char)(0x2400 + c)).ToString(),
            0x7F => "\u2421",
            (>= 0x80 and <= 0x9F) or (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069) => "\uFFFD",
            _ => m.Value,
        };
    });

    /// <summary>Answer a refusal as a page (or, for a stream or a request without a session, as text).</summary>
    private static async Task Problem(HttpContext context, int status, string message, string? hint)
    {
        message = Masked(context, message);
        hint = hint is null ? null : Masked(context, hint);
        context.Response.StatusCode = status;
        if (context.Items[FrameKey] is UiFrame)
        {
            await Page<ErrorPage>(context, new Dictionary<string, object?> { ["Status"] = status, ["Message"] = message, ["Hint"] = hint }, status).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        await Results.Content(VisibleControls(HtmlPage($"{status}: {message}", hint)), "text/html; charset=utf-8", statusCode: status).ExecuteAsync(context).ConfigureAwait(false);
    }

    /// <summary>A minimal page for answers without a session (encoded by hand: there is no frame to draw).</summary>
    private static string HtmlPage(string message, string? hint) =>
        $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rig</title><link rel=\"stylesheet\" href=\"{Prefix}/static/rig.css\"></head><body><main class=\"narrow\"><h1>Rig</h1><p class=\"flash error\" role=\"alert\">{System.Net.WebUtility.HtmlEncode(message)}</p>" +
        (hint is null ? "" : $"<p>{System.Net.WebUtility.HtmlEncode(hint)}</p>") + $"<p><a href=\"{Prefix}/sign-in\">Sign in</a></p></main></body></html>";

    /// <summary>Run an action posted from a page: on success the flash says what was done; a refusal (a right the
    /// operator lacks, a conflict) comes back as an error flash on the same page, a hidden object as 404. Either way
    /// the action is appended to the audit log as the API's would be, and the browser is sent to <paramref name="back"/>.</summary>
    internal static async Task<IResult> ActAsync(HttpContext context, AuditService audit, string action, string target, string? device, string back, Func<Caller, Task<string>> work)
    {
        var caller = CallerOf(context);
        string outcome;
        string flash;
        var status = StatusCodes.Status200OK;
        try
        {
            flash = "o:" + await work(caller).ConfigureAwait(false);
            outcome = "ok";
        }
        catch (NotVisibleException)
        {
            await RecordAsync(context, audit, caller.Name, action, target, device, "refused", StatusCodes.Status404NotFound).ConfigureAwait(false);
            throw;
        }
        catch (RigException e)
        {
            status = Api.ApiErrors.StatusOf(e);
            outcome = status >= 500 ? "error" : "refused";
            flash = "e:" + e.Message + (e is AccessException access && access.Hint is { } hint ? " " + hint : "");
        }
        await RecordAsync(context, audit, caller.Name, action, target, device, outcome, status).ConfigureAwait(false);
        flash = Masked(context, flash);
        context.Response.Cookies.Append(FlashCookie, flash.Length > 1500 ? flash[..1500] + "..." : flash,
            new CookieOptions { Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", MaxAge = TimeSpan.FromMinutes(1) });
        return SeeOther(back);
    }

    private static async Task RecordAsync(HttpContext context, AuditService audit, string who, string action, string target, string? device, string outcome, int status)
    {
        try
        {
            await audit.RecordAsync(who, action, target, device, outcome, $"{{\"status\":{status},\"via\":\"ui\"}}", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Rig.Server.Operator");
            ServerLog.AuditAppendFailed(logger, who, action, target, e.Message);
        }
    }

    /// <summary>303 See Other: after a form post, the browser gets the page with GET.</summary>
    internal static IResult SeeOther(string location) => new SeeOtherResult(location);

    private sealed class SeeOtherResult(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
            httpContext.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }

    /// <summary>A request for a live stream (Server-Sent Events).</summary>
    private static bool IsStream(HttpRequest request) =>
        request.Path.StartsWithSegments(Prefix + "/live", StringComparison.OrdinalIgnoreCase) || request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.Ordinal);

    /// <summary>A local path to go to after sign-in: only this UI's own pages, never another site.</summary>
    private static string SafeNext(string? next)
    {
        if (next is null || !next.StartsWith(Prefix + "/", StringComparison.Ordinal) || next.StartsWith("//", StringComparison.Ordinal) || next.Contains('\\', StringComparison.Ordinal)
            || next.Length >= 2000 || next.Any(char.IsControl))
            return Prefix + "/";
        // A Location header is ASCII: letters beyond it (a device filter ?q=é) and spaces go percent-encoded.
        return next.All(c => char.IsAscii(c) && c != ' ') ? next : string.Concat(next.EnumerateRunes().Select(r => r.IsAscii && r.Value != ' ' ? r.ToString() : Uri.EscapeDataString(r.ToString())));
    }

    // ---- sign-in ----------------------------------------------------------------------------

    private static IResult SignInForm(HttpContext context, string? next, string? error)
    {
        var nonce = Tokens.Create("");
        context.Response.Cookies.Append(UiSessions.SignInCookie, nonce, new CookieOptions { Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", MaxAge = TimeSpan.FromMinutes(30) });
        context.Response.Headers.CacheControl = "no-store";
        return new RazorComponentResult<SignInPage>(new Dictionary<string, object?>
        {
            ["Nonce"] = nonce,
            ["Next"] = SafeNext(next),
            ["Error"] = error switch
            {
                "expired" => "That token has expired. Ask an operator with manage-trust for a new one (rig token create).",
                "refused" => "That token was refused: it is not a live operator token of this gateway (unknown or revoked).",
                "form" => "The sign-in form was too old or came from elsewhere: try again.",
                "empty" => "Paste an operator token (it starts with rigop_).",
                _ => null,
            },
            ["SignedOut"] = context.Request.Query.ContainsKey("signedOut"),
        }) { ContentType = "text/html; charset=utf-8" };
    }

    private static async Task<IResult> SignInAsync(HttpContext context, UiSessions sessions)
    {
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false) : null;
        var next = SafeNext(form?["next"].ToString());
        var nonce = context.Request.Cookies[UiSessions.SignInCookie];
        if (form is null || string.IsNullOrEmpty(nonce) || !UiSessions.CsrfMatches(nonce, form["_signin"].ToString()))
            return SeeOther($"{Prefix}/sign-in?error=form&next={Uri.EscapeDataString(next)}");
        var token = form["token"].ToString().Trim();
        if (token.Length == 0 || token.Length > 500)
            return SeeOther($"{Prefix}/sign-in?error=empty&next={Uri.EscapeDataString(next)}");
        var (id, refusal) = await sessions.SignInAsync(token, context.RequestAborted).ConfigureAwait(false);
        if (id is null)
            return SeeOther($"{Prefix}/sign-in?error={(refusal == TokenRefusal.Expired ? "expired" : "refused")}&next={Uri.EscapeDataString(next)}");
        if (context.Request.Cookies[UiSessions.Cookie] is { Length: > 0 and <= 200 } previous)
            await sessions.EndAsync(previous, context.RequestAborted).ConfigureAwait(false); // signing in again (as anyone) ends the session this browser had
        context.Response.Cookies.Delete(UiSessions.SignInCookie, new CookieOptions { Secure = true, HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
        UiSessions.SetCookie(context, id, UiSessions.Idle);
        return SeeOther(next);
    }

    // ---- static files -----------------------------------------------------------------------

    private static readonly Dictionary<string, (byte[] Body, string Type, string ETag)> StaticFiles = LoadStatic();

    private static Dictionary<string, (byte[], string, string)> LoadStatic()
    {
        var assembly = typeof(UiEndpoints).Assembly;
        var files = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        const string prefix = "Rig.Server.Ui.Static.";
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var body = memory.ToArray();
            var file = name[prefix.Length..];
            var type = Path.GetExtension(file) switch
            {
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            files[file] = (body, type, $"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body))[..16]}\"");
        }
        return files;
    }

    private static IResult Static(string file) =>
        StaticFiles.TryGetValue(file, out var found)
            ? new StaticResult(found.Body, found.Type, found.ETag)
            : Results.NotFound();

    private sealed class StaticResult(byte[] body, string type, string etag) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.ETag = etag;
            httpContext.Response.Headers.CacheControl = "no-cache"; // revalidated: a new gateway version's files are picked up at once
            if (httpContext.Request.Headers.IfNoneMatch.ToString() == etag)
            {
                httpContext.Response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }
            httpContext.Response.ContentType = type;
            httpContext.Response.ContentLength = body.Length;
            await httpContext.Response.Body.WriteAsync(body).ConfigureAwait(false);
        }
    }

    /// <summary>The version of the UI's files, shown in the footer.</summary>
    internal static string Version => typeof(UiEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "dev";
}
