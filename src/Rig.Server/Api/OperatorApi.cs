using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Validation;
using Rig.Protocol;
using Rig.Server.Packages;
using Rig.Server.Services;

namespace Rig.Server.Api;

/// <summary>The operator API (HTTPS, its own listener, loopback by default). Every endpoint requires an
/// operator token: <c>Authorization: Bearer rigop_...</c>.</summary>
internal static partial class OperatorApi
{
    /// <summary>Where the operator listener serves the CA certificate without a token (checked by its pin).</summary>
    public const string CaPath = "/ca.crt";

    public static void Map(WebApplication app, OperatorServices services)
    {
        var limits = services.Limits;

        // Health for load balancers and service managers, without a token and revealing nothing else: /healthz says the
        // process answers, /readyz that it can serve (the store answers; migrations ran before the listener opened).
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value;
            if (path is not ("/healthz" or "/readyz" or CaPath) || !(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)))
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            if (path == CaPath)
            {
                // The CA certificate is public; a workstation checks it against the pin it was given (`rig context add`).
                await Results.Text(services.Trust.CaCertificate.ExportCertificatePem(), "application/x-pem-file").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            context.Response.Headers.CacheControl = "no-store";
            var ready = path == "/healthz" || await services.Status.IsReadyAsync(context.RequestAborted).ConfigureAwait(false);
            await Results.Text(ready ? "ok\n" : "not ready: the database does not answer\n", "text/plain", statusCode: ready ? 200 : 503).ExecuteAsync(context).ConfigureAwait(false);
        });

        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(Ui.UiEndpoints.Prefix, StringComparison.OrdinalIgnoreCase))
            {
                await next(context).ConfigureAwait(false); // the web UI signs its requests in by session (Ui/UiEndpoints.cs)
                return;
            }
            // One body limit per kind of request, set before anything reads the body (Kestrel refuses more with 413).
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
                size.MaxRequestBodySize = BodyLimit(context.Request, limits);
            var (caller, refusal) = await AuthenticateAsync(context, services.Trust).ConfigureAwait(false);
            if (caller is null)
            {
                await refusal!.ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            context.Items[CallerKey] = caller;
            context.Items["rig.operator"] = caller.Name; // the audit log's "who"
            if (context.Request.ContentLength is { } length && length > BodyLimit(context.Request, limits))
            {
                // Announced too large: refused before a byte of it is read (a client sending Expect: 100-continue
                // never sends it).
                await TooLarge(context, limits).ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            try
            {
                await next(context).ConfigureAwait(false);
                // No endpoint (404), a method the path does not take (405): routing answers those without a body; they
                // get the one error shape too.
                if (!context.Response.HasStarted && context.Response.StatusCode >= 400 && context.Response.ContentType is null)
                    await Bodiless(context).ExecuteAsync(context).ConfigureAwait(false);
            }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                // A body over its limit, cut short or malformed (bad chunking): the client's fault, answered as such
                // and not logged as a server error.
                var result = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? TooLarge(context, limits)
                    : Unreadable(e);
                await result.ExecuteAsync(context).ConfigureAwait(false);
            }
        });

        SecretMasking.Use(app, () => services.KnownSecrets); // after authentication: refusals carry no model data

        var api = app.MapGroup("/api/v1")
            .AddEndpointFilter(OperatorAudit.Filter(services.Audit)) // every action logged and audited once
            .AddEndpointFilter(ApiErrors.FilterAsync); // the predicate's refusals: 404 invisible, 403 forbidden
        TagByArea(api);

        api.MapGet("/model", async (string? at, HttpContext context, CancellationToken ct) =>
        {
            var model = await services.Model.GetAsync(CallerOf(context), at, ct).ConfigureAwait(false);
            if (model is null)
                return ApiErrors.Json(new ApiError("bad-revision", $"'{at}' is neither a revision number nor a date (e.g. 2026-11-24T12:00:00Z).", Hint: "See the revisions with `rig history`."), statusCode: 400);
            return Results.Text(JsonSerializer.Serialize(model, ModelJson.Default.RigModel), "application/json");
        }).Documented<RigModel>("getModel", 200, QueryErrors).WithSummary("The model as of a revision or date (default: current).");

        api.MapPut("/model", async (HttpContext context, string? message, CancellationToken ct) =>
        {
            var body = await ReadBodyAsync(context, ct).ConfigureAwait(false);
            RigModel model;
            try
            {
                model = JsonSerializer.Deserialize(body, ModelJson.Default.RigModel) ?? throw new JsonException("the body is JSON null");
            }
            catch (JsonException e)
            {
                return BadModel(e);
            }
            var saved = await services.Model.SaveAsync(CallerOf(context), model, message, ct).ConfigureAwait(false);
            return saved.Saved is { } response ? Results.Json(response) : InvalidModel(saved.Errors);
        }).Accepts<RigModel>("application/json").Documented<ModelPutResponse>("putModel", 200, StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge)
        .WithSummary("Replace the model as a new revision (validated first: nothing is saved on errors).");

        api.MapGet("/packages", async (HttpContext context, CancellationToken ct) => Results.Json(await services.Packages.ListAsync(CallerOf(context), ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<PackageInfo>>("listPackages", 200).WithSummary("The package catalog.");

        api.MapPost("/packages", async (HttpContext context, string? filename, string? customer, CancellationToken ct) =>
        {
            try
            {
                var result = await services.Packages.ImportAsync(CallerOf(context), context.Request.Body, filename ?? "upload", string.IsNullOrWhiteSpace(customer) ? null : customer, ct).ConfigureAwait(false);
                return Results.Json(result, statusCode: result.AlreadyPresent ? 200 : 201);
            }
            catch (PackageRejectedException e)
            {
                return ApiErrors.Refused(e, hint: e.Code == PackageRejectedException.Conflict ? "A name and version never change content: give the changed package a new version." : null);
            }
        }).Accepts<Stream>("application/octet-stream").Documented<PackageAddResponse>("addPackage", 201, StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge)
        .Produces<PackageAddResponse>(200, "application/json")
        .WithSummary("Import a package file (.rig.tar.gz, .deb, .rpm; metadata read from the file) into the provider's catalog, or with customer= as that customer's own: 201 added, 200 already there.");

        api.MapPost("/devices/{name}/enrollment-token", async (string name, HttpContext context, CancellationToken ct) =>
            await services.Devices.CreateEnrollmentTokenAsync(CallerOf(context), name, ct).ConfigureAwait(false) is { } token
                ? Results.Json(token)
                : ApiErrors.Json(new ApiError("unknown-device", $"Device '{name}' is not in the model.", Hint: "Add the device to the model and `rig apply` it first."), statusCode: 404))
            .Documented<EnrollmentTokenView>("createEnrollmentToken", 200, StatusCodes.Status404NotFound).WithSummary("A one-time enrollment token for the device's agent, with the CA pin.");

        api.MapPost("/devices/{name}/revoke", async (string name, HttpContext context, CancellationToken ct) =>
            await services.Devices.RevokeAsync(CallerOf(context), name, ct).ConfigureAwait(false) is { } revoked
                ? Results.Json(revoked)
                : ApiErrors.Json(new ApiError("unknown-device", $"Device '{name}' is neither in the model nor known to the gateway; nothing was revoked.", Hint: "See `rig device list` for the devices' names."), statusCode: 404))
            .Documented<DeviceRevokeResponse>("revokeDevice", 200, StatusCodes.Status404NotFound).WithSummary("Revoke every certificate of the device's agent.");

        api.MapPost("/devices/{name}/poke", async (string name, HttpContext context, CancellationToken ct) =>
            Results.Json(await services.Devices.PokeAsync(CallerOf(context), name, ct).ConfigureAwait(false)))
            .Documented<DevicePokeResponse>("pokeDevice", 200).WithSummary("Ask the device's agent to connect now.");

        api.MapPost("/devices/{name}/cancel", async (string name, HttpContext context, CancellationToken ct) =>
            await services.Devices.CancelQueueAsync(CallerOf(context), name, ct).ConfigureAwait(false) is { } cancelled
                ? Results.Json(cancelled)
                : ApiErrors.Json(new ApiError("no-active-queue", $"Device '{name}' has no active queue.", Hint: $"See its latest queue with `rig device show {name}`."), statusCode: 404))
            .Documented<QueueView>("cancelDeviceQueue", 200, StatusCodes.Status404NotFound).WithSummary("Cancel the device's active queue (a running command finishes).");

        api.MapPost("/converge", async (ConvergeRequest request, HttpContext context, CancellationToken ct) =>
        {
            try
            {
                return Results.Json(await services.Devices.ConvergeAsync(CallerOf(context), request, ct).ConfigureAwait(false));
            }
            catch (Gateway.RolloutRefusedException e)
            {
                return ApiErrors.Refused(e);
            }
        }).Documented<ConvergeResponse>("converge", 200, [.. JsonBodyErrors, StatusCodes.Status409Conflict]).WithSummary("Plan the current model for devices (all when none are named), queue the changes and poke their agents now, without waves.");

        MapTrust(api, services);
        MapModelHistory(api, services);
        MapApprovals(api, services);
        MapRollouts(api, services);
        MapLifecycle(api, services);
        MapDevices(api, services);
        MapAudit(api, services);
    }

    /// <summary>Where the authentication middleware leaves the request's <see cref="Caller"/>.</summary>
    private const string CallerKey = "rig.caller";

    /// <summary>Where it leaves the token itself (in memory only), so a long stream can check it is still live.</summary>
    private const string TokenKey = "rig.token";

    /// <summary>The caller of a request that passed authentication.</summary>
    private static Caller CallerOf(HttpContext context) => (Caller)context.Items[CallerKey]!;

    /// <summary>The body limit of a request: packages are streamed up to the package limit, whole models up to the
    /// model limit, everything else is small JSON.</summary>
    private static long BodyLimit(HttpRequest request, RigLimits limits) => request.Path.Value switch
    {
        "/api/v1/packages" => limits.MaxPackageBytes,
        "/api/v1/model" or "/api/v1/plan" or "/api/v1/apply" or "/api/v1/plans/apply" => limits.MaxModelBodyBytes,
        _ => limits.MaxOperatorRequestBytes,
    };

    private static IResult TooLarge(HttpContext context, RigLimits limits) =>
        ApiErrors.Json(new ApiError("too-large", $"The body of {context.Request.Method} {context.Request.Path} is larger than the {BodyLimit(context.Request, limits)} bytes this endpoint accepts; nothing was changed."), statusCode: StatusCodes.Status413PayloadTooLarge);

    private static IResult BadModel(JsonException e) =>
        ApiErrors.Json(new ApiError("bad-model", $"The model is not valid JSON for Rig's model: {e.Message}",
            Hint: "Send Rig's JSON model (docs/MODEL.md); `rig plan DIR` and `rig apply DIR` convert a YAML model directory."), statusCode: 400);

    private static IResult InvalidModel(IReadOnlyList<Model.Planning.ModelError> errors) =>
        ApiErrors.Json(new ApiError("invalid-model", $"The model has {errors.Count} error(s); nothing was saved.", errors, Hint: "Fix every error listed in 'errors' and send the model again."), statusCode: 400);

    private static async Task<byte[]> ReadBodyAsync(HttpContext context, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, ct).ConfigureAwait(false);
        return buffer.ToArray();
    }
}
