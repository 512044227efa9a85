using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Model;
using Rig.Protocol.Messages;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>A device's life through the operator API, with real gateway and agent processes: clone (scale out),
/// content upgrade, decommission, rebuild, stored scripts.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task Clone_plans_a_full_install_of_the_clone_and_reconfigures_exactly_its_neighbours()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2"]; // lb-1 links to web-1 and web-2 (http); its tool.conf lists its links
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentsAsync(devices);
        await site.ConvergeAsync();
        var fullInstall = Operations.Lines((await site.WaitForQueueAsync("web-2")).Commands);
        foreach (var device in devices)
            await site.WaitForQueueAsync(device);

        var clone = await site.Api.PostAsync<LifecycleResult>("api/v1/devices/web-2/clone", new CloneRequest("web-3", null, ["10.9.0.30"], null, "scale out"));
        Assert.Empty(clone.Errors);
        Assert.Equal(["assignment web-3|app", "assignment web-3|base", "device web-3", "link lb-1|web-3|http"],
            clone.Changes.Select(c => $"{c.Kind} {c.Name}").Order(StringComparer.Ordinal));
        Assert.All(clone.Changes, c => Assert.Equal("added", c.Change));

        var plan = await site.StoredPlanAsync();
        Assert.Equal(clone.Revision, plan.BaseRevision);
        Assert.Equal(fullInstall, Operations.Lines(plan.For("web-3").Commands));
        var lb = plan.For("lb-1");
        Assert.Equal(["write-file: write /etc/tool/tool.conf", "service: service tool restart", "inventory: inventory"], Operations.Lines(lb.Commands));
        var diff = Assert.Single(lb.Diffs).Diff.Split('\n');
        Assert.Equal(["+peer web-3 10.9.0.30"], diff.Where(l => l.StartsWith('+') && !l.StartsWith("+++", StringComparison.Ordinal)));
        Assert.DoesNotContain(diff, l => l.StartsWith('-') && !l.StartsWith("---", StringComparison.Ordinal));
        Assert.Equal("unchanged", plan.For("web-1").Outcome);
        Assert.Equal("unchanged", plan.For("web-2").Outcome);

        await site.StartAgentAsync("web-3");
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        Assert.Equal(RolloutStates.Succeeded, done.Status);
        Assert.Equal(
            new Dictionary<string, string> { ["lb-1"] = RolloutDeviceStatuses.Succeeded, ["web-1"] = RolloutDeviceStatuses.Unchanged, ["web-2"] = RolloutDeviceStatuses.Unchanged, ["web-3"] = RolloutDeviceStatuses.Succeeded },
            done.Devices.ToDictionary(d => d.Device, d => d.Status));
        Assert.Equal(Operations.Lines(lb.Commands), Operations.Lines((await site.DeviceAsync("lb-1")).Commands));
        var lbConfig = site.ReadDeviceFile("lb-1", OperationsModels.ToolConfig);
        Assert.Contains("peer web-2 10.9.0.12\npeer web-3 10.9.0.30\n", lbConfig, StringComparison.Ordinal);
        Assert.Contains("name=web-3", site.ReadDeviceFile("web-3", OperationsModels.ToolConfig), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Content_only_upgrade_touches_only_the_content_package_and_files()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1"];
        await site.AddPackageAsync(OperationsModels.Content("1.0.0"), OperationsModels.ContentFiles("1.0.0"));
        await site.AddPackageAsync(OperationsModels.Content("1.1.0"), OperationsModels.ContentFiles("1.1.0"));
        var baseModel = Models.Site(devices, osFiles: 3, reboot: true); // the os role reboots whenever it changes
        await site.SaveModelAsync(OperationsModels.WithContent(baseModel, "1", "1.0.0", devices));
        await site.StartAgentsAsync(devices);
        await site.ConvergeAsync();
        var before = new Dictionary<string, SortedDictionary<string, string>>();
        var written = new Dictionary<string, Dictionary<string, DateTime>>();
        foreach (var device in devices)
        {
            Assert.Equal(QueueStates.Succeeded, (await site.WaitForQueueAsync(device)).Status.Queue!.Status);
            before[device] = site.FileDigests(device);
            written[device] = before[device].Keys.ToDictionary(p => p, p => File.GetLastWriteTimeUtc(site.DevicePath(device, p)));
        }
        var reboots = site.Agents.ToDictionary(a => a.Device, a => a.Reboots);
        Assert.All(reboots.Values, r => Assert.Equal(1, r));

        // A new package under the old role version is refused by the plan as by apply.
        var reused = await site.PlanAsync(OperationsModels.WithContent(baseModel, "1", "1.1.0", devices));
        Assert.Equal("role.version-reused", Assert.Single(reused.Errors).Code);
        Assert.Empty(reused.Devices);

        var upgrade = OperationsModels.WithContent(baseModel, "2", "1.1.0", devices);
        var plan = await site.PlanAsync(upgrade);
        Assert.False(plan.HasErrors, JsonSerializer.Serialize(plan));
        Assert.Equal([("role", "www", "changed")], plan.ModelChanges.Select(c => (c.Kind, c.Name, c.Change)));
        foreach (var device in devices)
        {
            var mine = plan.For(device);
            Assert.Equal(["install: install site 1.1.0", $"write-file: write {OperationsModels.ContentConfig}", "inventory: inventory"], Operations.Lines(mine.Commands));
            Assert.All(mine.Commands.SkipLast(1), c => Assert.Equal("www", c.Role));
        }

        var applied = await site.ApplyAsync(upgrade, "content 1.1.0");
        var rollout = await site.StartRolloutAsync(new RolloutRequest(applied.Revision, null));
        Assert.Equal(RolloutStates.Succeeded, (await site.WaitForRolloutToFinishAsync(rollout.Id)).Status);
        foreach (var device in devices)
        {
            var detail = await site.DeviceAsync(device);
            Assert.Equal(Operations.Lines(plan.For(device).Commands), Operations.Lines(detail.Commands));
            Assert.Equal(reboots[device], site.Agents.Single(a => a.Device == device).Reboots); // no reboot
            Assert.Contains("site 1.1.0", site.ReadDeviceFile(device, OperationsModels.ContentPage), StringComparison.Ordinal);
            Assert.Contains("content role 2", site.ReadDeviceFile(device, OperationsModels.ContentConfig), StringComparison.Ordinal);

            // Every os and app file is the same file: same content, not even rewritten.
            var after = site.FileDigests(device);
            var untouched = before[device].Keys.Where(p => !p.StartsWith("/srv/www/", StringComparison.Ordinal)).ToList();
            Assert.Contains("/usr/bin/tool", untouched);
            Assert.Contains("/etc/base/f000.conf", untouched);
            Assert.Contains(OperationsModels.ToolConfig, untouched);
            Assert.All(untouched, p => Assert.Equal(before[device][p], after.GetValueOrDefault(p)));
            Assert.All(untouched, p => Assert.Equal(written[device][p], File.GetLastWriteTimeUtc(site.DevicePath(device, p))));
            Assert.Equal(before[device].Keys, after.Keys);
        }
    }

    [Fact]
    public async Task Decommission_removes_software_in_reverse_role_order_reconfigures_neighbours_and_forgets_the_device()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2"];
        await site.AddPackageAsync(OperationsModels.Content("1.0.0"), OperationsModels.ContentFiles("1.0.0"));
        await site.SaveModelAsync(OperationsModels.WithContent(Models.Site(devices), "1", "1.0.0", ["web-1", "web-2"]));
        await site.StartAgentsAsync(devices);
        await site.ConvergeAsync();
        foreach (var device in devices)
            await site.WaitForQueueAsync(device);
        Assert.Contains("peer web-2", site.ReadDeviceFile("lb-1", OperationsModels.ToolConfig), StringComparison.Ordinal);
        var certificate = RawAgentClient.AgentCertificate(site.State("web-2"));

        // web-2's agent is stopped first, so its emptying queue can be read before it runs.
        await site.Agents.Single(a => a.Device == "web-2").StopAsync(TimeSpan.FromSeconds(5));
        var result = await site.Api.PostAsync<LifecycleResult>("api/v1/devices/web-2/decommission?message=retire", null);
        Assert.Empty(result.Errors);
        Assert.NotNull(result.Rollout);
        Assert.Equal(["lb-1", "web-2"], result.Rollout.Devices.Select(d => d.Device));
        DeviceDetail pending = null!;
        await TestSite.WaitUntilAsync(async () => (pending = await site.DeviceAsync("web-2")).Status.Queue?.Reason.Contains(result.Rollout.Id, StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(20), "web-2's decommission queue");
        Assert.Equal(
        [
            $"delete-file: delete {OperationsModels.ContentConfig}", // content first, the whole role ...
            "remove: remove site",
            "service: service tool stop",                            // ... then app: stopped and disabled ...
            "service: service tool disable",
            "delete-file: delete /etc/tool/tool.conf",
            "remove: remove tool",
            "delete-file: delete /etc/base/f001.conf",               // ... then os
            "delete-file: delete /etc/base/f000.conf",
            "inventory: inventory",
        ], Operations.Lines(pending.Commands));

        site.RestartAgent("web-2");
        var done = await site.WaitForRolloutToFinishAsync(result.Rollout.Id);
        Assert.Equal(RolloutStates.Succeeded, done.Status);
        var ids = pending.Commands.Select(c => c.Id).ToHashSet();
        Assert.Equal(pending.Commands.Select(c => c.Id), site.Begins("web-2").Where(ids.Contains)); // ran in that order

        // The neighbour no longer lists it.
        var lbConfig = site.ReadDeviceFile("lb-1", OperationsModels.ToolConfig);
        Assert.DoesNotContain("web-2", lbConfig, StringComparison.Ordinal);
        Assert.Contains("peer web-1", lbConfig, StringComparison.Ordinal);
        // Nothing of Rig's is left on it, and its service would not start again at boot.
        Assert.Empty(site.FileDigests("web-2"));
        var sandbox = JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(site.Root("web-2"), "var", "lib", "rig", "state.json")), Rig.Agent.Runtime.AgentJson.Default.State)!;
        Assert.Equal(new Rig.Agent.Platform.ServiceRecord("tool", Running: false, Enabled: false), sandbox.Services.Single(s => s.Name == "tool"));

        // Then the device leaves the model, its certificate is refused, and what was recorded about it is forgotten.
        await TestSite.WaitUntilAsync(async () => !(await site.Api.GetAsync<JsonElement>("api/v1/model")).GetRawText().Contains("web-2", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "web-2 to leave the model");
        // The model changes first, then the certificate is revoked and the runtime record forgotten: wait for the last step.
        await TestSite.WaitUntilAsync(async () =>
        {
            try
            {
                await site.DeviceAsync("web-2");
                return false;
            }
            catch (OperatorApiException e) when (e.Status == 404)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(20), "web-2 to be forgotten (404)");
        Assert.DoesNotContain((await site.StoredPlanAsync()).Devices, d => d.Device == "web-2");
        using var client = new RawAgentClient(live.Gateway.AgentUrl, certificate, X509Certificate2.CreateFromPem(File.ReadAllText(live.Gateway.CaPath)));
        var (status, body) = await client.ExchangeAsync(RawAgentClient.Inquiry("web-2"));
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("revoked", body, StringComparison.Ordinal);
        var revisions = await site.Api.GetAsync<List<RevisionView>>("api/v1/revisions");
        Assert.Equal("decommissioned web-2: removed from the model", revisions[0].Message);
        Assert.Equal("retire", revisions[1].Message);
    }

    [Fact]
    public async Task Rebuild_of_a_lost_device_reproduces_it_file_for_file()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.AddPackageAsync(OperationsModels.Content("1.0.0"), OperationsModels.ContentFiles("1.0.0"));
        await site.SaveModelAsync(OperationsModels.WithContent(Models.Site(["web-1"], osFiles: 4, reboot: true), "1", "1.0.0", ["web-1"]));
        var agent = await site.StartAgentAsync("web-1");
        await site.ConvergeAsync();
        Assert.Equal(QueueStates.Succeeded, (await site.WaitForQueueAsync("web-1")).Status.Queue!.Status);
        var before = site.FileDigests("web-1");
        Assert.Equal(9, before.Count); // 4 os files, tool (2 files + config), content (page + config)
        var oldCertificate = RawAgentClient.AgentCertificate(site.State("web-1"));

        // The device loses everything: its disk and its agent's identity and journal.
        await agent.StopAsync(TimeSpan.FromSeconds(5));
        Directory.Delete(site.Root("web-1"), recursive: true);
        Directory.Delete(site.State("web-1"), recursive: true);

        var rebuild = await site.Api.PostAsync<LifecycleResult>("api/v1/devices/web-1/rebuild", null);
        Assert.Empty(rebuild.Errors);
        var queued = Assert.Single(rebuild.Queues);
        Assert.Equal("queued", queued.Outcome);
        Assert.NotNull(rebuild.Token);
        using (var client = new RawAgentClient(live.Gateway.AgentUrl, oldCertificate, X509Certificate2.CreateFromPem(File.ReadAllText(live.Gateway.CaPath))))
            Assert.Equal(HttpStatusCode.Forbidden, (await client.ExchangeAsync(RawAgentClient.Inquiry("web-1"))).Status); // the lost identity is revoked

        await site.StartAgentAsync("web-1", token: rebuild.Token);
        var detail = await site.WaitForQueueAsync("web-1");
        Assert.Equal(queued.QueueId, detail.Status.Queue!.Id);
        Assert.Equal(QueueStates.Succeeded, detail.Status.Queue.Status);
        Assert.Equal(before, site.FileDigests("web-1"));
        Assert.Equal("unchanged", (await site.StoredPlanAsync()).For("web-1").Outcome);
    }

    [Fact]
    public async Task Stored_script_runs_only_on_the_selected_devices_and_scripts_cannot_write_files()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2"]; // tiers: lb, web, web
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentsAsync(devices);
        await site.ConvergeAsync();
        var lbQueue = (await site.WaitForQueueAsync("lb-1")).Status.Queue!.Id;
        foreach (var device in devices)
            await site.WaitForQueueAsync(device);
        var lbJournal = site.Journal("lb-1").Count;

        CommandSpec[] steps = [new ServiceCommand("tool", ServiceAction.Restart), new InventoryCommand()];
        var stored = await site.Api.PutJsonTextAsync<StoredScript>("api/v1/scripts/restart-tool", JsonSerializer.Serialize(new ScriptRequest("restart the tool", steps), OperatorClient.Json));
        Assert.Equal(["service tool restart", "inventory"], stored.Commands.Select(c => c.Describe()));
        Assert.Equal("admin", stored.CreatedBy);

        var run = await site.Api.PostAsync<LifecycleResult>("api/v1/scripts/restart-tool/run", new ScriptRunRequest("tier=web"));
        Assert.Equal(["web-1", "web-2"], run.Queues.Select(q => q.Device));
        Assert.All(run.Queues, q => Assert.Equal(("queued", 2), (q.Outcome, q.Commands)));
        foreach (var queue in run.Queues)
        {
            var detail = await site.WaitForQueueAsync(queue.Device);
            Assert.Equal(queue.QueueId, detail.Status.Queue!.Id);
            Assert.Equal(QueueStates.Succeeded, detail.Status.Queue.Status);
            Assert.Equal(["service: service tool restart", "inventory: inventory"], Operations.Lines(detail.Commands));
            Assert.Contains(site.Journal(queue.Device, "end"), e => e.GetProperty("id").GetString() == detail.Commands[0].Id);
        }
        Assert.Equal(lbQueue, (await site.DeviceAsync("lb-1")).Status.Queue!.Id); // the lb got nothing
        Assert.Equal(lbJournal, site.Journal("lb-1").Count);

        // Files and packages come from the model: a script that writes a file is refused and not stored.
        CommandSpec[] evil = [new ServiceCommand("tool", ServiceAction.Stop), new WriteFileCommand("/etc/tool/tool.conf", "x\n", new string('0', 64), "0644", "root", "root")];
        var refused = await Assert.ThrowsAsync<OperatorApiException>(() =>
            site.Api.PutJsonTextAsync<StoredScript>("api/v1/scripts/evil", JsonSerializer.Serialize(new ScriptRequest(null, evil), OperatorClient.Json)));
        Assert.Equal(400, refused.Status);
        Assert.Equal("invalid-script", refused.Error.Code);
        Assert.Equal("script.command-not-allowed", Assert.Single(refused.Error.Errors!).Code);
        Assert.Equal(404, (await Assert.ThrowsAsync<OperatorApiException>(() => site.Api.GetAsync<StoredScript>("api/v1/scripts/evil"))).Status);
    }
}
