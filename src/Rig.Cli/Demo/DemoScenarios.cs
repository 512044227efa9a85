using System.Text;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Protocol.Archives;
using Rig.Contracts;

namespace Rig.Cli.Demo;

/// <summary>What a scenario did: the revision it made, which devices it changed and which it left alone, and
/// every device's line checked against the model afterwards.</summary>
internal sealed record ScenarioOutcome(long? Revision, IReadOnlyList<string> Changed, IReadOnlyList<string> Unchanged, string? Detail, List<DemoRow> Rows);

/// <summary>The lifecycle steps of the seed's Figure 5, each run on the provisioned demo site and checked.</summary>
internal static class DemoScenarios
{
    public static readonly string[] Names = ["site", "scale-out", "upgrade-content", "decommission", "disaster-recovery"];

    public static Task<ScenarioOutcome> RunAsync(string name, DemoSession session, CancellationToken ct) => name switch
    {
        "scale-out" => ScaleOutAsync(session, ct),
        "upgrade-content" => UpgradeContentAsync(session, ct),
        "decommission" => DecommissionAsync(session, ct),
        "disaster-recovery" => DisasterRecoveryAsync(session, ct),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown scenario"),
    };

    /// <summary>Add web-3 like web-2: the plan is a full install of web-3 and a re-configuration of lb-1 (its pool
    /// reads the interconnections), nothing else; rolled out in waves; lb-1 then lists web-3.</summary>
    private static async Task<ScenarioOutcome> ScaleOutAsync(DemoSession session, CancellationToken ct)
    {
        var clone = await session.Api.PostAsync<LifecycleResponse>("api/v1/devices/web-2/clone",
            new CloneDeviceRequest("web-3", null, ["10.20.0.23"], ["52:54:00:20:00:30"], "scale out the web tier"), ct).ConfigureAwait(false);
        var plan = await session.Api.GetAsync<PlanReport>("api/v1/plan", ct).ConfigureAwait(false);
        var planned = plan.Devices.Where(d => d.Commands.Count > 0).Select(d => d.Device).Order(StringComparer.Ordinal).ToList();
        session.Ui.Step($"Revision {clone.Revision}: web-3 cloned from web-2; the plan changes {string.Join(" and ", planned)} and leaves {plan.Devices.Count - planned.Count} devices alone");
        await session.EnrollAsync("web-3", ct).ConfigureAwait(false);
        var rollout = await session.RolloutAsync(null, "scale out: web-3", ct).ConfigureAwait(false);
        var rows = await RowsAsync(session, rollout, ct).ConfigureAwait(false);
        Expect(rows, "lb-1", planned.SequenceEqual(["lb-1", "web-3"]), $"the plan should change exactly lb-1 and web-3, not {string.Join(", ", planned)}");
        var lb = DemoVerifier.FileText(session.Root("lb-1"), "/etc/haproxy/haproxy.cfg") ?? "";
        Expect(rows, "lb-1", lb.Contains("server web-3 10.20.0.23:80", StringComparison.Ordinal), "haproxy.cfg does not list web-3");
        return Outcome(clone.Revision, rollout, rows, "lb-1's pool now lists web-3");
    }

    /// <summary>A new content role version with a new content package: only content packages and files change.</summary>
    private static async Task<ScenarioOutcome> UpgradeContentAsync(DemoSession session, CancellationToken ct)
    {
        var (manifest, files) = DemoSite.Packages.Single(p => p.Manifest.Name == "shop-content");
        var next = manifest with { Version = "2026.12.0" };
        var path = Path.Combine(session.Directory, "packages", $"shop-content_2026.12.0{RigArchive.Extension}");
        await using (var stream = File.Create(path))
            RigArchiveWriter.Write(stream, next, [.. files.Where(f => f.Path != "/srv/www/index.html"), new ArchiveInput("/srv/www/index.html", Encoding.UTF8.GetBytes("<!doctype html><title>Shop</title><h1>Winter sale</h1>\n"))]);
        await session.ImportAsync(path, ct).ConfigureAwait(false);

        var before = session.Agents.Keys.ToDictionary(d => d, d => NotContent(session.Digests(d)), StringComparer.Ordinal);
        var model = await session.ModelAsync(ct).ConfigureAwait(false);
        model = model with
        {
            Roles = [.. model.Roles.Select(r => r.Name != "shop-content" ? r : r with
            {
                Version = "2026.12.0",
                Items = [.. r.Items.Select(i => i is PackageItem { Name: "shop-content" } ? new PackageItem("shop-content", "2026.12.0") : i)],
                Pins = new Dictionary<string, string>(),
            })],
        };
        var applied = await session.Api.PostJsonTextAsync<ApplyResponse>("api/v1/apply?message=content%202026.12.0", JsonSerializer.Serialize(model with { Packages = [] }, ModelJson.Default.RigModel), ct).ConfigureAwait(false);
        var plan = await session.Api.GetAsync<PlanReport>("api/v1/plan", ct).ConfigureAwait(false);
        var foreign = plan.Devices.SelectMany(d => d.Commands.Where(c => c.Role is not ("shop-content" or "")).Select(c => $"{d.Device}: {c.Description}")).ToList();
        session.Ui.Step($"Revision {applied.Revision}: content role 2026.12.0; the plan touches {plan.Devices.Count(d => d.Commands.Count > 0)} devices, {foreign.Count} commands outside the content role");
        var rollout = await session.RolloutAsync(null, "content 2026.12.0", ct).ConfigureAwait(false);
        var rows = await RowsAsync(session, rollout, ct).ConfigureAwait(false);
        foreach (var row in rows)
        {
            if (foreign.FirstOrDefault(f => f.StartsWith(row.Device + ":", StringComparison.Ordinal)) is { } f)
                row.Problems.Add($"non-content command planned: {f}");
            var after = NotContent(session.Digests(row.Device));
            if (!after.OrderBy(k => k.Key).SequenceEqual(before[row.Device].OrderBy(k => k.Key)))
                row.Problems.Add("os or app files changed during a content-only upgrade");
        }
        var index = DemoVerifier.FileText(session.Root("web-1"), "/srv/www/index.html") ?? "";
        Expect(rows, "web-1", index.Contains("Winter sale", StringComparison.Ordinal), "web-1 still serves the old content");
        return Outcome(applied.Revision, rollout, rows, "only the content role changed: its package and files; os and app files are byte-for-byte unchanged");
    }

    /// <summary>Decommission app-2: its software is removed in reverse role order, its neighbours are re-planned
    /// without it (web servers' upstreams, the database's clients), then it leaves the model.</summary>
    private static async Task<ScenarioOutcome> DecommissionAsync(DemoSession session, CancellationToken ct)
    {
        var result = await session.Api.PostAsync<LifecycleResponse>("api/v1/devices/app-2/decommission?message=retire%20app-2", null, ct).ConfigureAwait(false);
        session.Ui.Step($"Revision {result.Revision}: app-2 has no roles or interconnections; rollout {Output.Safe(result.Rollout!.Id)} empties it and re-plans {result.Rollout.Devices.Count - 1} neighbours");
        var rollout = await session.FollowAsync(result.Rollout.Id, ct).ConfigureAwait(false);
        RigModel model;
        var waited = 0;
        while ((model = await session.ModelAsync(ct).ConfigureAwait(false)).Devices.Any(d => d.Name == "app-2") && waited++ < 100)
            await Task.Delay(100, ct).ConfigureAwait(false);
        await session.StopAgentAsync("app-2").ConfigureAwait(false);
        var rows = await RowsAsync(session, rollout, ct).ConfigureAwait(false);
        var leftovers = session.Digests("app-2").Keys.ToList();
        var extra = new DemoRow("app-2", "app", "(decommissioned)", 0, 0, []);
        if (model.Devices.Any(d => d.Name == "app-2"))
            extra.Problems.Add("app-2 is still in the model");
        if (leftovers.Count > 0)
            extra.Problems.Add($"{leftovers.Count} files left on app-2, e.g. {leftovers[0]}");
        rows.Add(extra);
        foreach (var web in new[] { "web-1", "web-2" })
            Expect(rows, web, !(DemoVerifier.FileText(session.Root(web), "/etc/nginx/nginx.conf") ?? "10.20.0.32").Contains("10.20.0.32", StringComparison.Ordinal), "nginx.conf still sends traffic to app-2");
        Expect(rows, "db-1", !(DemoVerifier.FileText(session.Root("db-1"), "/etc/pg-lite/pg.conf") ?? "app-2").Contains("app-2", StringComparison.Ordinal), "pg.conf still admits app-2");
        return Outcome(result.Revision, rollout, rows, "app-2 emptied in reverse role order, removed from the model, its certificate revoked");
    }

    /// <summary>web-1 loses everything (root and agent state); it is rebuilt from the model through a fresh agent
    /// and ends identical, file by file, to what it was.</summary>
    private static async Task<ScenarioOutcome> DisasterRecoveryAsync(DemoSession session, CancellationToken ct)
    {
        var before = session.Digests("web-1");
        await session.StopAgentAsync("web-1").ConfigureAwait(false);
        Directory.Delete(session.Root("web-1"), recursive: true);
        Directory.Delete(Path.Combine(session.Directory, "agents", "web-1"), recursive: true);
        session.Ui.Step($"web-1 lost its disk: {before.Count} files and its agent identity are gone");

        var rebuild = await session.Api.PostAsync<LifecycleResponse>("api/v1/devices/web-1/rebuild", null, ct).ConfigureAwait(false);
        await session.EnrollAsync("web-1", ct, rebuild.Token!.Token).ConfigureAwait(false);
        DeviceDetail detail;
        do
        {
            await Task.Delay(100, ct).ConfigureAwait(false);
            detail = await session.Api.GetAsync<DeviceDetail>("api/v1/devices/web-1", ct).ConfigureAwait(false);
        }
        while (detail.Status.Queue is { } q && QueueStates.IsActive(q.Status));
        session.Commands += detail.Commands.Count(c => c.Status == CommandStates.Succeeded);
        session.Ui.Step($"web-1 rebuilt from revision {rebuild.Revision}: {detail.Commands.Count} commands, queue {Output.Safe(detail.Status.Queue?.Status)}");

        var after = session.Digests("web-1");
        var problems = (await session.VerifyAsync(["web-1"], ct).ConfigureAwait(false))["web-1"];
        if (detail.Status.Queue?.Status != QueueStates.Succeeded)
            problems.Insert(0, $"queue {detail.Status.Queue?.Status}: {detail.Status.Queue?.Error}");
        var differing = before.Keys.Union(after.Keys).Where(k => before.GetValueOrDefault(k) != after.GetValueOrDefault(k)).ToList();
        if (differing.Count > 0)
            problems.Add($"{differing.Count} files differ from before the loss, e.g. {differing[0]}");
        var model = await session.ModelAsync(ct).ConfigureAwait(false);
        var rows = new List<DemoRow> { Row(model, "web-1", detail.Commands.Count, session.Agents["web-1"].Reboots, problems) };
        var others = session.Agents.Keys.Where(d => d != "web-1").ToList();
        var check = await session.VerifyAsync(others, ct).ConfigureAwait(false);
        rows.AddRange(others.Select(d => Row(model, d, 0, 0, check[d])));
        return new ScenarioOutcome(rebuild.Revision, ["web-1"], others, $"web-1 rebuilt identical: {after.Count} files with the same SHA-256 as before the loss", rows);
    }

    private static Dictionary<string, string> NotContent(Dictionary<string, string> digests) =>
        digests.Where(d => !d.Key.StartsWith("/srv/www/", StringComparison.Ordinal)).ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal);

    private static async Task<List<DemoRow>> RowsAsync(DemoSession session, RolloutView rollout, CancellationToken ct)
    {
        var model = await session.ModelAsync(ct).ConfigureAwait(false);
        var devices = session.Agents.Keys.Where(d => model.Devices.Any(m => m.Name == d)).OrderBy(d => d, StringComparer.Ordinal).ToList();
        var problems = await session.VerifyAsync(devices, ct).ConfigureAwait(false);
        var rows = new List<DemoRow>();
        foreach (var device in devices)
        {
            var line = rollout.Devices.FirstOrDefault(d => d.Device == device);
            if (line is not null && line.Status is not (RolloutDeviceStatuses.Succeeded or RolloutDeviceStatuses.Unchanged))
                problems[device].Insert(0, $"rollout: {line.Status} {line.Detail}");
            var detail = await session.Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}", ct).ConfigureAwait(false);
            var commands = line?.QueueId is { } queue ? detail.Commands.Count(c => c.QueueId == queue) : 0;
            rows.Add(Row(model, device, commands, session.Agents[device].Reboots, problems[device]));
        }
        if (rollout.Status != RolloutStates.Succeeded)
            rows[0].Problems.Add($"rollout {rollout.Id} ended {rollout.Status}: {rollout.Error}");
        return rows;
    }

    private static ScenarioOutcome Outcome(long revision, RolloutView rollout, List<DemoRow> rows, string detail) => new(
        revision,
        [.. rollout.Devices.Where(d => d.Status == RolloutDeviceStatuses.Succeeded).Select(d => d.Device)],
        [.. rollout.Devices.Where(d => d.Status == RolloutDeviceStatuses.Unchanged).Select(d => d.Device)],
        detail,
        rows);

    private static void Expect(List<DemoRow> rows, string device, bool condition, string problem)
    {
        if (!condition)
            (rows.FirstOrDefault(r => r.Device == device) ?? rows[0]).Problems.Add(problem);
    }

    public static DemoRow Row(RigModel model, string device, int commands, int reboots, List<string> problems) => new(
        device,
        model.Devices.FirstOrDefault(d => d.Name == device)?.Tier ?? "",
        string.Join(", ", model.Assignments.Where(a => a.Device == device).Select(a => a.Role).Order(StringComparer.Ordinal)),
        commands,
        reboots,
        problems);
}
