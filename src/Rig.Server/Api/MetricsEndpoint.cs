using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rig.Server.Gateway;
using Rig.Server.Security;
using Rig.Server.Services;

namespace Rig.Server.Api;

/// <summary><c>/metrics</c> on the operator listener: the <c>Rig.Gateway</c> meter in Prometheus text format (OpenTelemetry's
/// exporter). It needs a token, like everything on that listener but health: the read-only metrics token (<c>rig server
/// metrics-token</c>, which opens nothing else) or an operator token. Registered before the operator API's own
/// authentication, which would refuse the metrics token.</summary>
internal static class MetricsEndpoint
{
    /// <summary>The path Prometheus scrapes.</summary>
    public const string Path = "/metrics";

    public static void Map(WebApplication app, TrustService trust, GatewayMetrics gauges)
    {
        app.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: context => context.Request.Path == Path, path: null,
            configureBranchedPipeline: branch => branch.Use(async (context, next) =>
            {
                context.Response.Headers.CacheControl = "no-store";
                if (!(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)))
                {
                    context.Response.Headers.Allow = "GET, HEAD";
                    await ApiErrors.Json(new ApiError("method-not-allowed", $"{context.Request.Method} {Path} is not allowed: scrape it with GET."), statusCode: 405).ExecuteAsync(context).ConfigureAwait(false);
                    return;
                }
                if (!await AuthorizedAsync(context, trust).ConfigureAwait(false))
                {
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await ApiErrors.Json(new ApiError("unauthorized",
                        $"{Path} requires a token: send 'Authorization: Bearer <token>' with the metrics token (`rig server metrics-token`) or an operator token."), statusCode: 401)
                        .ExecuteAsync(context).ConfigureAwait(false);
                    return;
                }
                await gauges.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
                await next(context).ConfigureAwait(false);
            }), optionsName: null);
    }

    private static async Task<bool> AuthorizedAsync(HttpContext context, TrustService trust)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length <= scheme.Length)
            return false;
        return await trust.MayScrapeMetricsAsync(header[scheme.Length..].Trim(), context.RequestAborted).ConfigureAwait(false);
    }
}
