using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Rig.Server.Services;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>How often a followed log reads the store when nothing signalled its device (a cancel, a reboot
    /// timeout): a bound on the delay, not the usual path (an exchange signals at once).</summary>
    private static readonly TimeSpan LogPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The gateway at a glance, devices, one device in full, and a device's command log (live).</summary>
    private static void MapDevices(RouteGroupBuilder api, OperatorServices services)
    {
        var devices = services.Devices;
        var queues = services.Queues;

        api.MapGet("/status", async (HttpContext context, CancellationToken ct) => Results.Json(await services.Status.GetAsync(CallerOf(context), ct).ConfigureAwait(false)))
            .Documented<StatusResponse>("getStatus", 200).WithSummary("The gateway at a glance: version, store, devices by state, agents seen recently, active rollouts.");

        api.MapGet("/devices", async (HttpContext context, CancellationToken ct) => Results.Json(await devices.ListAsync(CallerOf(context), ct).ConfigureAwait(false)))
            .Documented<IReadOnlyList<DeviceStatus>>("listDevices", 200).WithSummary("Every device: state, last seen, agent version, latest queue.");

        api.MapGet("/devices/{name}", async (string name, HttpContext context, CancellationToken ct) =>
            await devices.GetAsync(CallerOf(context), name, ct).ConfigureAwait(false) is { } detail ? Results.Json(detail) : UnknownDevice(name))
            .Documented<DeviceDetail>("getDevice", 200, StatusCodes.Status404NotFound).WithSummary("One device: model and discovered facts, roles, agent and certificate, recorded state, inventory, its latest two queues command by command.");

        api.MapGet("/queues/{id}", async (string id, HttpContext context, CancellationToken ct) =>
            await queues.GetDetailAsync(CallerOf(context), id, ct).ConfigureAwait(false) is { } detail
                ? Results.Json(detail)
                : ApiErrors.Json(new ApiError("unknown-queue", $"There is no queue '{id}'.", Hint: "`rig device show DEVICE` lists a device's queues."), statusCode: 404))
            .Documented<QueueDetail>("getQueue", 200, StatusCodes.Status404NotFound).WithSummary("One queue with its commands and their results.");

        api.MapGet("/devices/{name}/log", async (string name, string? queue, string? cursor, bool? follow, HttpContext context, CancellationToken ct) =>
        {
            var caller = CallerOf(context);
            var (q, next, refusal) = await queues.ResolveLogAsync(caller, name, queue, cursor, ct).ConfigureAwait(false);
            if (q is null)
                return LogRefused(refusal, name, queue ?? cursor?[..Math.Max(0, cursor.LastIndexOf(':'))], cursor);
            if (follow != true)
            {
                var (entries, after) = await queues.FinishedAfterAsync(caller, q, next, ct).ConfigureAwait(false);
                return Results.Json(new DeviceLog(name, q, entries, LogCursor(q.Id, after), !QueueStates.IsActive(q.Status)));
            }
            await FollowAsync(queues, services.Trust, caller, context, name, q, next, ct).ConfigureAwait(false);
            return Results.Empty;
        }).Produces<DeviceLogEvent>(StatusCodes.Status200OK, "application/x-ndjson") // follow=true; the JSON answer below is the one a generated client reads
        .Documented<DeviceLog>("getDeviceLog", 200, StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound).WithSummary("A device's command output: the finished commands of its latest queue (or `queue`, or after `cursor`); with follow=true an NDJSON stream, live, until the queue ends.");
    }

    private static IResult UnknownDevice(string name) =>
        ApiErrors.Json(new ApiError("unknown-device", $"Device '{name}' is neither in the model nor known to the gateway.", Hint: "See the devices with `rig device list`."), statusCode: 404);

    /// <summary>The answer to a log request that names no readable queue.</summary>
    private static IResult LogRefused(LogRefusal? refusal, string name, string? queueId, string? cursor) => refusal switch
    {
        LogRefusal.BadCursor => ApiErrors.Json(new ApiError("bad-cursor", $"Cursor '{cursor}' is not one this endpoint gave (QUEUE:NEXT, and the same queue as `queue`).", Hint: "Pass the `cursor` of the last line or document you read, or none to start at the beginning."), statusCode: 400),
        LogRefusal.UnknownQueue => ApiErrors.Json(new ApiError("unknown-queue", $"Device '{name}' has no queue '{queueId}'.", Hint: $"`rig device show {name}` lists its queues."), statusCode: 404),
        LogRefusal.NoQueue => ApiErrors.Json(new ApiError("no-queue", $"Device '{name}' has had no queue yet, so there is no output to show.", Hint: $"`rig converge {name}` or a rollout gives it one."), statusCode: 404),
        _ => UnknownDevice(name),
    };

    private static string LogCursor(string queueId, int next) => $"{queueId}:{next.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>Stream a queue's log as NDJSON until it ends: a <c>queue</c> line, a <c>command</c> line per finished
    /// command as its result is recorded, an <c>end</c> line. The queue's state is read before its commands, so when it
    /// reads as finished every result is already there.</summary>
    /// <remarks>The caller's rights are read again before each wait: a revoked or expired token, or a grant taken away,
    /// ends the stream (without an <c>end</c> line; the client's next request is refused with the reason).</remarks>
    private static async Task FollowAsync(QueueService queues, TrustService trust, Caller caller, HttpContext context, string device, QueueView queue, int next, CancellationToken ct)
    {
        var token = context.Items[TokenKey] as string;
        var json = context.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        // A gateway that stops ends its streams (without an `end` line) instead of waiting for their queues: the
        // client resumes with its cursor.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct, context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        ct = stopping.Token;
        var response = context.Response;
        response.ContentType = "application/x-ndjson; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no"; // a reverse proxy must pass lines on as they come
        async Task SendAsync(DeviceLogEvent line)
        {
            await JsonSerializer.SerializeAsync(response.Body, line, json, ct).ConfigureAwait(false);
            await response.Body.WriteAsync("\n"u8.ToArray(), ct).ConfigureAwait(false);
            await response.Body.FlushAsync(ct).ConfigureAwait(false);
        }
        await SendAsync(new DeviceLogEvent("queue", device, LogCursor(queue.Id, next), queue, null)).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var current = await queues.GetAsync(caller, queue.Id, ct).ConfigureAwait(false) ?? queue;
                var (entries, after) = await queues.FinishedAfterAsync(caller, current, next, ct).ConfigureAwait(false);
                foreach (var entry in entries)
                    await SendAsync(new DeviceLogEvent("command", device, LogCursor(queue.Id, entry.Sequence + 1), null, entry)).ConfigureAwait(false);
                next = after;
                if (!QueueStates.IsActive(current.Status))
                {
                    await SendAsync(new DeviceLogEvent("end", device, LogCursor(queue.Id, next), current, null)).ConfigureAwait(false);
                    return;
                }
                await queues.WaitForActivityAsync(device, LogPollInterval, ct).ConfigureAwait(false);
                if (token is null || (await trust.AuthenticateAsync(token, ct).ConfigureAwait(false)).Caller is not { } now || !OperatorAccess.MaySee(now, device))
                    return;
                caller = now;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away, or the gateway stops; the client resumes with the last cursor it read.
        }
    }
}
