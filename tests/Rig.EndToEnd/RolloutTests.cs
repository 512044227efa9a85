using System.Text.Json;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>Rollouts that tell the truth (issue 11, part 4): waves among the devices that change, a state per device an
/// operator can act on, a device whose agent does not answer fails after the device timeout, and failed devices can be
/// retried. Real gateway process, real agent processes, the real rig CLI.</summary>
public sealed class RolloutTests
{
    private static string[] Connection(LiveSite live) =>
        ["--server", live.Gateway.ApiUrl.ToString(), "--token", live.Gateway.Token, "--ca", live.Gateway.CaPath];

    [Fact]
    public async Task Canary_is_a_device_that_changes_when_the_first_device_has_nothing_to_do()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2"];
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentsAsync(devices);
        // lb-1, first by name and by order, is provisioned already: it has nothing to do in the next rollout.
        var first = await site.StartRolloutAsync(new RolloutRequest(null, "lb-1"));
        Assert.Equal(RolloutStates.Succeeded, (await site.WaitForRolloutToFinishAsync(first.Id)).Status);
        var lbQueue = (await site.DeviceAsync("lb-1")).Status.Queue!.Id;

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1, Batch: "1"));
        Assert.Equal([("lb-1", (int?)null), ("web-1", 0), ("web-2", 1)], rollout.Devices.Select(d => (d.Device, d.Wave)));
        Assert.Equal(2, rollout.Waves);
        var lb = rollout.Devices.Single(d => d.Device == "lb-1");
        Assert.Equal((RolloutDeviceStatuses.Unchanged, RolloutDeviceStates.Unchanged), (lb.Status, lb.State));
        Assert.Contains("nothing to do", lb.Detail, StringComparison.Ordinal);

        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        Assert.Equal(RolloutStates.Succeeded, done.Status);
        Assert.Equal([RolloutDeviceStates.Unchanged, RolloutDeviceStates.Succeeded, RolloutDeviceStates.Succeeded], done.Devices.Select(d => d.State));
        Assert.Equal("2 succeeded, 1 unchanged", done.Summary);
        // The canary's queue is the first queue of this rollout; lb-1 was sent nothing.
        var queues = new Dictionary<string, QueueView>();
        foreach (var device in devices)
            queues[device] = (await site.DeviceAsync(device)).Status.Queue!;
        Assert.Equal(lbQueue, queues["lb-1"].Id);
        Assert.Null(done.Devices.Single(d => d.Device == "lb-1").QueueId);
        Assert.True(queues["web-1"].FinishedAt <= queues["web-2"].CreatedAt, "web-1 is the canary: web-2's wave starts after it finished");
    }

    [Fact]
    public async Task Unchanged_devices_are_not_counted_in_waves_and_a_rollout_with_nothing_to_change_finishes_at_once()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["lb-1", "web-1", "web-2", "web-3"];
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentsAsync(devices);
        await site.ConvergeAsync("lb-1", "web-1");
        foreach (var device in new[] { "lb-1", "web-1" })
            Assert.Equal(QueueStates.Succeeded, (await site.WaitForQueueAsync(device)).Status.Queue!.Status);

        // 50% of the two devices that change is one device per wave (50% of all four would put both in one wave).
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, Batch: "50%"));
        Assert.Equal([("lb-1", (int?)null), ("web-1", null), ("web-2", 0), ("web-3", 1)], rollout.Devices.Select(d => (d.Device, d.Wave)));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        Assert.Equal(RolloutStates.Succeeded, done.Status);
        Assert.Equal("2 succeeded, 2 unchanged", done.Summary);

        // Nothing left to change: the rollout is finished in the answer that starts it, and says so.
        var again = await site.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1));
        Assert.Equal(RolloutStates.Succeeded, again.Status);
        Assert.NotNull(again.FinishedAt);
        Assert.Equal(0, again.Waves);
        Assert.All(again.Devices, d => Assert.Equal((RolloutDeviceStates.Unchanged, (int?)null), (d.State, d.Wave)));
        Assert.Equal($"nothing to change: all 4 devices already match revision {again.Rev}", again.Summary);

        // The CLI says so too, and exits 0 (`rig rollout` is `rig rollout start`).
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["rollout", "--devices", "web-*", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("nothing to change: all 3 devices already match revision", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_never_enrolled_device_fails_the_rollout_after_its_device_timeout_with_that_reason_and_never_runs_that_queue()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["web-1", "web-2"];
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentAsync("web-1"); // web-2's agent was never enrolled

        foreach (var (value, expected) in new[] { ("1s", "out of range: give 5s to 7d (default 30m)"), ("soon", "'soon' is not a duration") })
        {
            var refused = await Assert.ThrowsAsync<OperatorApiException>(() => site.StartRolloutAsync(new RolloutRequest(null, null, DeviceTimeout: value)));
            Assert.Equal(("bad-rollout", 400), (refused.Error.Code, refused.Status));
            Assert.Contains(expected, refused.Error.Message, StringComparison.Ordinal);
        }
        Assert.Empty(await site.Api.GetAsync<List<RolloutInfo>>("api/v1/rollouts"));

        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, DeviceTimeout: "5s"));
        Assert.Equal("5s", rollout.DeviceTimeout);
        var waiting = await site.WaitForRolloutAsync(rollout.Id, r => r.Devices.Single(d => d.Device == "web-2").State == RolloutDeviceStates.WaitingForAgent, "web-2 to wait for its agent");
        Assert.Equal("waiting for agent: never enrolled", waiting.Devices.Single(d => d.Device == "web-2").Detail);

        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        Assert.Equal(RolloutStates.Failed, done.Status);
        Assert.Equal("1 device(s) failed", done.Error);
        var web2 = done.Devices.Single(d => d.Device == "web-2");
        Assert.Equal((RolloutDeviceStatuses.Failed, RolloutDeviceStates.Failed), (web2.Status, web2.State));
        Assert.Equal("waiting for agent: never enrolled, gave up after 5s", web2.Detail);
        Assert.Equal(RolloutDeviceStates.Succeeded, done.Devices.Single(d => d.Device == "web-1").State);
        Assert.Contains("[1505]", live.Gateway.Output, StringComparison.Ordinal);

        // Its queue failed before anything was sent, so an agent enrolled now gets nothing from it.
        var detail = await site.DeviceAsync("web-2");
        Assert.Equal((web2.QueueId, QueueStates.Failed, web2.Detail), (detail.Status.Queue!.Id, detail.Status.Queue.Status, detail.Status.Queue.Error));
        Assert.All(detail.Commands, c => Assert.Equal((CommandStates.Pending, 0), (c.Status, c.Deliveries)));
        await site.StartAgentAsync("web-2");
        await site.WaitForAgentIdleAsync("web-2");
        Assert.Empty(site.Begins("web-2"));
        detail = await site.DeviceAsync("web-2");
        Assert.Equal((web2.QueueId, QueueStates.Failed), (detail.Status.Queue!.Id, detail.Status.Queue.Status));
        Assert.All(detail.Commands, c => Assert.Equal((CommandStates.Pending, 0), (c.Status, c.Deliveries)));
    }

    [Fact]
    public async Task Rollout_retry_requeues_the_failed_devices_and_succeeds_once_the_cause_is_fixed()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["web-1", "web-2", "web-3"];
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentAsync("web-1");

        // The CLI follows the rollout to its end: web-2 has no agent and fails after the device timeout; exit code 1.
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), ["rollout", "start", "--devices", "web-1,web-2", "--device-timeout", "5s", "--json", .. Connection(live)]);
        Assert.True(code == 1, $"a failed rollout exits 1, got {code}: {stdout}{stderr}");
        var failed = JsonSerializer.Deserialize<RolloutInfo>(stdout.Trim(), OperatorClient.Json)!;
        Assert.Equal(RolloutStates.Failed, failed.Status);
        Assert.Equal("waiting for agent: never enrolled, gave up after 5s", failed.Devices.Single(d => d.Device == "web-2").Detail);
        var web1Queue = failed.Devices.Single(d => d.Device == "web-1").QueueId;
        var web1Ran = site.Begins("web-1").Count;

        // The human status names the state and what to do next.
        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["rollout", "status", failed.Id, .. Connection(live)]);
        Assert.Equal(1, code);
        Assert.Contains("waiting for agent: never enrolled, gave up after 5s", stdout, StringComparison.Ordinal);
        Assert.Contains($"rig rollout retry {failed.Id}", stdout, StringComparison.Ordinal);

        // The cause fixed (web-2's agent enrolled), `rig rollout retry` (the newest rollout) runs web-2 again, and only web-2.
        await site.StartAgentAsync("web-2");
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), ["rollout", "retry", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("retrying 1 failed device(s): web-2", stdout, StringComparison.Ordinal);
        var retried = await site.RolloutAsync(failed.Id);
        Assert.Equal(RolloutStates.Succeeded, retried.Status);
        Assert.Null(retried.Error);
        Assert.Equal([RolloutDeviceStates.Succeeded, RolloutDeviceStates.Succeeded], retried.Devices.Select(d => d.State));
        var web2 = retried.Devices.Single(d => d.Device == "web-2");
        Assert.NotEqual(failed.Devices.Single(d => d.Device == "web-2").QueueId, web2.QueueId);
        Assert.Equal((web2.QueueId, QueueStates.Succeeded), ((await site.DeviceAsync("web-2")).Status.Queue!.Id, (await site.DeviceAsync("web-2")).Status.Queue!.Status));
        Assert.Equal(web1Queue, retried.Devices.Single(d => d.Device == "web-1").QueueId);
        Assert.Equal(web1Ran, site.Begins("web-1").Count); // web-1 was not sent anything again

        // Nothing failed any more: a retry is refused, naming the rollout.
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["rollout", "retry", failed.Id, .. Connection(live)]);
        Assert.Equal(1, code);
        Assert.Contains("has no failed devices", stdout + stderr, StringComparison.Ordinal); // (the line may wrap at 80 columns)
        Assert.Contains("nothing to retry", stdout + stderr, StringComparison.Ordinal);

        // A running rollout (web-3 waits for its agent, with the default device timeout) is refused as well.
        var running = await site.StartRolloutAsync(new RolloutRequest(null, "web-3"));
        Assert.Equal("30m", running.DeviceTimeout);
        await site.WaitForRolloutAsync(running.Id, r => r.Devices.Single().State == RolloutDeviceStates.WaitingForAgent, "web-3 to wait for its agent");
        var refused = await Assert.ThrowsAsync<OperatorApiException>(() => site.RolloutActionAsync(running.Id, "retry"));
        Assert.Equal(("rollout-running", 409), (refused.Error.Code, refused.Status));
        Assert.Contains($"Rollout {running.Id} is still running", refused.Error.Message, StringComparison.Ordinal);
        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["rollout", "status", running.Id, .. Connection(live)]);
        Assert.Equal(0, code); // running: the status was read (the table's exit codes have none for "still running")
        Assert.Contains("waiting-for-agent", stdout, StringComparison.Ordinal);
        Assert.Contains("waiting for agent: never enrolled", stdout, StringComparison.Ordinal);
        await site.RolloutActionAsync(running.Id, "cancel");
    }
}
