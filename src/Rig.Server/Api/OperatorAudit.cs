using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rig.Server.Gateway;
using Rig.Server.Services;

namespace Rig.Server.Api;

/// <summary>Every operator action through the API (anything but a read) is logged once, at Information, with who, what,
/// on what, the answer and the revision or rollout it made or touched (event 1801), appended to the audit log, counted
/// (<c>rig.gateway.operator.actions</c>) and traced. One endpoint filter on every operator endpoint, so a new endpoint is
/// covered without a line of its own. Secrets in answers (an enrollment token) are never logged nor audited: only the
/// fields below are read from them.</summary>
internal static partial class OperatorAudit
{
    /// <summary>Readable names of the actions; an endpoint not listed is named by its method and route.</summary>
    private static readonly Dictionary<string, string> Actions = new(StringComparer.Ordinal)
    {
        ["PUT /api/v1/model"] = "model.put",
        ["POST /api/v1/apply"] = "model.apply",
        ["POST /api/v1/plans/apply"] = "model.apply-plan",
        ["POST /api/v1/packages"] = "package.add",
        ["POST /api/v1/packages/fetch"] = "package.fetch",
        ["POST /api/v1/devices/{name}/enrollment-token"] = "device.token",
        ["POST /api/v1/devices/{name}/revoke"] = "device.revoke",
        ["POST /api/v1/devices/{name}/poke"] = "device.poke",
        ["POST /api/v1/devices/{name}/cancel"] = "device.cancel",
        ["POST /api/v1/devices/{name}/clone"] = "device.clone",
        ["POST /api/v1/devices/{name}/decommission"] = "device.decommission",
        ["POST /api/v1/devices/{name}/rebuild"] = "device.rebuild",
        ["POST /api/v1/converge"] = "converge",
        ["POST /api/v1/revisions/{rev}/approve"] = "revision.approve",
        ["POST /api/v1/revisions/{rev}/reject"] = "revision.reject",
        ["POST /api/v1/rollouts"] = "rollout.start",
        ["POST /api/v1/rollouts/{id}/pause"] = "rollout.pause",
        ["POST /api/v1/rollouts/{id}/resume"] = "rollout.resume",
        ["POST /api/v1/rollouts/{id}/cancel"] = "rollout.cancel",
        ["POST /api/v1/rollouts/{id}/retry"] = "rollout.retry",
        ["PUT /api/v1/scripts/{name}"] = "script.add",
        ["DELETE /api/v1/scripts/{name}"] = "script.delete",
        ["POST /api/v1/scripts/{name}/run"] = "script.run",
        ["POST /api/v1/tokens"] = "token.create",
        ["POST /api/v1/tokens/{name}/revoke"] = "token.revoke",
        ["POST /api/v1/teams"] = "team.create",
        ["DELETE /api/v1/teams/{name}"] = "team.delete",
        ["PUT /api/v1/teams/{name}/members/{operator}"] = "team.member-add",
        ["DELETE /api/v1/teams/{name}/members/{operator}"] = "team.member-remove",
        ["POST /api/v1/grants"] = "grant.add",
        ["POST /api/v1/grants/{id}/revoke"] = "grant.revoke",
    };

    /// <summary>POSTs that change nothing (a plan of a model sent in the body).</summary>
    private static readonly HashSet<string> Reads = new(StringComparer.Ordinal) { "POST /api/v1/plan" };

    /// <summary>The endpoint filter, appending to the audit log through <paramref name="audit"/>.</summary>
    public static Func<EndpointFilterInvocationContext, EndpointFilterDelegate, ValueTask<object?>> Filter(AuditService audit) =>
        (invocation, next) => FilterAsync(invocation, next, audit);

    private static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next, AuditService audit)
    {
        var http = invocation.HttpContext;
        var method = http.Request.Method;
        var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? http.Request.Path.Value ?? "";
        var key = $"{method} {route}";
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || Reads.Contains(key))
            return await next(invocation).ConfigureAwait(false);

        var action = Actions.GetValueOrDefault(key) ?? key;
        using var activity = GatewayTelemetry.Activities.StartActivity("operator " + action);
        var who = http.Items["rig.operator"] as string ?? "?";
        var target = string.Join(' ', http.Request.RouteValues.Where(v => v.Value is not null).Select(v => $"{v.Key}={v.Value}"));
        activity?.SetTag("rig.operator", who);
        activity?.SetTag("rig.action", action);
        object? result = null;
        try
        {
            result = await next(invocation).ConfigureAwait(false);
            return result;
        }
        finally
        {
            // An exception is answered 500 by the host: logged as such, once.
            var status = result is null ? StatusCodes.Status500InternalServerError : (result as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status200OK;
            var (revision, rollout, error) = Read((result as IValueHttpResult)?.Value, route);
            var message = http.Request.Query["message"].ToString();
            var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Rig.Server.Operator");
            ServerLog.OperatorAction(logger, who, action, target.Length == 0 ? "-" : target, status, revision ?? "-", rollout ?? "-", error ?? "-", message.Length == 0 ? "-" : message);
            GatewayTelemetry.OperatorActions.Add(1, new KeyValuePair<string, object?>("action", action), new KeyValuePair<string, object?>("status", status));
            activity?.SetTag("rig.status", status);
            activity?.SetTag("rig.revision", revision);
            activity?.SetTag("rig.rollout", rollout);
            // The audit entry is appended AFTER the action, in a transaction of its own: the action's own transaction
            // has already committed (and the action may have run several). So an action is never undone for want of
            // its entry, but a gateway that dies (or a database that fails) between the two leaves an action without
            // an entry; that failure is logged (event 1803), and the gateway log's line 1801 above still names it.
            // Command results, which agents report, are audited in the same transaction as the result instead.
            var device = route.StartsWith("/api/v1/devices/{name}", StringComparison.Ordinal) ? http.Request.RouteValues["name"] as string : null;
            try
            {
                await audit.RecordAsync(who, action, target.Length == 0 ? "-" : target, device, status switch { < 400 => "ok", < 500 => "refused", _ => "error" },
                    Detail(status, revision, rollout, error, message), CancellationToken.None).ConfigureAwait(false); // a client gone does not skip it
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                ServerLog.AuditAppendFailed(logger, who, action, target.Length == 0 ? "-" : target, e.Message);
            }
        }
    }

    /// <summary>The most characters of an operator's <c>-m</c> message kept in an audit entry (the gateway log has it whole).</summary>
    private const int MaxAuditMessage = 500;

    /// <summary>An operator entry's detail: the answer's status and what it made or touched, as a small JSON object.</summary>
    private static string Detail(int status, string? revision, string? rollout, string? error, string message)
    {
        var detail = new System.Text.Json.Nodes.JsonObject { ["status"] = status };
        if (revision is not null)
            detail["revision"] = revision;
        if (rollout is not null)
            detail["rollout"] = rollout;
        if (error is not null)
            detail["error"] = error;
        if (message.Length > 0)
            detail["message"] = message.Length > MaxAuditMessage ? message[..MaxAuditMessage] : message;
        return detail.ToJsonString();
    }

    /// <summary>The revision, rollout and error code of an answer, whatever its type: read from its JSON form (the
    /// fields are the API's, so a new endpoint's answer is read the same way).</summary>
    private static (string? Revision, string? Rollout, string? Error) Read(object? value, string route)
    {
        if (value is null)
            return (null, null, null);
        JsonElement json;
        try
        {
            json = JsonSerializer.SerializeToElement(value, value.GetType(), JsonSerializerOptions.Web);
        }
        catch (Exception unserializable) when (unserializable is NotSupportedException or JsonException)
        {
            return (null, null, null);
        }
        if (json.ValueKind != JsonValueKind.Object)
            return (null, null, null);
        var revision = Scalar(json, "revision") ?? Scalar(json, "rev") ?? Scalar(json, "modelRevision");
        var rollout = json.TryGetProperty("rollout", out var r) && r.ValueKind == JsonValueKind.Object ? Scalar(r, "id") : Scalar(json, "rolloutId");
        if (rollout is null && route.StartsWith("/api/v1/rollouts", StringComparison.Ordinal))
            rollout = Scalar(json, "id");
        var error = json.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? Scalar(e, "code") : Scalar(json, "code");
        return (revision, rollout, error);
    }

    private static string? Scalar(JsonElement json, string name) =>
        json.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.Number => v.GetRawText(),
            JsonValueKind.String => v.GetString(),
            _ => null,
        } : null;
}
