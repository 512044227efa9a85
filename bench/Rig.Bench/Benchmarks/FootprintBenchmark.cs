using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Security.Cryptography.X509Certificates;
using Rig.Agent.Runtime;
using Rig.Bench.Common;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Api;
using Rig.Server.Gateway;

namespace Rig.Bench.Benchmarks;

/// <summary>Agent footprint: binary size, start-up time, idle memory. The agent as Native AOT (published by this
/// benchmark, full mode only: the publish takes longer than CI's smoke test allows) and as a framework-dependent
/// (JIT) assembly run by <c>dotnet rig-agent.dll</c>. For each: size on disk; <c>rig-agent --help</c> to exit;
/// real enrollment with the agent's own <c>enroll</c>; then <c>rig-agent run</c> on the enrolled state directory
/// until its first exchange with a real gateway is answered (the start-up check-in), and its resident memory
/// once it has sat idle for a few seconds after that.</summary>
internal sealed partial class FootprintBenchmark : IBenchmark
{
    private static readonly TimeSpan IdleWait = TimeSpan.FromSeconds(3);

    /// <inheritdoc />
    public string Name => "footprint";

    private sealed record Variant(string Label, string FileName, IReadOnlyList<string> BaseArguments, string Device)
    {
        public ProcessStartInfo StartInfo(params string[] arguments)
        {
            var info = new ProcessStartInfo(FileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = false };
            foreach (var a in BaseArguments.Concat(arguments))
                info.ArgumentList.Add(a);
            return info;
        }
    }

    /// <inheritdoc />
    public async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var quick = options.Quick;
        var helpRuns = options.Runs ?? (quick ? 5 : 20);
        var checkInRuns = quick ? 2 : 5;
        var measurements = new List<Measurement>();
        var notes = new List<string>();
        var work = Directory.CreateTempSubdirectory("rig-bench-footprint-").FullName;
        using var workCleanup = ExitCleanup.Add(() => Directory.Delete(work, recursive: true));
        try
        {
            var dotnet = RigLauncher.BuiltAlongside().FileName;
            var jitDll = Path.Combine(AppContext.BaseDirectory, "rig-agent.dll");
            if (!File.Exists(jitDll))
                throw new InvalidOperationException($"{jitDll} is missing: build bench/Rig.Bench (it references the agent).");
            var variants = new List<Variant>();

            if (!quick)
            {
                var aot = await PublishAotAsync(dotnet, work, ct).ConfigureAwait(false);
                measurements.Add(Measurement.Single("AOT publish", "s", aot.Seconds, "dotnet publish -r linux-x64 -p:PublishAot=true, fresh artifacts directory"));
                measurements.Add(Measurement.Single("AOT: binary size", "MiB", new FileInfo(aot.Binary).Length / 1048576.0, "rig-agent, a single self-contained executable (symbols stripped)"));
                if (File.Exists(aot.Binary + ".dbg"))
                    notes.Add($"AOT symbols are stripped into rig-agent.dbg ({new FileInfo(aot.Binary + ".dbg").Length / 1048576.0:0.0} MiB), which is not shipped.");
                variants.Add(new Variant("AOT", aot.Binary, [], "fp-aot"));
                notes.Add("Native AOT needs clang, lld and zlib1g-dev at publish time (CI: apt-get install -y clang lld zlib1g-dev); the agent itself needs only libc and OpenSSL on the device.");
            }
            else
            {
                notes.Add("Quick mode: the Native AOT publish is skipped (it takes longer than the smoke test's minute); only the JIT agent is measured, through the same code paths, with fewer repetitions.");
            }

            var jitFiles = AppFiles(jitDll);
            measurements.Add(Measurement.Single("JIT: app size", "MiB", jitFiles.Sum(f => new FileInfo(f).Length) / 1048576.0, string.Join(" + ", jitFiles.Select(Path.GetFileName)) + "; needs the shared runtime"));
            var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
            measurements.Add(Measurement.Single("JIT: shared .NET runtime", "MiB", Directory.EnumerateFiles(runtimeDirectory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) / 1048576.0,
                $"{runtimeDirectory}, installed once per machine"));
            variants.Add(new Variant("JIT", dotnet, [jitDll], "fp-jit"));

            // Start-up to a useful answer: --help prints the usage and exits 0.
            foreach (var variant in variants)
            {
                var seconds = new List<double>();
                for (var i = 0; i < helpRuns; i++)
                    seconds.Add(await HelpAsync(variant, ct).ConfigureAwait(false) * 1000);
                measurements.Add(Measurement.Of($"{variant.Label}: --help to exit", "ms", seconds, "process start to exit, usage printed"));
            }

            // A real gateway, a device per variant, enrolled by the agent itself; then runs until the first check-in.
            await using var gateway = await BenchGateway.StartAsync(Path.Combine(work, "gateway"), null, ct).ConfigureAwait(false);
            using var gatewayGuard = ExitCleanup.KillOnExit(gateway.Pid);
            using var api = gateway.Api();
            var model = new RigModel { Sites = [new Site { Name = "bench" }], Devices = [new Device { Name = "fp-warm-up", Site = "bench" }, .. variants.Select(v => new Device { Name = v.Device, Site = "bench" })] };
            await api.PutJsonTextAsync<ModelPutResponse>("api/v1/model?message=footprint%20benchmark", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), ct).ConfigureAwait(false);
            await WarmUpGatewayAsync(gateway, api, Path.Combine(work, "agents", "fp-warm-up"), ct).ConfigureAwait(false);
            var states = new Dictionary<Variant, string>();
            foreach (var variant in variants)
            {
                var state = Path.Combine(work, "agents", variant.Device);
                var token = (await api.PostAsync<EnrollmentToken>($"api/v1/devices/{variant.Device}/enrollment-token", null, ct).ConfigureAwait(false)).Token;
                var watch = Stopwatch.StartNew();
                var (code, output) = await RunToEndAsync(variant.StartInfo("enroll", "--state", state, "--gateway", gateway.AgentUrl.ToString(), "--device", variant.Device,
                    "--token", token, "--ca-pin", gateway.CaPin, "--sandbox-root", Path.Combine(work, "devices", variant.Device), "--poke-address", "127.0.0.1", "--poke-port", "0"), ct).ConfigureAwait(false);
                if (code != 0)
                    throw new InvalidOperationException($"{variant.Label} agent: enroll exited with {code}: {output}");
                measurements.Add(Measurement.Single($"{variant.Label}: enroll", "ms", watch.Elapsed.TotalMilliseconds, "process start to exit: key, CA pin check, CSR signed by the gateway, state written"));
                states[variant] = state;
            }

            // Runs alternate between the variants, so drifting load on the machine hits both alike.
            var runs = variants.ToDictionary(v => v, _ => new List<CheckIn>());
            for (var i = 0; i < checkInRuns; i++)
            {
                foreach (var variant in variants)
                    runs[variant].Add(await RunUntilCheckedInAsync(variant, states[variant], ct).ConfigureAwait(false));
            }
            foreach (var variant in variants)
            {
                var r = runs[variant];
                measurements.Add(Measurement.Of($"{variant.Label}: run to listening", "ms", r.Select(c => c.ListeningMs), "start to the poke listener bound (log line 'listening')"));
                measurements.Add(Measurement.Of($"{variant.Label}: run to checked in", "ms", r.Select(c => c.CheckedInMs), "start to the first exchange answered (mTLS handshake, start-up inquiry, gateway records it, 'no command')"));
                measurements.Add(Measurement.Of($"{variant.Label}: CPU to idle", "ms", r.Select(c => c.CpuMs), $"user + system CPU of the agent by {IdleWait.TotalSeconds:0} s after the check-in (10 ms ticks)"));
                measurements.Add(Measurement.Of($"{variant.Label}: idle RSS", "MiB", r.Select(c => c.IdleRssMiB), $"VmRSS {IdleWait.TotalSeconds:0} s after the check-in"));
                measurements.Add(Measurement.Of($"{variant.Label}: idle RSS, anonymous", "MiB", r.Select(c => c.IdleAnonMiB), "RssAnon: the agent's own heap and stacks, without mapped files shared with other processes"));
                measurements.Add(Measurement.Of($"{variant.Label}: peak RSS", "MiB", r.Select(c => c.PeakRssMiB), "VmHWM up to then"));
                measurements.Add(Measurement.Of($"{variant.Label}: threads when idle", "threads", r.Select(c => (double)c.Threads)));
            }

            notes.Add($"Start-up: --help measured {helpRuns} times per agent; 'run' measured {checkInRuns} times per agent (alternating) on its enrolled state directory against a real gateway process (SQLite) on loopback, " +
                "warmed up first by one in-process enrollment and check-in; each run stopped with SIGTERM (must exit 0) after reading /proc. Check-in is detected by the agent's own log line for the answer ('idle: no command', --verbose); " +
                "the time includes the gateway's share (handshake, recording the device as seen).");
            notes.Add($"JIT agent: dotnet {Path.GetFileName(jitDll)} (framework-dependent, tiered JIT, {Environment.Version} runtime, workstation GC); times include the host resolving the framework.");
            notes.Add($"Files on {Filesystems.Describe(work)}; {Environment.ProcessorCount} cores; other work on the machine shows in start-up times.");
            return new BenchReport(Name, DateTimeOffset.UtcNow, BenchReport.Revision(), quick, MachineInfo.Current(work),
                new Dictionary<string, string>
                {
                    ["agents"] = string.Join(", ", variants.Select(v => v.Label)),
                    ["--help runs"] = helpRuns.ToString(CultureInfo.InvariantCulture),
                    ["check-in runs"] = checkInRuns.ToString(CultureInfo.InvariantCulture),
                    ["idle wait"] = $"{IdleWait.TotalSeconds:0} s",
                    ["runtime identifier"] = RuntimeInformation.RuntimeIdentifier,
                },
                measurements, notes);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // a process still closing a file; the temp directory is left behind
            }
        }
    }

    /// <summary>One enrollment and one start-up exchange in-process, so neither measured agent pays for the gateway's
    /// own first-request costs (JIT, connection pools).</summary>
    private static async Task WarmUpGatewayAsync(GatewayHarness gateway, Rig.Cli.Operator.OperatorClient api, string state, CancellationToken ct)
    {
        var token = (await api.PostAsync<EnrollmentToken>("api/v1/devices/fp-warm-up/enrollment-token", null, ct).ConfigureAwait(false)).Token;
        var paths = new AgentPaths(state);
        await Enrollment.EnrollAsync(paths, new AgentConfig { GatewayUrl = gateway.AgentUrl.ToString(), Device = "fp-warm-up", Poll = true }, token, gateway.CaPin, RigLimits.Default, ct).ConfigureAwait(false);
        using var certificate = X509Certificate2.CreateFromPemFile(paths.Certificate, paths.Key);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(paths.Ca));
        using var client = new GatewayClient(gateway.AgentUrl, certificate, ca, RigLimits.Default);
        var answer = await client.ExchangeAsync(new ExchangeRequest { ProtocolVersion = ProtocolInfo.Version, Device = "fp-warm-up", RequestId = Guid.NewGuid().ToString("n"), Reason = InquiryReason.Startup, AgentVersion = AgentInfo.Version }, ct).ConfigureAwait(false);
        if (answer.Answer != ExchangeAnswer.NoCommand)
            throw new InvalidOperationException($"The warm-up device's start-up inquiry was answered {answer.Answer}, not NoCommand.");
    }

    /// <summary>Publish the agent with Native AOT into <paramref name="work"/>/aot (own artifacts directory, so
    /// the source tree's obj/ and bin/ are not touched).</summary>
    private static async Task<(string Binary, double Seconds)> PublishAotAsync(string dotnet, string work, CancellationToken ct)
    {
        var project = FindRepositoryFile(Path.Combine("src", "Rig.Agent", "Rig.Agent.csproj"))
            ?? throw new InvalidOperationException("Cannot find src/Rig.Agent/Rig.Agent.csproj above the benchmark or the current directory: run rig-bench from the repository's build output.");
        var output = Path.Combine(work, "aot");
        var info = new ProcessStartInfo(dotnet) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["publish", project, "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", output, "--artifacts-path", Path.Combine(work, "artifacts"), "--disable-build-servers", "-nologo"])
            info.ArgumentList.Add(a);
        Console.Error.WriteLine($"  [footprint] {DateTime.Now:HH:mm:ss} publishing the agent with Native AOT...");
        var watch = Stopwatch.StartNew();
        var (code, text) = await RunToEndAsync(info, ct).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        var binary = Path.Combine(output, "rig-agent");
        if (code != 0 || !File.Exists(binary))
        {
            var tail = string.Join('\n', text.Split('\n').TakeLast(30));
            throw new InvalidOperationException($"Native AOT publish failed ({code}); it needs clang, lld and zlib1g-dev (apt-get install -y clang lld zlib1g-dev):\n{tail}");
        }
        return (binary, seconds);
    }

    private static string? FindRepositoryFile(string relative)
    {
        foreach (var start in (string[])[AppContext.BaseDirectory, Directory.GetCurrentDirectory()])
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate))
                    return candidate;
            }
        }
        return null;
    }

    /// <summary>The framework-dependent agent's own files: its runtime assemblies from deps.json, and the json files.</summary>
    private static List<string> AppFiles(string dll)
    {
        var directory = Path.GetDirectoryName(dll)!;
        var deps = Path.ChangeExtension(dll, ".deps.json");
        var files = new List<string> { dll, deps, Path.ChangeExtension(dll, ".runtimeconfig.json") };
        using var json = JsonDocument.Parse(File.ReadAllText(deps));
        foreach (var target in json.RootElement.GetProperty("targets").EnumerateObject())
        {
            foreach (var library in target.Value.EnumerateObject())
            {
                if (library.Value.TryGetProperty("runtime", out var runtime))
                    files.AddRange(runtime.EnumerateObject().Select(r => Path.Combine(directory, r.Name)));
            }
        }
        return [.. files.Distinct().Where(File.Exists)];
    }

    private static async Task<double> HelpAsync(Variant variant, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var (code, output) = await RunToEndAsync(variant.StartInfo("--help"), ct).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        if (code != 0 || !output.Contains("usage: rig-agent", StringComparison.Ordinal))
            throw new InvalidOperationException($"{variant.Label} agent: --help exited with {code}: {output}");
        return seconds;
    }

    private sealed record CheckIn(double ListeningMs, double CheckedInMs, double CpuMs, double IdleRssMiB, double IdleAnonMiB, double PeakRssMiB, int Threads);

    /// <summary>Start <c>run</c>, wait for the start-up exchange to be answered, let it idle, read /proc, stop it.</summary>
    private static async Task<CheckIn> RunUntilCheckedInAsync(Variant variant, string state, CancellationToken ct)
    {
        var log = new StringBuilder();
        var listening = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        var checkedIn = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(variant.StartInfo("run", "--state", state, "--verbose"))!;
        using var guard = ExitCleanup.KillOnExit(process.Id);
        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
            {
                var at = watch.Elapsed.TotalMilliseconds;
                lock (log)
                    log.AppendLine(line);
                if (line.Contains(" listening: ", StringComparison.Ordinal))
                    listening.TrySetResult(at);
                else if (line.Contains(" idle: no command", StringComparison.Ordinal))
                    checkedIn.TrySetResult(at);
                else if (line.Contains(" warn ", StringComparison.Ordinal))
                    checkedIn.TrySetException(new InvalidOperationException($"{variant.Label} agent warned before checking in: {line}"));
            }
        }, CancellationToken.None);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        try
        {
            var first = await Task.WhenAny(checkedIn.Task, process.WaitForExitAsync(ct), Task.Delay(TimeSpan.FromSeconds(30), ct)).ConfigureAwait(false);
            if (first != checkedIn.Task || !checkedIn.Task.IsCompletedSuccessfully)
            {
                if (checkedIn.Task.IsFaulted)
                    await checkedIn.Task.ConfigureAwait(false);
                throw new InvalidOperationException($"{variant.Label} agent did not check in within 30 s{(process.HasExited ? $" (exited with {process.ExitCode})" : "")}:\n{Log()}");
            }
            var checkedInMs = await checkedIn.Task.ConfigureAwait(false);
            var listeningMs = listening.Task.IsCompletedSuccessfully ? await listening.Task.ConfigureAwait(false) : double.NaN;
            await Task.Delay(IdleWait, ct).ConfigureAwait(false);
            if (process.HasExited)
                throw new InvalidOperationException($"{variant.Label} agent exited with {process.ExitCode} while idle:\n{Log()}");
            var pid = process.Id;
            var result = new CheckIn(listeningMs, checkedInMs, ProcessProbe.CpuSeconds(pid) * 1000, ProcessProbe.RssMiB(pid), StatusKb(pid, "RssAnon:") / 1024.0, ProcessProbe.PeakRssMiB(pid), (int)StatusKb(pid, "Threads:"));

            // Stop it like an init system: SIGTERM, and it must end cleanly.
            _ = Kill(pid, 15);
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(ct);
            grace.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new InvalidOperationException($"{variant.Label} agent did not stop within 10 s of SIGTERM:\n{Log()}");
            }
            await stderr.ConfigureAwait(false);
            await stdout.ConfigureAwait(false);
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"{variant.Label} agent exited with {process.ExitCode} on SIGTERM, not 0:\n{Log()}");
            return result;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        string Log()
        {
            lock (log)
                return log.ToString();
        }
    }

    private static async Task<(int Code, string Output)> RunToEndAsync(ProcessStartInfo info, CancellationToken ct)
    {
        using var process = Process.Start(info)!;
        using var guard = ExitCleanup.KillOnExit(process.Id);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    private static long StatusKb(int pid, string key)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"/proc/{pid}/status has no {key}");
        return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
