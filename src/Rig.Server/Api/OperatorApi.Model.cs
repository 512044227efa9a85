using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Server.Operations;
using Rig.Server.Store;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    private static readonly JsonWriterOptions PrettyJson = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Plan, apply, history, diff, as-of.</summary>
    private static void MapModelHistory(RouteGroupBuilder api, Gateway.Gateway gateway)
    {
        var store = gateway.Store;

        api.MapPost("/plan", async (HttpContext context, string? devices, CancellationToken ct) =>
        {
            var (model, error) = await ReadModelAsync(context, ct).ConfigureAwait(false);
            if (model is null)
                return error!;
            var targets = await SelectAsync(model, devices).ConfigureAwait(false);
            if (targets.Error is not null)
                return targets.Error;
            return Results.Json(await gateway.Plans.PlanProposedAsync(model, targets.Names, ct).ConfigureAwait(false));
        }).Accepts<RigModel>("application/json").Documented<PlanReport>("planProposed", 200, StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge)
        .WithSummary("Plan a proposed model: per device the commands that would run and diffs of configuration files. Nothing is saved or sent.");

        api.MapGet("/plan", async (string? at, string? devices, CancellationToken ct) =>
        {
            var rev = await ResolveRevisionAsync(store, at, ct).ConfigureAwait(false);
            if (rev is null or < 0)
                return ApiErrors.Json(new ApiError("bad-revision", $"'{at}' is not a revision or a date with a revision at or before it.", Hint: "See the revisions with `rig history`."), statusCode: 400);
            var (_, model) = await store.LoadModelAsync(rev == 0 ? null : rev, ct).ConfigureAwait(false);
            var targets = await SelectAsync(model, devices).ConfigureAwait(false);
            if (targets.Error is not null)
                return targets.Error;
            return Results.Json(await gateway.Plans.PlanStoredAsync(rev == 0 ? null : rev, targets.Names, ct).ConfigureAwait(false));
        }).Documented<PlanReport>("planStored", 200, QueryErrors).WithSummary("Plan a stored revision (default: current) against what devices have now. Nothing is sent.");

        api.MapGet("/drift", async (string? devices, CancellationToken ct) =>
        {
            var (_, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
            var targets = await SelectAsync(model, devices).ConfigureAwait(false);
            if (targets.Error is not null)
                return targets.Error;
            return Results.Json(await gateway.Drift.CompareAsync(targets.Names, ct).ConfigureAwait(false));
        }).Documented<DriftReport>("getDrift", 200, QueryErrors).WithSummary("Model vs reality: per device the packages, files, services, hardware and OS facts that differ from the current model, from the inventory the agent last reported. Nothing is sent.");

        api.MapPost("/apply", async (HttpContext context, string? message, CancellationToken ct) =>
        {
            var (model, error) = await ReadModelAsync(context, ct).ConfigureAwait(false);
            if (model is null)
                return error!;
            var author = (string)context.Items["rig.operator"]!;
            var applied = await gateway.ApplyAsync(model, author, message ?? "", ct).ConfigureAwait(false);
            if (applied.Saved is not { } saved)
                return InvalidModel(applied.Errors);
            return Results.Json(new ApplyResponse(saved.Rev, saved.Changed, applied.Changes), statusCode: saved.Changed ? 201 : 200);
        }).Accepts<RigModel>("application/json").Documented<ApplyResponse>("apply", 201, StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge)
        .Produces<ApplyResponse>(200, "application/json")
        .WithSummary("Record a new model revision (201; 200 when nothing changed) (author, time, message). Nothing is sent to devices: roll it out next.");

        api.MapPost("/plans/apply", async (HttpContext context, string? message, CancellationToken ct) =>
        {
            var (plan, error) = await ReadSavedPlanAsync(context, ct).ConfigureAwait(false);
            if (plan is null)
                return error!;
            var author = (string)context.Items["rig.operator"]!;
            var applied = await gateway.ApplyAsync(plan.Value.Model, author, message ?? "", plan.Value.Expect, ct).ConfigureAwait(false);
            if (applied.Moved.Count > 0)
            {
                return ApiErrors.Json(new ApiError("plan-stale",
                    $"The saved plan is out of date; nothing was recorded. {string.Join(" ", applied.Moved.Select(m => m.Message))}", applied.Moved), statusCode: 409);
            }
            if (applied.Saved is not { } saved)
                return ApiErrors.Json(new ApiError("invalid-model", $"The model has {applied.Errors.Count} error(s); nothing was saved.", applied.Errors), statusCode: 400);
            return Results.Json(new ApplyResponse(saved.Rev, saved.Changed, applied.Changes), statusCode: saved.Changed ? 201 : 200);
        }).Accepts<SavedPlan>("application/json").Documented<ApplyResponse>("applySavedPlan", 201, StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge)
        .Produces<ApplyResponse>(200, "application/json").WithSummary("Apply a saved plan (`rig plan -o`): record exactly its model, only while the current revision is the plan's base revision and every device it changes has the recorded state it had (checked atomically with the save); 409 plan-stale naming what moved otherwise.");

        api.MapGet("/revisions", async (int? limit, CancellationToken ct) =>
        {
            var revisions = await store.RevisionsAsync(ct).ConfigureAwait(false);
            var list = new List<RevisionView>();
            foreach (var r in revisions.Take(Math.Clamp(limit ?? 100, 1, 10_000)))
                list.Add(new RevisionView(r.Rev, r.Author, r.Message, r.CreatedAt, await store.RevisionChangeCountAsync(r.Rev, ct).ConfigureAwait(false)));
            return Results.Json(list);
        }).Documented<IReadOnlyList<RevisionView>>("listRevisions", 200, QueryErrors).WithSummary("The append-only history of model revisions, newest first.");

        api.MapGet("/revisions/diff", async (long from, long to, CancellationToken ct) =>
        {
            var current = await store.CurrentRevisionAsync(ct).ConfigureAwait(false);
            if (from < 0 || to < 0 || from > current || to > current)
                return ApiErrors.Json(new ApiError("unknown-revision", $"Revisions must be between 0 and {current}; got from={from}, to={to}.", Hint: "See the revisions with `rig history`."), statusCode: 404);
            var changes = await store.DiffAsync(from, to, ct).ConfigureAwait(false);
            return Results.Json(changes.Select(c => new ModelDiffEntry(c.Kind, c.Name, c.Change,
                UnifiedDiff.Create(Pretty(c.Before), Pretty(c.After), $"r{from}/{c.Kind}/{c.Name}", $"r{to}/{c.Kind}/{c.Name}"))).ToList());
        }).Documented<IReadOnlyList<ModelDiffEntry>>("diffRevisions", 200, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("What differs between two revisions, object by object, as unified diffs.");

        api.MapGet("/model/as-of", async (string at, CancellationToken ct) =>
        {
            var rev = await ResolveRevisionAsync(store, at, ct).ConfigureAwait(false);
            var current = await store.CurrentRevisionAsync(ct).ConfigureAwait(false);
            if (rev is null or < 1 || rev > current)
                return ApiErrors.Json(new ApiError("bad-revision", $"'{at}' names no revision (there are {current}; dates before the first revision have none).", Hint: "See the revisions with `rig history`."), statusCode: 404);
            var snapshot = await gateway.Plans.SnapshotAsync(rev, ct).ConfigureAwait(false);
            var created = (await store.RevisionsAsync(ct).ConfigureAwait(false)).FirstOrDefault(r => r.Rev == rev)?.CreatedAt;
            var devices = snapshot.Model.Devices.Select(d =>
            {
                var desired = snapshot.Builder.Build(d.Name);
                var files = desired.Roles.SelectMany(r => r.Steps).OfType<DesiredFile>().Select(f => new RenderedFile(f.Path, f.Sha256, f.Mode, f.Owner, f.Group, f.Content)).ToList();
                return new RenderedDevice(d.Name, files, desired.Errors);
            }).ToList();
            return Results.Json(new ModelAsOf(snapshot.Rev, created, snapshot.Model with { Packages = [] }, devices));
        }).Documented<ModelAsOf>("getModelAsOf", 200, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("The full model and every device's rendered configuration as of a revision or date.");
    }

    /// <summary>A stored model object's JSON, indented, for line diffs. Written with a plain writer: the model's
    /// source-generated options have no metadata for <see cref="JsonElement"/>.</summary>
    private static string Pretty(string? json)
    {
        if (json is null)
            return "";
        using var document = JsonDocument.Parse(json);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, PrettyJson))
            document.RootElement.WriteTo(writer);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

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

    /// <summary>Read a saved plan (<see cref="SavedPlan"/>): its model and what it expects to find.</summary>
    private static async Task<((RigModel Model, ModelSaveExpectation Expect)? Plan, IResult? Error)> ReadSavedPlanAsync(HttpContext context, CancellationToken ct)
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
            return ((model, new ModelSaveExpectation(rev, devices)), null);
        }
        catch (JsonException e)
        {
            return (null, Bad($"The saved plan is not valid JSON or its model is not Rig's model: {e.Message}"));
        }
    }

    private static Task<(IReadOnlyList<string>? Names, IResult? Error)> SelectAsync(RigModel model, string? devices)
    {
        if (string.IsNullOrWhiteSpace(devices))
            return Task.FromResult<(IReadOnlyList<string>?, IResult?)>((null, null));
        try
        {
            IReadOnlyList<string> names = [.. DeviceSelector.Parse(devices).Select(model).Select(d => d.Name)];
            return Task.FromResult<(IReadOnlyList<string>?, IResult?)>((names, null));
        }
        catch (FormatException e)
        {
            return Task.FromResult<(IReadOnlyList<string>?, IResult?)>((null, ApiErrors.Json(new ApiError("bad-selector", e.Message), statusCode: 400)));
        }
    }
}
