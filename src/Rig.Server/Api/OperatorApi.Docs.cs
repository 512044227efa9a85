using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace Rig.Server.Api;

/// <summary>The OpenAPI document of the operator API (<c>GET /openapi/v1.json</c>): what each operation takes and
/// answers, success and errors, for client generators and the reference page.</summary>
internal static partial class OperatorApi
{
    /// <summary>Name of the security scheme every operation requires.</summary>
    internal const string BearerScheme = "bearer";

    /// <summary>Errors of an operation that reads typed query or route values (a wrong type is 400).</summary>
    private static readonly int[] QueryErrors = [StatusCodes.Status400BadRequest];

    /// <summary>Errors of an operation that reads a JSON body: unreadable or invalid (400), over its limit (413), not JSON (415).</summary>
    private static readonly int[] JsonBodyErrors = [StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType];

    /// <summary>Tag each operation of <paramref name="api"/> with its area, from its path (<c>/api/v1/rollouts/...</c>:
    /// <c>Rollouts</c>), so the reference page and generated clients group them; a new endpoint is tagged too.</summary>
    private static void TagByArea(RouteGroupBuilder api) => ((IEndpointConventionBuilder)api).Add(endpoint =>
    {
        if (endpoint is RouteEndpointBuilder route)
            endpoint.Metadata.Add(new TagsAttribute(AreaOf(route.RoutePattern.RawText ?? "")));
    });

    private static string AreaOf(string pattern) => pattern.Split('/', StringSplitOptions.RemoveEmptyEntries).Skip(2).FirstOrDefault() switch
    {
        "model" or "plan" or "apply" or "revisions" or "drift" => "Model",
        "devices" or "converge" => "Devices",
        "packages" => "Packages",
        "rollouts" => "Rollouts",
        "scripts" => "Scripts",
        "audit" => "Audit",
        "whoami" or "tokens" or "teams" or "grants" => "Trust",
        _ => "Gateway",
    };

    /// <summary>Document an operation: its operationId, its success answer with <typeparamref name="T"/>'s schema, 401
    /// (every operation needs a token) and the other errors it can answer, each with the one error schema
    /// (<see cref="ApiErrorResponse"/>).</summary>
    private static RouteHandlerBuilder Documented<T>(this RouteHandlerBuilder builder, string operationId, int status, params IEnumerable<int> errors) =>
        builder.WithName(operationId).Produces<T>(status, "application/json").Errors(errors);

    /// <summary>Document an operation whose success answer has no body (204).</summary>
    private static RouteHandlerBuilder DocumentedNoContent(this RouteHandlerBuilder builder, string operationId, params IEnumerable<int> errors) =>
        builder.WithName(operationId).Produces(StatusCodes.Status204NoContent).Errors(errors);

    private static RouteHandlerBuilder Errors(this RouteHandlerBuilder builder, IEnumerable<int> errors)
    {
        foreach (var status in errors.Append(StatusCodes.Status401Unauthorized).Append(StatusCodes.Status403Forbidden).Distinct().Order())
            builder.Produces<ApiErrorResponse>(status, "application/json");
        return builder;
    }

    /// <summary>The bearer scheme, required by every operation, and what the document is for.</summary>
    internal static void DescribeDocument(OpenApiOptions options)
    {
        // The web UI's pages and forms (under /ui) are not part of the API (docs/UI.md).
        options.ShouldInclude = description => !(description.RelativePath ?? "").StartsWith(Ui.UiEndpoints.Prefix.TrimStart('/'), StringComparison.Ordinal);
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Rig operator API";
            document.Info.Description = "Every operation requires `Authorization: Bearer TOKEN`, an operator token (printed once by `rig server init`). " +
                "Every error answer is `{\"error\":{\"code\",\"message\",\"hint\"?,\"errors\"?}}` (ApiErrorResponse) with a 4xx or 5xx status. See docs/API.md.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An operator token (rigop_...), printed once by `rig server init`. The scheme name is case-insensitive.",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
            return Task.CompletedTask;
        });
        // One status with two bodies (the device log: a JSON document, or with follow=true an NDJSON stream): the
        // generator keeps the last declared; put the others back beside it.
        options.AddOperationTransformer(async (operation, context, ct) =>
        {
            foreach (var produces in context.Description.ActionDescriptor.EndpointMetadata.OfType<IProducesResponseTypeMetadata>())
            {
                if (produces.Type is null || operation.Responses?.TryGetValue(produces.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response) != true
                    || response is not OpenApiResponse { Content: { } content })
                    continue;
                foreach (var type in produces.ContentTypes.Where(t => !content.ContainsKey(t)))
                    content[type] = new OpenApiMediaType { Schema = await context.GetOrCreateSchemaAsync(produces.Type, null, ct).ConfigureAwait(false) };
            }
        });
    }

    /// <summary>The API reference page (Scalar), <c>/openapi/</c> (or <c>/openapi/v1</c>), beside the document it reads,
    /// <c>/openapi/v1.json</c>: one directory, so a browser that logged in to one sends the same credentials to the other.
    /// Everything it needs is served by the gateway (no fonts, proxy, telemetry or AI agent from elsewhere).</summary>
    internal static void MapReference(WebApplication app) =>
        app.MapScalarApiReference("/openapi", o =>
        {
            o.Title = "Rig operator API";
            o.OpenApiRoutePattern = "/openapi/{documentName}.json";
            o.DefaultFonts = false;
            o.Telemetry = false;
            o.PersistentAuthentication = false;
            o.DisableAgent();
            o.Mcp = new ScalarMcpOptions { Disabled = true };
            // No toolbar: its Share, Generate SDK and Deploy buttons would send the document to Scalar's services.
            o.ShowDeveloperTools = DeveloperToolsVisibility.Never;
            o.OperationTitleSource = OperationTitleSource.Path;
            o.AddPreferredSecuritySchemes([BearerScheme]);
        });
}
