using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rig.Server.Packages;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary><c>POST /api/v1/packages/fetch</c>: a Debian package and the dependencies the devices lack, from the
    /// distribution's mirror into the package store (see <see cref="PackageFetcher"/>). The fetch's error kinds become an
    /// HTTP status here and only here.</summary>
    internal static void MapPackageFetch(WebApplication app, PackageFetcher fetcher) =>
        app.MapPost("/api/v1/packages/fetch", async (PackageFetchRequest request, CancellationToken ct) =>
        {
            var order = new PackageFetchOrder(request.Packages ?? [], request.Distro ?? "", request.Architecture ?? "", request.Devices ?? [],
                request.Mirror, request.SecurityMirror, request.Components, request.Format, request.Refresh);
            try
            {
                var result = await fetcher.FetchAsync(order, ct).ConfigureAwait(false);
                return Results.Json(new PackageFetchResponse(result.Distro, result.Architecture, result.Mirror, result.SecurityMirror, result.Devices, result.BasePackages,
                    result.ListsRefreshed, [.. result.Packages.Select(p => new FetchedPackageView(p.Name, p.Version, p.Architecture, p.Sha256, p.Size, p.Outcome, p.Reason, p.DeviceVersion, p.Error))],
                    result.Removals, result.Notes));
            }
            catch (PackageFetchException e)
            {
                return ApiErrors.Refused(e);
            }
        }).Documented<PackageFetchResponse>("fetchPackages", 200, [.. JsonBodyErrors, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable])
        .AddEndpointFilter(OperatorAudit.FilterAsync)
        .WithTags("Packages").WithSummary("Fetch Debian packages and the dependencies the devices lack from the distribution's mirror, verified, into the package store.");
}
