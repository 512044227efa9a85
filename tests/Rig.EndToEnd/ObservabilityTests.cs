using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>A gateway you can watch (issue 11, part 7): metrics, traces and logs of real gateway and agent processes.</summary>
public sealed class ObservabilityTests
{
    [Fact]
    public async Task A_replayed_result_of_a_finished_command_is_logged_as_ignored_not_as_a_second_failure()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await EnrollOnlyAsync(site, "web-1");
        var converged = await site.ConvergeAsync("web-1");
        Assert.Contains(converged.Devices, r => r.Device == "web-1" && r.QueueId is not null);

        // The agent's side by hand: take the first command, report it failed, then report the same result again as an
        // agent does after a crash between the gateway's commit and its own journal entry saying "reported".
        using var agent = new RawAgentClient(live.Gateway.AgentUrl, RawAgentClient.AgentCertificate(site.State("web-1")), X509CertificateLoader.LoadCertificateFromFile(live.Gateway.CaPath));
        var (answered, answer) = await agent.ExchangeAsync(RawAgentClient.Inquiry("web-1"));
        Assert.Equal(HttpStatusCode.OK, answered);
        var command = JsonSerializer.Deserialize(answer, Rig.Protocol.RigJson.Default.ExchangeResponse)!.Command!;
        var failed = new CommandResult { CommandId = command.Id, Outcome = CommandOutcome.Failed, Error = "the disk is on fire", ErrorCode = "test-failure" };
        Assert.Equal(HttpStatusCode.OK, (await agent.ExchangeAsync(RawAgentClient.Inquiry("web-1", failed))).Status);
        Assert.Equal(HttpStatusCode.OK, (await agent.ExchangeAsync(RawAgentClient.Inquiry("web-1", failed))).Status);

        int FailedLines() => live.Gateway.Output.Split('\n').Count(l => l.Contains(command.Id, StringComparison.Ordinal) && l.Contains("failed", StringComparison.Ordinal));
        bool ReplayLine() => live.Gateway.Output.Split('\n').Any(l => l.Contains(command.Id, StringComparison.Ordinal) && l.Contains("replay", StringComparison.OrdinalIgnoreCase) && l.Contains("ignored", StringComparison.Ordinal));
        // Either the replay is logged as such (right) or the failure a second time (wrong): wait for one of them.
        await TestSite.WaitUntilAsync(() => Task.FromResult(ReplayLine() || FailedLines() >= 2), TimeSpan.FromSeconds(30), "the gateway to log the replayed result", () => live.Gateway.Output);
        Assert.True(ReplayLine(), $"no line says the replayed result of {command.Id} was ignored:\n{live.Gateway.Output}");
        Assert.Equal(1, FailedLines());

        // Counted the same way: one failure, one replay; the raw client's connection is still open (keep-alive).
        using var http = Https(live.Gateway);
        var (status, body) = await GetAsync(http, "/metrics", live.Gateway.Token);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {body}");
        var metrics = PrometheusText.Parse(body);
        Assert.Equal(1, metrics.Value("rig_gateway_results_total", ("outcome", "Failed")));
        Assert.Equal(1, metrics.Value("rig_gateway_results_replayed_total"));
        Assert.True(metrics.Value("rig_gateway_agent_sessions") >= 1, body);
    }

    [Fact]
    public async Task Metrics_after_a_rollout_are_prometheus_text_with_every_named_series_and_need_a_token()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        string[] devices = ["web-1", "web-2"];
        await site.SaveModelAsync(Models.Site(devices));
        await site.StartAgentsAsync(devices);
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null, Canary: 1));
        var finished = await site.WaitForRolloutToFinishAsync(rollout.Id, TimeSpan.FromSeconds(120));
        Assert.Equal(RolloutStates.Succeeded, finished.Status);

        using var http = Https(live.Gateway);
        // Without a token, with a wrong one, or with the metrics token on the API: refused.
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(http, "/metrics", null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(http, "/metrics", "rigmet_not-a-token")).Status);
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "server", "metrics-token", "--data", live.Gateway.DataDirectory, "--json");
        Assert.True(code == 0, $"metrics-token failed ({code}): {stderr}{stdout}");
        var metricsToken = JsonDocument.Parse(stdout).RootElement.GetProperty("metricsToken").GetString()!;
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(http, "/api/v1/status", metricsToken)).Status);

        // The read-only metrics token (taken by the running gateway at once) and the operator token both read them.
        var (status, body) = await GetAsync(http, "/metrics", metricsToken);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {body}");
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/metrics", live.Gateway.Token)).Status);
        var metrics = PrometheusText.Parse(body);

        Assert.True(metrics.Value("rig_gateway_results_total", ("outcome", "Succeeded")) > 0, body);
        Assert.True(metrics.Value("rig_gateway_exchanges_total", ("answer", "Command")) > 0, body);
        Assert.True(metrics.Value("rig_gateway_exchange_duration_milliseconds_count") > 0, body);
        Assert.Equal(metrics.Value("rig_gateway_exchange_duration_milliseconds_count"), metrics.Value("rig_gateway_exchange_duration_milliseconds_bucket", ("le", "+Inf")));
        Assert.Equal("histogram", metrics.Types["rig_gateway_exchange_duration_milliseconds"]);
        Assert.True(metrics.Value("rig_store_commit_duration_milliseconds_count", ("path", "fast")) > 0, body);
        Assert.True(metrics.Value("rig_store_commit_exchanges_count", ("path", "fast")) > 0, body);
        Assert.Equal(2, metrics.Value("rig_gateway_enrollments_total", ("result", "enrolled")));
        Assert.Equal(2, metrics.Value("rig_gateway_agents_seen"));
        Assert.True(metrics.Value("rig_gateway_agent_sessions") >= 0, body);
        Assert.Equal(1, metrics.Value("rig_gateway_rollouts", ("state", "succeeded")));
        Assert.Equal(0, metrics.Value("rig_gateway_rollouts", ("state", "running")));
        foreach (var state in new[] { "pending", "sent", "rebooting" })
            Assert.Equal(0, metrics.Value("rig_gateway_queue_depth", ("state", state))); // everything ran
        foreach (var state in new[] { "pending", "running", "rebooting" })
            Assert.Equal(0, metrics.Value("rig_gateway_queues_active", ("state", state)));
        Assert.Equal(1, metrics.Value("rig_gateway_operator_actions_total", ("action", "rollout.start"), ("status", "201")));
        Assert.True(metrics.Value("rig_gateway_pokes_total", ("result", "sent")) > 0, body);
    }

    [Fact]
    public async Task Queue_depth_counts_the_commands_of_a_queue_no_agent_has_taken_yet()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"]));
        var converged = await site.ConvergeAsync("web-1"); // no agent: the queue waits
        var commands = converged.Devices.Single().Commands;
        Assert.True(commands > 0);

        using var http = Https(live.Gateway);
        var (status, body) = await GetAsync(http, "/metrics", live.Gateway.Token);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {body}");
        var metrics = PrometheusText.Parse(body);
        Assert.Equal(commands, metrics.Value("rig_gateway_queue_depth", ("state", "pending")));
        Assert.Equal(1, metrics.Value("rig_gateway_queues_active", ("state", "pending")));
        Assert.Equal(0, metrics.Value("rig_gateway_agents_seen"));
    }

    [Fact]
    public async Task Gateway_json_logs_are_one_object_per_line_and_log_an_operator_action_once_with_who_and_the_revision()
    {
        using var directory = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(directory.Path, "gateway"), runArguments: ["--log-format", "json"]);
        await using var site = new TestSite(directory.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        var saved = await site.SaveModelAsync(Models.Site(["web-1"]));
        await site.ConvergeAsync("web-1");

        // The converge comes after the model: once its line is there, the model's is too (one logger, in order).
        JsonElement[] Actions(string action) => [.. JsonLines(gateway.Output).Where(l => l.GetProperty("EventId").GetInt32() == 1801
            && l.GetProperty("State").GetProperty("Action").GetString() == action)];
        await TestSite.WaitUntilAsync(() => Task.FromResult(Actions("converge").Length > 0), TimeSpan.FromSeconds(30), "the converge to be logged", () => gateway.Output);
        var put = Assert.Single(Actions("model.put"));
        Assert.Equal("Information", put.GetProperty("LogLevel").GetString());
        Assert.Equal("admin", put.GetProperty("State").GetProperty("OperatorName").GetString());
        Assert.Equal(saved.Revision.ToString(CultureInfo.InvariantCulture), put.GetProperty("State").GetProperty("Revision").GetString());
        Assert.Equal("test", put.GetProperty("State").GetProperty("Message").GetString());
        Assert.Single(Actions("package.add"));
        // Every line the process wrote, standard error included, is exactly one JSON object.
        Assert.All(gateway.Output.Split('\n').Where(l => l.Length > 0), line => Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(line).RootElement.ValueKind));
    }

    [Fact]
    public async Task Agent_json_logs_are_one_object_per_line()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await EnrollOnlyAsync(site, "web-1");
        Assert.Equal(RigUsageExit, (await Launch.RunAsync(TimeSpan.FromMinutes(1), "agent", "run", "--state", site.State("web-1"), "--log-format", "yaml")).ExitCode);

        var lines = new List<string>();
        using var agent = Process.Start(Launch.Rig.StartInfo("agent", "run", "--state", site.State("web-1"), "--log-format", "json"))!;
        void Collect(object? _, DataReceivedEventArgs e)
        {
            if (e.Data is not null)
            {
                lock (lines)
                    lines.Add(e.Data);
            }
        }
        agent.OutputDataReceived += Collect;
        agent.ErrorDataReceived += Collect;
        agent.BeginOutputReadLine();
        agent.BeginErrorReadLine();
        string[] Lines()
        {
            lock (lines)
                return [.. lines];
        }
        try
        {
            await TestSite.WaitUntilAsync(async () => (await site.DeviceAsync("web-1")).Status.LastSeenAt is not null, TimeSpan.FromSeconds(60), "web-1 to check in", () => string.Join('\n', Lines()));
            await site.ConvergeAsync("web-1");
            var detail = await site.WaitForQueueAsync("web-1");
            Assert.Equal(QueueStates.Succeeded, detail.Status.Queue!.Status);
        }
        finally
        {
            agent.Kill();
            await agent.WaitForExitAsync();
        }
        var all = Lines();
        Assert.NotEmpty(all);
        foreach (var line in all)
        {
            var json = JsonDocument.Parse(line).RootElement;
            Assert.Equal(JsonValueKind.Object, json.ValueKind);
            Assert.Equal("web-1", json.GetProperty("device").GetString());
            foreach (var field in new[] { "time", "level", "event", "message" })
                Assert.Equal(JsonValueKind.String, json.GetProperty(field).ValueKind);
        }
    }

    [Fact]
    public async Task Traces_reach_an_otlp_http_collector_when_an_endpoint_is_given()
    {
        using var collector = new OtlpCollector();
        using var directory = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(directory.Path, "gateway"), runArguments: ["--otlp-endpoint", collector.Url]);
        await using var site = new TestSite(directory.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await site.StartAgentAsync("web-1");
        await site.ConvergeAsync("web-1");
        await site.WaitForQueueAsync("web-1");

        // OTLP/HTTP protobuf: the scope (Rig.Gateway) and span names are strings in the message.
        await TestSite.WaitUntilAsync(() => Task.FromResult(collector.Contains("Rig.Gateway") && collector.Contains("operator converge") && collector.Contains("exchange")),
            TimeSpan.FromSeconds(60), "the gateway's spans at the collector", () => $"{collector.Requests} request(s) received");
        Assert.All(collector.ContentTypes, t => Assert.Equal("application/x-protobuf", t));
        Assert.All(collector.Paths, p => Assert.Equal("/v1/traces", p));
    }

    private const int RigUsageExit = 64;

    private static IEnumerable<JsonElement> JsonLines(string output)
    {
        foreach (var line in output.Split('\n'))
        {
            JsonElement element;
            try
            {
                element = JsonDocument.Parse(line).RootElement.Clone();
            }
            catch (JsonException)
            {
                continue;
            }
            if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("EventId", out _))
                yield return element;
        }
    }

    private static HttpClient Https(GatewayHarness gateway)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(gateway.CaPath);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy, RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None },
        };
        return new HttpClient(handler) { BaseAddress = gateway.ApiUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient http, string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));
        if (token is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Enroll a device's agent with the real <c>rig agent enroll</c> and do not start it.</summary>
    private static async Task EnrollOnlyAsync(TestSite site, string device)
    {
        var token = await site.Api.PostAsync<EnrollmentToken>($"api/v1/devices/{device}/enrollment-token", null);
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "agent", "enroll", "--state", site.State(device), "--gateway", site.AgentUrl.ToString(),
            "--device", device, "--token", token.Token, "--ca-pin", token.CaPin, "--poke-address", "127.0.0.1", "--poke-port", "0", "--sandbox-root", site.Root(device));
        Assert.True(code == 0, $"enroll failed ({code}): {stderr}{stdout}");
    }
}
