using System.Diagnostics;
using System.Globalization;
using Rig.Bench.Common;
using Rig.Bench.Nemesis;
using Rig.Server.Store;
using Spectre.Console;

namespace Rig.Bench.Benchmarks;

/// <summary>The nemesis: provisions a site of real sandbox agents through a real gateway while injecting faults from
/// a seeded schedule (gateway kill -9 and restart, SIGSTOP/SIGCONT of the gateway and of agents, agent kill -9 and
/// restart, a TCP proxy between agents and gateway that pauses, cuts, resets and slows connections, a device disk
/// filled to the last byte, PostgreSQL crashed and restarted), then frees everything and waits, without any operator
/// action, for the rollout to finish. It then checks every agent's journal against the database (nothing ran twice,
/// no result lost), that every queue completed, and every device root against the model file by file. Fails on any
/// of those, never on timings.</summary>
internal sealed class NemesisBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "nemesis";

    private sealed record Run(string Engine, int Seed, int Devices, int PackageBytes, IReadOnlyList<InjectedFault> Faults, NemesisFindings Findings,
        string RolloutStatus, double ProvisionSeconds, double InjectSeconds, double SettleSeconds, double TotalSeconds, int Reboots, long ProxyConnections,
        IReadOnlyList<string> GatewayStartFailures, int AgentCrashes, IReadOnlyList<string> CrashReasons, string? KeptAt);

    /// <inheritdoc />
    public async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var seed = options.Seed ?? Random.Shared.Next(1, 1_000_000);
        var devices = options.Devices ?? (options.Quick ? 3 : 24);
        var perKind = options.Faults ?? (options.Quick ? 2 : 4);
        var packageBytes = options.Quick ? 192 * 1024 : 1024 * 1024;
        // Quick (CI): one engine per run to stay well under two minutes, taken from the seed (odd: SQLite, even:
        // PostgreSQL with its crash-restarts), so CI runs cover both; the replay line names it.
        IReadOnlyList<string> engines = options.EngineGiven ? options.Engines : options.Quick ? [seed % 2 == 1 ? "sqlite" : "postgres"] : ["sqlite", "postgres"];
        AnsiConsole.MarkupLine($"  [bold]seed {seed}[/] (replay: [grey]dotnet run -c Release --project bench/Rig.Bench -- nemesis{(options.Quick ? " --quick" : "")} --seed {seed} --devices {devices} --faults {perKind}{(options.FaultMix.Count > 0 ? " --mix " + FaultPlan.Describe(options.FaultMix) : "")} --engine {(engines.Count > 1 ? "both" : engines[0])}[/])");

        var runs = new List<Run>();
        foreach (var engine in engines)
            runs.Add(await RunEngineAsync(engine, seed, devices, perKind, options.FaultMix, packageBytes, options.Quick, ct).ConfigureAwait(false));

        PrintTable(runs);
        var report = Report(options, runs);
        var failed = runs.Where(r => !r.Findings.Clean).ToList();
        if (failed.Count > 0)
        {
            // Program prints and saves a report only when a benchmark returns: a failed storm is saved here.
            report.Print();
            AnsiConsole.MarkupLine($"  [grey]results: {Markup.Escape(report.Save(options.OutputDirectory))}[/]");
            throw new InvalidOperationException($"seed {seed}: " + string.Join("; ", failed.Select(r =>
                $"{r.Engine}: {r.Findings.Duplicates.Count} executed twice, {r.Findings.Lost.Count} lost, {r.Findings.Incomplete.Count} incomplete, {r.Findings.DevicesWithWrongRoots} roots wrong" +
                (r.KeptAt is null ? "" : $" (journals and logs kept in {r.KeptAt})"))));
        }
        return report;
    }

    private static async Task<Run> RunEngineAsync(string engine, int seed, int deviceCount, int perKind, IReadOnlyDictionary<FaultKind, int> mix, int packageBytes, bool quick, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var workload = NemesisWorkload.Create(deviceCount, packageBytes);
        var kinds = Enum.GetValues<FaultKind>().Where(k => k != FaultKind.DatabaseRestart || engine == "postgres").ToList();
        var (diskDevice, plan) = FaultPlan.Create(seed, workload.Devices, kinds, perKind, quick, mix);
        Log($"{engine}: {deviceCount} devices x ({NemesisWorkload.PackageCount} packages of {packageBytes >> 10} KiB, {NemesisWorkload.FileCount} files, a service, a reboot); {plan.Count} faults");

        var directory = Path.Combine(Path.GetTempPath(), "rig-nemesis-" + Guid.NewGuid().ToString("n")[..10]);
        var keep = false;
        var site = await NemesisSite.StartAsync(directory, workload, engine == "postgres", diskDevice, Log, ct).ConfigureAwait(false);
        try
        {
            var provision = total.Elapsed.TotalSeconds;
            // Quick: one wave, so the few faults hit every device; full: a canary, then waves of half the fleet.
            var rollout = await site.StartRolloutAsync(quick ? 0 : 1, quick ? "100%" : "50%", ct).ConfigureAwait(false);
            Log($"rollout {rollout.Id}: {rollout.Devices.Count} devices in {rollout.Waves} waves; the nemesis starts");

            var injectWatch = Stopwatch.StartNew();
            var injector = new FaultInjector(site, Log);
            var injected = await injector.RunAsync(plan, ct).ConfigureAwait(false);
            var injectSeconds = injectWatch.Elapsed.TotalSeconds;
            Heal(site);
            Log($"faults over after {injectSeconds:0.0} s ({injected.Count(f => f.Injected)} injected); waiting for the rollout, no operator action");

            var settleWatch = Stopwatch.StartNew();
            var final = await SettleAsync(site, rollout.Id, TimeSpan.FromSeconds(quick ? 60 : 300), ct).ConfigureAwait(false);
            var settleSeconds = settleWatch.Elapsed.TotalSeconds;
            Log($"rollout {final.Status} {settleSeconds:0.0} s after the last fault; checking journals, database and roots");

            var findings = await NemesisChecks.RunAsync(site, final, site.Disk?.Device, ct).ConfigureAwait(false);
            if (findings.DiskFullStops.Count > 0 && site.Disk is { } disk)
            {
                // By design (CHECKLIST 21) a full disk stops the queue with the real cause; the error tells the operator
                // to free space and converge again. The nemesis does exactly that, then checks the device once more.
                Log($"{disk.Device}: the full disk stopped its queue as designed; converging it again (the operator's remedy)");
                var queue = await site.ConvergeAgainAsync(disk.Device, TimeSpan.FromSeconds(quick ? 45 : 120), ct).ConfigureAwait(false);
                var again = new NemesisFindings();
                await NemesisChecks.RecheckAsync(site, disk.Device, again, ct).ConfigureAwait(false);
                findings.Merge(again);
                Log($"{disk.Device}: the converge after the full disk {(queue is null ? "did not finish" : queue.Status)}");
            }
            foreach (var line in findings.Duplicates.Select(l => "EXECUTED TWICE " + l).Concat(findings.Lost.Select(l => "LOST " + l))
                .Concat(findings.Incomplete.Select(l => "INCOMPLETE " + l)).Concat(findings.RootsWrong.Select(l => "ROOT " + l)))
            {
                AnsiConsole.MarkupLine($"  [red]{Markup.Escape(line)}[/]");
            }
            foreach (var line in findings.DiskFullStops)
                AnsiConsole.MarkupLine($"  [yellow]{Markup.Escape("STOPPED BY THE FULL DISK (by design) " + line)}[/]");
            foreach (var line in site.CrashReasons())
                AnsiConsole.MarkupLine($"  [yellow]{Markup.Escape("AGENT CRASH " + line)}[/]");
            foreach (var line in injector.GatewayStartFailures)
                AnsiConsole.MarkupLine($"  [yellow]{Markup.Escape("GATEWAY START FAILED " + line)}[/]");
            keep = !findings.Clean;
            if (keep)
                PreserveSmallDisk(site);
            return new Run(engine, seed, deviceCount, packageBytes, injected, findings, final.Status, provision, injectSeconds, settleSeconds,
                total.Elapsed.TotalSeconds, site.Reboots, site.Proxy.Accepted, injector.GatewayStartFailures,
                site.Crashes.Values.Sum(c => c.Crashes), site.CrashReasons(), keep ? directory : null);
        }
        finally
        {
            await site.DisposeAsync().ConfigureAwait(false);
            if (!keep)
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Log($"could not delete {directory}: {e.Message}");
                }
            }
        }
    }

    /// <summary>Everything the nemesis may have left stopped is continued (each fault undoes itself; this is the belt
    /// to those braces). Agents whose supervisor gave up are left as they are: nothing an operator would not do.</summary>
    private static void Heal(NemesisSite site)
    {
        Signals.Send(site.Gateway.Pid, Signals.Continue);
        site.Proxy.Resume();
        site.Disk?.Disk.Free();
        foreach (var device in site.Workload.Devices)
        {
            site.Agent(device).Signal(Signals.Continue);
        }
    }

    /// <summary>Wait until the rollout has finished, or is paused with no queue of it still running, or every device
    /// at work has an agent in a crash loop, or <paramref name="timeout"/> passed.</summary>
    private static async Task<RolloutInfo> SettleAsync(NemesisSite site, string id, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        RolloutInfo? last = null;
        var lastReport = 0.0;
        while (true)
        {
            var rollout = await site.TryRolloutAsync(id, TimeSpan.FromSeconds(10), ct).ConfigureAwait(false);
            if (rollout is not null)
            {
                last = rollout;
                if (!RolloutStates.IsActive(rollout.Status))
                    return rollout;
                var active = rollout.Devices.Where(d => RolloutDeviceStatuses.IsActive(d.Status)).ToList();
                if (rollout.Status == RolloutStates.Paused && active.All(d => d.Status != RolloutDeviceStatuses.Queued))
                    return rollout;
                // Devices at work whose agent keeps crashing hold their wave, and the waves after it, for ever.
                var looping = site.CrashLooping;
                var working = active.Where(d => d.Status is RolloutDeviceStatuses.Queued or RolloutDeviceStatuses.Blocked).ToList();
                if (working.Count > 0 && working.All(d => looping.Contains(d.Device)))
                {
                    Log($"every device at work has an agent in a crash loop ({string.Join(", ", working.Select(d => d.Device))}); the rollout cannot finish");
                    return rollout;
                }
                if (deadline.Elapsed.TotalSeconds - lastReport >= 10)
                {
                    lastReport = deadline.Elapsed.TotalSeconds;
                    Log($"  rollout {rollout.Status}: {string.Join(", ", rollout.Devices.GroupBy(d => d.Status).Select(g => $"{g.Count()} {g.Key}"))}");
                }
            }
            if (deadline.Elapsed > timeout)
            {
                Log($"the rollout did not finish within {timeout.TotalSeconds:0} s of the last fault");
                return last ?? await site.Api.GetAsync<RolloutInfo>($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
            }
            await Task.Delay(250, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The small disk is unmounted on dispose: a failed run keeps a copy of its agent's journal and log.</summary>
    private static void PreserveSmallDisk(NemesisSite site)
    {
        if (site.Disk is not { } disk)
            return;
        var from = site.State(disk.Device);
        var to = Path.Combine(site.Directory, "agents", disk.Device);
        Directory.CreateDirectory(to);
        foreach (var name in new[] { "journal.jsonl", "agent.log", "agent.json" })
        {
            if (File.Exists(Path.Combine(from, name)))
                File.Copy(Path.Combine(from, name), Path.Combine(to, name), overwrite: true);
        }
    }

    private static void PrintTable(IReadOnlyList<Run> runs)
    {
        var table = new Table().Title("[bold]nemesis[/]").AddColumn("");
        foreach (var run in runs)
            table.AddColumn(new TableColumn($"{run.Engine}, seed {run.Seed}").RightAligned());
        void Row(string name, Func<Run, string> value) => table.AddRow([Markup.Escape(name), .. runs.Select(r => Markup.Escape(value(r)))]);
        foreach (var kind in Enum.GetValues<FaultKind>())
        {
            if (runs.Any(r => r.Faults.Any(f => f.Plan.Kind == kind)))
                Row($"faults: {Kebab(kind)}", r => Count(r, kind));
        }
        Row("faults injected", r => $"{r.Faults.Count(f => f.Injected)} of {r.Faults.Count}");
        Row("devices", r => r.Devices.ToString(CultureInfo.InvariantCulture));
        Row("commands (begun by agents)", r => $"{r.Findings.Commands} ({r.Findings.Begins})");
        Row("re-runs of interrupted commands", r => r.Findings.Reruns.ToString(CultureInfo.InvariantCulture));
        Row("answered from the journal", r => r.Findings.FromJournal.ToString(CultureInfo.InvariantCulture));
        Row("reboots", r => r.Reboots.ToString(CultureInfo.InvariantCulture));
        Row("gateway starts that failed (retried)", r => r.GatewayStartFailures.Count.ToString(CultureInfo.InvariantCulture));
        Row("agent crashes (restarted by the supervisor)", r => r.AgentCrashes.ToString(CultureInfo.InvariantCulture));
        Row("executed twice", r => r.Findings.Duplicates.Count.ToString(CultureInfo.InvariantCulture));
        Row("results lost", r => r.Findings.Lost.Count.ToString(CultureInfo.InvariantCulture));
        Row("queues incomplete", r => r.Findings.Incomplete.Count.ToString(CultureInfo.InvariantCulture));
        Row("queues stopped by the full disk (by design)", r => r.Findings.DiskFullStops.Count.ToString(CultureInfo.InvariantCulture));
        Row("roots wrong (files checked)", r => $"{r.Findings.DevicesWithWrongRoots} ({r.Findings.FilesChecked})");
        Row("rollout", r => r.RolloutStatus);
        Row("seconds: set-up / faults / settle / total", r => string.Create(CultureInfo.InvariantCulture, $"{r.ProvisionSeconds:0.0} / {r.InjectSeconds:0.0} / {r.SettleSeconds:0.0} / {r.TotalSeconds:0.0}"));
        Row("verdict", r => r.Findings.Clean ? "PASS" : "FAIL");
        AnsiConsole.Write(table);
    }

    private static string Count(Run run, FaultKind kind)
    {
        var planned = run.Faults.Count(f => f.Plan.Kind == kind);
        var injected = run.Faults.Count(f => f.Plan.Kind == kind && f.Injected);
        return injected == planned ? injected.ToString(CultureInfo.InvariantCulture) : $"{injected} of {planned}";
    }

    private static string Kebab(FaultKind kind) => string.Concat(kind.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    private static BenchReport Report(BenchOptions options, IReadOnlyList<Run> runs)
    {
        var measurements = new List<Measurement>();
        var notes = new List<string>();
        foreach (var run in runs)
        {
            var e = run.Engine;
            foreach (var kind in Enum.GetValues<FaultKind>().Where(k => run.Faults.Any(f => f.Plan.Kind == k)))
                measurements.Add(Measurement.Single($"{e}: faults {Kebab(kind)}", "faults", run.Faults.Count(f => f.Plan.Kind == kind && f.Injected)));
            measurements.Add(Measurement.Single($"{e}: faults injected", "faults", run.Faults.Count(f => f.Injected), $"of {run.Faults.Count} planned"));
            measurements.Add(Measurement.Single($"{e}: commands", "commands", run.Findings.Commands));
            measurements.Add(Measurement.Single($"{e}: commands begun by agents", "commands", run.Findings.Begins));
            measurements.Add(Measurement.Single($"{e}: re-runs of interrupted commands", "commands", run.Findings.Reruns));
            measurements.Add(Measurement.Single($"{e}: answered from the journal", "commands", run.Findings.FromJournal));
            measurements.Add(Measurement.Single($"{e}: reboots", "reboots", run.Reboots));
            measurements.Add(Measurement.Single($"{e}: gateway starts that failed (retried)", "starts", run.GatewayStartFailures.Count));
            measurements.Add(Measurement.Single($"{e}: agent crashes (restarted)", "crashes", run.AgentCrashes));
            measurements.Add(Measurement.Single($"{e}: executed twice", "commands", run.Findings.Duplicates.Count));
            measurements.Add(Measurement.Single($"{e}: results lost", "commands", run.Findings.Lost.Count));
            measurements.Add(Measurement.Single($"{e}: queues incomplete", "devices", run.Findings.Incomplete.Count));
            measurements.Add(Measurement.Single($"{e}: queues stopped by the full disk (by design)", "devices", run.Findings.DiskFullStops.Count, "then converged again and checked"));
            measurements.Add(Measurement.Single($"{e}: roots wrong", "devices", run.Findings.DevicesWithWrongRoots, $"{run.Findings.FilesChecked} files checked"));
            measurements.Add(Measurement.Single($"{e}: set-up", "s", run.ProvisionSeconds));
            measurements.Add(Measurement.Single($"{e}: faults", "s", run.InjectSeconds));
            measurements.Add(Measurement.Single($"{e}: settle after the last fault", "s", run.SettleSeconds));
            measurements.Add(Measurement.Single($"{e}: total", "s", run.TotalSeconds));
            notes.Add($"{e}: seed {run.Seed}, rollout {run.RolloutStatus}, {run.ProxyConnections} connections through the fault proxy: {(run.Findings.Clean ? "PASS" : "FAIL")}");
            notes.AddRange(run.Faults.Select(f => string.Create(CultureInfo.InvariantCulture,
                $"{e} fault {f.Plan.Index} at {f.StartedAt:0.0} s: {f.Plan.Describe()}{(f.Injected ? "" : " -- not injected")}{(f.Detail.Length > 0 ? $" ({f.Detail})" : "")}")));
            notes.AddRange(run.GatewayStartFailures.Select(l => $"{e} gateway start failed (started again): {l}"));
            notes.AddRange(run.CrashReasons.Select(l => $"{e} agent crash {l}"));
            notes.AddRange(run.Findings.Duplicates.Select(l => $"{e} EXECUTED TWICE {l}"));
            notes.AddRange(run.Findings.Lost.Select(l => $"{e} LOST {l}"));
            notes.AddRange(run.Findings.Incomplete.Select(l => $"{e} INCOMPLETE {l}"));
            notes.AddRange(run.Findings.DiskFullStops.Select(l => $"{e} stopped by the full disk (CHECKLIST 21), converged again: {l}"));
            notes.AddRange(run.Findings.RootsWrong.Select(l => $"{e} ROOT {l}"));
            if (run.KeptAt is not null)
                notes.Add($"{e}: journals, agent logs and device roots kept in {run.KeptAt}");
        }
        var first = runs[0];
        var parameters = new Dictionary<string, string>
        {
            ["seed"] = first.Seed.ToString(CultureInfo.InvariantCulture),
            ["engines"] = string.Join(",", runs.Select(r => r.Engine)),
            ["devices"] = first.Devices.ToString(CultureInfo.InvariantCulture),
            ["packages per device"] = NemesisWorkload.PackageCount.ToString(CultureInfo.InvariantCulture),
            ["package KiB"] = (first.PackageBytes / 1024).ToString(CultureInfo.InvariantCulture),
            ["files per device"] = NemesisWorkload.FileCount.ToString(CultureInfo.InvariantCulture),
            ["faults planned"] = string.Join(", ", runs.Select(r => r.Faults.Count.ToString(CultureInfo.InvariantCulture))),
            ["mix"] = options.FaultMix.Count > 0 ? FaultPlan.Describe(options.FaultMix) : "uniform",
            ["agent"] = "JIT (dotnet rig.dll agent), sandbox platform, under AgentSupervisor",
        };
        return new BenchReport("nemesis", DateTimeOffset.UtcNow, BenchReport.Revision(), options.Quick, MachineInfo.Current(Path.GetTempPath()), parameters, measurements, notes);
    }

    private static void Log(string message) => AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture))}[/] {Markup.Escape(message)}");
}
