using System.Text.Json;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Api;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>Drift with a real gateway and a real sandbox agent: changes made behind Rig's back on the device are
/// reported by the agent's inventory, shown by <c>rig drift</c>, planned by <c>rig plan</c> and repaired by a converge.</summary>
public sealed class DriftTests
{
    [Fact]
    public async Task Drift_behind_rigs_back_is_reported_planned_and_repaired()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        string[] connection = ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json"];
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1", "web-2"]));
        var agent = await site.StartAgentAsync("web-1");

        // web-2 never ran an agent: it cannot be compared, and the operator is told why (exit 1).
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["drift", "web-2", .. connection]);
        Assert.True(code == 1, $"a device without an inventory should exit 1, got {code}: {stdout}{stderr}");
        Assert.Contains("no inventory yet; the agent reports at start-up", stdout, StringComparison.Ordinal);

        // Provision web-1, then wait for the inventory the agent sends after the queue: no drift (exit 0).
        await site.ConvergeAsync("web-1");
        Assert.Equal(QueueStates.Succeeded, (await site.WaitForQueueAsync("web-1")).Status.Queue!.Status);
        await WaitForDriftAsync(site, "web-1", DriftOutcome.None);
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["drift", "web-1", .. connection]);
        Assert.True(code == 0, $"no drift should exit 0, got {code}: {stdout}{stderr}");

        // Behind Rig's back, with the agent stopped: a managed file modified, another deleted, and a file of the
        // tool package deleted (in the sandbox, Rig's own database is the package truth; the package is damaged).
        await agent.StopAsync(TimeSpan.FromSeconds(5));
        var root = site.Root("web-1");
        File.AppendAllText(Path.Combine(root, "etc/base/f000.conf"), "edited by hand\n");
        File.Delete(Path.Combine(root, "etc/tool/tool.conf"));
        File.Delete(Path.Combine(root, "usr/bin/tool"));

        // The restarted agent reports at start-up.
        site.RestartAgent("web-1");
        await WaitForDriftAsync(site, "web-1", DriftOutcome.Drift);
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["drift", "web-1", .. connection]);
        Assert.True(code == 2, $"drift should exit 2, got {code}: {stdout}{stderr}");
        var items = LastJson(stdout).GetProperty("devices")[0].GetProperty("items").EnumerateArray()
            .Select(i => $"{i.GetProperty("kind").GetString()} {i.GetProperty("item").GetString()} {i.GetProperty("change").GetString()}").ToList();
        Assert.Equal(["package tool changed", "file /etc/base/f000.conf changed", "file /etc/tool/tool.conf missing"], items);
        Assert.Contains("files-missing: /usr/bin/tool", stdout, StringComparison.Ordinal);
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["drift", "web-1", .. connection[..^1]]); // the table for people
        Assert.True(code == 2, $"drift should exit 2, got {code}: {stdout}{stderr}");
        Assert.Contains("3 difference(s)", stdout, StringComparison.Ordinal);
        Assert.Contains("1 device(s): 1 drifted", stdout, StringComparison.Ordinal);

        // A name that matches nothing is an error (exit 1, one JSON error document), not "no drift"; so is revoking it.
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["drift", "web-9", .. connection]);
        Assert.True(code == 1, $"drift of an unknown device should exit 1, got {code}: {stdout}{stderr}");
        Assert.Equal("no-match", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetProperty("code").GetString());
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["device", "revoke", "web-9", .. connection]);
        Assert.True(code == 1, $"revoking an unknown device should exit 1, got {code}: {stdout}{stderr}");
        Assert.Equal("unknown-device", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetProperty("code").GetString());

        // The plan repairs exactly that.
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["plan", "--devices", "web-1", .. connection]);
        Assert.True(code == 2, $"a plan with repairs should exit 2, got {code}: {stdout}{stderr}");
        var commands = LastJson(stdout).GetProperty("devices")[0].GetProperty("commands").EnumerateArray()
            .Select(c => c.GetProperty("description").GetString()!).ToList();
        Assert.Contains(commands, c => c.StartsWith("install tool 1.0.0", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.Contains("/etc/base/f000.conf", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.Contains("/etc/tool/tool.conf", StringComparison.Ordinal));
        Assert.DoesNotContain(commands, c => c.Contains("/etc/base/f001.conf", StringComparison.Ordinal));

        // Converge repairs it; the inventory after the queue shows no drift.
        await site.ConvergeAsync("web-1");
        Assert.Equal(QueueStates.Succeeded, (await site.WaitForQueueAsync("web-1")).Status.Queue!.Status);
        await WaitForDriftAsync(site, "web-1", DriftOutcome.None);
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["drift", "web-1", .. connection]);
        Assert.True(code == 0, $"repaired: no drift should exit 0, got {code}: {stdout}{stderr}");
        Assert.True(File.Exists(Path.Combine(root, "usr/bin/tool")));
        Assert.Equal("device=web-1\n", File.ReadAllText(Path.Combine(root, "etc/base/f000.conf")));
        Assert.True(File.Exists(Path.Combine(root, "etc/tool/tool.conf")));

        // A queue that does not end with an inventory command (a script): the agent reports once more after it.
        CommandSpec[] stop = [new ServiceCommand("tool", ServiceAction.Stop)];
        await site.Api.PutJsonTextAsync<StoredScript>("api/v1/scripts/stop-tool", JsonSerializer.Serialize(new ScriptRequest("stop the tool", stop), OperatorClient.Json));
        await site.Api.PostAsync<LifecycleResult>("api/v1/scripts/stop-tool/run", new ScriptRunRequest("web-1"));
        Assert.Equal(QueueStates.Succeeded, (await site.WaitForQueueAsync("web-1")).Status.Queue!.Status);
        await WaitForDriftAsync(site, "web-1", DriftOutcome.Drift);
        var drift = await site.Api.GetAsync<DriftReport>("api/v1/drift?devices=web-1");
        Assert.Equal(new DriftItem("service", "tool", "changed", "running, enabled", "stopped, enabled"), Assert.Single(drift.Devices.Single().Items));
    }

    private static async Task WaitForDriftAsync(TestSite site, string device, string outcome)
    {
        DriftReport? last = null;
        await TestSite.WaitUntilAsync(async () =>
        {
            last = await site.Api.GetAsync<DriftReport>($"api/v1/drift?devices={device}");
            return last.Devices.Single().Outcome == outcome;
        }, TimeSpan.FromSeconds(60), $"{device}'s drift to be '{outcome}'", () => JsonSerializer.Serialize(last) + "\n" + site.AgentLog(device));
    }

    private static JsonElement LastJson(string stdout) => JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
}
