using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Archives;
using Rig.Server;
using Rig.Server.Gateway;
using Rig.Supervision;
using Rig.Contracts;
using Spectre.Console;

namespace Rig.Cli.Demo;

/// <summary>One demo run: a gateway on loopback, the sample packages, the shop model, and agent processes under
/// supervisors, with the steps the scenarios are made of.</summary>
internal sealed class DemoSession : IAsyncDisposable
{
    private readonly Dictionary<string, AgentSupervisor> _agents = new(StringComparer.Ordinal);
    private readonly RigLauncher _agent = RigLauncher.Current().Agent();
    private GatewayHarness? _gateway;
    private OperatorClient? _api;

    public DemoSession(string directory, DemoUi ui)
    {
        Directory = directory;
        Ui = ui;
    }

    public string Directory { get; }
    public DemoUi Ui { get; }
    public OperatorClient Api => _api!;

    /// <summary>The first admin's operator token (for signing in to the web UI with <c>rig demo --ui</c>).</summary>
    public string Token => _gateway!.Token;
    public GatewayServer Server => _gateway!.Server!;
    public IReadOnlyDictionary<string, AgentSupervisor> Agents => _agents;
    public Dictionary<string, RigArchiveManifest> Manifests { get; } = new(StringComparer.Ordinal);

    /// <summary>Commands run on devices so far (all queues).</summary>
    public int Commands { get; set; }

    public string Root(string device) => Path.Combine(Directory, "devices", device);

    public async Task StartAsync(CancellationToken ct)
    {
        _gateway = await GatewayHarness.StartNewAsync(new GatewaySetup(Path.Combine(Directory, "gateway"))
        {
            InProcess = true,
            AgentPort = 0,
            ApiPort = 0,
            LogLevel = Ui.Json ? "None" : "Error", // the gateway logs to standard output: with --json it carries only the JSON line
        }, ct).ConfigureAwait(false);
        _api = new OperatorClient(Server.ApiUrl, _gateway.Token, X509CertificateLoader.LoadCertificate(Server.Authority.Certificate.RawData));
        Ui.Step($"Gateway on [bold]{Server.AgentUrl}[/] (agents, mTLS) and [bold]{Server.ApiUrl}[/] (operators), SQLite in {Output.Safe(_gateway.DataDirectory)}");

        foreach (var file in DemoSite.WritePackages(Path.Combine(Directory, "packages")))
            await ImportAsync(file, ct).ConfigureAwait(false);
        Ui.Step($"Imported {Manifests.Count} packages into the content-addressed store");

        var model = DemoSite.Model();
        var saved = await Api.PutJsonTextAsync<ModelPutResponse>("api/v1/model?message=demo%20site", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), ct).ConfigureAwait(false);
        Ui.Step($"Model revision {saved.Revision}: site '{DemoSite.Site}', {model.Devices.Count} devices, {model.Links.Count} interconnections, {model.Roles.Count} roles");

        await Task.WhenAll(DemoSite.Devices.Select(d => EnrollAsync(d.Name, ct))).ConfigureAwait(false);
        Ui.Step($"{_agents.Count} agent processes enrolled (one-time tokens, pinned CA) and checked in over mTLS");
    }

    public async Task ImportAsync(string file, CancellationToken ct)
    {
        var added = await Api.AddPackageAsync(file, ct).ConfigureAwait(false);
        await using var stream = File.OpenRead(file);
        Manifests[added.Package.Key] = RigArchive.Inspect(stream, Server.Options.Limits).Manifest;
    }

    /// <summary>Enroll a device's agent with a one-time token and start it under a supervisor.</summary>
    public async Task EnrollAsync(string device, CancellationToken ct, string? token = null)
    {
        token ??= (await Api.PostAsync<EnrollmentTokenView>($"api/v1/devices/{device}/enrollment-token", null, ct).ConfigureAwait(false)).Token;
        var state = Path.Combine(Directory, "agents", device);
        try
        {
            await AgentSupervisor.EnrollAsync(_agent, new AgentEnrollment(device, state, Server.AgentUrl, token, Server.Authority.Pin)
            {
                Platform = AgentEnrollment.Sandbox(Root(device)),
                Timeout = Timeout.InfiniteTimeSpan, // the demo's own --timeout (ct) bounds it
            }, ct).ConfigureAwait(false);
        }
        catch (AgentEnrollmentException e)
        {
            throw new CliException(e.Message, "demo-step-failed", $"All its output is in {e.LogPath}.");
        }
        var agent = new AgentSupervisor(device, state, _agent);
        lock (_agents)
            _agents[device] = agent;
        agent.Start();
        var poll = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var detail = await Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}", ct).ConfigureAwait(false);
            if (detail.Status.LastSeenAt is not null)
                return;
            if (agent.Crashes >= AgentSupervisor.CrashLoop)
                throw new CliException($"Agent {device} keeps crashing ({agent.Crashes} times, last exit code {agent.UnexpectedExit}); see {agent.LogPath}.");
            await Task.Delay(poll, ct).ConfigureAwait(false);
            poll = TimeSpan.FromTicks(Math.Min(poll.Ticks * 2, TimeSpan.FromSeconds(1).Ticks)); // quick on an idle machine, light on a busy one
        }
    }

    /// <summary>Reboots done by agents that were stopped since.</summary>
    public int EarlierReboots { get; private set; }

    /// <summary>All reboots so far.</summary>
    public int Reboots => EarlierReboots + _agents.Values.Sum(a => a.Reboots);

    /// <summary>Stop a device's agent (the machine is lost or gone).</summary>
    public async Task StopAgentAsync(string device)
    {
        if (_agents.Remove(device, out var agent))
        {
            await agent.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            EarlierReboots += agent.Reboots;
        }
    }

    /// <summary>The central model as the gateway has it now.</summary>
    public async Task<RigModel> ModelAsync(CancellationToken ct)
    {
        var json = await Api.GetAsync<JsonElement>("api/v1/model", ct).ConfigureAwait(false);
        return JsonSerializer.Deserialize(json.GetRawText(), ModelJson.Default.RigModel)!;
    }

    /// <summary>Roll out the current revision to every device and follow it; returns the finished rollout.</summary>
    public async Task<RolloutView> RolloutAsync(string? devices, string reason, CancellationToken ct)
    {
        var rollout = await Api.PostAsync<RolloutView>("api/v1/rollouts", new RolloutStartRequest(null, devices, Canary: 1, Batch: "50%", Reason: reason), ct).ConfigureAwait(false);
        return await FollowAsync(rollout.Id, ct).ConfigureAwait(false);
    }

    public async Task<RolloutView> FollowAsync(string rolloutId, CancellationToken ct)
    {
        var done = await Ui.FollowRolloutAsync(Api, rolloutId, ct).ConfigureAwait(false);
        foreach (var device in done.Devices.Where(d => d.QueueId is not null))
        {
            try
            {
                var detail = await Api.GetAsync<DeviceDetail>($"api/v1/devices/{device.Device}", ct).ConfigureAwait(false);
                Commands += detail.Commands.Count(c => c.QueueId == device.QueueId && c.Status == CommandStates.Succeeded);
            }
            catch (OperatorApiException e) when (e.Status == 404)
            {
                // decommissioned meanwhile: it is no longer in the model nor known to the gateway
            }
        }
        return done;
    }

    /// <summary>Problems of each device's root against the central model (empty when it matches).</summary>
    public async Task<Dictionary<string, List<string>>> VerifyAsync(IEnumerable<string> devices, CancellationToken ct)
    {
        var central = await ModelAsync(ct).ConfigureAwait(false);
        var builder = new DesiredStateBuilder(new ModelIndex(central));
        return devices.ToDictionary(d => d, d => DemoVerifier.Verify(builder.Build(d), Root(d), Manifests).ToList(), StringComparer.Ordinal);
    }

    /// <summary>SHA-256 of every file under a device root (package database and staging excluded).</summary>
    public Dictionary<string, string> Digests(string device)
    {
        var root = Root(device);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!System.IO.Directory.Exists(root))
            return result;
        foreach (var file in System.IO.Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var relative = "/" + Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.StartsWith("/var/lib/rig/", StringComparison.Ordinal))
                continue;
            using var stream = File.OpenRead(file);
            result[relative] = Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_agents.Values.Select(a => a.StopAsync(TimeSpan.FromSeconds(5)))).ConfigureAwait(false);
        _api?.Dispose();
        if (_gateway is not null)
            await _gateway.DisposeAsync().ConfigureAwait(false);
    }
}
