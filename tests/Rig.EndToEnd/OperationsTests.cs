using System.Globalization;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Protocol.Messages;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>Plan, apply, rollouts and history through the operator API, against a real gateway process and real
/// agent processes (CHECKLIST 18, 25, 26, 28).</summary>
public sealed class OperationsTests
{
    private static readonly string[] Write = ["write-file: write /etc/tool/tool.conf", "service: service tool restart", "inventory: inventory"];

    [Fact]
    public async Task Plan_and_apply_send_nothing_to_any_device()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1"];
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentsAsync(devices);
        await site.ConvergeAsync();
        var queues = new Dictionary<string, string>();
        foreach (var device in devices)
        {
            queues[device] = (await site.WaitForQueueAsync(device)).Status.Queue!.Id;
            await site.WaitForAgentIdleAsync(device);
        }
        var journals = devices.ToDictionary(d => d, d => site.Journal(d).Count);
        var logs = devices.ToDictionary(d => d, d => site.AgentLog(d).Length);
        var revisions = await site.Api.GetAsync<List<RevisionView>>("api/v1/revisions");

        // POST /plan of a changed model: every device would change, with a diff.
        var changed = OperationsModels.WithPort(Models.Site(devices), "9090");
        var plan = await site.PlanAsync(changed);
        Assert.False(plan.HasErrors, JsonSerializer.Serialize(plan));
        Assert.Equal(revisions[0].Revision, plan.BaseRevision);
        Assert.Equal([("parameters", "*", "changed")], plan.ModelChanges.Select(c => (c.Kind, c.Name, c.Change)));
        foreach (var device in devices)
        {
            Assert.Equal("changes", plan.For(device).Outcome);
            Assert.Equal(Write, Operations.Lines(plan.For(device).Commands));
            var diff = Assert.Single(plan.For(device).Diffs);
            Assert.Contains("-port=8080", diff.Diff, StringComparison.Ordinal);
            Assert.Contains("+port=9090", diff.Diff, StringComparison.Ordinal);
        }
        Assert.Equal(revisions.Count, (await site.Api.GetAsync<List<RevisionView>>("api/v1/revisions")).Count); // a plan saves nothing

        // Apply records a revision, and still sends nothing; the stored plan is the proposed plan.
        var applied = await site.ApplyAsync(changed, "port 9090");
        Assert.True(applied.Changed);
        var stored = await site.StoredPlanAsync();
        Assert.Equal(applied.Revision, stored.BaseRevision);
        foreach (var device in devices)
            Assert.Equal(Operations.Lines(plan.For(device).Commands), Operations.Lines(stored.For(device).Commands));

        await Task.Delay(TimeSpan.FromSeconds(1)); // a poke or a queue would reach a local agent well within this
        foreach (var device in devices)
        {
            var detail = await site.DeviceAsync(device);
            Assert.Equal(queues[device], detail.Status.Queue!.Id); // no new queue
            Assert.Equal(QueueStates.Succeeded, detail.Status.Queue.Status);
            Assert.Equal(journals[device], site.Journal(device).Count); // nothing ran
            var after = site.AgentLog(device)[logs[device]..];
            Assert.True(Operations.LogEvents(after).Count == 0, $"{device}'s agent had a session after the plan:\n{after}");
        }

        // The log does show a session when there is one: a real poke is seen, and finds nothing to do.
        await site.Api.PostAsync<JsonElement>("api/v1/devices/lb-1/poke", null);
        await TestSite.WaitUntilAsync(() => Task.FromResult(Operations.LogEvents(site.AgentLog("lb-1")[logs["lb-1"]..]) is ["poked", .., "idle"]),
            TimeSpan.FromSeconds(20), "the poked agent's session", () => site.AgentLog("lb-1")[logs["lb-1"]..]);
        Assert.Equal(journals["lb-1"], site.Journal("lb-1").Count);
    }

    [Fact]
    public async Task Plan_lists_exactly_the_commands_its_rollout_runs_with_diffs_of_changed_files()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1"];
        await site.SaveModelAsync(Models.Site(devices, osFiles: 3));
        await site.StartAgentsAsync(devices);
        await site.ConvergeAsync();
        foreach (var device in devices)
            await site.WaitForQueueAsync(device);
        var (tool110, tool110Files) = OperationsModels.Tool110;
        await site.AddPackageAsync(tool110, tool110Files);

        // New configuration content, a new package version, a file the model no longer has.
        var next = OperationsModels.WithToolVersion(OperationsModels.WithPort(Models.Site(devices, osFiles: 2), "9090"), "1.1.0", appRoleVersion: "2");
        var plan = await site.PlanAsync(next);
        Assert.False(plan.HasErrors, JsonSerializer.Serialize(plan));
        foreach (var device in devices)
        {
            var mine = plan.For(device);
            Assert.Equal(
                ["delete-file: delete /etc/base/f002.conf", "install: install tool 1.1.0", "write-file: write /etc/tool/tool.conf", "service: service tool restart", "inventory: inventory"],
                Operations.Lines(mine.Commands));
            var config = mine.Diffs.Single(d => d.Path == OperationsModels.ToolConfig);
            Assert.Equal("changed", config.Change);
            Assert.Contains("--- a/etc/tool/tool.conf", config.Diff, StringComparison.Ordinal);
            Assert.Contains("\n-port=8080\n", config.Diff, StringComparison.Ordinal);
            Assert.Contains("\n+port=9090\n", config.Diff, StringComparison.Ordinal);
            Assert.DoesNotContain($"-name={device}", config.Diff, StringComparison.Ordinal); // unchanged lines are context
            var deleted = mine.Diffs.Single(d => d.Path == "/etc/base/f002.conf");
            Assert.Equal("deleted", deleted.Change);
            Assert.Contains($"-device={device}", deleted.Diff, StringComparison.Ordinal);
        }

        var applied = await site.ApplyAsync(next, "tool 1.1.0, port 9090, one os file fewer");
        var rollout = await site.StartRolloutAsync(new RolloutRequest(applied.Revision, null));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        Assert.Equal(RolloutStates.Succeeded, done.Status);

        foreach (var device in devices)
        {
            var detail = await site.DeviceAsync(device);
            Assert.Equal(done.Devices.Single(d => d.Device == device).QueueId, detail.Status.Queue!.Id);
            Assert.Equal(Operations.Lines(plan.For(device).Commands), Operations.Lines(detail.Commands));
            Assert.All(detail.Commands, c => Assert.Equal(CommandStates.Succeeded, c.Status));
            // The agent ran them in that order, each once.
            var ids = detail.Commands.Select(c => c.Id).ToHashSet();
            Assert.Equal(detail.Commands.Select(c => c.Id), site.Begins(device).Where(ids.Contains));
            Assert.False(File.Exists(site.DevicePath(device, "/etc/base/f002.conf")));
            Assert.Contains("port=9090", site.ReadDeviceFile(device, OperationsModels.ToolConfig), StringComparison.Ordinal);
            Assert.Contains("tool 1.1", site.ReadDeviceFile(device, "/usr/bin/tool"), StringComparison.Ordinal);
            // What was written is the new side of the plan's diff.
            var written = Assert.IsType<WriteFileCommand>(detail.Commands.Single(c => c.Kind == "write-file").Spec);
            Assert.Equal(site.ReadDeviceFile(device, OperationsModels.ToolConfig), written.Content);
            var added = plan.For(device).Diffs.Single(d => d.Path == OperationsModels.ToolConfig).Diff.Split('\n').Where(l => l.StartsWith('+') && !l.StartsWith("+++", StringComparison.Ordinal));
            Assert.All(added, l => Assert.Contains(l[1..] + "\n", written.Content, StringComparison.Ordinal));
        }
        // The plan predicted everything: nothing is left to do.
        Assert.All((await site.StoredPlanAsync()).Devices, d => Assert.Equal("unchanged", d.Outcome));
    }

    [Fact]
    public async Task Rollout_waves_start_only_after_the_previous_wave_finished()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2", "web-3", "web-4"];
        await site.SaveModelAsync(Models.Site(devices, osFiles: 5));
        await site.StartAgentsAsync(devices);

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1, Batch: "2"));
        Assert.Equal(new Dictionary<string, int?> { ["lb-1"] = 0, ["web-1"] = 1, ["web-2"] = 1, ["web-3"] = 2, ["web-4"] = 2 },
            rollout.Devices.ToDictionary(d => d.Device, d => d.Wave));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        Assert.Equal(RolloutStates.Succeeded, done.Status);
        Assert.All(done.Devices, d => Assert.Equal(RolloutDeviceStatuses.Succeeded, d.Status));

        var queues = new Dictionary<string, QueueView>();
        foreach (var device in done.Devices)
        {
            var queue = (await site.DeviceAsync(device.Device)).Status.Queue!;
            Assert.Equal(device.QueueId, queue.Id);
            Assert.Equal(QueueStates.Succeeded, queue.Status);
            queues[device.Device] = queue;
        }
        var waves = done.Devices.GroupBy(d => d.Wave).OrderBy(g => g.Key).Select(g => g.Select(d => queues[d.Device]).ToList()).ToList();
        for (var w = 1; w < waves.Count; w++)
        {
            var previousFinished = waves[w - 1].Max(q => q.FinishedAt!.Value);
            var firstCreated = waves[w].Min(q => q.CreatedAt);
            Assert.True(previousFinished <= firstCreated,
                $"wave {w} started at {firstCreated:O} before wave {w - 1} finished at {previousFinished:O}:\n{string.Join("\n", queues.Values.Select(q => $"{q.Device} {q.CreatedAt:O} .. {q.FinishedAt:O}"))}");
        }
    }

    [Fact]
    public async Task Rollout_pauses_itself_past_the_failure_threshold_and_resumes_with_a_higher_one()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2", "web-3", "web-4"];
        // One failing device per wave (lb-1 | web-1 web-2 | web-3 web-4): a role writing under /boot, which agents refuse.
        string[] failing = ["lb-1", "web-2", "web-4"];
        await site.SaveModelAsync(OperationsModels.WithBrokenRole(Models.Site(devices), failing));
        await site.StartAgentsAsync(devices);

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1, Batch: "2", MaxFailures: 0));
        var paused = await site.WaitForRolloutAsync(rollout.Id, r => r.Status == RolloutStates.Paused, "to pause itself");
        Assert.Contains("1 device(s) failed, more than --max-failures 0", paused.Error, StringComparison.Ordinal);
        var canary = paused.Devices.Single(d => d.Device == "lb-1");
        Assert.Equal(RolloutDeviceStatuses.Failed, canary.Status);
        Assert.Contains("/boot/rig-tweak.conf", canary.Detail, StringComparison.Ordinal);
        Assert.Contains("outside the allowed roots", canary.Detail, StringComparison.Ordinal);
        Assert.False(File.Exists(site.DevicePath("lb-1", "/boot/rig-tweak.conf")));

        // Paused stays paused: later waves keep waiting and get no queue.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var still = await site.RolloutAsync(rollout.Id);
        Assert.Equal(RolloutStates.Paused, still.Status);
        Assert.All(still.Devices.Where(d => d.Wave > 0), d => Assert.Equal(RolloutDeviceStatuses.Waiting, d.Status));
        foreach (var device in devices.Skip(1))
            Assert.Null((await site.DeviceAsync(device)).Status.Queue);

        // Resume tolerating one failure: wave 1 runs, web-2 fails, which is one too many again; wave 2 waits.
        var resumed = await site.RolloutActionAsync(rollout.Id, "resume", "?maxFailures=1");
        Assert.Equal(RolloutStates.Running, resumed.Status);
        Assert.Equal(1, resumed.MaxFailures);
        paused = await site.WaitForRolloutAsync(rollout.Id, r => r.Status == RolloutStates.Paused, "to pause itself again");
        Assert.Contains("2 device(s) failed, more than --max-failures 1", paused.Error, StringComparison.Ordinal);
        await site.WaitForRolloutAsync(rollout.Id, r => r.Devices.Single(d => d.Device == "web-1").Status == RolloutDeviceStatuses.Succeeded, "web-1 to finish");
        Assert.Equal(RolloutDeviceStatuses.Failed, paused.Devices.Single(d => d.Device == "web-2").Status);
        Assert.All(paused.Devices.Where(d => d.Wave == 2), d => Assert.Equal(RolloutDeviceStatuses.Waiting, d.Status));

        // Tolerating two: the last wave runs; its failure leaves nothing to protect, so the rollout finishes as
        // failed instead of pausing a third time.
        await site.RolloutActionAsync(rollout.Id, "resume", "?maxFailures=2");
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        Assert.Equal(RolloutStates.Failed, done.Status);
        Assert.Equal("3 device(s) failed", done.Error);
        Assert.Equal(failing, done.Devices.Where(d => d.Status == RolloutDeviceStatuses.Failed).Select(d => d.Device));
        Assert.Equal(["web-1", "web-3"], done.Devices.Where(d => d.Status == RolloutDeviceStatuses.Succeeded).Select(d => d.Device));
        Assert.Equal(2, live.Gateway.Output.Split("[1502]").Length - 1); // paused twice, never a third time
    }

    [Fact]
    public async Task Cancelled_rollout_lets_the_running_command_finish_and_starts_nothing_new()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["web-1", "web-2", "web-3"];
        await site.SaveModelAsync(Models.Site(devices, osFiles: 300));
        // One command per answer: the queue takes 300+ round trips, so the cancel lands mid-queue on any machine
        // (with 32 per answer a fast run finished the whole queue before the cancel arrived).
        foreach (var device in devices)
            await site.StartAgentAsync(device, batch: 1);

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, MaxParallel: 1));
        await TestSite.WaitUntilAsync(() => Task.FromResult(site.Ends("web-1").Count >= 3), TimeSpan.FromSeconds(30), "web-1 to run some commands");
        var cancelled = await site.RolloutActionAsync(rollout.Id, "cancel");
        var begunAtCancel = site.Begins("web-1").Count;
        Assert.Equal(RolloutStates.Cancelled, cancelled.Status);
        Assert.All(cancelled.Devices, d => Assert.Equal(RolloutDeviceStatuses.Cancelled, d.Status));

        // The command running at the cancel finishes and its result is recorded: nothing stays "sent".
        var queueId = cancelled.Devices.Single(d => d.Device == "web-1").QueueId;
        DeviceDetail detail = null!;
        await TestSite.WaitUntilAsync(async () =>
        {
            detail = await site.DeviceAsync("web-1");
            return detail.Commands.All(c => c.Status != CommandStates.Sent);
        }, TimeSpan.FromSeconds(10), "web-1's last command to report", () => site.AgentLog("web-1"));
        await Task.Delay(TimeSpan.FromSeconds(1)); // anything wrongly started would run within this
        detail = await site.DeviceAsync("web-1");
        var begins = site.Begins("web-1");
        var ends = site.Ends("web-1");

        Assert.Equal(queueId, detail.Status.Queue!.Id);
        Assert.Equal(QueueStates.Cancelled, detail.Status.Queue.Status);
        var finished = detail.Commands.Where(c => c.Status == CommandStates.Succeeded).ToList();
        Assert.True(finished.Count < detail.Commands.Count, "the cancel must land mid-queue");
        // At most the rest of the answer the agent already holds (commands are delivered several per answer).
        Assert.True(begins.Count <= begunAtCancel + Rig.Protocol.RigLimits.Default.MaxCommandsPerExchange, $"{begins.Count - begunAtCancel} commands began after the cancel");
        Assert.Equal(begins, ends); // every command that began, ended
        Assert.Equal(finished.Select(c => c.Id), begins); // ... and its result is recorded, in queue order
        Assert.All(detail.Commands.Skip(finished.Count), c => Assert.Equal((CommandStates.Pending, 0), (c.Status, c.Deliveries)));

        // No other device ever got a queue; the rollout and its devices read cancelled.
        foreach (var device in devices.Skip(1))
        {
            Assert.Null((await site.DeviceAsync(device)).Status.Queue);
            Assert.Empty(site.Begins(device)); // nothing ran (the journal holds only its header line)
            Assert.Empty(site.Ends(device));
        }
        var after = await site.RolloutAsync(rollout.Id);
        Assert.Equal(RolloutStates.Cancelled, after.Status);
        Assert.All(after.Devices, d => Assert.Equal(RolloutDeviceStatuses.Cancelled, d.Status));
    }

    [Fact]
    public async Task Cancel_while_a_wave_is_being_started_leaves_no_queue_active_and_every_device_cancelled()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        // A wave of 40 devices takes the engine a while to queue; only web-01 has an agent, the others never answer.
        var devices = Enumerable.Range(1, 40).Select(i => $"web-{i:00}").ToArray();
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentAsync("web-01");

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null));
        var cancelled = await site.RolloutActionAsync(rollout.Id, "cancel"); // lands while the engine starts the wave
        Assert.Equal(RolloutStates.Cancelled, cancelled.Status);
        Assert.All(cancelled.Devices, d => Assert.Equal(RolloutDeviceStatuses.Cancelled, d.Status));

        await Task.Delay(TimeSpan.FromSeconds(1)); // an engine step still under way would show within this
        var after = await site.RolloutAsync(rollout.Id);
        Assert.Equal(RolloutStates.Cancelled, after.Status);
        Assert.True(after.Devices.All(d => d.Status == RolloutDeviceStatuses.Cancelled), Operations.Describe(after));
        foreach (var device in devices)
        {
            var queue = (await site.DeviceAsync(device)).Status.Queue;
            Assert.True(queue is null || !QueueStates.IsActive(queue.Status), $"{device} still has queue {queue?.Id} ({queue?.Status}) after the cancel");
        }
        var web01 = await site.DeviceAsync("web-01");
        Assert.DoesNotContain(web01.Commands, c => c.Status == CommandStates.Sent);
        Assert.Equal(site.Begins("web-01"), site.Ends("web-01"));
        Assert.Equal(web01.Commands.Where(c => c.Status == CommandStates.Succeeded).Select(c => c.Id), site.Begins("web-01"));
    }

    [Fact]
    public async Task Second_rollout_on_a_device_of_an_active_rollout_is_refused_naming_both()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["web-1", "web-2"];
        await site.SaveModelAsync(Models.Site(devices));

        // The agents are not running yet, so the first rollout stays active: web-1 queued, web-2 waiting.
        var first = await site.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1));
        await site.WaitForRolloutAsync(first.Id, r => r.Devices.Single(d => d.Device == "web-1").Status == RolloutDeviceStatuses.Queued, "web-1 to be queued");
        foreach (var target in new[] { "web-2", "web-1", "all" })
        {
            var refused = await Assert.ThrowsAsync<OperatorApiException>(() => site.StartRolloutAsync(new RolloutRequest(null, target)));
            Assert.Equal(409, refused.Status);
            Assert.Equal("devices-busy", refused.Error.Code);
            Assert.Contains(first.Id, refused.Error.Message, StringComparison.Ordinal);
            if (target != "all")
                Assert.Contains($"{target} (rollout {first.Id})", refused.Error.Message, StringComparison.Ordinal);
        }
        Assert.Equal([first.Id], (await site.Api.GetAsync<List<RolloutInfo>>("api/v1/rollouts")).Select(r => r.Id));
        // Nor does any other way in give web-1 a second queue while its rollout queue waits.
        var web1Queue = (await site.DeviceAsync("web-1")).Status.Queue!;
        Assert.Equal(QueueStates.Pending, web1Queue.Status);
        var converge = Assert.Single((await site.ConvergeAsync("web-1")).Devices);
        Assert.Equal(("busy", web1Queue.Id), (converge.Outcome, converge.QueueId));
        await site.Api.PutJsonTextAsync<StoredScript>("api/v1/scripts/check", """{"commands":[{"kind":"inventory"}]}""");
        var script = Assert.Single((await site.Api.PostAsync<LifecycleResult>("api/v1/scripts/check/run", new ScriptRunRequest("web-1"))).Queues);
        Assert.Equal(("busy", web1Queue.Id), (script.Outcome, script.QueueId));

        // Once the first rollout is done, the device is free again.
        await site.StartAgentsAsync(devices);
        Assert.Equal(RolloutStates.Succeeded, (await site.WaitForRolloutToFinishAsync(first.Id)).Status);
        var second = await site.StartRolloutAsync(new RolloutRequest(null, "web-2"));
        var done = await site.WaitForRolloutToFinishAsync(second.Id);
        Assert.Equal(RolloutStates.Succeeded, done.Status);
        Assert.Equal(RolloutDeviceStatuses.Unchanged, done.Devices.Single().Status);
    }

    [Fact]
    public async Task Rollout_survives_a_gateway_kill_and_completes_with_every_command_run_once()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2", "web-3"];
        await site.SaveModelAsync(Models.Site(devices, osFiles: 60));
        await site.StartAgentsAsync(devices);

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1, Batch: "1"));
        Assert.Equal(4, rollout.Waves);
        await TestSite.WaitUntilAsync(() => Task.FromResult(site.Ends("web-1").Count >= 5), TimeSpan.FromSeconds(30), "wave 1 (web-1) to be running");
        var beforeKill = await site.RolloutAsync(rollout.Id);
        await live.Gateway.KillAsync();
        var doneAtKill = site.Ends("web-1").Count;
        Assert.Equal(RolloutStates.Running, beforeKill.Status);
        Assert.Equal(RolloutDeviceStatuses.Succeeded, beforeKill.Devices.Single(d => d.Device == "lb-1").Status);
        Assert.Equal(RolloutDeviceStatuses.Queued, beforeKill.Devices.Single(d => d.Device == "web-1").Status);
        Assert.All(beforeKill.Devices.Where(d => d.Wave > 1), d => Assert.Equal(RolloutDeviceStatuses.Waiting, d.Status));

        await Task.Delay(TimeSpan.FromMilliseconds(500)); // the agent retries against a dead gateway
        await live.Gateway.StartAsync();
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id, TimeSpan.FromSeconds(90));
        Assert.Equal(RolloutStates.Succeeded, done.Status);
        Assert.All(done.Devices, d => Assert.Equal(RolloutDeviceStatuses.Succeeded, d.Status));
        var web1Commands = (await site.DeviceAsync("web-1")).Commands.Count;
        Assert.True(doneAtKill < web1Commands, $"the kill must land mid-queue ({doneAtKill} of {web1Commands} done)");
        foreach (var device in devices)
        {
            var detail = await site.DeviceAsync(device);
            Assert.Equal(done.Devices.Single(d => d.Device == device).QueueId, detail.Status.Queue!.Id);
            Assert.All(detail.Commands, c => Assert.Equal(CommandStates.Succeeded, c.Status));
            var begins = site.Begins(device);
            Assert.Equal(begins.Count, begins.Distinct().Count()); // nothing ran twice
            Assert.Equal(detail.Commands.Select(c => c.Id), begins);
        }
    }

    [Fact]
    public async Task History_lists_revisions_diffs_them_and_shows_the_model_and_configuration_as_of_a_revision_or_date()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        var first = Models.Site(["lb-1", "web-1"]);
        var r1 = await site.ApplyAsync(first, "first site");
        await site.StartAgentAsync("lb-1");
        var rollout = await site.StartRolloutAsync(new RolloutRequest(r1.Revision, "lb-1"));
        Assert.Equal(RolloutStates.Succeeded, (await site.WaitForRolloutToFinishAsync(rollout.Id)).Status);
        var r2 = await site.ApplyAsync(OperationsModels.WithPort(first, "9090"), "port 9090");
        var r3 = await site.ApplyAsync(OperationsModels.WithPort(Models.Site(["lb-1", "web-1", "web-2"]), "9090"), "add web-2");
        Assert.Equal([1L, 2, 3], [r1.Revision, r2.Revision, r3.Revision]);

        var revisions = await site.Api.GetAsync<List<RevisionView>>("api/v1/revisions");
        Assert.Equal([3L, 2, 1], revisions.Select(r => r.Revision));
        Assert.Equal(["add web-2", "port 9090", "first site"], revisions.Select(r => r.Message));
        Assert.All(revisions, r => Assert.Equal("admin", r.Author));
        Assert.Equal(1, revisions[1].Changes);

        var diff = await site.Api.GetAsync<List<ModelDiffEntry>>("api/v1/revisions/diff?from=1&to=2");
        var parameters = Assert.Single(diff);
        Assert.Equal(("parameters", "*", "changed"), (parameters.Kind, parameters.Name, parameters.Change));
        var lines = parameters.Diff.Split('\n');
        Assert.Contains(lines, l => l.StartsWith('-') && l.Contains("\"8080\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith('+') && l.Contains("\"9090\"", StringComparison.Ordinal));
        var added = await site.Api.GetAsync<List<ModelDiffEntry>>("api/v1/revisions/diff?from=2&to=3");
        Assert.Equal(["assignment web-2|app", "assignment web-2|base", "device web-2", "link lb-1|web-2|http"],
            added.Where(e => e.Change == "added").Select(e => $"{e.Kind} {e.Name}"));
        Assert.DoesNotContain(added, e => e.Change != "added");

        // As of revision 1: that model, and lb-1's configuration as it was then, which is what lb-1 got.
        var asOf1 = await site.Api.GetAsync<ModelAsOf>("api/v1/model/as-of?at=1");
        Assert.Equal(1, asOf1.Revision);
        Assert.Equal("8080", asOf1.Model.Parameters["port"]);
        Assert.Equal(["lb-1", "web-1"], asOf1.Model.Devices.Select(d => d.Name));
        var lbConfig = asOf1.Devices.Single(d => d.Device == "lb-1").Files.Single(f => f.Path == OperationsModels.ToolConfig);
        Assert.Equal(site.ReadDeviceFile("lb-1", OperationsModels.ToolConfig), lbConfig.Content);
        Assert.DoesNotContain("web-2", lbConfig.Content, StringComparison.Ordinal);
        var asOf3 = await site.Api.GetAsync<ModelAsOf>("api/v1/model/as-of?at=3");
        var lbConfig3 = asOf3.Devices.Single(d => d.Device == "lb-1").Files.Single(f => f.Path == OperationsModels.ToolConfig).Content;
        Assert.Contains("port=9090", lbConfig3, StringComparison.Ordinal);
        Assert.Contains("peer web-2 10.9.0.12", lbConfig3, StringComparison.Ordinal);

        // By date: the newest revision made at or before it.
        string At(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", CultureInfo.InvariantCulture));
        Assert.Equal(1, (await site.Api.GetAsync<ModelAsOf>($"api/v1/model/as-of?at={At(revisions[2].CreatedAt)}")).Revision);
        Assert.Equal(1, (await site.Api.GetAsync<ModelAsOf>($"api/v1/model/as-of?at={At(revisions[1].CreatedAt.AddMilliseconds(-1))}")).Revision);
        Assert.Equal(3, (await site.Api.GetAsync<ModelAsOf>($"api/v1/model/as-of?at={At(DateTimeOffset.UtcNow.AddMinutes(1))}")).Revision);
        var before = await Assert.ThrowsAsync<OperatorApiException>(() => site.Api.GetAsync<ModelAsOf>($"api/v1/model/as-of?at={At(revisions[2].CreatedAt.AddSeconds(-1))}"));
        Assert.Equal(404, before.Status);
        var model1 = await site.Api.GetAsync<JsonElement>("api/v1/model?at=1");
        Assert.Equal("8080", model1.GetProperty("parameters").GetProperty("port").GetString());
    }
}
