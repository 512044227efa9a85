using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rig.Server.Gateway;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>Rollouts: start, list, follow, pause, resume, cancel, retry.</summary>
    private static void MapRollouts(RouteGroupBuilder api, OperatorServices services)
    {
        var rollouts = services.Rollouts;

        api.MapPost("/rollouts", async (RolloutStartRequest request, HttpContext context, CancellationToken ct) =>
        {
            try
            {
                return Results.Json(await rollouts.StartAsync(CallerOf(context), request, ct).ConfigureAwait(false), statusCode: 201);
            }
            catch (RolloutRefusedException e)
            {
                return ApiErrors.Refused(e);
            }
        }).Documented<RolloutView>("startRollout", 201, [.. JsonBodyErrors, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict])
        .WithSummary("Roll a revision out in waves: canary first, then batches; pauses itself past the failure threshold.");

        api.MapGet("/rollouts", async (bool? active, HttpContext context, CancellationToken ct) =>
            Results.Json(await rollouts.ListAsync(CallerOf(context), active ?? false, 50, ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<RolloutView>>("listRollouts", 200, QueryErrors).WithSummary("Rollouts, newest first (the last 50; active=true: running or paused ones).");

        api.MapGet("/rollouts/{id}", async (string id, HttpContext context, CancellationToken ct) =>
            await rollouts.GetAsync(CallerOf(context), id, ct).ConfigureAwait(false) is { } rollout
                ? Results.Json(rollout)
                : ApiErrors.Json(new ApiError("unknown-rollout", $"There is no rollout '{id}'.", Hint: "See the rollouts with `rig rollout list`."), statusCode: 404))
            .Documented<RolloutView>("getRollout", 200, StatusCodes.Status404NotFound).WithSummary("One rollout with every device's state.");

        api.MapPost("/rollouts/{id}/pause", async (string id, HttpContext context, CancellationToken ct) =>
            await rollouts.PauseAsync(CallerOf(context), id, ct).ConfigureAwait(false) is { } rollout
                ? Results.Json(rollout)
                : ApiErrors.Json(new ApiError("not-running", $"Rollout '{id}' is not running.", Hint: $"See its state with `rig rollout status {id}`."), statusCode: 409))
            .Documented<RolloutView>("pauseRollout", 200, StatusCodes.Status409Conflict).WithSummary("Pause: running queues finish, nothing new starts.");

        api.MapPost("/rollouts/{id}/resume", async (string id, int? maxFailures, HttpContext context, CancellationToken ct) =>
            await rollouts.ResumeAsync(CallerOf(context), id, maxFailures, ct).ConfigureAwait(false) is { } rollout
                ? Results.Json(rollout)
                : ApiErrors.Json(new ApiError("not-paused", $"Rollout '{id}' is not paused.", Hint: $"See its state with `rig rollout status {id}`."), statusCode: 409))
            .Documented<RolloutView>("resumeRollout", 200, StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict).WithSummary("Resume a paused rollout, optionally with a higher failure threshold.");

        api.MapPost("/rollouts/{id}/cancel", async (string id, HttpContext context, CancellationToken ct) =>
            await rollouts.CancelAsync(CallerOf(context), id, ct).ConfigureAwait(false) is { } rollout
                ? Results.Json(rollout)
                : ApiErrors.Json(new ApiError("not-active", $"Rollout '{id}' is not running or paused.", Hint: $"See its state with `rig rollout status {id}`."), statusCode: 409))
            .Documented<RolloutView>("cancelRollout", 200, StatusCodes.Status409Conflict).WithSummary("Cancel: running commands finish, nothing new starts.");

        api.MapPost("/rollouts/{id}/retry", async (string id, HttpContext context, CancellationToken ct) =>
        {
            try
            {
                return Results.Json(await rollouts.RetryAsync(CallerOf(context), id, ct).ConfigureAwait(false));
            }
            catch (RolloutRefusedException e)
            {
                return ApiErrors.Refused(e, hint: $"See the rollout with `rig rollout status {id}`.");
            }
        }).Documented<RolloutView>("retryRollout", 200, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict).WithSummary("Retry a failed or paused rollout's failed devices: back into their waves, with the rollout's settings.");
    }
}
