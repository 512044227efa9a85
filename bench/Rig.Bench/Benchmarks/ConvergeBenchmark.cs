using System.Diagnostics;
using System.Globalization;
using Rig.Bench.Common;
using Rig.Bench.Converge;
using Spectre.Console;

namespace Rig.Bench.Benchmarks;

/// <summary>Converge, side by side with Ansible and CFEngine: the same desired state (M target directories, each
/// with K configuration files from templates with parameters and P archive packages) applied by Rig (a real gateway
/// and real agent processes in sandbox mode), by <c>ansible-playbook</c> (local connection, forks=5), by CFEngine 3's
/// <c>cf-agent</c> (local policy) and by a bare script (the floor). Each tool: a first run on empty targets, then a
/// no-op re-run; every target is checked file by file (SHA-256 against Rig's rendering) after every run. Rig also
/// gets a "verified" re-run (a fresh inventory from every agent, then the converge) and a first run by a fleet whose
/// processes have just started ("cold").</summary>
internal sealed class ConvergeBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "converge";

    /// <inheritdoc />
    public async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var total = Stopwatch.StartNew();
        var runs = options.Runs ?? (options.Quick ? 1 : 3);
        if (runs < 1)
            throw new ArgumentException($"--runs {runs}: at least 1.");

        // Every tool must be there, in quick mode too (CI installs them): a comparison without them means nothing.
        var ansible = await ExternalTool.RequireAsync("ansible-playbook", "ansible", "--version", ct).ConfigureAwait(false);
        var cfAgent = await ExternalTool.RequireAsync("cf-agent", "cfengine3", "--version", ct).ConfigureAwait(false);
        var tar = await ExternalTool.RequireAsync("tar", "tar", "--version", ct).ConfigureAwait(false);

        // Two workloads: the original one (many small templated files and ~200 KiB archives: per-file and per-exchange
        // work dominates) and one with few templates and archives of several MiB, where moving packages dominates.
        // RIG_BENCH_CONVERGE_VARIANT=templates|packages runs one of them (development); default both.
        var only = Environment.GetEnvironmentVariable("RIG_BENCH_CONVERGE_VARIANT");
        var variants = new List<(string Prefix, ConvergeWorkload Workload)>();
        if (only is null or "" or "templates")
            variants.Add(("", ConvergeWorkload.Create(options.Quick)));
        if (only is null or "" or "packages")
            variants.Add(("packages variant: ", ConvergeWorkload.CreatePackageHeavy(options.Quick)));
        if (variants.Count == 0)
            throw new ArgumentException($"RIG_BENCH_CONVERGE_VARIANT={only}: use templates or packages (or leave it unset for both).");

        var imageMiB = (options.Quick ? 512 : 2048) + variants.Sum(v => (int)(v.Workload.Devices.Count * v.Workload.Archives.Sum(a => (long)a.PayloadBytes) * 10 / (1024 * 1024)));
        await using var fs = await LoopFilesystem.CreateAsync(imageMiB).ConfigureAwait(false);
        var work = fs.Path;
        var filesystem = Filesystems.Describe(work) + (fs.Note is null ? ", a journaled ext4 loop image made by the benchmark" : $" ({fs.Note})");
        var fsync = FsyncProbe.Measure(work, options.Quick ? 50 : 200);
        Log($"work directory {work}: {filesystem}; write + fsync + rename of a small file: {fsync * 1000:0.00} ms");

        // The agent as it ships is a Native AOT binary: published here (not timed) for full runs. The smoke test runs
        // the JIT agent inside `rig` instead: the publish alone takes longer than its minute.
        AgentProgram agent;
        if (options.Quick)
            agent = AgentProgram.Jit;
        else
        {
            Log("publishing the agent with Native AOT (not timed)...");
            agent = AgentProgram.Aot(await AgentProgram.PublishAotAsync(Path.Combine(work, "aot"), ct).ConfigureAwait(false));
        }

        var measurements = new List<Measurement>();
        var notes = new List<string>();
        var parameters = new Dictionary<string, string>();
        foreach (var (prefix, workload) in variants)
        {
            var (m, n, p) = await RunVariantAsync(prefix, workload, Path.Combine(work, prefix.Length == 0 ? "templates" : "packages"), runs, agent, ansible, cfAgent, tar, filesystem, options.Quick, ct).ConfigureAwait(false);
            measurements.AddRange(m);
            notes.AddRange(n);
            foreach (var (key, value) in p)
                parameters[prefix + key] = value;
        }
        measurements.Add(Measurement.Single("work file system: write + fsync + rename", "ms", fsync * 1000, "median of small files, before the runs"));
        measurements.Add(Measurement.Single("benchmark wall time", "s", total.Elapsed.TotalSeconds));
        if (fs.Note is not null)
            notes.Add($"No loop file system ({fs.Note}): the figures were measured on the temp directory's file system.");
        parameters["rig agent"] = agent.Kind;
        parameters["ansible"] = ansible.Version;
        parameters["ansible forks"] = AnsibleRunner.Forks.ToString(CultureInfo.InvariantCulture);
        parameters["cf-agent"] = cfAgent.Version;
        parameters["filesystem"] = filesystem;
        parameters["runs"] = runs.ToString(CultureInfo.InvariantCulture);
        return new BenchReport(Name, DateTimeOffset.UtcNow, BenchReport.Revision(), options.Quick, MachineInfo.Current(work), parameters, measurements, notes);
    }

    /// <summary>One workload: every tool, <paramref name="runs"/> times; measurement names start with <paramref name="prefix"/>.</summary>
    private static async Task<(List<Measurement>, List<string>, Dictionary<string, string>)> RunVariantAsync(string prefix, ConvergeWorkload workload, string work, int runs,
        AgentProgram agent, ExternalTool ansible, ExternalTool cfAgent, ExternalTool tar, string filesystem, bool quick, CancellationToken ct)
    {
        Directory.CreateDirectory(work);
        var expected = workload.ExpectedFiles(); // also proves the benchmark's reference rendering is Rig's, byte for byte
        var tarballs = workload.WriteTarballs(Path.Combine(work, "packages", "tar"));
        var context = new Context(workload, expected, work, runs,
            new ScriptRunner(Path.Combine(work, "script"), workload, tarballs),
            new CfEngineRunner(cfAgent, tar, Path.Combine(work, "cfengine"), workload, tarballs),
            new AnsibleRunner(ansible, Path.Combine(work, "ansible"), workload, tarballs),
            workload.WriteRigArchives(Path.Combine(work, "packages", "rig")), agent);
        for (var run = 0; run < runs; run++)
        {
            // One tool at a time; Ansible last so its minutes do not sit between the others.
            var tag = $"{prefix}run {run + 1}/{runs}";
            await RunScriptAsync(context, tag, ct).ConfigureAwait(false);
            await RunCfEngineAsync(context, tag, ct).ConfigureAwait(false);
            await RunRigAsync(context, tag, Path.Combine(work, "rig", $"run{run + 1}"), ct).ConfigureAwait(false);
            await RunAnsibleAsync(context, tag, ct).ConfigureAwait(false);
        }
        var measurements = Measurements(context).Select(m => m with { Name = prefix + m.Name }).ToList();
        var notes = Notes(context, ansible, cfAgent, tar, filesystem, quick).Select(n => prefix + n).ToList();
        if (prefix.Length > 0)
            notes = [notes[0], .. notes.Where(n => n.Contains("Targets (issue)", StringComparison.Ordinal))]; // the rest is as for the first workload
        var parameters = new Dictionary<string, string>
        {
            ["devices"] = workload.Devices.Count.ToString(CultureInfo.InvariantCulture),
            ["template files per device"] = workload.Templates.Count.ToString(CultureInfo.InvariantCulture),
            ["archives per device"] = workload.Archives.Count.ToString(CultureInfo.InvariantCulture),
            ["archive payload KiB"] = (workload.Archives.Average(a => a.PayloadBytes) / 1024).ToString("0", CultureInfo.InvariantCulture),
            ["files per run"] = context.FilesPerRun.ToString(CultureInfo.InvariantCulture),
        };
        return (measurements, notes, parameters);
    }

    /// <summary>Everything the runs share and what they measured.</summary>
    private sealed record Context(ConvergeWorkload Workload, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Expected, string Work, int Runs,
        ScriptRunner Script, CfEngineRunner CfEngine, AnsibleRunner Ansible, IReadOnlyList<string> RigArchives, AgentProgram Agent)
    {
        public Dictionary<string, List<double>> Times { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, int> Rewritten { get; } = new(StringComparer.Ordinal);
        public int RigCommands { get; set; }
        public int FilesPerRun => Workload.Devices.Count * Workload.ExpectedFilesPerDevice;

        public void Add(string key, double value) => (Times.TryGetValue(key, out var list) ? list : Times[key] = []).Add(value);

        public double Median(string key) => Stats.Median(Times[key]);
    }

    private static async Task RunScriptAsync(Context c, string tag, CancellationToken ct)
    {
        c.Script.Reset();
        await SyncAsync(c.Work, ct).ConfigureAwait(false);
        var (first, written) = c.Script.Run();
        if (written != c.FilesPerRun)
            throw new InvalidOperationException($"The script wrote {written} files on empty targets, expected {c.FilesPerRun}.");
        TargetVerifier.Verify("script", "first run", c.Script.RootOf, c.Expected);
        var stamps = TargetVerifier.Stamps(c.Script.RootOf, c.Expected);
        await SyncAsync(c.Work, ct).ConfigureAwait(false);
        var (again, writtenAgain) = c.Script.Run();
        TargetVerifier.Verify("script", "re-run", c.Script.RootOf, c.Expected);
        c.Rewritten["script"] = TargetVerifier.Rewritten(stamps, TargetVerifier.Stamps(c.Script.RootOf, c.Expected)) + writtenAgain;
        c.Add("script first", first);
        c.Add("script re-run", again);
        Log($"{tag} script: first {first:0.000} s, re-run {again:0.000} s");
    }

    private static async Task RunCfEngineAsync(Context c, string tag, CancellationToken ct)
    {
        c.CfEngine.Reset();
        await SyncAsync(c.Work, ct).ConfigureAwait(false);
        var first = await c.CfEngine.RunAsync(first: true, ct).ConfigureAwait(false);
        TargetVerifier.Verify("cf-agent", "first run", c.CfEngine.RootOf, c.Expected);
        var stamps = TargetVerifier.Stamps(c.CfEngine.RootOf, c.Expected);
        await SyncAsync(c.Work, ct).ConfigureAwait(false);
        var again = await c.CfEngine.RunAsync(first: false, ct).ConfigureAwait(false);
        TargetVerifier.Verify("cf-agent", "re-run", c.CfEngine.RootOf, c.Expected);
        c.Rewritten["cfengine"] = TargetVerifier.Rewritten(stamps, TargetVerifier.Stamps(c.CfEngine.RootOf, c.Expected));
        c.Add("cfengine first", first);
        c.Add("cfengine re-run", again);
        Log($"{tag} cf-agent: first {first:0.000} s, re-run {again:0.000} s");
    }

    private static async Task RunAnsibleAsync(Context c, string tag, CancellationToken ct)
    {
        c.Ansible.Reset();
        await SyncAsync(c.Work, ct).ConfigureAwait(false);
        var first = await c.Ansible.RunAsync(expectChanges: true, ct).ConfigureAwait(false);
        TargetVerifier.Verify("ansible-playbook", "first run", c.Ansible.RootOf, c.Expected);
        var stamps = TargetVerifier.Stamps(c.Ansible.RootOf, c.Expected);
        await SyncAsync(c.Work, ct).ConfigureAwait(false);
        var again = await c.Ansible.RunAsync(expectChanges: false, ct).ConfigureAwait(false);
        TargetVerifier.Verify("ansible-playbook", "re-run", c.Ansible.RootOf, c.Expected);
        c.Rewritten["ansible"] = TargetVerifier.Rewritten(stamps, TargetVerifier.Stamps(c.Ansible.RootOf, c.Expected));
        c.Add("ansible first", first);
        c.Add("ansible re-run", again);
        Log($"{tag} ansible-playbook: first {first:0.0} s, re-run {again:0.0} s");
    }

    /// <summary>A fresh fleet per run (gateway, packages, model, enrolled agents), built before timing starts. Its
    /// first converge is "cold" (the processes' first work since they started); Rig then takes every device back to
    /// empty (untimed) and the fleet, now one that has worked before, does the first run, the no-op re-run and the
    /// verified re-run.</summary>
    private static async Task RunRigAsync(Context c, string tag, string directory, CancellationToken ct)
    {
        var devices = c.Workload.Devices.Count;
        var setup = Stopwatch.StartNew();
        await using (var fleet = await RigFleet.StartAsync(directory, c.Workload, c.RigArchives, c.Agent, ct).ConfigureAwait(false))
        {
            setup.Stop();
            c.Add("rig setup", setup.Elapsed.TotalSeconds);

            await SyncAsync(c.Work, ct).ConfigureAwait(false);
            var cold = await fleet.ConvergeAsync(ct).ConfigureAwait(false);
            if (cold.Queued != devices)
                throw new InvalidOperationException($"Rig's first converge (cold) queued {cold.Queued} of {devices} devices.");
            TargetVerifier.Verify("rig", "first run (cold processes)", fleet.RootOf, c.Expected);

            await fleet.ResetToEmptyAsync(c.Workload.RigModel(), ct).ConfigureAwait(false);
            await SyncAsync(c.Work, ct).ConfigureAwait(false);
            var first = await fleet.ConvergeAsync(ct).ConfigureAwait(false);
            if (first.Queued != devices)
                throw new InvalidOperationException($"Rig's first converge queued {first.Queued} of {devices} devices.");
            TargetVerifier.Verify("rig", "first run", fleet.RootOf, c.Expected);
            var stamps = TargetVerifier.Stamps(fleet.RootOf, c.Expected);

            await SyncAsync(c.Work, ct).ConfigureAwait(false);
            var again = await fleet.ConvergeAsync(ct).ConfigureAwait(false);
            if (again.Queued != 0)
                throw new InvalidOperationException($"Rig's re-run queued {again.Queued} devices ({again.Commands} commands); nothing changed, so it must send nothing.");
            TargetVerifier.Verify("rig", "re-run", fleet.RootOf, c.Expected);

            await SyncAsync(c.Work, ct).ConfigureAwait(false);
            var verified = await fleet.VerifiedConvergeAsync(ct).ConfigureAwait(false);
            if (verified.Queued != 0)
                throw new InvalidOperationException($"Rig's verified re-run queued {verified.Queued} devices after a fresh inventory; the devices have drifted.");
            TargetVerifier.Verify("rig", "verified re-run", fleet.RootOf, c.Expected);
            c.Rewritten["rig"] = TargetVerifier.Rewritten(stamps, TargetVerifier.Stamps(fleet.RootOf, c.Expected));

            c.Add("rig cold", cold.Seconds);
            c.Add("rig first", first.Seconds);
            c.Add("rig re-run", again.Seconds);
            c.Add("rig verified", verified.Seconds);
            c.Add("rig cold gateway cpu", cold.GatewayCpuSeconds);
            c.Add("rig cold agents cpu", cold.AgentCpuSeconds);
            c.Add("rig gateway cpu", first.GatewayCpuSeconds);
            c.Add("rig agents cpu", first.AgentCpuSeconds);
            c.Add("rig verified gateway cpu", verified.GatewayCpuSeconds);
            c.Add("rig verified agents cpu", verified.AgentCpuSeconds);
            c.Add("rig install ms", first.Timings.Install);
            c.Add("rig write-file ms", first.Timings.WriteFile);
            c.Add("rig exchange ms", first.Timings.Exchange);
            c.Add("rig start ms", first.Timings.Start);
            c.RigCommands = first.Commands;
            Log($"{tag} rig: first {first.Seconds:0.000} s ({first.Commands} commands; CPU: gateway {first.GatewayCpuSeconds:0.00} s, agents {first.AgentCpuSeconds:0.00} s), " +
                $"re-run {again.Seconds:0.000} s, verified re-run {verified.Seconds:0.000} s; cold first {cold.Seconds:0.000} s (CPU: gateway {cold.GatewayCpuSeconds:0.00} s, agents {cold.AgentCpuSeconds:0.00} s); fleet set up in {setup.Elapsed.TotalSeconds:0.0} s (not timed)");
        }
        Directory.Delete(directory, recursive: true);
    }

    private static List<Measurement> Measurements(Context c)
    {
        var t = c.Times;
        var devices = c.Workload.Devices.Count;
        var list = new List<Measurement>
        {
            Measurement.Of("rig first run", "s", t["rig first"], $"POST /api/v1/converge until all {devices} queues finished ({c.RigCommands} commands)"),
            Measurement.Of("rig re-run (no-op)", "s", t["rig re-run"], "the same call: plans against recorded state, sends nothing"),
            Measurement.Of("rig verified re-run", "s", t["rig verified"], "inventory script on every agent (re-hash files on disk), then converge"),
            Measurement.Of("ansible first run", "s", t["ansible first"], $"ansible-playbook, forks={AnsibleRunner.Forks}"),
            Measurement.Of("ansible re-run (no-op)", "s", t["ansible re-run"]),
            Measurement.Of("cfengine first run", "s", t["cfengine first"], "cf-agent -K -f policy.cf"),
            Measurement.Of("cfengine re-run (no-op)", "s", t["cfengine re-run"]),
            Measurement.Of("script first run (floor)", "s", t["script first"]),
            Measurement.Of("script re-run (floor)", "s", t["script re-run"]),
            Ratio("ansible / rig, first run", t["ansible first"], t["rig first"]),
            Ratio("ansible / rig, re-run", t["ansible re-run"], t["rig re-run"]),
            Ratio("ansible / rig, verified re-run", t["ansible re-run"], t["rig verified"]),
            Ratio("cfengine / rig, first run", t["cfengine first"], t["rig first"]),
            Ratio("cfengine / rig, re-run", t["cfengine re-run"], t["rig re-run"]),
            Ratio("cfengine / rig, verified re-run", t["cfengine re-run"], t["rig verified"]),
            Ratio("rig / script, first run", t["rig first"], t["script first"]),
            Measurement.Of("rig first run, cold processes", "s", t["rig cold"], "the fleet's first work since its processes started"),
            Ratio("ansible / rig, first run, cold processes", t["ansible first"], t["rig cold"]),
            Ratio("cfengine / rig, first run, cold processes", t["cfengine first"], t["rig cold"]),
            Measurement.Of("rig gateway CPU, first run", "s", t["rig gateway cpu"]),
            Measurement.Of("rig agents CPU, first run", "s", t["rig agents cpu"], $"all {devices} agent processes together"),
            Measurement.Of("rig gateway CPU, verified re-run", "s", t["rig verified gateway cpu"]),
            Measurement.Of("rig agents CPU, verified re-run", "s", t["rig verified agents cpu"]),
            Measurement.Of("rig first run: install, per command", "ms", t["rig install ms"], "agent journal: begin to end (fetch, verify, extract, record), mean"),
            Measurement.Of("rig first run: write-file, per command", "ms", t["rig write-file ms"], "agent journal: begin to end (write, fsync, rename, record), mean"),
            Measurement.Of("rig first run: exchange, per command", "ms", t["rig exchange ms"], "agent journal: end to next begin (report, gateway commit, next command), mean"),
            Measurement.Of("rig first run: call to first command", "ms", t["rig start ms"], "converge call to the first begin (plan, queue, poke, session), mean over devices"),
            Measurement.Of("rig gateway CPU, first run, cold", "s", t["rig cold gateway cpu"]),
            Measurement.Of("rig agents CPU, first run, cold", "s", t["rig cold agents cpu"]),
            Measurement.Of("rig fleet set-up (not timed)", "s", t["rig setup"], "gateway start, packages, model, enrollment of every agent"),
        };
        list.AddRange(c.Rewritten.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => Measurement.Single($"{kv.Key}: files rewritten by the re-run", "files", kv.Value, "last run; 0 = a true no-op")));
        return list;
    }

    private static List<string> Notes(Context c, ExternalTool ansible, ExternalTool cfAgent, ExternalTool tar, string filesystem, bool quick)
    {
        var w = c.Workload;
        var sample = w.Templates.Average(t => t.Render(w.Devices[0], w.EffectiveParameters(w.Devices[0])).Length);
        var notes = new List<string>
        {
            $"Workload: {w.Devices.Count} devices in {w.Sites.Count} sites, each with {w.Templates.Count} configuration files from templates (~{sample:0} bytes; parameters at global, site and device layers, and device facts) and {w.Archives.Count} archive(s) of {w.Archives.Average(a => a.PayloadBytes) / 1024:0} KiB ({w.Archives.Sum(a => a.Files.Count)} payload files, mostly random bytes): {c.FilesPerRun} files per run, each checked by SHA-256 against Rig's own rendering after every run of every tool.",
            $"Rig: a real gateway process (`rig server run`, SQLite in its data directory) and {w.Devices.Count} real agent processes ({c.Agent.Kind}, `run --verbose`, sandbox platform, device root = target directory), enrolled and checked in before timing. First run = POST /api/v1/converge for all devices until every queue has finished ({w.Archives.Count} install + {w.Templates.Count} write-file + 1 inventory per device): agents fetch each package from the gateway over mTLS and check its digest before extracting; they fsync every configuration file, then the package database and the journal once per answer (before reporting); the gateway commits every result (SQLite, synchronous=FULL, group commit) before answering. The end of each queue is read from the agents' logs (\"idle\" after the last command: the gateway finished the queue in the transaction that answered it), so nothing polls the gateway while it works; every queue is then confirmed succeeded through the API.",
            "Rig's first run is measured on a fleet that has worked before (its processes are long-running services): each run's fleet first converges once on empty targets (reported as \"cold processes\": the gateway, a JIT-compiled ASP.NET Core process with the runtime's default settings, compiles its exchange path as it goes), then Rig removes everything (a model revision without role assignments, converged; leftover empty directories and the agents' package caches deleted, so packages are downloaded again), and the timed first run starts on empty targets. The gateway keeps the runtime's default (tiered) compilation throughout.",
            $"Rig re-run = the same converge call: it plans against the recorded state and queues nothing. Verified re-run = the stored script '{RigFleet.InventoryScript}' (one inventory command) run on every device, each agent re-hashing its managed files on disk, then the converge against that fresh state (package payload files are trusted from the agent's package database, not re-hashed).",
            $"Ansible: {ansible.Version}; one ansible-playbook process per run with ansible_connection=local for {w.Devices.Count} hosts, forks={AnsibleRunner.Forks}, gather_facts off, pipelining on; parameter layers as group_vars/all, group_vars/<site>, host_vars/<host>; tasks: file (directories), template (the Jinja2 form of each template, in a loop), unarchive (remote_src, creates=<archive's last file>) of the same payload as a plain .tar.gz. The recap must show no change on the re-run.",
            $"CFEngine: {cfAgent.Version}; one `cf-agent -K -f policy.cf` (local, no server, no network) over all targets. CFEngine renders the files itself: a files promise per file with edit_template + template_method \"mustache\" over the Mustache form of the template, its data mergedata(global, site, device) of readjson containers; archives: a commands promise running `{tar.Path} -xzf` when the archive's last file is missing. cf-agent keeps its own state in its work directory (/var/lib/cfengine3), outside the benchmark's file system.",
            "Script (floor): C# in the benchmark process, one thread: render by substitution, write the files that differ (no fsync, no temp file, nothing recorded), extract each .tar.gz when its last file is missing; its re-run reads and compares every file.",
            $"All targets, Rig's gateway data and the agents' state are on {filesystem}; `sync -f` before every timed phase. Tools run one at a time (script, CFEngine, Rig, Ansible) in each of {c.Runs} run(s); medians over runs; ratios per run (the same run's figures), median over runs.",
            "Against Rig: its agents fsync every configuration file, and the package database and journal before every report, and the gateway commits every result durably before answering (a crash loses nothing), while Ansible's template module, cf-agent and the script write without fsync; Rig also downloads every package over HTTPS (mTLS) and checks its digest, where the others read the tarball from the same disk. For Rig: its no-op re-run trusts the state it recorded and reads nothing on the devices (the verified re-run is the figure that does), while Ansible and CFEngine re-read every file; Ansible, CFEngine and the script all treat an archive as installed when its last file exists.",
        };
        if (!quick)
        {
            var first = c.Median("ansible first") / c.Median("rig first");
            var again = c.Median("ansible re-run") / c.Median("rig re-run");
            var cfFirst = c.Median("cfengine first") / c.Median("rig first");
            var cfAgain = c.Median("cfengine re-run") / c.Median("rig re-run");
            var cfVerified = c.Median("cfengine re-run") / c.Median("rig verified");
            notes.Add($"Targets (issue): Rig at least 100x faster than Ansible on both runs: first run {first:0}x, re-run {again:0}x ({(first >= 100 && again >= 100 ? "met" : "NOT met")}); " +
                $"faster than CFEngine on both runs: first run {cfFirst:0.00}x, re-run {cfAgain:0.0}x ({(cfFirst > 1 && cfAgain > 1 ? "met" : "NOT met")}); with the verified re-run instead: {cfVerified:0.00}x; cold first run: {c.Median("cfengine first") / c.Median("rig cold"):0.00}x.");
        }
        return notes;
    }

    private static Measurement Ratio(string name, IReadOnlyList<double> numerator, IReadOnlyList<double> denominator) =>
        Measurement.Of(name, "x", numerator.Zip(denominator, (a, b) => b > 0 ? a / b : 0), "per run, the same run's figures");

    /// <summary>Write the file system's dirty data to disk (sync -f) so one phase's writeback is not the next one's.</summary>
    private static async Task SyncAsync(string path, CancellationToken ct) =>
        await ExternalTool.RunAsync("sync", ["-f", path], null, null, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);

    private static void Log(string message) => AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(message)}[/]");
}
