using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>The most entries one page of the audit log holds.</summary>
    private const int MaxAuditPage = 1000;

    /// <summary>The audit log: read it (paged by seq) and verify its hash chain.</summary>
    private static void MapAudit(RouteGroupBuilder api, OperatorServices services)
    {
        var audit = services.Audit;

        api.MapGet("/audit", async (string? since, string? device, [FromQuery(Name = "operator")] string? operatorName, int? limit, long? after, HttpContext context, CancellationToken ct) =>
        {
            DateTimeOffset? from = null;
            if (since is not null)
            {
                if (!DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
                    return ApiErrors.Json(new ApiError("bad-since", $"'{since}' is not a date and time (e.g. 2026-12-05T14:00:00Z).", Hint: "Give `since` as an ISO 8601 date and time; `rig audit --since` also takes 2h or 7d."), statusCode: 400);
                from = parsed;
            }
            if (limit is < 1 or > MaxAuditPage)
                return ApiErrors.Json(new ApiError("bad-limit", $"limit={limit} is outside 1..{MaxAuditPage}.", Hint: $"Ask for at most {MaxAuditPage} entries and page on with `after`."), statusCode: 400);
            if (after is < 0)
                return ApiErrors.Json(new ApiError("bad-after", $"after={after} is negative.", Hint: "Pass the previous page's `next`, or leave `after` out to start at the first entry."), statusCode: 400);
            return Results.Json(await audit.ListAsync(CallerOf(context), after ?? 0, from, device, operatorName, limit ?? 100, ct).ConfigureAwait(false));
        }).Documented<AuditPage>("listAudit", 200, QueryErrors)
        .WithSummary("Audit log entries after `after` (a seq), oldest first, filtered by time, device and operator; `next` is the `after` of the next page.");

        api.MapGet("/audit/verify", async (HttpContext context, CancellationToken ct) =>
            Results.Json(await audit.VerifyAsync(CallerOf(context), ct).ConfigureAwait(false)))
            .Documented<AuditVerifyResponse>("verifyAudit", 200)
            .WithSummary("Recompute the audit log's hash chain from its first entry: the first entry altered, removed or reordered, entries checked, the head.");
    }
}
