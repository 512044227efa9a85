using System.Security.Cryptography;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd.Harness;

/// <summary>The operator's operations through the API (plan, apply, rollouts, devices) and what a test reads
/// back from devices (commands run, file digests).</summary>
internal static class Operations
{
    /// <summary>A model as a request body exactly as Rig's model JSON writes it (a <see cref="JsonElement"/> is
    /// written verbatim by the operator client).</summary>
    public static JsonElement Body(RigModel model) =>
        JsonDocument.Parse(JsonSerializer.Serialize(model, ModelJson.Default.RigModel)).RootElement.Clone();

    /// <summary>POST /plan of a proposed model.</summary>
    public static Task<PlanReport> PlanAsync(this TestSite site, RigModel model) =>
        site.Api.PostAsync<PlanReport>("api/v1/plan", Body(model));

    /// <summary>GET /plan of a stored revision (default: current).</summary>
    public static Task<PlanReport> StoredPlanAsync(this TestSite site, long? at = null) =>
        site.Api.GetAsync<PlanReport>(at is null ? "api/v1/plan" : $"api/v1/plan?at={at}");

    /// <summary>POST /apply: a new revision with a message.</summary>
    public static Task<ApplyResponse> ApplyAsync(this TestSite site, RigModel model, string message) =>
        site.Api.PostAsync<ApplyResponse>($"api/v1/apply?message={Uri.EscapeDataString(message)}", Body(model));

    /// <summary>POST /rollouts.</summary>
    public static Task<RolloutInfo> StartRolloutAsync(this TestSite site, RolloutRequest request) =>
        site.Api.PostAsync<RolloutInfo>("api/v1/rollouts", request);

    /// <summary>GET /rollouts/{id}.</summary>
    public static Task<RolloutInfo> RolloutAsync(this TestSite site, string id) =>
        site.Api.GetAsync<RolloutInfo>($"api/v1/rollouts/{id}");

    /// <summary>POST /rollouts/{id}/{action} (pause, resume, cancel) with an optional query.</summary>
    public static Task<RolloutInfo> RolloutActionAsync(this TestSite site, string id, string action, string query = "") =>
        site.Api.PostAsync<RolloutInfo>($"api/v1/rollouts/{id}/{action}{query}", null);

    /// <summary>Poll the rollout until <paramref name="condition"/> holds; returns it.</summary>
    public static async Task<RolloutInfo> WaitForRolloutAsync(this TestSite site, string id, Func<RolloutInfo, bool> condition, string what, TimeSpan? timeout = null)
    {
        RolloutInfo? rollout = null;
        await TestSite.WaitUntilAsync(async () =>
        {
            rollout = await site.RolloutAsync(id);
            return condition(rollout);
        }, timeout ?? TimeSpan.FromSeconds(60), $"rollout {id}: {what}", () => Describe(rollout) + "\n" + string.Join("\n", site.Agents.Select(a => $"--- {a.Device}\n{Tail(site.AgentLog(a.Device), 15)}")));
        return rollout!;
    }

    /// <summary>Wait until the rollout is no longer running or paused.</summary>
    public static Task<RolloutInfo> WaitForRolloutToFinishAsync(this TestSite site, string id, TimeSpan? timeout = null) =>
        site.WaitForRolloutAsync(id, r => !RolloutStates.IsActive(r.Status), "to finish", timeout);

    /// <summary>A rollout on one line per device, for failure messages.</summary>
    public static string Describe(RolloutInfo? rollout) => rollout is null
        ? "(no rollout read)"
        : $"rollout {rollout.Id} {rollout.Status} ({rollout.Error})\n" + string.Join("\n", rollout.Devices.Select(d => $"  {d.Device} wave {d.Wave}: {d.Status}/{d.State} {d.QueueId} {d.Detail}"));

    /// <summary>GET /devices/{name}: status, recorded state, latest queue's commands.</summary>
    public static Task<DeviceDetail> DeviceAsync(this TestSite site, string device) =>
        site.Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}");

    /// <summary>Enroll and start several agents, one after the other.</summary>
    public static async Task StartAgentsAsync(this TestSite site, params string[] devices)
    {
        foreach (var device in devices)
            await site.StartAgentAsync(device);
    }

    /// <summary>Commands as the operator reads them: <c>kind: description</c>.</summary>
    public static IReadOnlyList<string> Lines(IEnumerable<CommandView> commands) => [.. commands.Select(c => $"{c.Kind}: {c.Spec.Describe()}")];

    /// <summary>Planned commands as <c>kind: description</c>.</summary>
    public static IReadOnlyList<string> Lines(IEnumerable<PlanCommandView> commands) => [.. commands.Select(c => $"{c.Kind}: {c.Description}")];

    /// <summary>The plan of one device.</summary>
    public static DevicePlanReport For(this PlanReport plan, string device) => plan.Devices.Single(d => d.Device == device);

    /// <summary>Ids of the commands the agent began, in journal order.</summary>
    public static IReadOnlyList<string> Begins(this TestSite site, string device) =>
        [.. site.Journal(device, "begin").Select(e => e.GetProperty("id").GetString()!)];

    /// <summary>Ids of the commands the agent finished, in journal order.</summary>
    public static IReadOnlyList<string> Ends(this TestSite site, string device) =>
        [.. site.Journal(device, "end").Select(e => e.GetProperty("id").GetString()!)];

    /// <summary>A device file's text (device path, e.g. <c>/etc/tool/tool.conf</c>).</summary>
    public static string ReadDeviceFile(this TestSite site, string device, string path) =>
        File.ReadAllText(site.DevicePath(device, path));

    /// <summary>Host path of a device path.</summary>
    public static string DevicePath(this TestSite site, string device, string path) =>
        Path.Combine(site.Root(device), path.TrimStart('/'));

    /// <summary>SHA-256 of every file under a device root by device path, leaving out the sandbox's own
    /// bookkeeping (<c>/var/lib/rig/state.json</c>, install staging, temp files).</summary>
    public static SortedDictionary<string, string> FileDigests(this TestSite site, string device)
    {
        var root = site.Root(device);
        var digests = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(root))
            return digests;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var devicePath = "/" + Path.GetRelativePath(root, file).Replace('\\', '/');
            if (devicePath == "/var/lib/rig/state.json" || devicePath.StartsWith("/var/lib/rig/staging/", StringComparison.Ordinal) || Path.GetFileName(file).StartsWith(".rig-", StringComparison.Ordinal))
                continue;
            using var stream = File.OpenRead(file);
            digests[devicePath] = Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        return digests;
    }

    /// <summary>The last <paramref name="lines"/> lines of a text.</summary>
    public static string Tail(string text, int lines) => string.Join('\n', text.Split('\n').TakeLast(lines));

    /// <summary>Event names of the agent's log lines (<c>HH:mm:ss.fff level device event: message</c>), in order.</summary>
    public static IReadOnlyList<string> LogEvents(string log) =>
        [.. log.Split('\n').Select(l => l.Split(' ', 5)).Where(p => p.Length == 5 && p[3].EndsWith(':')).Select(p => p[3].TrimEnd(':'))];

    /// <summary>Wait until the agent's last session ended ("idle: no command" after everything else) and its log has
    /// been quiet for half a second (a poke that arrived during the session leaves one more session to run).</summary>
    public static async Task WaitForAgentIdleAsync(this TestSite site, string device)
    {
        var length = -1;
        var quietSince = DateTime.UtcNow;
        await TestSite.WaitUntilAsync(() =>
        {
            var log = site.AgentLog(device);
            if (log.Length != length)
            {
                length = log.Length;
                quietSince = DateTime.UtcNow;
            }
            return Task.FromResult(LogEvents(log) is [.., "idle"] && DateTime.UtcNow - quietSince >= TimeSpan.FromMilliseconds(500));
        }, TimeSpan.FromSeconds(30), $"{device}'s agent to end its session", () => Tail(site.AgentLog(device), 20));
    }
}
