using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Rig.Protocol;
using Rig.Protocol.Errors;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>The agent endpoint (docs/PROTOCOL.md): CA, enroll, exchange, files. Everything but the CA and
/// enrollment requires a client certificate issued by this gateway's CA and mapped to one device.</summary>
internal static class AgentEndpoints
{
    private const string DeviceItem = "rig.device";

    public static void Map(WebApplication app, Gateway gateway)
    {
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path.Value ?? "";
            if (path is ProtocolInfo.CaPath or ProtocolInfo.EnrollPath)
            {
                await next(context).ConfigureAwait(false);
                return;
            }
            var certificate = context.Connection.ClientCertificate;
            if (certificate is null)
            {
                await WriteErrorAsync(context, 401, new ErrorResponse("certificate-required", "This endpoint requires a client certificate issued by this gateway; enroll the agent first.", false)).ConfigureAwait(false);
                return;
            }
            try
            {
                context.Items[DeviceItem] = await gateway.AuthenticateAsync(certificate, context.RequestAborted).ConfigureAwait(false);
            }
            catch (GatewayRefusedException e)
            {
                await WriteErrorAsync(context, e.StatusCode, new ErrorResponse(e.Code, e.Message, false)).ConfigureAwait(false);
                return;
            }
            await next(context).ConfigureAwait(false);
        });

        app.MapGet(ProtocolInfo.CaPath, () => Results.Text(gateway.Authority.Certificate.ExportCertificatePem(), "application/x-pem-file"));

        app.MapPost(ProtocolInfo.EnrollPath, async context =>
        {
            // No client certificate here, so keep what an anonymous caller can make the gateway read small.
            if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
                size.MaxRequestBodySize = gateway.Limits.MaxEnrollBodyBytes;
            var request = await ReadAsync(context, RigJson.Default.EnrollRequest, "enroll request").ConfigureAwait(false);
            if (request is null)
                return;
            await HandleAsync(context, async () =>
            {
                var response = await gateway.EnrollAsync(request, context.RequestAborted).ConfigureAwait(false);
                await WriteAsync(context, 200, response, RigJson.Default.EnrollResponse).ConfigureAwait(false);
            }).ConfigureAwait(false);
        });

        app.MapPost(ProtocolInfo.ExchangePath, async context =>
        {
            var request = await ReadAsync(context, RigJson.Default.ExchangeRequest, "exchange request").ConfigureAwait(false);
            if (request is null)
                return;
            var device = (string)context.Items[DeviceItem]!;
            await HandleAsync(context, async () =>
            {
                var remote = context.Connection.RemoteIpAddress;
                var remoteHost = remote is null ? null : remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4().ToString() : remote.ToString();
                var response = await gateway.ExchangeAsync(device, request, remoteHost, context.RequestAborted).ConfigureAwait(false);
                await WriteAsync(context, 200, response, RigJson.Default.ExchangeResponse).ConfigureAwait(false);
            }).ConfigureAwait(false);
        });

        app.MapGet(ProtocolInfo.FilesPrefix + "{digest}", async (string digest, CancellationToken ct) =>
        {
            if (!Names.IsValidSha256(digest))
                return Results.Json(new ErrorResponse("bad-digest", $"'{digest}' is not a SHA-256 digest (64 lower-case hex digits).", false), RigJson.Default.ErrorResponse, statusCode: 400);
            var path = gateway.Blobs.PathFor(digest);
            if (!File.Exists(path) || !await gateway.Store.IsKnownBlobAsync(digest, ct).ConfigureAwait(false))
                return Results.Json(new ErrorResponse("no-such-blob", $"No blob with sha256 {digest} is stored; import the package again.", false), RigJson.Default.ErrorResponse, statusCode: 404);
            return Results.File(path, "application/octet-stream", enableRangeProcessing: true);
        });
    }

    private static async Task HandleAsync(HttpContext context, Func<Task> work)
    {
        try
        {
            await work().ConfigureAwait(false);
        }
        catch (GatewayRefusedException e)
        {
            await WriteErrorAsync(context, e.StatusCode, new ErrorResponse(e.Code, e.Message, false, e.Missing)).ConfigureAwait(false);
        }
        catch (ExchangeRefusedException e)
        {
            await WriteErrorAsync(context, StatusOf(e.Refusal), new ErrorResponse(e.Code, e.Message, false, e.Missing)).ConfigureAwait(false);
        }
    }

    /// <summary>The HTTP status of each refusal: chosen here, once.</summary>
    internal static int StatusOf(RefusalCode code) => code switch
    {
        RefusalCode.OtherDevice or RefusalCode.ForeignCommand or RefusalCode.UnknownCertificate or RefusalCode.RevokedCertificate
            or RefusalCode.ExpiredCertificate or RefusalCode.BadToken => StatusCodes.Status403Forbidden,
        RefusalCode.UnknownCommand or RefusalCode.MissingResults => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status400BadRequest,
    };

    /// <summary>Read and parse a bounded JSON body; on bad input answer 400/413/415 and return null. Only
    /// <c>application/json</c> is read; a body over the limit, cut short or badly chunked is the client's fault
    /// (Kestrel logs it at debug level), never an unhandled server error.</summary>
    private static async Task<T?> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> info, string what) where T : class
    {
        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var type) || !string.Equals(type.MediaType.Value, ProtocolInfo.JsonContentType, StringComparison.OrdinalIgnoreCase))
        {
            await WriteErrorAsync(context, 415, new ErrorResponse("unsupported-media-type", $"The {what} must be sent as {ProtocolInfo.JsonContentType}, not '{context.Request.ContentType}'; nothing was read.", false)).ConfigureAwait(false);
            return null;
        }
        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            body = buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteErrorAsync(context, 413, new ErrorResponse("too-large", $"The {what} is larger than the limit; this is never a valid message.", false)).ConfigureAwait(false);
            return null;
        }
        catch (BadHttpRequestException e)
        {
            await WriteErrorAsync(context, e.StatusCode, new ErrorResponse("bad-request", $"The {what} could not be read: {e.Message}", false)).ConfigureAwait(false);
            return null;
        }
        try
        {
            return RigJson.Parse(body, info, $"The {what}");
        }
        catch (ProtocolException e)
        {
            await WriteErrorAsync(context, 400, new ErrorResponse(e.Code, e.Message, false)).ConfigureAwait(false);
            return null;
        }
    }

    private static async Task WriteAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> info)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = ProtocolInfo.JsonContentType;
        await JsonSerializer.SerializeAsync(context.Response.Body, value, info, context.RequestAborted).ConfigureAwait(false);
    }

    internal static Task WriteErrorAsync(HttpContext context, int status, ErrorResponse error) => WriteAsync(context, status, error, RigJson.Default.ErrorResponse);

}
