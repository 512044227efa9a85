using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Agent.Runtime;
using Rig.Bench.Common;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Server.Api;
using Rig.Server.Gateway;

namespace Rig.Bench.Benchmarks;

/// <summary>Package distribution: many agents fetching and verifying the same large blob at once, in GB/s, against
/// a plain file copy on the same disk. One large Rig archive of incompressible data is imported into a real
/// gateway (<see cref="GatewayHarness"/>); N agents are enrolled for real (CSR signed by the gateway); all N
/// then run the agent's own fetch-and-verify (<see cref="GatewayClient.DownloadBlobAsync"/>: mTLS, stream to a
/// temp file, fsync, check length and SHA-256, rename) at the same moment, each into its own state directory.
/// The downloaders are in-process clients, each with its own certificate and connection. The baselines copy the
/// gateway's blob file on the same file system (File.Copy and cp, 1 and N at once, each fsynced) and hash it.
/// Everything lives on a journaled ext4 loop image made for the run (<see cref="LoopFilesystem"/>).
/// Sizes: full 512 MiB and 1, 16, 64 agents, 2 runs; quick 16 MiB and 1, 4 agents, 1 run; <c>--agents</c> and
/// <c>--runs</c> override, and the environment variable <c>RIG_BENCH_DIST_MIB</c> sets the blob size (development).</summary>
internal sealed partial class DistributionBenchmark : IBenchmark
{
    private const double GB = 1e9;

    /// <inheritdoc />
    public string Name => "distribution";

    private sealed record Agent(string Device, AgentPaths Paths, X509Certificate2 Certificate, X509Certificate2 Ca);

    /// <inheritdoc />
    public async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var quick = options.Quick;
        var sizeMiB = Environment.GetEnvironmentVariable("RIG_BENCH_DIST_MIB") is { Length: > 0 } env
            ? int.Parse(env, NumberStyles.None, CultureInfo.InvariantCulture)
            : quick ? 16 : 512;
        var fleets = (options.Agents ?? (quick ? [1, 4] : [1, 16, 64])).Distinct().Order().ToList();
        var runs = options.Runs ?? (quick ? 1 : 2);
        var notes = new List<string>();
        var measurements = new List<Measurement>();

        // The image holds the gateway's blob, the largest fleet's copies and nothing else at once (the package file
        // is deleted after the import); it is sparse, so only what is written takes room on the real disk.
        static int ImageMiB(int sizeMiB, int agents) => (int)Math.Ceiling(sizeMiB * (agents + 2) * 1.08) + 1024;
        var free = new DriveInfo(Path.GetTempPath()).AvailableFreeSpace / 1024 / 1024;
        var fitting = fleets.Where(n => ImageMiB(sizeMiB, n) + 8192 <= free).ToList();
        if (fitting.Count == 0)
            throw new InvalidOperationException($"Not enough disk for even {fleets[0]} copies of {sizeMiB} MiB: {ImageMiB(sizeMiB, fleets[0])} MiB needed, {free} MiB free in {Path.GetTempPath()} (8 GiB kept free).");
        if (fitting.Count < fleets.Count)
            notes.Add($"Skipped fleets of {string.Join(", ", fleets.Except(fitting))} agents: not enough free disk ({free:N0} MiB) for their copies.");
        fleets = fitting;
        var maxAgents = fleets.Max();

        await using var fs = await LoopFilesystem.CreateAsync(ImageMiB(sizeMiB, maxAgents)).ConfigureAwait(false);
        var filesystem = Filesystems.Describe(fs.Path);
        var root = Path.Combine(fs.Path, "distribution");
        Directory.CreateDirectory(root);
        notes.Add($"Everything (gateway data and blob store, agents' state directories, copies) on {filesystem}" +
            (filesystem.StartsWith("ext4 (/dev/loop", StringComparison.Ordinal) ? $": a {ImageMiB(sizeMiB, maxAgents):N0} MiB journaled ext4 loop image made for this run (its backing file on {Filesystems.Describe(Path.GetTempPath())})." : ": NOT a loop-mounted ext4 image (mounting failed), so figures depend on the machine's file system."));

        // The package: one file of incompressible (seeded random) data in a Rig archive.
        var packageFile = Path.Combine(root, "packages", $"bench-blob_{sizeMiB}.0.0{RigArchive.Extension}");
        Directory.CreateDirectory(Path.GetDirectoryName(packageFile)!);
        var watch = Stopwatch.StartNew();
        WriteArchive(packageFile, sizeMiB);
        var archiveSeconds = watch.Elapsed.TotalSeconds;
        Progress($"archive of {sizeMiB} MiB written in {archiveSeconds:0.0} s");
        GC.Collect();

        await using var gateway = await BenchGateway.StartAsync(Path.Combine(root, "gateway"), null, ct).ConfigureAwait(false);
        using var gatewayGuard = ExitCleanup.KillOnExit(gateway.Pid);
        using var api = gateway.Api();
        watch.Restart();
        var package = (await api.AddPackageAsync(packageFile, ct).ConfigureAwait(false)).Package;
        var importSeconds = watch.Elapsed.TotalSeconds;
        Progress($"imported in {importSeconds:0.0} s");
        File.Delete(packageFile);
        var digest = package.Sha256;
        var size = package.Size;
        var blob = Path.Combine(gateway.DataDirectory, "blobs", "sha256", digest[..2], digest);
        if (!File.Exists(blob) || new FileInfo(blob).Length != size)
            throw new InvalidOperationException($"The gateway's blob store has no {size}-byte file at {blob} after the import.");
        measurements.Add(Measurement.Single("write archive", "s", archiveSeconds, $"{sizeMiB} MiB of random data, gzip"));
        measurements.Add(Measurement.Single("import package", "GB/s", size / importSeconds / GB, $"{size / 1024.0 / 1024.0:0.#} MiB archive over the operator API ({importSeconds:0.##} s)"));

        // The fleet: devices in the model, each enrolled for real (token, pinned CA, CSR signed by the gateway).
        var devices = Enumerable.Range(0, maxAgents).Select(i => $"agent-{i:D3}").ToList();
        var model = new RigModel
        {
            Sites = [new Site { Name = "bench" }],
            Devices = [.. devices.Select(d => new Device { Name = d, Site = "bench" })],
        };
        await api.PutJsonTextAsync<ModelPutResponse>("api/v1/model?message=distribution%20benchmark", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), ct).ConfigureAwait(false);
        watch.Restart();
        var agents = new Agent[maxAgents];
        await Parallel.ForEachAsync(Enumerable.Range(0, maxAgents), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (i, token) =>
        {
            var enrollment = await api.PostAsync<EnrollmentToken>($"api/v1/devices/{devices[i]}/enrollment-token", null, token).ConfigureAwait(false);
            var paths = new AgentPaths(Path.Combine(root, "agents", devices[i]));
            await Enrollment.EnrollAsync(paths, new AgentConfig { GatewayUrl = gateway.AgentUrl.ToString(), Device = devices[i], Poll = true, SandboxRoot = Path.Combine(paths.Root, "root") },
                enrollment.Token, gateway.CaPin, RigLimits.Default, token).ConfigureAwait(false);
            agents[i] = new Agent(devices[i], paths, X509Certificate2.CreateFromPemFile(paths.Certificate, paths.Key), X509Certificate2.CreateFromPem(File.ReadAllText(paths.Ca)));
        }).ConfigureAwait(false);
        Progress($"{maxAgents} agents enrolled");
        measurements.Add(Measurement.Single($"enroll {maxAgents} agents", "s", watch.Elapsed.TotalSeconds, "token, CA pin, CSR signed by the gateway; 8 at a time"));

        // N agents each work like a process of their own: do not let thread-pool growth be what limits them.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, maxAgents * 2 + 8), io);

        var dropped = DropCaches();
        notes.Add(dropped
            ? "Page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every measured step, so each starts reading the blob from disk (and also slows other work on the machine for a moment)."
            : "Could not drop the page cache (needs root): the blob may be read from memory, which flatters every figure alike.");
        var copies = Path.Combine(root, "copies");
        Directory.CreateDirectory(copies);
        var hashCold = new List<double>();
        var hashWarm = new List<double>();
        var copyOne = new List<double>();
        var cpOne = new List<double>();
        var perFleet = fleets.ToDictionary(n => n, _ => new FleetResults());
        var rssNote = "";
        try
        {
            // One unmeasured download first: a gateway serves blobs all day, so its TLS and file paths (and the agent's)
            // are compiled and warm; without it the first measured download also pays the JIT (a quarter of the CPU
            // samples of a profiled first download were the tiered compiler).
            Progress("warm-up download (not measured)");
            await DownloadAsync(gateway, [agents[0]], digest, size, new FleetResults(), ct).ConfigureAwait(false);
            for (var run = 0; run < runs; run++)
            {
                DropCaches();
                hashCold.Add(size / await TimeAsync(() => HashAsync(blob, digest, ct)).ConfigureAwait(false) / GB);
                hashWarm.Add(size / await TimeAsync(() => HashAsync(blob, digest, ct)).ConfigureAwait(false) / GB);
                copyOne.Add(await CopiesAsync(blob, copies, 1, size, useCp: false, ct).ConfigureAwait(false));
                cpOne.Add(await CopiesAsync(blob, copies, 1, size, useCp: true, ct).ConfigureAwait(false));
                foreach (var n in fleets)
                {
                    var results = perFleet[n];
                    Progress($"run {run + 1}/{runs}: {n} agents");
                    results.Copy.Add(n == 1 ? copyOne[^1] : await CopiesAsync(blob, copies, n, size, useCp: false, ct).ConfigureAwait(false));
                    results.Cp.Add(n == 1 ? cpOne[^1] : await CopiesAsync(blob, copies, n, size, useCp: true, ct).ConfigureAwait(false));
                    rssNote = await DownloadAsync(gateway, agents.Take(n).ToList(), digest, size, results, ct).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
            foreach (var agent in agents)
            {
                agent.Certificate.Dispose();
                agent.Ca.Dispose();
            }
        }

        measurements.Add(Measurement.Of("sha256 of the blob, cold cache", "GB/s", hashCold, "one thread, SHA256.HashDataAsync on a FileStream"));
        measurements.Add(Measurement.Of("sha256 of the blob, warm cache", "GB/s", hashWarm, "the same again, file in the page cache"));
        measurements.Add(Measurement.Of("File.Copy x1", "GB/s", copyOne, "copy + fsync"));
        measurements.Add(Measurement.Of("cp x1", "GB/s", cpOne, "cp process + fsync"));
        foreach (var n in fleets)
        {
            var r = perFleet[n];
            measurements.Add(Measurement.Of($"download x{n}: aggregate", "GB/s", r.Aggregate, $"{n} x {size / 1024.0 / 1024.0:0.#} MiB / wall time, mTLS, fsync, SHA-256 verified"));
            measurements.Add(Measurement.Of($"download x{n}: per-agent time", "s", r.PerAgent, "start to verified file, every agent of every run"));
            measurements.Add(Measurement.Of($"download x{n}: gateway CPU", "s", r.GatewayCpu, "user + system of the gateway process"));
            measurements.Add(Measurement.Of($"download x{n}: gateway peak RSS", "MiB", r.GatewayRss));
            measurements.Add(Measurement.Of($"download x{n}: agents' CPU", "s", r.AgentsCpu, "user + system of the in-process downloaders (the benchmark process)"));
            var gib = n * (double)size / (1L << 30);
            measurements.Add(Measurement.Of($"download x{n}: gateway CPU per GiB served", "s", r.GatewayCpu.Select(c => c / gib)));
            measurements.Add(Measurement.Of($"download x{n}: agents' CPU per GiB fetched", "s", r.AgentsCpu.Select(c => c / gib), "TLS decryption, SHA-256, writes, fsync"));
            if (n > 1)
            {
                measurements.Add(Measurement.Of($"File.Copy x{n}", "GB/s", r.Copy, $"{n} copies at once, each fsynced"));
                measurements.Add(Measurement.Of($"cp x{n}", "GB/s", r.Cp, $"{n} cp processes at once, each copy fsynced"));
            }
            measurements.Add(Measurement.Of($"download x{n} / File.Copy x{n}", "ratio", r.Aggregate.Zip(r.Copy, (d, c) => d / c), "same run, same disk"));
        }

        notes.Add($"One {size:N0}-byte Rig archive (random data: gzip cannot shrink it) imported into a real gateway process (SQLite, blob store on the same file system); {string.Join(" and ", fleets)} agents enrolled for real; each agent fetches /files/sha256/{{digest}} over its own mTLS connection with the agent's GatewayClient.DownloadBlobAsync (stream to a temp file, fsync, length and SHA-256 check, rename), all started at one moment.");
        notes.Add($"Downloaders run inside the benchmark process, so they share the machine's {Environment.ProcessorCount} cores with the gateway (TLS on both ends, SHA-256, disk writes): on a small machine the aggregate is a CPU figure, not a disk or network one.");
        notes.Add("Baselines copy the gateway's blob file on the same file system: File.Copy (in-kernel copy on Linux) and cp processes, 1 and N at once, each copy fsynced like a download; hash speed is one thread over the same file. GB = 10^9 bytes.");
        notes.Add(rssNote);
        notes.Add($"Machine: {Environment.ProcessorCount} cores{(HasCpuFlag("sha_ni") ? ", SHA extensions (sha_ni)" : ", no SHA extensions")}{(HasCpuFlag("aes") ? ", AES-NI" : "")}.");
        return new BenchReport(Name, DateTimeOffset.UtcNow, BenchReport.Revision(), quick, MachineInfo.Current(fs.Path),
            new Dictionary<string, string>
            {
                ["blob size"] = $"{size:N0} bytes ({sizeMiB} MiB of random data in a Rig archive)",
                ["agents"] = string.Join(", ", fleets),
                ["runs"] = runs.ToString(CultureInfo.InvariantCulture),
                ["file system"] = filesystem,
                ["page cache dropped"] = dropped ? "yes, before every step" : "no (not permitted)",
                ["gateway store"] = "sqlite",
                ["blob size from RIG_BENCH_DIST_MIB"] = Environment.GetEnvironmentVariable("RIG_BENCH_DIST_MIB") is { Length: > 0 } ? "yes" : "no",
            },
            measurements, notes);
    }

    /// <summary>Write the package (not in an async method, so the data array is not kept alive by its state machine).</summary>
    private static void WriteArchive(string path, int sizeMiB)
    {
        var data = new byte[sizeMiB * 1024L * 1024L];
        new Random(20261124).NextBytes(data);
        using var output = File.Create(path);
        RigArchiveWriter.Write(output, new RigArchiveManifest { Name = "bench-blob", Version = $"{sizeMiB}.0.0", OsFamily = "any", Description = "Incompressible data for the distribution benchmark" },
            [new ArchiveInput("/opt/bench/blob.bin", data)]);
        output.Flush(flushToDisk: true);
    }

    private sealed class FleetResults
    {
        public List<double> Aggregate { get; } = [];
        public List<double> PerAgent { get; } = [];
        public List<double> GatewayCpu { get; } = [];
        public List<double> GatewayRss { get; } = [];
        public List<double> AgentsCpu { get; } = [];
        public List<double> Copy { get; } = [];
        public List<double> Cp { get; } = [];
    }

    /// <summary>N agents download the blob at once; returns what the peak RSS figure means.</summary>
    private static async Task<string> DownloadAsync(GatewayHarness gateway, IReadOnlyList<Agent> agents, string digest, long size, FleetResults results, CancellationToken ct)
    {
        foreach (var agent in agents)
        {
            Directory.CreateDirectory(agent.Paths.Cache);
            Directory.CreateDirectory(agent.Paths.Downloads);
            foreach (var stale in (string[])[Path.Combine(agent.Paths.Cache, digest), Path.Combine(agent.Paths.Downloads, digest + ".part")])
                File.Delete(stale);
        }
        DropCaches();
        var pid = gateway.Pid;
        var peakReset = TryResetPeakRss(pid);
        var gatewayCpu = ProcessProbe.CpuSeconds(pid);
        var ownCpu = ProcessProbe.CpuSeconds(Environment.ProcessId);
        var sampledPeak = ProcessProbe.RssMiB(pid);
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                sampledPeak = Math.Max(sampledPeak, ProcessProbe.RssMiB(pid));
                try
                {
                    await Task.Delay(50, sampling.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }, CancellationToken.None);

        // A new client (a new connection and TLS handshake) per agent, as an agent opens one per session.
        var clients = agents.Select(a => new GatewayClient(gateway.AgentUrl, a.Certificate, a.Ca, RigLimits.Default)).ToList();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watch = new Stopwatch();
        try
        {
            var downloads = agents.Select((agent, i) => Task.Run(async () =>
            {
                await start.Task.ConfigureAwait(false);
                await clients[i].DownloadBlobAsync(digest, size, Path.Combine(agent.Paths.Downloads, digest + ".part"), Path.Combine(agent.Paths.Cache, digest), ct).ConfigureAwait(false);
                return watch.Elapsed.TotalSeconds;
            }, ct)).ToList();
            watch.Start();
            start.SetResult();
            var times = await Task.WhenAll(downloads).ConfigureAwait(false);
            var wall = watch.Elapsed.TotalSeconds;
            await sampling.CancelAsync().ConfigureAwait(false);
            await sampler.ConfigureAwait(false);
            foreach (var agent in agents)
            {
                var file = new FileInfo(Path.Combine(agent.Paths.Cache, digest));
                if (!file.Exists || file.Length != size)
                    throw new InvalidOperationException($"{agent.Device}: no verified {size}-byte blob in {file.FullName} after the download.");
            }
            results.Aggregate.Add(agents.Count * (double)size / wall / GB);
            results.PerAgent.AddRange(times);
            results.GatewayCpu.Add(ProcessProbe.CpuSeconds(pid) - gatewayCpu);
            results.AgentsCpu.Add(ProcessProbe.CpuSeconds(Environment.ProcessId) - ownCpu);
            results.GatewayRss.Add(peakReset ? Math.Max(ProcessProbe.PeakRssMiB(pid), sampledPeak) : sampledPeak);
        }
        finally
        {
            await sampling.CancelAsync().ConfigureAwait(false);
            foreach (var client in clients)
                client.Dispose();
            // Make room for the next step's copies.
            foreach (var agent in agents)
            {
                foreach (var done in (string[])[Path.Combine(agent.Paths.Cache, digest), Path.Combine(agent.Paths.Downloads, digest + ".part")])
                    File.Delete(done);
            }
        }
        return peakReset
            ? "Gateway peak RSS: VmHWM of the gateway process, reset before each download (echo 5 > /proc/PID/clear_refs), so it is the peak of that download."
            : "Gateway peak RSS: sampled every 50 ms during each download (VmHWM could not be reset), so short peaks may be missed.";
    }

    /// <summary>N copies of <paramref name="source"/> at once (File.Copy or cp processes), each fsynced; GB/s of all.</summary>
    private static async Task<double> CopiesAsync(string source, string directory, int n, long size, bool useCp, CancellationToken ct)
    {
        var targets = Enumerable.Range(0, n).Select(i => Path.Combine(directory, $"copy-{i:D3}")).ToList();
        foreach (var t in targets)
            File.Delete(t);
        DropCaches();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(targets.Select(target => Task.Run(async () =>
        {
            if (useCp)
            {
                var info = new ProcessStartInfo("cp") { UseShellExecute = false, RedirectStandardError = true };
                info.ArgumentList.Add(source);
                info.ArgumentList.Add(target);
                using var cp = Process.Start(info)!;
                var error = cp.StandardError.ReadToEndAsync(ct);
                await cp.WaitForExitAsync(ct).ConfigureAwait(false);
                if (cp.ExitCode != 0)
                    throw new InvalidOperationException($"cp {source} {target} failed ({cp.ExitCode}): {await error.ConfigureAwait(false)}");
            }
            else
            {
                File.Copy(source, target);
            }
            await using var written = new FileStream(target, FileMode.Open, FileAccess.ReadWrite);
            written.Flush(flushToDisk: true);
        }, ct))).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        foreach (var t in targets)
        {
            if (new FileInfo(t).Length != size)
                throw new InvalidOperationException($"Copy {t} has {new FileInfo(t).Length} bytes, not {size}.");
            File.Delete(t);
        }
        return n * (double)size / seconds / GB;
    }

    private static void Progress(string message) => Console.Error.WriteLine($"  [distribution] {DateTime.Now:HH:mm:ss} {message}");

    private static async Task HashAsync(string path, string digest, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
        if (actual != digest)
            throw new InvalidOperationException($"The gateway's blob hashes to {actual}, not {digest}.");
    }

    private static async Task<double> TimeAsync(Func<Task> work)
    {
        var watch = Stopwatch.StartNew();
        await work().ConfigureAwait(false);
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>sync, then drop clean page cache, dentries and inodes; false when not permitted.</summary>
    private static bool DropCaches()
    {
        Sync();
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Reset VmHWM of a process (Linux 4.0+: write 5 to /proc/PID/clear_refs).</summary>
    private static bool TryResetPeakRss(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool HasCpuFlag(string flag) =>
        File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ').Contains(flag) == true;

    [LibraryImport("libc", EntryPoint = "sync")]
    private static partial void Sync();
}
