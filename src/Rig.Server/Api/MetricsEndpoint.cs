using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rig.Server.Gateway;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Api;

/// <summary><c>/metrics</c> on the operator listener: the <c>Rig.Gateway</c> meter in Prometheus text format (OpenTelemetry's
/// exporter). It needs a token, like everything on that listener but health: the read-only metrics token (<c>rig server
/// metrics-token</c>, which opens nothing else) or an operator token. Registered before the operator API's own
/// authentication, which would refuse the metrics token.</summary>
internal static class MetricsEndpoint
{
    /// <summary>The path Prometheus scrapes.</summary>
    public const string Path = "/metrics";

    public static void Map(WebApplication app, RigStore store, GatewayMetrics gauges, MetricsToken token)
    {
        app.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: context => context.Request.Path == Path, path: null,
            configureBranchedPipeline: branch => branch.Use(async (context, next) =>
            {
                context.Response.Headers.CacheControl = "no-store";
                if (!(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)))
                {
                    context.Response.Headers.Allow = "GET, HEAD";
                    await Results.Json(new ApiError("method-not-allowed", $"{context.Request.Method} {Path} is not allowed: scrape it with GET."), statusCode: 405).ExecuteAsync(context).ConfigureAwait(false);
                    return;
                }
                if (!await AuthorizedAsync(context, store, token).ConfigureAwait(false))
                {
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await Results.Json(new ApiError("unauthorized",
                        $"{Path} requires a token: send 'Authorization: Bearer <token>' with the metrics token (`rig server metrics-token`) or an operator token."), statusCode: 401)
                        .ExecuteAsync(context).ConfigureAwait(false);
                    return;
                }
                await gauges.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
                await next(context).ConfigureAwait(false);
            }), optionsName: null);
    }

    private static async Task<bool> AuthorizedAsync(HttpContext context, RigStore store, MetricsToken token)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length <= scheme.Length)
            return false;
        var hash = Tokens.Hash(header[scheme.Length..].Trim());
        return token.Matches(hash) || await store.FindOperatorAsync(hash, context.RequestAborted).ConfigureAwait(false) is not null;
    }
}

/// <summary>The read-only metrics token of a gateway: its SHA-256 in <c>DATA/metrics-token.sha256</c> (mode 0600), written
/// by <c>rig server metrics-token</c>. Read again when the file changes, so a new token works without a restart and the
/// old one stops working at once.</summary>
public sealed class MetricsToken(string dataDirectory)
{
    private readonly Lock _gate = new();
    private (DateTime Written, long Length, string? Hash) _cached = (DateTime.MinValue, -1, null);

    /// <summary>The file holding the token's hash.</summary>
    public string FilePath { get; } = System.IO.Path.Combine(dataDirectory, "metrics-token.sha256");

    /// <summary>Make a new metrics token (the previous one stops working) and return it; only its hash is kept.</summary>
    public string Create()
    {
        var token = Tokens.Create("rigmet_");
        Protocol.Trust.WritePrivateFile(FilePath, Tokens.Hash(token) + "\n");
        return token;
    }

    /// <summary>True when <paramref name="hash"/> is the current metrics token's hash.</summary>
    public bool Matches(string hash)
    {
        var file = new FileInfo(FilePath);
        if (!file.Exists)
            return false;
        lock (_gate)
        {
            if (_cached.Written != file.LastWriteTimeUtc || _cached.Length != file.Length)
            {
                string? stored;
                try
                {
                    stored = File.ReadAllText(FilePath).Trim();
                }
                catch (IOException)
                {
                    return false;
                }
                _cached = (file.LastWriteTimeUtc, file.Length, stored.Length == 64 ? stored : null);
            }
            return _cached.Hash is { } current && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.ASCII.GetBytes(current), System.Text.Encoding.ASCII.GetBytes(hash));
        }
    }
}
