using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Protocol.Messages;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Rig.Testing;

namespace Rig.EndToEnd;

/// <summary>Seeing what happened (issue 11, part 5): <c>rig status</c>, <c>rig device show</c>, <c>rig device log
/// [--follow]</c> and <c>rig script run --wait</c> as real <c>rig</c> processes against a real gateway and real agents.</summary>
public sealed class SeeingTests
{
    private static string[] Connection(LiveSite live) => ["--server", live.Gateway.ApiUrl.ToString(), "--token", live.Gateway.Token, "--ca", live.Gateway.CaPath];

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunRig(LiveSite live, params string[] args) =>
        Launch.RunAsync(TimeSpan.FromMinutes(2), [.. args, .. Connection(live)]);

    [Fact]
    public async Task Device_show_and_device_log_print_the_output_each_command_reported()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await site.StartAgentsAsync("web-1");
        await site.ConvergeAsync("web-1");
        var done = await site.WaitForQueueAsync("web-1");
        Assert.Equal(QueueStates.Succeeded, done.Status.Queue!.Status);
        var write = done.Commands.Single(c => c.Spec is WriteFileCommand { Path: "/etc/tool/tool.conf" });
        var wrote = write.Result!.Output!;
        Assert.StartsWith("wrote /etc/tool/tool.conf (", wrote, StringComparison.Ordinal); // what the agent reported

        // device show --json: the API's DeviceDetail, with the facts, roles, agent, certificate and every command's output.
        var (code, stdout, stderr) = await RunRig(live, "device", "show", "web-1", "--json");
        Assert.True(code == 0, stderr + stdout);
        var detail = JsonSerializer.Deserialize<DeviceDetail>(stdout.Trim().Split('\n')[^1], OperatorClient.Json)!;
        Assert.Equal(DeviceStates.InSync, detail.Status.State);
        Assert.Equal([("base", "os", "1"), ("app", "app", "1")], detail.Roles.Select(r => (r.Name, r.Kind, r.Version)));
        var certificate = detail.Agent!.Certificate!;
        Assert.Null(certificate.RevokedAt);
        Assert.InRange((certificate.NotAfter - certificate.IssuedAt).TotalDays, 364, 366); // agent certificates: 365 days
        Assert.NotNull(detail.LastInventoryAt);
        Assert.Equal(wrote, detail.Commands.Single(c => c.Id == write.Id).Result!.Output);
        Assert.Contains(detail.Facts, f => f is { Fact: "addresses", Model: "10.9.0.10", Differs: false });

        // device show for a human: the command with its output, and the certificate's expiry.
        (code, stdout, stderr) = await RunRig(live, "device", "show", "web-1");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("/etc/tool/tool.conf", stdout, StringComparison.Ordinal);
        Assert.Contains("bytes, 0644", stdout, StringComparison.Ordinal);
        Assert.Contains("expires", stdout, StringComparison.Ordinal);

        // device log --json: one document, every finished command in order with what the agent reported.
        (code, stdout, stderr) = await RunRig(live, "device", "log", "web-1", "--json");
        Assert.True(code == 0, stderr + stdout);
        var lines = stdout.Trim().Split('\n');
        var log = JsonSerializer.Deserialize<DeviceLog>(Assert.Single(lines), OperatorClient.Json)!;
        Assert.True(log.Finished);
        Assert.Equal(done.Commands.Select(c => (c.Id, c.Result!.Output)), log.Commands.Select(c => (c.Id, c.Output)));
        Assert.Equal($"{done.Status.Queue.Id}:{done.Commands.Count}", log.Cursor);

        // device log for a human: a header per command, its output under it, the queue's end.
        (code, stdout, stderr) = await RunRig(live, "device", "log", "web-1");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains($"[{write.Sequence + 1}/{done.Commands.Count}] write /etc/tool/tool.conf", stdout, StringComparison.Ordinal);
        Assert.Contains("   " + wrote, stdout, StringComparison.Ordinal);
        Assert.Contains("queue succeeded", stdout, StringComparison.Ordinal);

        // The cursor resumes: after the last command nothing is left but the end.
        var resumed = await site.Api.GetAsync<DeviceLog>($"api/v1/devices/web-1/log?cursor={Uri.EscapeDataString(log.Cursor)}");
        Assert.Empty(resumed.Commands);
        // The stream resumes the same way: from the last command on, then the end (the queue has finished).
        var streamed = new List<DeviceLogEvent>();
        await foreach (var line in site.Api.StreamLinesAsync($"api/v1/devices/web-1/log?follow=true&cursor={Uri.EscapeDataString($"{done.Status.Queue.Id}:{done.Commands.Count - 1}")}"))
            streamed.Add(JsonSerializer.Deserialize<DeviceLogEvent>(line, OperatorClient.Json)!);
        Assert.Equal(["queue", "command", "end"], streamed.Select(e => e.Type));
        Assert.Equal(done.Commands[^1].Id, streamed[1].Command!.Id);
        Assert.Equal(log.Cursor, streamed[^1].Cursor);
        var badCursor = await Assert.ThrowsAsync<OperatorApiException>(() => site.Api.GetAsync<DeviceLog>("api/v1/devices/web-1/log?cursor=nonsense"));
        Assert.Equal((400, "bad-cursor"), (badCursor.Status, badCursor.Error.Code));
        var unknown = await Assert.ThrowsAsync<OperatorApiException>(() => site.Api.GetAsync<DeviceLog>("api/v1/devices/web-9/log"));
        Assert.Equal((404, "unknown-device"), (unknown.Status, unknown.Error.Code));
    }

    [Fact]
    public async Task Device_log_follow_prints_each_command_while_the_queue_runs_and_exits_with_its_outcome()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"], osFiles: 2, reboot: true));
        var supervised = await site.StartAgentAsync("web-1");
        await supervised.StopAsync(TimeSpan.FromSeconds(5)); // enrolled, checked in, now down
        await site.ConvergeAsync("web-1");

        await using var follow = FollowedRig.Start([.. new[] { "device", "log", "web-1", "--follow" }, .. Connection(live)]);
        await follow.WaitForOutputAsync("queue ", TimeSpan.FromSeconds(60)); // the queue's header: the stream is open

        // The agent runs the queue up to its reboot point and goes down (a sandbox reboot: exit 75) with no supervisor to
        // bring it back: the queue is still active, waiting for the device to come back.
        using (var agent = Process.Start(Launch.Rig.StartInfo("agent", "run", "--state", site.State("web-1")))!)
        {
            var drain = Task.WhenAll(agent.StandardOutput.ReadToEndAsync(), agent.StandardError.ReadToEndAsync());
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await agent.WaitForExitAsync(timeout.Token);
            await drain;
            Assert.Equal(75, agent.ExitCode);
        }
        var midway = await site.DeviceAsync("web-1");
        Assert.Equal(QueueStates.Rebooting, midway.Status.Queue!.Status);
        var before = midway.Commands.TakeWhile(c => c.Kind != "reboot").ToList();
        Assert.Equal(["wrote /etc/base/f000.conf", "wrote /etc/base/f001.conf"], before.Select(c => c.Result!.Output!.Split(" (")[0]));

        // Their output is on the follower's screen while the queue is still running.
        foreach (var command in before)
            await follow.WaitForOutputAsync("   " + command.Result!.Output, TimeSpan.FromSeconds(30));
        Assert.False(follow.HasExited, "--follow must keep going while the queue runs:\n" + follow.Stdout);
        Assert.DoesNotContain("install tool", follow.Stdout, StringComparison.Ordinal);

        // The device comes back: the rest of the queue runs, the follower prints it and exits 0 with the queue.
        site.RestartAgent("web-1");
        var exit = await follow.WaitForExitAsync(TimeSpan.FromSeconds(90));
        var after = await site.DeviceAsync("web-1");
        Assert.True(exit == 0, $"exit {exit}\n{follow.Stdout}\n{follow.Stderr}");
        Assert.Equal(QueueStates.Succeeded, after.Status.Queue!.Status);
        foreach (var command in after.Commands.Where(c => c.Result?.Output is { Length: > 0 }))
            Assert.Contains($"[{command.Sequence + 1}/{after.Commands.Count}] {command.Spec.Describe()}", follow.Stdout, StringComparison.Ordinal);
        Assert.Contains("queue succeeded", follow.Stdout, StringComparison.Ordinal);
        // In order, each command once.
        var headers = follow.Stdout.Split('\n').Where(l => l.StartsWith("== [", StringComparison.Ordinal)).ToList();
        Assert.Equal(after.Commands.Select(c => $"== [{c.Sequence + 1}/{after.Commands.Count}] {c.Spec.Describe()}"), headers.Select(h => h[..h.LastIndexOf(" succeeded", StringComparison.Ordinal)]));
    }

    [Fact]
    public async Task Device_log_follow_json_prints_one_event_per_line_and_exits_1_when_the_queue_fails()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        using var disk = SmallDisk.Mount(1024 * 1024);
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await site.StartAgentAsync("web-1", platform: ["--sandbox-root", disk.Path]);
        await site.Api.PutJsonTextAsync<StoredScript>("api/v1/scripts/start-tool", """{"commands":[{"kind":"service","name":"tool","action":"start"},{"kind":"inventory"}]}""");
        disk.Fill();
        await site.Api.PostAsync<LifecycleResult>("api/v1/scripts/start-tool/run", new ScriptRunRequest("web-1"));

        var (code, stdout, stderr) = await RunRig(live, "device", "log", "web-1", "--follow", "--json");
        Assert.True(code == 1, $"exit {code}\n{stdout}\n{stderr}");
        var events = stdout.Trim().Split('\n').Select(l => JsonSerializer.Deserialize<DeviceLogEvent>(l, OperatorClient.Json)!).ToList();
        Assert.Equal("queue", events[0].Type);
        Assert.Equal("end", events[^1].Type);
        Assert.Equal(QueueStates.Failed, events[^1].Queue!.Status);
        var failed = Assert.Single(events, e => e.Type == "command");
        Assert.Equal(("failed", "disk-full", "service tool start"), (failed.Command!.Status, failed.Command.ErrorCode, failed.Command.Description));
    }

    [Fact]
    public async Task Script_run_wait_prints_each_device_result_and_exits_1_with_the_error_of_the_device_that_failed()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        using var disk = SmallDisk.Mount(1024 * 1024);
        await site.SaveModelAsync(Models.Site(["lb-1", "web-1"]));
        await site.StartAgentAsync("lb-1");
        await site.StartAgentAsync("web-1", platform: ["--sandbox-root", disk.Path]); // its device record is on a small disk
        var (code, stdout, stderr) = await RunRig(live, "script", "add", "start-tool", "--step", "service tool start", "--step", "inventory");
        Assert.True(code == 0, stderr + stdout);

        // Both succeed: exit 0, each device's result.
        (code, stdout, stderr) = await RunRig(live, "script", "run", "start-tool", "--devices", "lb-1,web-1", "--wait", "--json");
        Assert.True(code == 0, stderr + stdout);
        var ok = JsonDocument.Parse(Assert.Single(stdout.Trim().Split('\n'))).RootElement;
        Assert.Equal(["succeeded", "succeeded"], ok.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("result").GetString()));

        // web-1's disk is full: its queue fails; the wait ends with both results, exit 1, and web-1's error.
        disk.Fill();
        (code, stdout, stderr) = await RunRig(live, "script", "run", "start-tool", "--devices", "lb-1,web-1", "--wait", "--json");
        Assert.True(code == 1, $"exit {code}\n{stdout}\n{stderr}");
        var results = JsonDocument.Parse(Assert.Single(stdout.Trim().Split('\n'))).RootElement.GetProperty("results").EnumerateArray().ToDictionary(r => r.GetProperty("device").GetString()!);
        Assert.Equal("succeeded", results["lb-1"].GetProperty("result").GetString());
        Assert.Equal("failed", results["web-1"].GetProperty("result").GetString());
        Assert.Equal("disk-full", results["web-1"].GetProperty("errorCode").GetString());
        var error = results["web-1"].GetProperty("error").GetString()!;
        Assert.Contains("could not be saved", error, StringComparison.Ordinal); // the agent's own message
        Assert.Equal(2, results["lb-1"].GetProperty("queue").GetProperty("commands").GetArrayLength()); // per device: its queue with every command

        // For a human: a table and web-1's error in full on its own line.
        (code, stdout, stderr) = await RunRig(live, "script", "run", "start-tool", "--devices", "lb-1,web-1", "--wait");
        Assert.True(code == 1, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("web-1 failed disk-full: the device's record", stdout.ReplaceLineEndings(" "), StringComparison.Ordinal);
        Assert.Contains("succeeded", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_counts_devices_by_state_after_a_converge_with_one_device_never_enrolled()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["lb-1", "web-1", "web-2"]));
        await site.StartAgentsAsync("lb-1", "web-1"); // web-2's agent never enrolls
        var converged = await site.ConvergeAsync();
        Assert.All(converged.Devices, d => Assert.Equal("queued", d.Outcome)); // web-2 too: its queue waits for an agent
        await site.WaitForQueueAsync("lb-1");
        await site.WaitForQueueAsync("web-1");

        var (code, stdout, stderr) = await RunRig(live, "status", "--json");
        Assert.True(code == 0, stderr + stdout);
        var status = JsonSerializer.Deserialize<StatusResponse>(Assert.Single(stdout.Trim().Split('\n')), OperatorClient.Json)!;
        Assert.Equal(new DeviceStateCounts(InSync: 2, Changing: 0, Failed: 0, NeverEnrolled: 1, NotSeen: 0, NotConverged: 0), status.DeviceStates);
        Assert.Equal(2, status.AgentsSeen);
        Assert.Equal(600, status.SeenWindowSeconds);
        Assert.Equal(3, status.Devices);
        Assert.Equal("Sqlite", status.Engine);
        Assert.Empty(status.ActiveRollouts);

        var devices = await site.Api.GetAsync<List<DeviceStatus>>("api/v1/devices");
        Assert.Equal([("lb-1", "in-sync"), ("web-1", "in-sync"), ("web-2", "never-enrolled")], devices.Select(d => (d.Name, d.State)));

        (code, stdout, stderr) = await RunRig(live, "status");
        Assert.True(code == 0, stderr + stdout);
        Assert.Matches(@"never enrolled\s*[│|]\s*1\s", stdout);
        Assert.Matches(@"in sync\s*[│|]\s*2\s", stdout);

        // The OpenAPI document still builds and describes the endpoints behind these commands.
        var paths = (await site.Api.GetAsync<JsonElement>("openapi/v1.json")).GetProperty("paths");
        foreach (var path in new[] { "/api/v1/status", "/api/v1/devices/{name}", "/api/v1/devices/{name}/log", "/api/v1/queues/{id}" })
            Assert.True(paths.TryGetProperty(path, out var operations) && operations.GetProperty("get").GetProperty("responses").TryGetProperty("200", out _), path);
    }
}

/// <summary>A <c>rig</c> process whose output is read as it comes (for commands that keep running).</summary>
internal sealed class FollowedRig : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _pumps;

    private FollowedRig(Process process)
    {
        _process = process;
        _pumps = Task.WhenAll(PumpAsync(process.StandardOutput, _stdout), PumpAsync(process.StandardError, _stderr));
    }

    public static FollowedRig Start(string[] args) => new(Process.Start(Launch.Rig.StartInfo(args))!);

    public string Stdout
    {
        get
        {
            lock (_stdout)
                return _stdout.ToString();
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stdout)
                return _stderr.ToString();
        }
    }

    public bool HasExited => _process.HasExited;

    private async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_stdout)
                into.Append(line).Append('\n');
        }
    }

    public Task WaitForOutputAsync(string text, TimeSpan timeout) =>
        TestSite.WaitUntilAsync(() => Task.FromResult(Stdout.Contains(text, StringComparison.Ordinal)), timeout, $"'{text}' on rig's output", () => $"{Stdout}\n{Stderr}");

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        await _pumps;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
