using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rig.Server.Gateway;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>Device lifecycle and stored scripts.</summary>
    private static void MapLifecycle(RouteGroupBuilder api, OperatorServices services)
    {
        var devices = services.Devices;
        var scripts = services.Scripts;

        api.MapPost("/devices/{name}/clone", async (string name, CloneDeviceRequest request, HttpContext context, CancellationToken ct) =>
            Lifecycle(await devices.CloneAsync(CallerOf(context), name, request, ct).ConfigureAwait(false), 201))
            .Documented<LifecycleResponse>("cloneDevice", 201, [.. JsonBodyErrors, StatusCodes.Status404NotFound]).WithSummary("Scale out: a new device with the source's roles and interconnections, as a new revision.");

        api.MapGet("/devices/{name}/decommission-plan", async (string name, HttpContext context, CancellationToken ct) =>
            await devices.PlanDecommissionAsync(CallerOf(context), name, ct).ConfigureAwait(false) is { } plan
                ? Results.Json(plan)
                : ApiErrors.Json(new ApiError("unknown-device", $"Device '{name}' is not in the model; nothing to decommission."), statusCode: 404))
            .Documented<PlanReport>("planDecommission", 200, StatusCodes.Status404NotFound).WithSummary("What decommissioning the device would do, per device (it and its neighbours); nothing is saved or sent.");

        api.MapPost("/devices/{name}/decommission", async (string name, string? message, long? baseRevision, HttpContext context, CancellationToken ct) =>
        {
            try
            {
                var result = await devices.DecommissionAsync(CallerOf(context), name, message, baseRevision, ct).ConfigureAwait(false);
                if (result.Errors is [{ Code: "plan.revision-moved" } moved, ..])
                    return ApiErrors.Json(new ApiError("plan-stale", $"Nothing was decommissioned: {moved.Message}", result.Errors), statusCode: 409);
                return Lifecycle(result, 202);
            }
            catch (RolloutRefusedException e)
            {
                return ApiErrors.Refused(e);
            }
        }).Documented<LifecycleResponse>("decommissionDevice", 202, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)
        .WithSummary("Remove the device's software (reverse role order) and interconnections, then free it.");

        api.MapPost("/devices/{name}/rebuild", async (string name, string? message, HttpContext context, CancellationToken ct) =>
            Lifecycle(await devices.RebuildAsync(CallerOf(context), name, message, ct).ConfigureAwait(false), 202))
            .Documented<LifecycleResponse>("rebuildDevice", 202, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("Disaster recovery: forget the lost device, queue a full install, return an enrollment token for its fresh agent.");

        api.MapGet("/scripts", async (HttpContext context, CancellationToken ct) => Results.Json(await scripts.ListAsync(CallerOf(context), ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<ScriptView>>("listScripts", 200).WithSummary("Stored scripts.");

        api.MapGet("/scripts/{name}", async (string name, HttpContext context, CancellationToken ct) =>
            await scripts.GetAsync(CallerOf(context), name, ct).ConfigureAwait(false) is { } script
                ? Results.Json(script)
                : UnknownScript(name)).Documented<ScriptView>("getScript", 200, StatusCodes.Status404NotFound).WithSummary("One stored script.");

        api.MapPut("/scripts/{name}", async (string name, ScriptRequest request, HttpContext context, CancellationToken ct) =>
        {
            var (script, errors) = await scripts.SaveAsync(CallerOf(context), name, request, ct).ConfigureAwait(false);
            return errors.Count == 0
                ? Results.Json(script)
                : ApiErrors.Json(new ApiError("invalid-script", $"The script has {errors.Count} error(s); nothing was saved.", errors, Hint: "Fix every error listed in 'errors' and send the script again."), statusCode: 400);
        }).Documented<ScriptView>("putScript", 200, JsonBodyErrors).WithSummary("Create or replace a stored script (service, reboot and inventory commands).");

        api.MapDelete("/scripts/{name}", async (string name, HttpContext context, CancellationToken ct) =>
            await scripts.DeleteAsync(CallerOf(context), name, ct).ConfigureAwait(false)
                ? Results.NoContent()
                : UnknownScript(name)).DocumentedNoContent("deleteScript", StatusCodes.Status404NotFound).WithSummary("Delete a stored script.");

        api.MapPost("/scripts/{name}/run", async (string name, ScriptRunRequest request, HttpContext context, CancellationToken ct) =>
            Lifecycle(await scripts.RunAsync(CallerOf(context), name, request, ct).ConfigureAwait(false), 202))
            .Documented<LifecycleResponse>("runScript", 202, [.. JsonBodyErrors, StatusCodes.Status404NotFound]).WithSummary("Run a stored script on a device or selector: one queue per device.");
    }

    private static IResult UnknownScript(string name) =>
        ApiErrors.Json(new ApiError("unknown-script", $"There is no stored script '{name}'.", Hint: "See the stored scripts with `rig script list`."), statusCode: 404);

    private static IResult Lifecycle(LifecycleResponse result, int success) =>
        result.Errors.Count > 0 && result.Rollout is null && result.Queues.Count == 0
            ? ApiErrors.Json(new ApiError(result.Errors[0].Code, result.Errors[0].Message, result.Errors), statusCode: result.Errors[0].Code.EndsWith(".unknown", StringComparison.Ordinal) ? 404 : 400)
            : Results.Json(result, statusCode: success);
}
