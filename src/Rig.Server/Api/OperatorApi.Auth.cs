using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>Realm of the Basic challenge on the documentation paths: a browser shows it in its login prompt.</summary>
    private const string DocumentationRealm = "Basic realm=\"Rig operator API (password: an operator token)\", charset=\"UTF-8\"";

    /// <summary>The operator behind a request, or the answer refusing it. An API request carries
    /// <c>Authorization: Bearer TOKEN</c> (the scheme name in any case). A GET or HEAD of the OpenAPI document and the
    /// reference page under <c>/openapi/</c> may carry the same token as the password of HTTP Basic instead, which is
    /// what a browser sends after its login prompt; Basic is refused everywhere else, so credentials a browser caches
    /// and attaches by itself can only read the documentation, never change anything (docs/API.md <em>Security</em>).</summary>
    private static async Task<(Caller? Caller, IResult? Refusal)> AuthenticateAsync(HttpContext context, TrustService trust)
    {
        var documentation = IsDocumentation(context.Request);
        var header = context.Request.Headers.Authorization.ToString().Trim();
        var space = header.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space < 0 ? header : header[..space];
        var credential = space < 0 ? "" : header[(space + 1)..].Trim();
        string? token = null;
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            token = credential;
        else if (documentation && scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            token = BasicPassword(credential);

        if (string.IsNullOrEmpty(token))
        {
            Challenge(context, documentation, refused: false);
            var got = header.Length == 0
                ? "the request has no Authorization header"
                : $"the Authorization header is '{(scheme.Length > 20 ? scheme[..20] + "..." : scheme)}' without a usable token";
            return (null, ApiErrors.Json(new ApiError("unauthorized", $"An operator token is required: send 'Authorization: Bearer <token>'; {got}.",
                Hint: "Set RIG_TOKEN (or pass --token) to the operator token `rig server init` printed."), StatusCodes.Status401Unauthorized));
        }
        var (caller, why) = await trust.AuthenticateAsync(token, context.RequestAborted).ConfigureAwait(false);
        if (caller is null)
        {
            Challenge(context, documentation, refused: true);
            return (null, why == TokenRefusal.Expired
                ? ApiErrors.Json(new ApiError("token-expired", "The token was refused: it has expired.",
                    Hint: "Ask an operator with 'manage-trust' for a new token (rig token create); make the next one before this one expires."), StatusCodes.Status401Unauthorized)
                : ApiErrors.Json(new ApiError("token-refused", $"The token was refused: {Describe(token)} is not a live operator token of this gateway (unknown or revoked).",
                    Hint: "Check RIG_TOKEN (or --token): it must be an operator token of this gateway, such as the one `rig server init` printed; `rig token list` shows live tokens."),
                    StatusCodes.Status401Unauthorized));
        }
        context.Items[TokenKey] = token;
        return (caller, null);
    }

    /// <summary>GET or HEAD of the OpenAPI document or the reference page (and its scripts).</summary>
    private static bool IsDocumentation(HttpRequest request) =>
        request.Path.StartsWithSegments("/openapi", StringComparison.Ordinal) && (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method));

    private static void Challenge(HttpContext context, bool documentation, bool refused)
    {
        context.Response.Headers.WWWAuthenticate = documentation
            ? new Microsoft.Extensions.Primitives.StringValues([refused ? "Bearer error=\"invalid_token\"" : "Bearer", DocumentationRealm])
            : refused ? "Bearer error=\"invalid_token\"" : "Bearer";
    }

    /// <summary>The password of HTTP Basic credentials (the user name is ignored), or null when they do not decode.</summary>
    private static string? BasicPassword(string credential)
    {
        var bytes = new byte[credential.Length];
        if (!Convert.TryFromBase64String(credential, bytes, out var length))
            return null;
        var text = Encoding.UTF8.GetString(bytes, 0, length);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : text[(colon + 1)..];
    }

    /// <summary>A refused token described without echoing it (it may be a secret of something else): enough to notice an
    /// enrollment token or a truncated paste.</summary>
    private static string Describe(string token) => token.StartsWith("rigop_", StringComparison.Ordinal)
        ? $"the rigop_ token sent ({token.Length} characters)"
        : $"the token sent ({token.Length} characters, not starting with 'rigop_' as operator tokens do)";

    /// <summary>The error of an answer routing gave without a body.</summary>
    private static IResult Bodiless(HttpContext context)
    {
        var status = context.Response.StatusCode;
        var request = $"{context.Request.Method} {context.Request.Path}";
        var error = status switch
        {
            StatusCodes.Status404NotFound => new ApiError("not-found", $"The operator API has no endpoint {request}.", Hint: "The endpoints are listed in GET /openapi/v1.json."),
            StatusCodes.Status405MethodNotAllowed => new ApiError("method-not-allowed", $"{request}: the path exists, not with this method.", Hint: "The methods of each path are listed in GET /openapi/v1.json."),
            StatusCodes.Status415UnsupportedMediaType => new ApiError("unsupported-media-type", $"{request}: the body must be JSON; got '{context.Request.ContentType}'.",
                Hint: "Send the body with 'Content-Type: application/json'."),
            _ => new ApiError($"http-{status}", $"{request} was answered {status}."),
        };
        return ApiErrors.Json(error, status);
    }

    /// <summary>A body or parameter the endpoint could not read (bad JSON, a wrong type, a missing value, a wrong
    /// content type): the client's fault, with what was wrong.</summary>
    private static IResult Unreadable(BadHttpRequestException e)
    {
        var detail = e.InnerException is JsonException json ? $"{e.Message} {json.Message}" : e.Message;
        var hint = e.StatusCode == StatusCodes.Status415UnsupportedMediaType
            ? "Send the body with 'Content-Type: application/json'."
            : "Compare the request with its schema in the OpenAPI document, GET /openapi/v1.json.";
        return ApiErrors.Json(new ApiError("bad-request", $"The request could not be read: {detail} Nothing was changed.", Hint: hint), e.StatusCode);
    }
}
