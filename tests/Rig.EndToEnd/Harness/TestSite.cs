using System.Text;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Protocol.Archives;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd.Harness;

/// <summary>A test site on a real gateway: builds and imports packages, saves a model, enrolls and runs
/// real agent processes, waits for queues, reads journals.</summary>
internal sealed class TestSite : IAsyncDisposable
{
    private readonly List<AgentSupervisor> _agents = [];

    /// <summary>A site under <paramref name="directory"/> using <paramref name="api"/>.</summary>
    public TestSite(string directory, OperatorClient api, Uri agentUrl)
    {
        Directory = directory;
        Api = api;
        AgentUrl = agentUrl;
    }

    /// <summary>Working directory.</summary>
    public string Directory { get; }
    /// <summary>Operator API.</summary>
    public OperatorClient Api { get; }
    /// <summary>Agent endpoint.</summary>
    public Uri AgentUrl { get; }
    /// <summary>Running agents.</summary>
    public IReadOnlyList<AgentSupervisor> Agents => _agents;

    /// <summary>Device root of a sandboxed device.</summary>
    public string Root(string device) => Path.Combine(Directory, "devices", device);

    /// <summary>State directory of a device's agent.</summary>
    public string State(string device) => Path.Combine(Directory, "agents", device);

    /// <summary>Build a Rig archive and import it; returns its catalog entry.</summary>
    public async Task<PackageInfo> AddPackageAsync(RigArchiveManifest manifest, params ArchiveInput[] files)
    {
        var path = WriteArchive(manifest, files);
        var added = await Api.AddPackageAsync(path);
        return added.Package;
    }

    /// <summary>Write an archive file (not imported).</summary>
    public string WriteArchive(RigArchiveManifest manifest, params ArchiveInput[] files)
    {
        var dir = Path.Combine(Directory, "packages");
        System.IO.Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{manifest.Name}_{manifest.Version}.rig.tar.gz");
        using var stream = File.Create(path);
        RigArchiveWriter.Write(stream, manifest, files);
        return path;
    }

    /// <summary>A text file input.</summary>
    public static ArchiveInput Text(string path, string text, string mode = "0644") => new(path, Encoding.UTF8.GetBytes(text), mode);

    /// <summary>Save the model.</summary>
    public async Task<ModelPutResponse> SaveModelAsync(RigModel model) =>
        await Api.PutJsonTextAsync<ModelPutResponse>("api/v1/model?message=test", JsonSerializer.Serialize(model, ModelJson.Default.RigModel));

    /// <summary>Enroll a device's agent (real <c>rig agent enroll</c> process) with <paramref name="token"/> (default: a
    /// new one from the API) and start it under a supervisor. <paramref name="platform"/> replaces the sandbox
    /// arguments (e.g. <c>--platform linux --root DIR</c>).</summary>
    public async Task<AgentSupervisor> StartAgentAsync(string device, bool poll = false, EnrollmentToken? token = null, int? batch = null, IReadOnlyList<string>? platform = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        token ??= await Api.PostAsync<EnrollmentToken>($"api/v1/devices/{device}/enrollment-token", null);
        var options = new List<string>();
        if (poll)
            options.AddRange(["--poll", "1"]);
        if (batch is { } b)
            options.AddRange(["--batch", b.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await AgentSupervisor.EnrollAsync(Launch.Rig.Agent(), new AgentEnrollment(device, State(device), AgentUrl, token.Token, token.CaPin)
        {
            Platform = platform ?? AgentEnrollment.Sandbox(Root(device)),
            Options = options,
            Timeout = TimeSpan.FromMinutes(1),
        }, CancellationToken.None);
        var agent = new AgentSupervisor(device, State(device), Launch.Rig.Agent()) { Environment = environment ?? new Dictionary<string, string>() };
        agent.Start();
        _agents.Add(agent);
        await WaitUntilAsync(async () => (await Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}")).Status.LastSeenAt is not null, TimeSpan.FromSeconds(60), $"{device} to check in");
        return agent;
    }

    /// <summary>Start another supervisor on an existing agent state (after the previous one was killed).</summary>
    public AgentSupervisor RestartAgent(string device)
    {
        var agent = new AgentSupervisor(device, State(device), Launch.Rig.Agent());
        agent.Start();
        _agents.Add(agent);
        return agent;
    }

    /// <summary>Converge devices through the API.</summary>
    public async Task<ConvergeResponse> ConvergeAsync(params string[] devices) =>
        await Api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest(devices, "test"));

    /// <summary>Wait until the device's latest queue is no longer active; returns the detail.</summary>
    public async Task<DeviceDetail> WaitForQueueAsync(string device, TimeSpan? timeout = null)
    {
        DeviceDetail? detail = null;
        await WaitUntilAsync(async () =>
        {
            detail = await Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}");
            return detail.Status.Queue is { } q && !QueueStates.IsActive(q.Status);
        }, timeout ?? TimeSpan.FromSeconds(90), $"{device}'s queue to finish", () => AgentLog(device));
        return detail!;
    }

    /// <summary>The agent's journal entries.</summary>
    public IReadOnlyList<JsonElement> Journal(string device) => AgentSupervisor.ReadJournal(State(device));

    /// <summary>Journal entries of one event kind.</summary>
    public IReadOnlyList<JsonElement> Journal(string device, string evt) => [.. Journal(device).Where(e => e.GetProperty("event").GetString() == evt)];

    /// <summary>The agent's log.</summary>
    public string AgentLog(string device) => AgentSupervisor.ReadLog(State(device));

    /// <summary>Poll <paramref name="condition"/> until true or fail with what was awaited.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
                return;
            await Task.Delay(50);
        }
        Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.{(diagnostics is null ? "" : "\n" + diagnostics())}");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_agents.Select(a => a.StopAsync(TimeSpan.FromSeconds(5))));
        Api.Dispose();
    }
}
