using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rig.Server.Packages;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary><c>POST /api/v1/packages/fetch</c>: a Debian package and the dependencies the devices lack, from the
    /// distribution's mirror into the package store (see <see cref="PackageFetcher"/>). The fetch's error kinds become an
    /// HTTP status here and only here.</summary>
    internal static void MapPackageFetch(WebApplication app, OperatorServices services) =>
        app.MapPost("/api/v1/packages/fetch", async (PackageFetchRequest request, HttpContext context, CancellationToken ct) =>
        {
            try
            {
                return Results.Json(await services.Packages.FetchAsync(CallerOf(context), request, ct).ConfigureAwait(false));
            }
            catch (PackageFetchException e)
            {
                return ApiErrors.Refused(e);
            }
        }).Documented<PackageFetchResponse>("fetchPackages", 200, [.. JsonBodyErrors, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable])
        .AddEndpointFilter(OperatorAudit.Filter(services.Audit))
        .AddEndpointFilter(ApiErrors.FilterAsync)
        .WithTags("Packages").WithSummary("Fetch Debian packages and the dependencies the devices lack from the distribution's mirror, verified, into the package store.");
}
