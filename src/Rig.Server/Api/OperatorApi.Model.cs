using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>Plan, apply, history, diff, as-of.</summary>
    private static void MapModelHistory(RouteGroupBuilder api, OperatorServices services)
    {
        var models = services.Model;

        api.MapPost("/plan", async (HttpContext context, string? devices, CancellationToken ct) =>
        {
            var (model, error) = await ReadModelAsync(context, ct).ConfigureAwait(false);
            if (model is null)
                return error!;
            var (plan, _, why) = await models.PlanProposedAsync(CallerOf(context), model, devices, ct).ConfigureAwait(false);
            return plan is not null ? Results.Json(plan) : BadSelector(why);
        }).Accepts<RigModel>("application/json").Documented<PlanReport>("planProposed", 200, StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge)
        .WithSummary("Plan a proposed model: per device the commands that would run and diffs of configuration files. Nothing is saved or sent.");

        api.MapGet("/plan", async (string? at, string? devices, HttpContext context, CancellationToken ct) =>
        {
            var (plan, refusal, why) = await models.PlanStoredAsync(CallerOf(context), at, devices, ct).ConfigureAwait(false);
            if (plan is not null)
                return Results.Json(plan);
            return refusal == ModelRefusal.BadRevision
                ? ApiErrors.Json(new ApiError("bad-revision", $"'{at}' is not a revision or a date with a revision at or before it.", Hint: "See the revisions with `rig history`."), statusCode: 400)
                : BadSelector(why);
        }).Documented<PlanReport>("planStored", 200, QueryErrors).WithSummary("Plan a stored revision (default: current) against what devices have now. Nothing is sent.");

        api.MapGet("/drift", async (string? devices, HttpContext context, CancellationToken ct) =>
        {
            var (drift, why) = await models.DriftAsync(CallerOf(context), devices, ct).ConfigureAwait(false);
            return drift is not null ? Results.Json(drift) : BadSelector(why);
        }).Documented<DriftReport>("getDrift", 200, QueryErrors).WithSummary("Model vs reality: per device the packages, files, services, hardware and OS facts that differ from the current model, from the inventory the agent last reported. Nothing is sent.");

        api.MapPost("/apply", async (HttpContext context, string? message, CancellationToken ct) =>
        {
            var (model, error) = await ReadModelAsync(context, ct).ConfigureAwait(false);
            if (model is null)
                return error!;
            var applied = await models.SaveAsync(CallerOf(context), model, message, ct).ConfigureAwait(false);
            if (applied.Saved is not { } saved)
                return InvalidModel(applied.Errors);
            return Results.Json(new ApplyResponse(saved.Revision, saved.Changed, applied.Changes), statusCode: saved.Changed ? 201 : 200);
        }).Accepts<RigModel>("application/json").Documented<ApplyResponse>("apply", 201, StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge)
        .Produces<ApplyResponse>(200, "application/json")
        .WithSummary("Record a new model revision (201; 200 when nothing changed) (author, time, message). Nothing is sent to devices: roll it out next.");

        api.MapPost("/plans/apply", async (HttpContext context, string? message, CancellationToken ct) =>
        {
            var (plan, error) = await ReadSavedPlanAsync(context, ct).ConfigureAwait(false);
            if (plan is null)
                return error!;
            var applied = await models.ApplySavedPlanAsync(CallerOf(context), plan.Value.Model, plan.Value.BaseRevision, plan.Value.Fingerprints, message, ct).ConfigureAwait(false);
            if (applied.Moved.Count > 0)
            {
                return ApiErrors.Json(new ApiError("plan-stale",
                    $"The saved plan is out of date; nothing was recorded. {string.Join(" ", applied.Moved.Select(m => m.Message))}", applied.Moved), statusCode: 409);
            }
            if (applied.Saved is not { } saved)
                return ApiErrors.Json(new ApiError("invalid-model", $"The model has {applied.Errors.Count} error(s); nothing was saved.", applied.Errors), statusCode: 400);
            return Results.Json(new ApplyResponse(saved.Revision, saved.Changed, applied.Changes), statusCode: saved.Changed ? 201 : 200);
        }).Accepts<SavedPlan>("application/json").Documented<ApplyResponse>("applySavedPlan", 201, StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge)
        .Produces<ApplyResponse>(200, "application/json").WithSummary("Apply a saved plan (`rig plan -o`): record exactly its model, only while the current revision is the plan's base revision and every device it changes has the recorded state it had (checked atomically with the save); 409 plan-stale naming what moved otherwise.");

        api.MapGet("/revisions", async (int? limit, HttpContext context, CancellationToken ct) =>
            Results.Json(await models.ListRevisionsAsync(CallerOf(context), limit, ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<RevisionView>>("listRevisions", 200, QueryErrors).WithSummary("The append-only history of model revisions, newest first.");

        api.MapGet("/revisions/diff", async (long from, long to, HttpContext context, CancellationToken ct) =>
        {
            var (diff, current) = await models.DiffAsync(CallerOf(context), from, to, ct).ConfigureAwait(false);
            return diff is not null
                ? Results.Json(diff)
                : ApiErrors.Json(new ApiError("unknown-revision", $"Revisions must be between 0 and {current}; got from={from}, to={to}.", Hint: "See the revisions with `rig history`."), statusCode: 404);
        }).Documented<IReadOnlyList<ModelDiffEntry>>("diffRevisions", 200, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("What differs between two revisions, object by object, as unified diffs.");

        api.MapGet("/model/as-of", async (string at, HttpContext context, CancellationToken ct) =>
        {
            var (asOf, current) = await models.AsOfAsync(CallerOf(context), at, ct).ConfigureAwait(false);
            return asOf is not null
                ? Results.Json(asOf)
                : ApiErrors.Json(new ApiError("bad-revision", $"'{at}' names no revision (there are {current}; dates before the first revision have none).", Hint: "See the revisions with `rig history`."), statusCode: 404);
        }).Documented<ModelAsOf>("getModelAsOf", 200, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("The full model and every device's rendered configuration as of a revision or date.");
    }

    private static IResult BadSelector(string? why) => ApiErrors.Json(new ApiError("bad-selector", why ?? "The device selector does not parse."), statusCode: 400);

    private static async Task<(RigModel? Model, IResult? Error)> ReadModelAsync(HttpContext context, CancellationToken ct)
    {
        var body = await ReadBodyAsync(context, ct).ConfigureAwait(false);
        try
        {
            var model = JsonSerializer.Deserialize(body, ModelJson.Default.RigModel) ?? throw new JsonException("the body is JSON null");
            return (model, null);
        }
        catch (JsonException e)
        {
            return (null, BadModel(e));
        }
    }

    /// <summary>Read a saved plan (<see cref="SavedPlan"/>): its model, the revision it was made on and the devices' fingerprints it expects.</summary>
    private static async Task<((RigModel Model, long BaseRevision, IReadOnlyDictionary<string, string> Fingerprints)? Plan, IResult? Error)> ReadSavedPlanAsync(HttpContext context, CancellationToken ct)
    {
        var body = await ReadBodyAsync(context, ct).ConfigureAwait(false);
        static IResult Bad(string message) => ApiErrors.Json(new ApiError("bad-plan", message), statusCode: 400);
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != SavedPlan.FormatName)
                return (null, Bad($"This is not a saved plan: a saved plan is a JSON object with \"format\": \"{SavedPlan.FormatName}\" (written by `rig plan PATH -o FILE`)."));
            if (!root.TryGetProperty("version", out var version) || !version.TryGetInt32(out var v) || v != SavedPlan.CurrentVersion)
            {
                return (null, ApiErrors.Json(new ApiError("unsupported-plan-version",
                    $"The saved plan is format version {(root.TryGetProperty("version", out var given) ? given.GetRawText() : "(none)")}; this gateway reads version {SavedPlan.CurrentVersion}. Make the plan again with this gateway's `rig plan -o`."), statusCode: 400));
            }
            if (!root.TryGetProperty("baseRevision", out var baseRevision) || !baseRevision.TryGetInt64(out var rev) || rev < 0)
                return (null, Bad("The saved plan has no valid \"baseRevision\" (the revision it was made on)."));
            if (!root.TryGetProperty("model", out var modelJson) || modelJson.ValueKind != JsonValueKind.Object)
                return (null, Bad("The saved plan has no \"model\" object."));
            var model = JsonSerializer.Deserialize(modelJson.GetRawText(), ModelJson.Default.RigModel)!;
            var devices = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("devices", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in list.EnumerateArray())
                {
                    if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("device", out var name) || name.ValueKind != JsonValueKind.String
                        || !entry.TryGetProperty("fingerprint", out var fingerprint) || fingerprint.ValueKind != JsonValueKind.String)
                        return (null, Bad("Every entry of the saved plan's \"devices\" needs a \"device\" and a \"fingerprint\" string."));
                    devices[name.GetString()!] = fingerprint.GetString()!;
                }
            }
            else
            {
                return (null, Bad("The saved plan has no \"devices\" array (the fingerprints of the devices it changes)."));
            }
            return ((model, rev, devices), null);
        }
        catch (JsonException e)
        {
            return (null, Bad($"The saved plan is not valid JSON or its model is not Rig's model: {e.Message}"));
        }
    }
}
