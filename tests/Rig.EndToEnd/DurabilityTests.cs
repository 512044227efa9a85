using System.Text.Json;
using Rig.EndToEnd.Harness;
using Rig.Protocol.Messages;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Rig.Testing;

namespace Rig.EndToEnd;

/// <summary>Nothing lost, nothing run twice, with real gateway and agent processes at the moments that used to break
/// the promise: an agent killed between journaling an answer that ends in a reboot and reporting it, and a device
/// whose disk is full when the agent saves its record.</summary>
public sealed class DurabilityTests
{
    [Fact]
    public async Task An_agent_killed_after_journaling_an_answer_that_ends_in_a_reboot_reports_every_result_and_nothing_is_skipped()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"], osFiles: 6, reboot: true));
        // The agent kills itself (SIGKILL) once, right after the answer [6 writes, reboot] is journaled and before
        // any of it is reported; its supervisor starts it again.
        var agent = await site.StartAgentAsync("web-1", environment: new Dictionary<string, string> { ["RIG_AGENT_FAILPOINT"] = "reboot-answer-journaled" });

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, "web-1"));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id, TimeSpan.FromSeconds(90));

        var detail = await site.DeviceAsync("web-1");
        var log = site.AgentLog("web-1");
        Assert.True(File.Exists(Path.Combine(site.State("web-1"), "failpoint-reboot-answer-journaled.fired")), "the failpoint must have fired\n" + log);
        Assert.Equal(1, agent.Crashes);
        Assert.Equal(1, agent.Reboots);
        Assert.True(done.Status == RolloutStates.Succeeded, $"rollout {done.Status}: {detail.Status.Queue?.Error}\n{log}");
        // Every command has its result: the six writes before the reboot were not skipped by "rebooted".
        Assert.All(detail.Commands, c => Assert.True(c.Status == CommandStates.Succeeded, $"{c.Kind} {c.Spec.Describe()} is {c.Status}\n{log}"));
        var begins = site.Begins("web-1");
        Assert.Equal(begins.Count, begins.Distinct().Count()); // nothing ran twice
        Assert.Equal(detail.Commands.Select(c => c.Id), begins);
        Assert.Equal(6, site.FileDigests("web-1").Keys.Count(k => k.StartsWith("/etc/base/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_full_disk_when_the_device_record_is_saved_fails_the_command_with_disk_full_and_the_agent_stays_up()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        using var disk = SmallDisk.Mount(1024 * 1024);
        await site.SaveModelAsync(Models.Site(["web-1"]));
        // The device's root (its record /var/lib/rig/state.json with it) is on the small disk; the agent's own state
        // directory (journal) is not.
        var agent = await site.StartAgentAsync("web-1", platform: ["--sandbox-root", disk.Path]);
        await site.Api.PutJsonTextAsync<StoredScript>("api/v1/scripts/start-tool", """{"commands":[{"kind":"service","name":"tool","action":"start"}]}""");
        var stateFile = Path.Combine(disk.Path, "var", "lib", "rig", "state.json");
        var before = File.Exists(stateFile) ? File.ReadAllText(stateFile) : null;

        disk.Fill();
        await site.Api.PostAsync<LifecycleResult>("api/v1/scripts/start-tool/run", new ScriptRunRequest("web-1"));
        var failed = await site.WaitForQueueAsync("web-1");

        var command = Assert.Single(failed.Commands);
        Assert.Equal((QueueStates.Failed, CommandStates.Failed, "disk-full"), (failed.Status.Queue!.Status, command.Status, command.Result?.ErrorCode));
        Assert.True(agent.Crashes == 0, site.AgentLog("web-1"));
        Assert.Equal(before, File.Exists(stateFile) ? File.ReadAllText(stateFile) : null); // the record is as it was
        var end = site.Journal("web-1", "end").Last();
        Assert.Equal((command.Id, "failed"), (end.GetProperty("id").GetString(), end.GetProperty("result").GetProperty("outcome").GetString()!.ToLowerInvariant()));

        // Space again: the next queue runs and the record is saved (with the change that could not be saved before).
        disk.Free();
        await site.Api.PostAsync<LifecycleResult>("api/v1/scripts/start-tool/run", new ScriptRunRequest("web-1"));
        var succeeded = await site.WaitForQueueAsync("web-1");
        Assert.Equal(QueueStates.Succeeded, succeeded.Status.Queue!.Status);
        using var state = JsonDocument.Parse(File.ReadAllText(stateFile));
        Assert.Contains(state.RootElement.GetProperty("services").EnumerateArray(), s => s.GetProperty("name").GetString() == "tool" && s.GetProperty("running").GetBoolean());
        Assert.True(agent.Crashes == 0, site.AgentLog("web-1"));
    }
}
