using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Api;

internal static partial class OperatorApi
{
    /// <summary>How often a followed log reads the store when nothing signalled its device (a cancel, a reboot
    /// timeout): a bound on the delay, not the usual path (an exchange signals at once).</summary>
    private static readonly TimeSpan LogPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The gateway at a glance, devices, one device in full, and a device's command log (live).</summary>
    private static void MapDevices(RouteGroupBuilder api, Gateway.Gateway gateway, string agentUrl)
    {
        var store = gateway.Store;

        api.MapGet("/status", async (CancellationToken ct) =>
        {
            var (rev, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
            var statuses = await ListStatusesAsync(gateway, model, ct).ConfigureAwait(false);
            var rollouts = await store.ListRolloutsAsync(activeOnly: true, 20, ct).ConfigureAwait(false);
            var now = gateway.Clock.GetUtcNow();
            var window = SeenWindow(gateway);
            int Count(string state) => statuses.Count(s => s.State == state);
            return Results.Json(new StatusResponse(typeof(OperatorApi).Assembly.GetName().Version?.ToString() ?? "0", agentUrl, gateway.Authority.Pin, rev, model.Devices.Count,
                model.Packages.Count, store.Stats, store.Engine.ToString())
            {
                DeviceStates = new DeviceStateCounts(Count(DeviceStates.InSync), Count(DeviceStates.Changing), Count(DeviceStates.Failed), Count(DeviceStates.NeverEnrolled),
                    Count(DeviceStates.NotSeen), Count(DeviceStates.NotConverged)),
                AgentsSeen = statuses.Count(s => s.LastSeenAt is { } seen && now - seen <= window),
                SeenWindowSeconds = (int)window.TotalSeconds,
                ActiveRollouts = [.. rollouts.Select(r => new RolloutSummary(r.Id, r.Rev, r.Status, r.Reason, r.CreatedBy, r.CreatedAt, r.Devices.Count,
                    r.Devices.Count(d => d.Status is "succeeded" or "unchanged"), r.Devices.Count(d => d.Status == "failed"), r.Error))],
            });
        }).Produces<StatusResponse>().WithSummary("The gateway at a glance: version, store, devices by state, agents seen recently, active rollouts.");

        api.MapGet("/devices", async (CancellationToken ct) =>
        {
            var (_, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
            return Results.Json(await ListStatusesAsync(gateway, model, ct).ConfigureAwait(false));
        }).Produces<List<DeviceStatus>>().WithSummary("Every device: state, last seen, agent version, latest queue.");

        api.MapGet("/devices/{name}", async (string name, CancellationToken ct) =>
        {
            var (_, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
            var device = model.Devices.FirstOrDefault(d => d.Name == name);
            var runtime = await store.GetDeviceRuntimeAsync(name, ct).ConfigureAwait(false);
            if (runtime is null && device is null)
                return Results.Json(new ApiError("unknown-device", $"Device '{name}' is neither in the model nor known to the gateway; see `rig device list`."), statusCode: 404);
            var queues = await store.ListRecentQueuesAsync(name, 2, ct).ConfigureAwait(false);
            var certificate = (await store.ListLatestCertificatesAsync(name, ct).ConfigureAwait(false)).GetValueOrDefault(name);
            var queue = queues.Count > 0 ? queues[0] : null;
            var previous = queues.Count > 1 ? queues[1] : null;
            var status = new DeviceStatus(name, device?.Site, device?.Tier, device is not null, runtime?.LastSeenAt, runtime?.AgentVersion, queue)
            {
                State = DeviceStates.Of(certificate is { RevokedAt: null }, runtime?.LastSeenAt, queue, gateway.Clock.GetUtcNow(), SeenWindow(gateway)),
            };
            var commands = queue is null ? [] : await store.GetCommandsAsync(queue.Id, ct).ConfigureAwait(false);
            var previousCommands = previous is null ? [] : await store.GetCommandsAsync(previous.Id, ct).ConfigureAwait(false);
            return Results.Json(new DeviceDetail(status, runtime?.Recorded ?? RecordedState.Empty, runtime?.Inventory, commands)
            {
                InventoryNote = runtime?.InventoryNote,
                LastInventoryAt = runtime?.Inventory?.CollectedAt,
                Facts = FactsOf(device, runtime?.Inventory),
                Roles = [.. new ModelIndex(model).RolesFor(name).Select(r => new DeviceRoleView(r.Name, r.Kind, r.Version))],
                Agent = new DeviceAgentView(runtime?.AgentVersion, runtime?.LastSeenAt,
                    certificate is null ? null : new DeviceCertificateView(certificate.Serial, certificate.Thumbprint, certificate.IssuedAt, certificate.NotAfter, certificate.RevokedAt)),
                PreviousQueue = previous,
                PreviousCommands = previousCommands,
            });
        }).Produces<DeviceDetail>().WithSummary("One device: model and discovered facts, roles, agent and certificate, recorded state, inventory, its latest two queues command by command.");

        api.MapGet("/queues/{id}", async (string id, CancellationToken ct) =>
            await store.GetQueueAsync(id, ct).ConfigureAwait(false) is { } queue
                ? Results.Json(new QueueDetail(queue, await store.GetCommandsAsync(queue.Id, ct).ConfigureAwait(false)))
                : Results.Json(new ApiError("unknown-queue", $"There is no queue '{id}'; `rig device show DEVICE` lists a device's queues."), statusCode: 404))
            .Produces<QueueDetail>().WithSummary("One queue with its commands and their results.");

        api.MapGet("/devices/{name}/log", async (string name, string? queue, string? cursor, bool? follow, HttpContext context, CancellationToken ct) =>
        {
            var (found, error) = await ResolveLogQueueAsync(store, name, queue, cursor, ct).ConfigureAwait(false);
            if (error is not null)
                return error;
            var (q, next) = found!.Value;
            if (follow != true)
            {
                var (entries, after) = await FinishedAfterAsync(store, q, next, ct).ConfigureAwait(false);
                return Results.Json(new DeviceLog(name, q, entries, LogCursor(q.Id, after), !QueueStatus.IsActive(q.Status)));
            }
            await FollowAsync(gateway, context, name, q, next, ct).ConfigureAwait(false);
            return Results.Empty;
        }).Produces<DeviceLog>().Produces<DeviceLogEvent>(StatusCodes.Status200OK, "application/x-ndjson").WithSummary("A device's command output: the finished commands of its latest queue (or `queue`, or after `cursor`); with follow=true an NDJSON stream, live, until the queue ends.");
    }

    /// <summary>Every device in the model or known to the gateway with its state: one query per list (model, agents,
    /// latest queues, certificates), none per device.</summary>
    private static async Task<List<DeviceStatus>> ListStatusesAsync(Gateway.Gateway gateway, RigModel model, CancellationToken ct)
    {
        var store = gateway.Store;
        var agents = (await store.ListAgentsAsync(ct).ConfigureAwait(false)).ToDictionary(a => a.Device, StringComparer.Ordinal);
        var queues = await store.ListLatestQueuesAsync(ct).ConfigureAwait(false);
        var certificates = await store.ListLatestCertificatesAsync(null, ct).ConfigureAwait(false);
        var devices = model.Devices.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var now = gateway.Clock.GetUtcNow();
        var window = SeenWindow(gateway);
        return [.. devices.Keys.Union(agents.Keys).Order(StringComparer.Ordinal).Select(name =>
        {
            var device = devices.GetValueOrDefault(name);
            var agent = agents.GetValueOrDefault(name);
            var queue = queues.GetValueOrDefault(name);
            return new DeviceStatus(name, device?.Site, device?.Tier, device is not null, agent?.LastSeenAt, agent?.AgentVersion, queue)
            {
                State = DeviceStates.Of(certificates.GetValueOrDefault(name) is { RevokedAt: null }, agent?.LastSeenAt, queue, now, window),
            };
        })];
    }

    /// <summary>Two check-in intervals: one missed check-in is not yet a worry.</summary>
    private static TimeSpan SeenWindow(Gateway.Gateway gateway) => gateway.Limits.CheckInInterval * 2;

    /// <summary>The model's facts beside the discovered ones; a fact differs when <c>rig drift</c> would report it.</summary>
    internal static IReadOnlyList<DeviceFact> FactsOf(Device? device, InventoryReport? inventory)
    {
        var drift = device is null || inventory is null ? [] : Drift.CompareFacts(device, inventory);
        var facts = new List<DeviceFact>();
        void Add(string fact, string? model, string? discovered) =>
            facts.Add(new DeviceFact(fact, model, discovered, model is not null && discovered is not null && drift.Any(d => Covers(fact, d))));
        var os = inventory?.Os;
        var hardware = inventory?.Hardware;
        Add("osFamily", device?.OsFamily, os?.Id is null ? null : os.IdLike is null ? os.Id : $"{os.Id} (like {os.IdLike})");
        Add("architecture", device?.Architecture, os?.Architecture);
        Add("os", null, os?.PrettyName);
        Add("kernel", null, os?.KernelRelease);
        Add("addresses", device is { Addresses.Count: > 0 } ? string.Join(", ", device.Addresses) : null,
            hardware is null ? null : string.Join(", ", hardware.Nics.SelectMany(n => n.Addresses).Select(a => a.Split('/')[0])));
        Add("cpuCount", device is { Hardware.CpuCount: > 0 } ? $"{device.Hardware.CpuCount}" : null, hardware is null ? null : $"{hardware.CpuCount}");
        Add("memoryMiB", device is { Hardware.MemoryMiB: > 0 } ? $"{device.Hardware.MemoryMiB} MiB" : null, hardware is null ? null : $"{hardware.MemoryMiB} MiB");
        var disks = (device?.Hardware.Disks.Select(d => d.Name) ?? []).Union(hardware?.Disks.Select(d => d.Name) ?? [], StringComparer.Ordinal);
        foreach (var disk in disks)
        {
            var model = device?.Hardware.Disks.FirstOrDefault(d => d.Name == disk);
            var actual = hardware?.Disks.FirstOrDefault(d => d.Name == disk);
            Add($"disk {disk}", model is null ? null : $"{model.SizeGiB} GiB",
                actual is null ? null : $"{(actual.SizeBytes / (double)(1L << 30)).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} GiB");
        }
        var nics = (device?.Hardware.Nics.Select(n => n.Name) ?? []).Union(hardware?.Nics.Select(n => n.Name) ?? [], StringComparer.Ordinal);
        foreach (var nic in nics)
        {
            var model = device?.Hardware.Nics.FirstOrDefault(n => n.Name == nic);
            var actual = hardware?.Nics.FirstOrDefault(n => n.Name == nic);
            Add($"nic {nic}", model is null ? null : model.Address is null ? $"mac {model.Mac}" : $"mac {model.Mac}, {model.Address}",
                actual is null ? null : $"mac {actual.Mac ?? "none"}, {(actual.Addresses.Count == 0 ? "no address" : string.Join(", ", actual.Addresses))}, {actual.State}");
        }
        foreach (var wanted in device?.Network?.Interfaces ?? [])
        {
            var actual = hardware?.Nics.FirstOrDefault(n => n.Name == wanted.Name);
            Add($"network {wanted.Name}", wanted.Dhcp ? "dhcp" : wanted.Address, hardware is null ? null : actual is null ? $"no interface {wanted.Name}" : string.Join(", ", actual.Addresses));
        }
        return facts;

        static bool Covers(string fact, DriftItem item) => item.Kind == DriftKinds.Network
            ? fact == $"network {item.Item.Split(' ')[0]}"
            : item.Item == fact || item.Item.StartsWith(fact + " ", StringComparison.Ordinal);
    }

    private static string LogCursor(string queueId, int next) => $"{queueId}:{next.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>The queue a log request is about and the first command it has not seen, or the error to answer.</summary>
    private static async Task<((QueueInfo Queue, int Next)? Found, IResult? Error)> ResolveLogQueueAsync(RigStore store, string name, string? queueId, string? cursor, CancellationToken ct)
    {
        var next = 0;
        if (cursor is not null)
        {
            var colon = cursor.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(cursor.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out next)
                || (queueId is not null && queueId != cursor[..colon]))
            {
                return (null, Results.Json(new ApiError("bad-cursor", $"Cursor '{cursor}' is not one this endpoint gave (QUEUE:NEXT, and the same queue as `queue`); pass the `cursor` of the last line or document you read, or none to start at the beginning."), statusCode: 400));
            }
            queueId = cursor[..colon];
        }
        QueueInfo? queue;
        if (queueId is not null)
        {
            queue = await store.GetQueueAsync(queueId, ct).ConfigureAwait(false);
            if (queue is null || queue.Device != name)
                return (null, Results.Json(new ApiError("unknown-queue", $"Device '{name}' has no queue '{queueId}'; `rig device show {name}` lists its queues."), statusCode: 404));
            return ((queue, next), null);
        }
        queue = await store.GetLatestQueueAsync(name, ct).ConfigureAwait(false);
        if (queue is not null)
            return ((queue, 0), null);
        var known = await store.GetDeviceAsync(name, ct).ConfigureAwait(false) is not null || await store.GetDeviceRuntimeAsync(name, ct).ConfigureAwait(false) is not null;
        return (null, known
            ? Results.Json(new ApiError("no-queue", $"Device '{name}' has had no queue yet, so there is no output to show; `rig converge {name}` or a rollout gives it one."), statusCode: 404)
            : Results.Json(new ApiError("unknown-device", $"Device '{name}' is neither in the model nor known to the gateway; see `rig device list`."), statusCode: 404));
    }

    /// <summary>The finished commands of <paramref name="queue"/> from <paramref name="next"/> on, in order, stopping
    /// at the first that has not finished; and the next sequence number after them.</summary>
    private static async Task<(List<CommandLogEntry> Entries, int Next)> FinishedAfterAsync(RigStore store, QueueInfo queue, int next, CancellationToken ct)
    {
        var entries = new List<CommandLogEntry>();
        foreach (var c in await store.GetCommandsFromAsync(queue.Id, next, ct).ConfigureAwait(false))
        {
            if (c.Sequence != next || c.Status is not (CommandStatus.Succeeded or CommandStatus.Failed))
                break;
            entries.Add(new CommandLogEntry(c.Id, c.Sequence, queue.Length, c.Kind, c.Spec.Describe(), c.Role, c.Status, c.Result?.ErrorCode, c.Result?.Error, c.Result?.Output,
                c.Result?.DurationMs ?? 0, c.Result?.FromJournal ?? false));
            next++;
        }
        return (entries, next);
    }

    /// <summary>Stream a queue's log as NDJSON until it ends: a <c>queue</c> line, a <c>command</c> line per finished
    /// command as its result is recorded, an <c>end</c> line. The queue's state is read before its commands, so when it
    /// reads as finished every result is already there.</summary>
    private static async Task FollowAsync(Gateway.Gateway gateway, HttpContext context, string device, QueueInfo queue, int next, CancellationToken ct)
    {
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
                var current = await gateway.Store.GetQueueAsync(queue.Id, ct).ConfigureAwait(false) ?? queue;
                var (entries, after) = await FinishedAfterAsync(gateway.Store, current, next, ct).ConfigureAwait(false);
                foreach (var entry in entries)
                    await SendAsync(new DeviceLogEvent("command", device, LogCursor(queue.Id, entry.Sequence + 1), null, entry)).ConfigureAwait(false);
                next = after;
                if (!QueueStatus.IsActive(current.Status))
                {
                    await SendAsync(new DeviceLogEvent("end", device, LogCursor(queue.Id, next), current, null)).ConfigureAwait(false);
                    return;
                }
                await gateway.Activity.WaitAsync(device, LogPollInterval, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away, or the gateway stops; the client resumes with the last cursor it read.
        }
    }
}

/// <summary>A queue with its commands and their results.</summary>
public sealed record QueueDetail(QueueInfo Queue, IReadOnlyList<CommandInfo> Commands);
