using System.Diagnostics;
using System.Text.Json;
using Rig.Bench.Common;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Bench.Converge;

/// <summary>What one timed Rig phase did.</summary>
/// <param name="Seconds">Wall time from the first API call until every device's queue had finished.</param>
/// <param name="Queued">Devices given a queue by the converge.</param>
/// <param name="Commands">Commands those queues held.</param>
/// <param name="GatewayCpuSeconds">CPU the gateway process used meanwhile.</param>
/// <param name="AgentCpuSeconds">CPU all agent processes used meanwhile.</param>
/// <param name="Timings">Where the devices' time went, from the agents' journals.</param>
internal sealed record RigPhase(double Seconds, int Queued, int Commands, double GatewayCpuSeconds, double AgentCpuSeconds, QueueTimings Timings);

/// <summary>Means over every command of a phase, from the agents' journals (each entry is stamped before it is
/// written and flushed). <paramref name="Install"/>, <paramref name="WriteFile"/>: "begin" to "end" of a command
/// (journaling "begin" plus running it on the device); <paramref name="Exchange"/>: "end" of a command to "begin"
/// of the next (journaling "end", reporting the result, the gateway recording it and answering the next command);
/// <paramref name="Start"/>: from the converge call to the first "begin" (plan, queue, poke, the agent's session).
/// All in milliseconds; 0 where there was nothing to measure.</summary>
internal sealed record QueueTimings(double Install, double WriteFile, double Exchange, double Start)
{
    /// <summary>Nothing measured.</summary>
    public static QueueTimings None { get; } = new(0, 0, 0, 0);
}

/// <summary>A Rig fleet for the converge benchmark: a real gateway process (<c>rig server run</c>, SQLite in its data
/// directory), the workload's packages imported and model saved, and one real agent process per device in sandbox
/// mode (device root = target directory), enrolled with one-time tokens and checked in. Built before any timing
/// starts: the fleet already exists when the operator converges it.</summary>
internal sealed class RigFleet : IAsyncDisposable
{
    /// <summary>Stored script that asks a device for a fresh inventory (the verified re-run).</summary>
    public const string InventoryScript = "bench-inventory";

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan QueueTimeout = TimeSpan.FromMinutes(10);
    private readonly SemaphoreSlim _finished = new(0);
    private readonly string _directory;
    private readonly List<FleetAgent> _agents = [];
    private readonly AgentProgram _program;
    private GatewayHarness? _gateway;
    private OperatorClient? _api;

    private RigFleet(string directory, IReadOnlyList<string> devices, AgentProgram program)
    {
        _directory = directory;
        Devices = devices;
        _program = program;
    }

    /// <summary>Device names.</summary>
    public IReadOnlyList<string> Devices { get; }

    /// <summary>Target directory (sandbox root) of a device.</summary>
    public string RootOf(string device) => Path.Combine(_directory, "devices", device);

    private OperatorClient Api => _api ?? throw new InvalidOperationException("The fleet is not started.");

    /// <summary>Start a gateway in <paramref name="directory"/>, import <paramref name="archives"/>, save the model,
    /// store the inventory script, enroll and start every device's agent and wait until each has checked in.</summary>
    public static async Task<RigFleet> StartAsync(string directory, ConvergeWorkload workload, IReadOnlyList<string> archives, AgentProgram program, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(archives);
        ArgumentNullException.ThrowIfNull(program);
        var fleet = new RigFleet(directory, [.. workload.Devices.Select(d => d.Name)], program);
        try
        {
            await fleet.StartAsync(workload, archives, ct).ConfigureAwait(false);
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartAsync(ConvergeWorkload workload, IReadOnlyList<string> archives, CancellationToken ct)
    {
        Directory.CreateDirectory(_directory);
        _gateway = await BenchGateway.StartAsync(Path.Combine(_directory, "gateway"), null, ct).ConfigureAwait(false);
        _api = _gateway.Api();
        foreach (var archive in archives)
            await Api.AddPackageAsync(archive, ct).ConfigureAwait(false);
        await ApplyModelAsync(workload.RigModel(), "converge benchmark", ct).ConfigureAwait(false);
        await Api.PutJsonTextAsync<JsonElement>($"api/v1/scripts/{InventoryScript}",
            """{"description":"fresh inventory from every device (converge benchmark, verified re-run)","commands":[{"kind":"inventory"}]}""", ct).ConfigureAwait(false);

        // Enrollment is a `rig agent enroll` process per device (a .NET start-up each): a few at a time.
        var enrolling = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = ct };
        await Parallel.ForEachAsync(Devices, enrolling, EnrollAsync).ConfigureAwait(false);
        await WaitAsync("every agent to check in", async () =>
        {
            var devices = await Api.GetAsync<List<DeviceStatus>>("api/v1/devices", ct).ConfigureAwait(false);
            return Devices.All(d => devices.FirstOrDefault(s => s.Name == d)?.LastSeenAt is not null);
        }, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
    }

    private async ValueTask EnrollAsync(string device, CancellationToken ct)
    {
        var token = await Api.PostAsync<EnrollmentToken>($"api/v1/devices/{device}/enrollment-token", null, ct).ConfigureAwait(false);
        var state = Path.Combine(_directory, "agents", device);
        await AgentSupervisor.EnrollAsync(_program.Launcher, new AgentEnrollment(device, state, _gateway!.AgentUrl, token.Token, token.CaPin)
        {
            Platform = AgentEnrollment.Sandbox(RootOf(device)),
        }, ct).ConfigureAwait(false);
        var agent = new FleetAgent(device, state, _program) { Finished = _finished };
        lock (_agents)
            _agents.Add(agent);
        agent.Start();
    }

    /// <summary>Save <paramref name="model"/> as the central model (a new revision).</summary>
    public async Task ApplyModelAsync(RigModel model, string message, CancellationToken ct) =>
        await Api.PutJsonTextAsync<ModelPutResponse>($"api/v1/model?message={Uri.EscapeDataString(message)}", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), ct).ConfigureAwait(false);

    /// <summary>Timed: <c>POST /api/v1/converge</c> for every device, then wait until every queue it created has
    /// finished (all must succeed).</summary>
    public async Task<RigPhase> ConvergeAsync(CancellationToken ct)
    {
        var (agents, cpu, agentCpu) = CpuNow();
        var started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var watch = Stopwatch.StartNew();
        var (queued, commands) = await ConvergeAndWaitAsync(ct).ConfigureAwait(false);
        watch.Stop();
        return new RigPhase(watch.Elapsed.TotalSeconds, queued, commands, ProcessProbe.CpuSeconds(_gateway!.Pid) - cpu, AgentCpu(agents) - agentCpu,
            queued > 0 ? Timings(started) : QueueTimings.None);
    }

    /// <summary>Timed: run the inventory script on every device (each agent re-reads and hashes its managed files
    /// on disk and reports them; the recorded state is replaced by what the devices really have), wait for those
    /// queues, then converge against that fresh state.</summary>
    public async Task<RigPhase> VerifiedConvergeAsync(CancellationToken ct)
    {
        var (agents, cpu, agentCpu) = CpuNow();
        var watch = Stopwatch.StartNew();
        var baseline = Baseline();
        var inventory = await Api.PostAsync<LifecycleResponse>($"api/v1/scripts/{InventoryScript}/run", new ScriptRunRequest("all"), ct).ConfigureAwait(false);
        var notQueued = inventory.Queues.Where(q => q.Outcome != "queued").ToList();
        if (notQueued.Count > 0 || inventory.Queues.Count != Devices.Count)
            throw new InvalidOperationException($"The inventory script was queued on {inventory.Queues.Count - notQueued.Count} of {Devices.Count} devices: " + string.Join("; ", notQueued.Select(q => $"{q.Device} {q.Outcome} {string.Join(' ', q.Errors.Select(e => e.Message))}")));
        await WaitForQueuesAsync(inventory.Queues, baseline, ct).ConfigureAwait(false);
        var (queued, commands) = await ConvergeAndWaitAsync(ct).ConfigureAwait(false);
        watch.Stop();
        return new RigPhase(watch.Elapsed.TotalSeconds, queued, commands, ProcessProbe.CpuSeconds(_gateway!.Pid) - cpu, AgentCpu(agents) - agentCpu, QueueTimings.None);
    }

    /// <summary>Read every agent's journal for the commands begun since <paramref name="since"/> (Unix ms).</summary>
    private QueueTimings Timings(long since)
    {
        var install = new List<double>();
        var write = new List<double>();
        var exchange = new List<double>();
        var start = new List<double>();
        foreach (var device in Devices)
        {
            var path = Path.Combine(_directory, "agents", device, "journal.jsonl");
            var entries = new List<(string Id, string Event, long At, string? Kind)>();
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            using (var reader = new StreamReader(stream))
            {
                while (reader.ReadLine() is { } line)
                {
                    using var json = JsonDocument.Parse(line);
                    var root = json.RootElement;
                    var at = root.GetProperty("at").GetInt64();
                    if (at >= since)
                        entries.Add((root.GetProperty("id").GetString()!, root.GetProperty("event").GetString()!, at, root.TryGetProperty("kind", out var k) ? k.GetString() : null));
                }
            }
            long? lastEnd = null;
            foreach (var begin in entries.Where(e => e.Event == "begin"))
            {
                var end = entries.FirstOrDefault(e => e.Event == "end" && e.Id == begin.Id);
                if (end.Id is null)
                    continue;
                if (lastEnd is null)
                    start.Add(begin.At - since);
                else
                    exchange.Add(begin.At - lastEnd.Value);
                (begin.Kind == "install" ? install : begin.Kind == "write-file" ? write : null)?.Add(end.At - begin.At);
                lastEnd = end.At;
            }
        }
        static double Mean(List<double> values) => values.Count == 0 ? 0 : values.Average();
        return new QueueTimings(Mean(install), Mean(write), Mean(exchange), Mean(start));
    }

    /// <summary>Untimed: take every device back to empty targets with Rig itself: a model revision without role
    /// assignments, converged (packages removed, configuration files deleted); then the directories left empty are
    /// removed and every agent's blob cache is cleared (the next install downloads again), and
    /// <paramref name="model"/> is saved again. Only the agent's own database (/var/lib/rig) stays on a device.</summary>
    public async Task ResetToEmptyAsync(RigModel model, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(model);
        await ApplyModelAsync(model with { Assignments = [] }, "converge benchmark: remove everything", ct).ConfigureAwait(false);
        var (queued, _) = await ConvergeAndWaitAsync(ct).ConfigureAwait(false);
        if (queued != Devices.Count)
            throw new InvalidOperationException($"Removing the workload queued {queued} of {Devices.Count} devices.");
        foreach (var device in Devices)
        {
            var root = RootOf(device);
            var left = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(root, f)).Where(f => !f.StartsWith("var/lib/rig/", StringComparison.Ordinal)).ToList();
            if (left.Count > 0)
                throw new InvalidOperationException($"{device}: Rig's removal left {left.Count} file(s), e.g. {left[0]}.");
            foreach (var entry in Directory.EnumerateFileSystemEntries(root).Where(e => Path.GetFileName(e) != "var"))
                Directory.Delete(entry, recursive: true);
            foreach (var entry in Directory.EnumerateFileSystemEntries(Path.Combine(root, "var")).Where(e => Path.GetFileName(e) != "lib"))
                Directory.Delete(entry, recursive: true);
            var cache = Path.Combine(_directory, "agents", device, "cache");
            if (Directory.Exists(cache))
            {
                foreach (var blob in Directory.EnumerateFiles(cache))
                    File.Delete(blob);
            }
        }
        await ApplyModelAsync(model, "converge benchmark: the workload again", ct).ConfigureAwait(false);
    }

    private (List<int> Agents, double Gateway, double AgentsCpu) CpuNow()
    {
        List<int> agents;
        lock (_agents)
            agents = [.. _agents.Select(a => a.Pid).OfType<int>()];
        return (agents, ProcessProbe.CpuSeconds(_gateway!.Pid), AgentCpu(agents));
    }

    private static double AgentCpu(IEnumerable<int> pids) => pids.Sum(pid =>
    {
        try
        {
            return ProcessProbe.CpuSeconds(pid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    });

    private Dictionary<string, int> Baseline()
    {
        lock (_agents)
            return _agents.ToDictionary(a => a.Device, a => a.FinishedQueues, StringComparer.Ordinal);
    }

    private async Task<(int Queued, int Commands)> ConvergeAndWaitAsync(CancellationToken ct)
    {
        var baseline = Baseline(); // before the call: a queue may finish before its answer arrives
        var response = await Api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest(null, "converge benchmark"), ct).ConfigureAwait(false);
        var bad = response.Devices.Where(d => d.Outcome is not ("queued" or "unchanged")).ToList();
        if (bad.Count > 0)
            throw new InvalidOperationException("Rig's converge refused devices: " + string.Join("; ", bad.Select(d => $"{d.Device} {d.Outcome}: {string.Join(' ', d.Errors.Select(e => e.Message))}")));
        var queued = response.Devices.Where(d => d.Outcome == "queued").ToList();
        if (queued.Count > 0)
            await WaitForQueuesAsync(queued, baseline, ct).ConfigureAwait(false);
        return (queued.Count, queued.Sum(d => d.Commands));
    }

    /// <summary>Wait until every queued device's agent has ended its queue (from the agents' logs, so the gateway
    /// is not polled while it works), then confirm through the API that each queue succeeded; should the API still
    /// show a queue active, keep waiting on the API.</summary>
    private async Task WaitForQueuesAsync(IReadOnlyList<ConvergeDeviceView> queued, Dictionary<string, int> baseline, CancellationToken ct)
    {
        Dictionary<string, FleetAgent> agents;
        lock (_agents)
            agents = _agents.ToDictionary(a => a.Device, StringComparer.Ordinal);
        var deadline = Stopwatch.StartNew();
        while (!queued.All(q => agents[q.Device].FinishedQueues > baseline[q.Device]))
        {
            CheckAgentsAlive();
            if (deadline.Elapsed > QueueTimeout)
                throw new TimeoutException($"Timed out after {QueueTimeout.TotalSeconds:0} s waiting for the agents of {string.Join(", ", queued.Where(q => agents[q.Device].FinishedQueues <= baseline[q.Device]).Select(q => q.Device).Take(5))} to end their queues.");
            await _finished.WaitAsync(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
        }

        var wanted = queued.ToDictionary(q => q.Device, q => q.QueueId!, StringComparer.Ordinal);
        List<DeviceStatus> statuses = [];
        await WaitAsync("every device's queue to finish", async () =>
        {
            statuses = await Api.GetAsync<List<DeviceStatus>>("api/v1/devices", ct).ConfigureAwait(false);
            return wanted.All(w => statuses.FirstOrDefault(s => s.Name == w.Key)?.Queue is { } q && (q.Id != w.Value || !QueueStates.IsActive(q.Status)));
        }, QueueTimeout, ct).ConfigureAwait(false);
        var failed = statuses.Where(s => wanted.ContainsKey(s.Name) && s.Queue is { } q && (q.Id != wanted[s.Name] || q.Status != QueueStates.Succeeded)).ToList();
        if (failed.Count > 0)
        {
            var details = new List<string>();
            foreach (var status in failed.Take(3))
            {
                var detail = await Api.GetAsync<DeviceDetail>($"api/v1/devices/{status.Name}", ct).ConfigureAwait(false);
                var command = detail.Commands.FirstOrDefault(c => c.Status == CommandStates.Failed);
                details.Add($"{status.Name}: queue {status.Queue!.Status} ({status.Queue.Error}){(command is null ? "" : $", {command.Kind} failed: {command.Result?.Error}")}");
            }
            throw new InvalidOperationException($"{failed.Count} Rig queue(s) did not succeed: {string.Join("; ", details)}");
        }
    }

    private void CheckAgentsAlive()
    {
        FleetAgent[] agents;
        lock (_agents)
            agents = [.. _agents];
        if (agents.FirstOrDefault(a => a.UnexpectedExit is not null) is { } dead)
            throw new InvalidOperationException($"The agent of {dead.Device} exited with code {dead.UnexpectedExit}; see {dead.LogPath}.");
    }

    private async Task WaitAsync(string what, Func<Task<bool>> condition, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition().ConfigureAwait(false))
        {
            CheckAgentsAlive();
            if (deadline.Elapsed > timeout)
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Stop the agents and the gateway.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_agents.Select(a => a.DisposeAsync().AsTask())).ConfigureAwait(false);
        _api?.Dispose();
        if (_gateway is not null)
            await _gateway.DisposeAsync().ConfigureAwait(false);
        _finished.Dispose();
    }
}
