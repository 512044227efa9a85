using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>Approvals (four eyes): what a revision needs, approve, reject. Refusals (404 unknown or invisible
    /// revision, 403 self-approval or no 'approve' where it changed, 409 nothing to approve) are answered by
    /// <see cref="ApiErrors.FilterAsync"/>.</summary>
    private static void MapApprovals(RouteGroupBuilder api, OperatorServices services)
    {
        var approvals = services.Approvals;

        api.MapGet("/revisions/{rev}/approval", async (long rev, HttpContext context, CancellationToken ct) =>
            Results.Json(await approvals.GetAsync(CallerOf(context), rev, ct).ConfigureAwait(false)))
            .Documented<ApprovalView>("getRevisionApproval", 200, StatusCodes.Status404NotFound)
            .WithSummary("What the approval policy asks of a revision (the objects, how many approvals), who approved or rejected it, and its state: not-required, pending, approved or rejected.");

        api.MapPost("/revisions/{rev}/approve", async (long rev, string? message, HttpContext context, CancellationToken ct) =>
            Results.Json(await approvals.ApproveAsync(CallerOf(context), rev, message, ct).ConfigureAwait(false)))
            .Documented<ApprovalView>("approveRevision", 200, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .WithSummary("Approve a revision: needs 'approve' on every place its objects needing approval lie; the author may not approve their own revision.");

        api.MapPost("/revisions/{rev}/reject", async (long rev, string? message, HttpContext context, CancellationToken ct) =>
            Results.Json(await approvals.RejectAsync(CallerOf(context), rev, message, ct).ConfigureAwait(false)))
            .Documented<ApprovalView>("rejectRevision", 200, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
            .WithSummary("Reject a revision: its rollouts (and those of later revisions) are refused until someone approves it.");
    }
}
