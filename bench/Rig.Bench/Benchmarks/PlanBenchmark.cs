using System.Diagnostics;
using System.Globalization;
using Rig.Bench.Common;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Server.Gateway;
using Rig.Server.Operations;
using Rig.Server.Store;

namespace Rig.Bench.Benchmarks;

/// <summary>Time and memory to plan a whole fleet, and to plan and queue it, through the path converge and rollout
/// waves run (<see cref="QueueWriter"/>): N devices with 3 roles each (os, app, content), each role a bundle of a
/// package, a templated configuration file reading parameters and interconnections, and a service.</summary>
internal sealed class PlanBenchmark : IBenchmark
{
    /// <summary>Largest fleet also written to a store: beyond it a run takes minutes and measures SQLite's inserts.</summary>
    private const int MaxQueuedFleet = 10_000;

    /// <inheritdoc />
    public string Name => "plan";

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Plan every device of <paramref name="model"/> as converge and rollouts do: a snapshot (index, templates
    /// parsed once), then <see cref="QueueWriter.Plan"/> against the devices' recorded state.</summary>
    private static IReadOnlyList<DevicePlan> PlanFleet(RigModel model, IReadOnlyDictionary<string, DeviceRuntime> runtimes)
    {
        var snapshot = new ModelSnapshot(1, model);
        return QueueWriter.Plan(snapshot, [.. model.Devices.Select(d => d.Name)], runtimes);
    }

    /// <inheritdoc />
    public async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        int[] sizes = options.Quick ? [100, 1_000] : [1_000, 10_000, 100_000];
        var measurements = new List<Measurement>();
        foreach (var size in sizes)
        {
            var model = FleetModel.Build(size);
            var runs = options.Runs ?? (options.Quick ? 1 : size >= 100_000 ? 3 : 5);
            var seconds = new List<double>();
            var allocated = new List<double>();
            var commands = 0L;
            for (var run = 0; run < runs; run++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var before = GC.GetTotalAllocatedBytes(precise: true);
                var watch = Stopwatch.StartNew();
                commands = PlanFleet(model, new Dictionary<string, DeviceRuntime>()).Sum(p => (long)p.Commands.Count);
                watch.Stop();
                seconds.Add(watch.Elapsed.TotalSeconds);
                allocated.Add((GC.GetTotalAllocatedBytes(precise: true) - before) / 1024.0 / 1024.0);
            }
            if (commands != size * 11L)
                throw new InvalidOperationException($"Planning {size} devices gave {commands} commands, expected {size * 11}.");
            measurements.Add(Measurement.Of($"plan {size:N0} devices", "s", seconds, $"{commands:N0} commands"));
            measurements.Add(Measurement.Of($"allocated, {size:N0} devices", "MiB", allocated));

            // The same fleet as Debian packages with dependencies, against devices that report a base system: every
            // plan resolves (adds 5 dependencies, checks conflicts), measured beside the plans above.
            var (debModel, recorded) = FleetModel.BuildWithDependencies(size);
            var debRuntimes = debModel.Devices.ToDictionary(d => d.Name, d => new DeviceRuntime(d.Name, null, null, null, null, recorded, null) { Native = recorded.Native }, StringComparer.Ordinal);
            var resolved = new List<double>();
            for (var run = 0; run < runs; run++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var watch = Stopwatch.StartNew();
                commands = PlanFleet(debModel, debRuntimes).Sum(p => p.IsValid ? (long)p.Commands.Count : throw new InvalidOperationException(string.Join("; ", p.Errors)));
                watch.Stop();
                resolved.Add(watch.Elapsed.TotalSeconds);
            }
            if (commands != size * 16L)
                throw new InvalidOperationException($"Planning {size} devices with dependencies gave {commands} commands, expected {size * 16}.");
            measurements.Add(Measurement.Of($"plan {size:N0} devices, resolving dependencies", "s", resolved, $"{commands:N0} commands; median x{Median(resolved) / Median(seconds):0.00} of the plan without"));

            // Plan and queue: what `rig converge` and a rollout wave do, into a fresh SQLite store per run.
            if (size <= MaxQueuedFleet)
                measurements.Add(await PlanAndQueueAsync(model, size, runs, ct).ConfigureAwait(false));
        }
        measurements.Add(Measurement.Single("peak working set", "MiB", Environment.WorkingSet / 1024.0 / 1024.0));
        return new BenchReport(Name, DateTimeOffset.UtcNow, BenchReport.Revision(), options.Quick, MachineInfo.Current(Path.GetTempPath()),
            new Dictionary<string, string> { ["roles per device"] = "3", ["sizes"] = string.Join(", ", sizes.Select(s => s.ToString("N0", CultureInfo.InvariantCulture))) },
            measurements, ["Full plans from an empty recorded state: every device gets 11 commands (3 installs, 3 files, 4 service actions, inventory).",
                $"Plan and queue: QueueWriter (converge and rollout waves) into a fresh SQLite store, {RigLimits.Default.QueueWriteBatch} devices per transaction; fleets up to {MaxQueuedFleet:N0} devices."]);
    }

    private static async Task<Measurement> PlanAndQueueAsync(RigModel model, int size, int runs, CancellationToken ct)
    {
        var seconds = new List<double>();
        var commits = 0L;
        for (var run = 0; run < runs; run++)
        {
            var dir = Path.Combine(Path.GetTempPath(), $"rig-bench-plan-{Guid.NewGuid():n}");
            try
            {
                await using var store = await RigStore.OpenAsync($"Data Source={Path.Combine(dir, "rig.db")}", ct: ct).ConfigureAwait(false);
                var writer = new QueueWriter(store, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, RigLimits.Default.QueueWriteBatch);
                var before = store.Stats.Commits;
                var watch = Stopwatch.StartNew();
                var snapshot = new ModelSnapshot(1, model);
                var results = await writer.WriteAsync(QueueOrder.Converge(snapshot, [.. model.Devices.Select(d => d.Name)], "plan benchmark"), ct).ConfigureAwait(false);
                watch.Stop();
                if (results.Count(r => r.Outcome == QueueOutcome.Queued) != size)
                    throw new InvalidOperationException($"Queuing {size} devices queued {results.Count(r => r.Outcome == QueueOutcome.Queued)}.");
                seconds.Add(watch.Elapsed.TotalSeconds);
                commits = store.Stats.Commits - before;
            }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                if (Directory.Exists(dir))
                    Directory.Delete(dir, recursive: true);
            }
        }
        return Measurement.Of($"plan and queue {size:N0} devices (SQLite)", "s", seconds, $"{commits} commit(s), {size * 11L:N0} commands");
    }
}

/// <summary>A synthetic fleet for planning benchmarks.</summary>
internal static class FleetModel
{
    /// <summary><see cref="Build"/> with Debian packages: base, web and content need 5 packages the devices
    /// lack (alternatives, versions, a virtual package, two versions of one library) and on libc6, which the devices'
    /// 200-package base system has; every device reports that base system.</summary>
    public static (RigModel Model, RecordedState Recorded) BuildWithDependencies(int devices)
    {
        static string Digest(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
        static PackageInfo Deb(string name, string version, string[] depends, string[]? provides = null) => new()
        {
            Name = name, Version = version, Format = "deb", OsFamily = "debian", Architecture = "amd64", Sha256 = Digest(name + version), Size = 200_000,
            Depends = depends, Provides = provides ?? [],
        };
        var model = Build(devices);
        var catalog = new List<PackageInfo>
        {
            Deb("base", "1.0", ["libc6 (>= 2.34)", "libbase1 (>= 1.2)", "libcommon"]),
            Deb("web", "1.0", ["libc6 (>= 2.34)", "libweb1 | libweb-alt", "libssl (>= 3.0)", "libcommon (>= 2)"]),
            Deb("content", "1.0", ["www-data-virtual", "libbase1"]),
            Deb("libbase1", "1.1", ["libc6"]), Deb("libbase1", "1.3", ["libc6"]),
            Deb("libcommon", "1", ["libc6"]), Deb("libcommon", "2", ["libc6"]),
            Deb("libweb1", "1.0", ["libc6", "libssl"]), Deb("libweb-alt", "1.0", ["libc6"]),
            Deb("libssl", "3.0.11", ["libc6"]), Deb("libssl", "3.0.15", ["libc6"]),
            Deb("site-data", "1", [], ["www-data-virtual"]),
        };
        var native = Enumerable.Range(0, 200).Select(i => new Rig.Protocol.Messages.NativePackage($"base-pkg-{i}", "1.0", "amd64", "deb")
        {
            Depends = ["libc6 (>= 2.17)", $"base-pkg-{(i + 1) % 200}"], Provides = [], Conflicts = [],
        }).Append(new Rig.Protocol.Messages.NativePackage("libc6", "2.36-9", "amd64", "deb") { Depends = [], Provides = [], Conflicts = [] }).ToList();
        return (model with { Packages = catalog, Devices = [.. model.Devices.Select(d => d with { OsFamily = "debian" })] }, RecordedState.Empty with { Native = native });
    }

    /// <summary>N devices in sites of 100, each with os, app and content roles; in each site the first device is a
    /// load balancer linked to the others (its template lists them).</summary>
    public static RigModel Build(int devices)
    {
        static PackageInfo Package(string name) => new() { Name = name, Version = "1.0", Format = "rig", Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name))), Size = 200_000, Service = null };
        var sites = (devices + 99) / 100;
        var list = new List<Device>(devices);
        var links = new List<Interconnection>();
        for (var i = 0; i < devices; i++)
        {
            var site = $"s{i / 100}";
            list.Add(new Device { Name = $"d{i}", Site = site, Tier = i % 100 == 0 ? "lb" : "web", Addresses = [$"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}"] });
            if (i % 100 != 0)
                links.Add(new Interconnection { From = $"d{i - i % 100}", To = $"d{i}", Purpose = "http", Port = 80 });
        }
        return new RigModel
        {
            Parameters = new Dictionary<string, string> { ["ntp"] = "10.0.0.1", ["port"] = "80" },
            Sites = [.. Enumerable.Range(0, sites).Select(s => new Site { Name = $"s{s}", Parameters = new Dictionary<string, string> { ["domain"] = $"s{s}.example" } })],
            Devices = list,
            Links = links,
            Packages = [Package("base"), Package("web"), Package("content")],
            Templates =
            [
                new ConfigTemplate("base", "host {{ device.hostname }}.{{ params.domain }}\nntp {{ params.ntp }}\n"),
                new ConfigTemplate("web", "listen {{ device.address }}:{{ params.port }}\n{% for l in links %}upstream {{ l.name }} {{ l.address }}:{{ l.port }}\n{% endfor %}"),
                new ConfigTemplate("content", "site {{ site.name }} release {{ role.version }}\n"),
            ],
            Bundles =
            [
                new Bundle { Name = "base", Items = [new PackageItem("base", "1.0"), new FileItem("/etc/base.conf", "base"), new ServiceItem("base")] },
                new Bundle { Name = "web", Items = [new PackageItem("web", "1.0"), new FileItem("/etc/web.conf", "web"), new ServiceItem("web")] },
                new Bundle { Name = "content", Items = [new PackageItem("content", "1.0"), new FileItem("/srv/site.conf", "content")] },
            ],
            Roles =
            [
                new Role { Name = "os", Kind = BuiltInRoleKinds.Os, Items = [new BundleItem("base")] },
                new Role { Name = "app", Kind = BuiltInRoleKinds.App, Items = [new BundleItem("web")] },
                new Role { Name = "content", Kind = BuiltInRoleKinds.Content, Version = "7", Items = [new BundleItem("content")] },
            ],
            Assignments = [.. list.SelectMany(d => new[] { new RoleAssignment(d.Name, "os"), new RoleAssignment(d.Name, "app"), new RoleAssignment(d.Name, "content") })],
        };
    }
}
