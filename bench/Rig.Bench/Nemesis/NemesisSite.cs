using System.Text.Json;
using Rig.Bench.Common;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Rig.Testing;

namespace Rig.Bench.Nemesis;

/// <summary>The site under attack: a real gateway process (<c>rig server run</c>, SQLite or a PostgreSQL cluster
/// started for the run) behind a <see cref="FaultProxy"/>, the workload's packages imported and model saved, and one
/// real agent process per device (sandbox platform, <c>rig agent run</c>) under <see cref="AgentSupervisor"/>, enrolled
/// against the proxy's port. One device may keep its root and state on a <see cref="SmallDisk"/>.</summary>
internal sealed class NemesisSite : IAsyncDisposable
{
    private readonly Dictionary<string, AgentSupervisor> _agents = new(StringComparer.Ordinal);
    private readonly List<AgentSupervisor> _retired = [];
    private readonly Lock _gate = new();
    private readonly RigLauncher _agent = RigLauncher.BuiltAlongside().Agent();

    private NemesisSite(string directory, NemesisWorkload workload)
    {
        Directory = directory;
        Workload = workload;
    }

    /// <summary>Working directory.</summary>
    public string Directory { get; }

    /// <summary>The workload.</summary>
    public NemesisWorkload Workload { get; }

    /// <summary>The gateway.</summary>
    public GatewayHarness Gateway { get; private set; } = null!;

    /// <summary>The PostgreSQL cluster (postgres mode), else null.</summary>
    public PostgresCluster? Postgres { get; private set; }

    /// <summary>The proxy between agents and gateway.</summary>
    public FaultProxy Proxy { get; private set; } = null!;

    /// <summary>The device with the small disk, and the disk (null when it could not be mounted).</summary>
    public (string Device, SmallDisk Disk)? Disk { get; private set; }

    /// <summary>Operator API.</summary>
    public OperatorClient Api { get; private set; } = null!;

    /// <summary>Manifests of the imported packages by catalog key.</summary>
    public Dictionary<string, RigArchiveManifest> Manifests { get; } = new(StringComparer.Ordinal);

    /// <summary>Device root.</summary>
    public string Root(string device) => Disk is { } s && s.Device == device ? Path.Combine(s.Disk.Path, "root") : Path.Combine(Directory, "devices", device);

    /// <summary>Agent state directory.</summary>
    public string State(string device) => Disk is { } s && s.Device == device ? Path.Combine(s.Disk.Path, "agent") : Path.Combine(Directory, "agents", device);

    /// <summary>Build the site: database, gateway, proxy, packages, model, small disk, agents enrolled and checked in.</summary>
    public static async Task<NemesisSite> StartAsync(string directory, NemesisWorkload workload, bool postgres, string? smallDiskDevice, Action<string> log, CancellationToken ct)
    {
        var site = new NemesisSite(directory, workload);
        try
        {
            await site.StartAsync(postgres, smallDiskDevice, log, ct).ConfigureAwait(false);
            return site;
        }
        catch
        {
            await site.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartAsync(bool postgres, string? smallDiskDevice, Action<string> log, CancellationToken ct)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string? connection = null;
        if (postgres)
        {
            Postgres = new PostgresCluster(durable: true);
            await Postgres.StartClusterAsync().ConfigureAwait(false);
            connection = Postgres.ConnectionString(await Postgres.CreateDatabaseAsync().ConfigureAwait(false));
            log($"PostgreSQL {Postgres.ServerVersion} on 127.0.0.1:{Postgres.Port} (fsync on)");
        }
        Gateway = await BenchGateway.StartAsync(Path.Combine(Directory, "gateway"), connection, ct).ConfigureAwait(false);
        Api = Gateway.Api();
        Proxy = FaultProxy.Start(LoopbackPorts.Free(1)[0], Gateway.AgentPort);
        log($"gateway pid {Gateway.Pid}: agents on :{Gateway.AgentPort} behind the fault proxy on :{Proxy.Port}, operators on :{Gateway.ApiPort}");

        foreach (var file in Workload.WritePackages(Path.Combine(Directory, "packages")))
        {
            var added = await Api.AddPackageAsync(file, ct).ConfigureAwait(false);
            await using var stream = File.OpenRead(file);
            Manifests[added.Package.Key] = RigArchive.Inspect(stream, RigLimits.Default).Manifest;
        }
        var model = Workload.Model();
        await Api.PutJsonTextAsync<ModelPutResponse>("api/v1/model?message=nemesis", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), ct).ConfigureAwait(false);

        if (smallDiskDevice is not null)
        {
            // Room for the device's packages twice over (root + the agent's blob cache + staging) and some slack.
            var size = (long)Workload.PackageBytes * NemesisWorkload.PackageCount * 4 + (8L << 20);
            var (disk, failure) = SmallDisk.Mount(Path.Combine(Directory, "small-disk"), size);
            if (disk is null)
                log($"no small disk for {smallDiskDevice} ({failure}): the disk-full faults are skipped");
            else
            {
                Disk = (smallDiskDevice, disk);
                log($"{smallDiskDevice} keeps its root and agent state on a {size >> 20} MiB tmpfs at {disk.Path}");
            }
        }

        // Enrollment is an `agent enroll` process per device (a .NET start-up each): a few at a time.
        var enrolling = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount), CancellationToken = ct };
        await Parallel.ForEachAsync(Workload.Devices, enrolling, EnrollAsync).ConfigureAwait(false);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var devices = await Api.GetAsync<List<DeviceStatus>>("api/v1/devices", ct).ConfigureAwait(false);
            if (Workload.Devices.All(d => devices.FirstOrDefault(s => s.Name == d)?.LastSeenAt is not null))
                break;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("Not every agent checked in within 2 minutes.");
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask EnrollAsync(string device, CancellationToken ct)
    {
        var token = await Api.PostAsync<EnrollmentToken>($"api/v1/devices/{device}/enrollment-token", null, ct).ConfigureAwait(false);
        await AgentSupervisor.EnrollAsync(_agent, new AgentEnrollment(device, State(device), new Uri($"https://localhost:{Proxy.Port}/"), token.Token, token.CaPin)
        {
            Platform = AgentEnrollment.Sandbox(Root(device)),
        }, ct).ConfigureAwait(false);
        if (Disk is { } disk && disk.Device == device)
        {
            // The supervisor appends the agent's output to agent.log in the state directory. That log stands for the
            // device's journald, not for the agent's own files: it must not fail (and take the supervisor down) when
            // the nemesis fills the small disk, so it lives on the big disk behind a link.
            var log = Path.Combine(Directory, "logs", $"{device}.agent.log");
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(log)!);
            File.CreateSymbolicLink(Path.Combine(State(device), "agent.log"), log);
        }
        StartAgent(device);
    }

    /// <summary>Start a new supervisor on the device's agent state (after enrollment, or after a kill).</summary>
    public void StartAgent(string device)
    {
        // A benchmark stopped by a signal must not leave agent processes behind.
        var agent = new AgentSupervisor(device, State(device), _agent) { WhileRunning = ExitCleanup.KillOnExit };
        lock (_gate)
        {
            if (_agents.Remove(device, out var old))
                _retired.Add(old);
            _agents[device] = agent;
        }
        agent.Start();
    }

    /// <summary>The device's current supervisor.</summary>
    public AgentSupervisor Agent(string device)
    {
        lock (_gate)
            return _agents[device];
    }

    /// <summary>Reboots done by every supervisor so far.</summary>
    public int Reboots
    {
        get
        {
            lock (_gate)
                return _agents.Values.Concat(_retired).Sum(a => a.Reboots);
        }
    }

    /// <summary>Crashes of each device's agent (any exit but a reboot, a restart or the nemesis' kill; its supervisor
    /// starts it again after a pause) with the last exit code, for devices whose agent crashed.</summary>
    public IReadOnlyDictionary<string, (int Crashes, int LastExit)> Crashes
    {
        get
        {
            lock (_gate)
            {
                return _agents.Values.Concat(_retired).Where(a => a.Crashes > 0).GroupBy(a => a.Device, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => (g.Sum(a => a.Crashes), g.Last(a => a.UnexpectedExit is not null).UnexpectedExit!.Value), StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Devices whose current agent crashed <see cref="AgentSupervisor.CrashLoop"/> times or more: it keeps crashing.</summary>
    public IReadOnlySet<string> CrashLooping
    {
        get
        {
            lock (_gate)
                return _agents.Values.Where(a => a.Crashes >= AgentSupervisor.CrashLoop).Select(a => a.Device).ToHashSet(StringComparer.Ordinal);
        }
    }

    /// <summary>Why agents crashed: the distinct "Unhandled exception." lines of every agent log, with a count.</summary>
    public IReadOnlyList<string> CrashReasons()
    {
        var reasons = new Dictionary<string, (int Count, SortedSet<string> Devices)>(StringComparer.Ordinal);
        foreach (var device in Workload.Devices)
        {
            var log = Path.Combine(State(device), "agent.log");
            if (!File.Exists(log))
                continue;
            using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                if (!line.StartsWith("Unhandled exception.", StringComparison.Ordinal))
                    continue;
                var reason = line.Length > 200 ? line[..200] : line;
                if (!reasons.TryGetValue(reason, out var seen))
                    reasons[reason] = seen = (0, new SortedSet<string>(StringComparer.Ordinal));
                seen.Devices.Add(device);
                reasons[reason] = (seen.Count + 1, seen.Devices);
            }
        }
        return [.. reasons.Select(r => $"{r.Value.Count} x on {string.Join(",", r.Value.Devices)}: {r.Key}")];
    }

    /// <summary>The central model as the gateway has it (package catalog filled).</summary>
    public async Task<RigModel> ModelAsync(CancellationToken ct)
    {
        var json = await Api.GetAsync<JsonElement>("api/v1/model", ct).ConfigureAwait(false);
        return JsonSerializer.Deserialize(json.GetRawText(), ModelJson.Default.RigModel)!;
    }

    /// <summary>Start a rollout of the current revision to every device.</summary>
    /// <remarks>With a small disk, one device may fail by design (a full disk stops its queue, CHECKLIST 21): the
    /// failure threshold allows that one, so the other devices' waves go on.</remarks>
    public Task<RolloutInfo> StartRolloutAsync(int canary, string batch, CancellationToken ct) =>
        Api.PostAsync<RolloutInfo>("api/v1/rollouts", new RolloutRequest(null, null, Canary: canary, Batch: batch, MaxFailures: Disk is null ? 0 : 1, Reason: "nemesis"), ct);

    /// <summary>What an operator does after a full disk stopped a device's queue: (space is free again) converge the
    /// device, and wait for that queue; returns its final state, or null when it did not finish in time.</summary>
    public async Task<QueueView?> ConvergeAgainAsync(string device, TimeSpan timeout, CancellationToken ct)
    {
        // The operator's remedy as the error states it: the space is free again; refresh the device's inventory (the
        // gateway plans with the free space it last reported, 0 while the disk was full), then converge.
        var deadline = DateTime.UtcNow + timeout;
        await Api.PutJsonTextAsync<JsonElement>("api/v1/scripts/nemesis-inventory", "{\"description\":\"fresh inventory\",\"commands\":[{\"kind\":\"inventory\"}]}", ct).ConfigureAwait(false);
        var refresh = await Api.PostAsync<LifecycleResult>("api/v1/scripts/nemesis-inventory/run", new ScriptRunRequest(device), ct).ConfigureAwait(false);
        if (await WaitForQueueAsync(device, refresh.Queues.SingleOrDefault()?.QueueId, deadline, ct).ConfigureAwait(false) is not { Status: QueueStates.Succeeded })
            return null;
        var response = await Api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest([device], "nemesis: the disk is free again, converge (CHECKLIST 21)"), ct).ConfigureAwait(false);
        var converge = response.Devices.Single(d => d.Device == device);
        if (converge.QueueId is null)
            throw new InvalidOperationException($"The converge of {device} after its disk was freed and its inventory refreshed queued nothing ({converge.Outcome}: {string.Join("; ", converge.Errors.Select(e => e.Message))}).");
        return await WaitForQueueAsync(device, converge.QueueId, deadline, ct).ConfigureAwait(false);
    }

    private async Task<QueueView?> WaitForQueueAsync(string device, string? queueId, DateTime deadline, CancellationToken ct)
    {
        while (DateTime.UtcNow < deadline)
        {
            var queue = (await Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}", ct).ConfigureAwait(false)).Status.Queue;
            if (queue is not null && (queueId is null || queue.Id == queueId) && !QueueStates.IsActive(queue.Status))
                return queue;
            await Task.Delay(250, ct).ConfigureAwait(false);
        }
        return null;
    }

    /// <summary>The rollout, or null when the gateway does not answer within <paramref name="timeout"/>.</summary>
    public async Task<RolloutInfo?> TryRolloutAsync(string id, TimeSpan timeout, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        try
        {
            return await Api.GetAsync<RolloutInfo>($"api/v1/rollouts/{id}", limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Stop every agent (the supervisor continues one the nemesis left stopped).</summary>
    public async Task StopAgentsAsync()
    {
        List<AgentSupervisor> agents;
        lock (_gate)
            agents = [.. _agents.Values];
        await Task.WhenAll(agents.Select(async a =>
        {
            try
            {
                await a.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                Console.Error.WriteLine($"[nemesis] stopping {a.Device}'s agent: {e.Message}");
            }
        })).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAgentsAsync().ConfigureAwait(false);
        }
        finally
        {
            try
            {
                if (Proxy is not null)
                    await Proxy.DisposeAsync().ConfigureAwait(false);
                Api?.Dispose();
                if (Gateway is not null)
                {
                    try
                    {
                        Signals.Send(Gateway.Pid, Signals.Continue);
                    }
                    catch (InvalidOperationException)
                    {
                    }
                    await Gateway.DisposeAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                if (Postgres is not null)
                    await Postgres.DisposeAsync().ConfigureAwait(false);
                if (Disk is { } s)
                    await s.Disk.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
