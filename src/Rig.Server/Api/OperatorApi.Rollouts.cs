using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>Rollouts: start, list, follow, pause, resume, cancel, retry.</summary>
    private static void MapRollouts(RouteGroupBuilder api, Gateway.Gateway gateway)
    {
        var store = gateway.Store;

        api.MapPost("/rollouts", async (RolloutRequest request, HttpContext context, CancellationToken ct) =>
        {
            try
            {
                var rollout = await gateway.StartRolloutAsync(request, (string)context.Items["rig.operator"]!, ct).ConfigureAwait(false);
                return Results.Json(rollout, statusCode: 201);
            }
            catch (RolloutRefusedException e)
            {
                return Results.Json(new ApiError(e.Code, e.Message), statusCode: e.StatusCode);
            }
        }).WithSummary("Roll a revision out in waves: canary first, then batches; pauses itself past the failure threshold.");

        api.MapGet("/rollouts", async (bool? active, CancellationToken ct) =>
            Results.Json(await store.ListRolloutsAsync(active ?? false, 50, ct).ConfigureAwait(false))).WithSummary("Rollouts, newest first.");

        api.MapGet("/rollouts/{id}", async (string id, CancellationToken ct) =>
            await store.GetRolloutAsync(id, ct).ConfigureAwait(false) is { } rollout
                ? Results.Json(rollout)
                : Results.Json(new ApiError("unknown-rollout", $"There is no rollout '{id}'; see `rig rollout list`."), statusCode: 404)).WithSummary("One rollout with every device's state.");

        api.MapPost("/rollouts/{id}/pause", async (string id, CancellationToken ct) =>
            await gateway.PauseRolloutAsync(id, ct).ConfigureAwait(false)
                ? Results.Json(await store.GetRolloutAsync(id, ct).ConfigureAwait(false))
                : Results.Json(new ApiError("not-running", $"Rollout '{id}' is not running."), statusCode: 409)).WithSummary("Pause: running queues finish, nothing new starts.");

        api.MapPost("/rollouts/{id}/resume", async (string id, int? maxFailures, CancellationToken ct) =>
            await gateway.ResumeRolloutAsync(id, maxFailures, ct).ConfigureAwait(false)
                ? Results.Json(await store.GetRolloutAsync(id, ct).ConfigureAwait(false))
                : Results.Json(new ApiError("not-paused", $"Rollout '{id}' is not paused."), statusCode: 409)).WithSummary("Resume a paused rollout, optionally with a higher failure threshold.");

        api.MapPost("/rollouts/{id}/cancel", async (string id, CancellationToken ct) =>
            await gateway.CancelRolloutAsync(id, ct).ConfigureAwait(false)
                ? Results.Json(await store.GetRolloutAsync(id, ct).ConfigureAwait(false))
                : Results.Json(new ApiError("not-active", $"Rollout '{id}' is not running or paused."), statusCode: 409)).WithSummary("Cancel: running commands finish, nothing new starts.");

        api.MapPost("/rollouts/{id}/retry", async (string id, CancellationToken ct) =>
        {
            try
            {
                return Results.Json(await gateway.RetryRolloutAsync(id, ct).ConfigureAwait(false));
            }
            catch (RolloutRefusedException e)
            {
                return Results.Json(new ApiError(e.Code, e.Message), statusCode: e.StatusCode);
            }
        }).Produces<RolloutInfo>().WithSummary("Retry a failed or paused rollout's failed devices: back into their waves, with the rollout's settings.");
    }
}
