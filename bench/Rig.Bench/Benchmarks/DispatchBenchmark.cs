using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rig.Bench.Common;
using Rig.Bench.Dispatch;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Testing;
using Spectre.Console;

namespace Rig.Bench.Benchmarks;

/// <summary>Dispatch: a real gateway process (SQLite or a durable PostgreSQL) and N simulated agents in this
/// process, each with its own enrolled certificate, speaking the real protocol: poke, a new mTLS connection,
/// inquire, command, result, until "no command". Each round changes the model so every device gets K
/// write-file commands and an inventory; the gateway plans, queues and pokes (POST /converge).</summary>
public sealed class DispatchBenchmark : IBenchmark
{
    private const int FilesPerDevice = 10;
    private const int BatchSize = 32;

    /// <inheritdoc />
    public string Name => "dispatch";

    /// <inheritdoc />
    public async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        var sizes = options.Agents ?? (options.Quick ? [20] : [100, 1_000, 10_000]);
        var rounds = options.Runs ?? (options.Quick ? 1 : 3);
        var measurements = new List<Measurement>();
        var notes = new List<string>();
        foreach (var engine in options.Engines)
        {
            await using var postgres = engine == "postgres" ? new PostgresCluster(durable: true) : null;
            if (postgres is not null)
                await postgres.StartClusterAsync().ConfigureAwait(false);
            // The database alone (no TLS, no HTTP): the ceiling the transport works under.
            var ceilingDir = Directory.CreateTempSubdirectory("rig-bench-store-").FullName;
            try
            {
                var ceilingDevices = options.Quick ? 20 : 1_000;
                var connection = postgres is null ? $"Data Source={Path.Combine(ceilingDir, "rig.db")}" : postgres.ConnectionString(await postgres.CreateDatabaseAsync().ConfigureAwait(false));
                var runs = new List<double>();
                var commits = new List<double>();
                for (var run = 0; run < rounds; run++)
                {
                    var (perSecond, perExchange) = await StoreCeiling.MeasureAsync(connection, ceilingDevices, FilesPerDevice + 1, ct).ConfigureAwait(false);
                    runs.Add(perSecond);
                    commits.Add(perExchange);
                }
                measurements.Add(Measurement.Of($"store alone: exchanges/s ({engine}, {ceilingDevices:N0} devices)", "1/s", runs, "in-process, no TLS or HTTP: the database's ceiling"));
                measurements.Add(Measurement.Of($"store alone: commits per exchange ({engine})", "1", commits));
            }
            finally
            {
                Directory.Delete(ceilingDir, recursive: true);
            }
            foreach (var n in sizes)
            {
                var (m, note) = await RunSizeAsync(engine, postgres, n, rounds, reconnect: n == sizes.Max(), ct).ConfigureAwait(false);
                measurements.AddRange(m);
                notes.Add(note);
            }
        }
        return new BenchReport(Name, DateTimeOffset.UtcNow, BenchReport.Revision(), options.Quick, MachineInfo.Current(Path.GetTempPath()),
            new Dictionary<string, string>
            {
                ["agents"] = string.Join(", ", sizes),
                ["engines"] = string.Join(", ", options.Engines),
                ["commands per device per round"] = (FilesPerDevice + 1).ToString(CultureInfo.InvariantCulture),
                ["rounds"] = $"{rounds} per mode after one unmeasured warm-up round",
                ["modes"] = $"1 command per round trip; up to {BatchSize} commands per answer (maxCommands)",
                ["durability"] = "SQLite synchronous=FULL (WAL); PostgreSQL fsync=on, synchronous_commit=on",
            },
            measurements, notes);
    }

    private static async Task<(List<Measurement>, string)> RunSizeAsync(string engine, PostgresCluster? postgres, int n, int rounds, bool reconnect, CancellationToken ct)
    {
        var label = $"{engine}, {n:N0} agents";
        var dir = Directory.CreateTempSubdirectory("rig-bench-dispatch-").FullName;
        try
        {
            var connection = postgres is null ? null : postgres.ConnectionString(await postgres.CreateDatabaseAsync().ConfigureAwait(false));
            await using var gateway = await BenchGateway.StartAsync(Path.Combine(dir, "gateway"), connection, ct).ConfigureAwait(false);
            using var api = gateway.Api();
            var names = Enumerable.Range(0, n).Select(i => $"n{i:00000}").ToArray();
            await SaveModelAsync(api, names, 0, ct).ConfigureAwait(false);

            var setup = Stopwatch.StartNew();
            await using var fleet = await SimulatedFleet.EnrollAsync(api, gateway.AgentUrl, gateway.Ca, n, i => names[i], parallel: 16, ct).ConfigureAwait(false);
            var enrollSeconds = setup.Elapsed.TotalSeconds;
            await fleet.CheckInAsync(parallel: 64, ct).ConfigureAwait(false);
            AnsiConsole.MarkupLine($"  [grey]{label}: enrolled in {enrollSeconds:0.0} s, checked in[/]");

            // A warm-up round (JIT, connection pools, caches) is not measured. Then the same rounds twice: one command per
            // round trip (the protocol's worst case), and up to BatchSize commands per answer (what real agents ask for).
            var round = 0;
            await RoundAsync(api, gateway, fleet, names, ++round, killMidway: false, ct).ConfigureAwait(false);
            var measurements = new List<Measurement>();
            foreach (var batch in new[] { 1, BatchSize })
            {
                fleet.Batch = batch;
                var mode = batch == 1 ? label : $"{label}, {batch} per answer";
                var roundTrips = new List<double>();
                var commandsPerSecond = new List<double>();
                var p50 = new List<double>();
                var p99 = new List<double>();
                var queueing = new List<double>();
                var cpuPerCommand = new List<double>();
                var commitsPerCommand = new List<double>();
                for (var i = 0; i < rounds; i++)
                {
                    var r = await RoundAsync(api, gateway, fleet, names, ++round, killMidway: false, ct).ConfigureAwait(false);
                    roundTrips.Add(r.Exchanges / r.DispatchSeconds);
                    commandsPerSecond.Add(r.Commands / r.DispatchSeconds);
                    p50.Add(r.PokeToFirstCommandMs.P50);
                    p99.Add(r.PokeToFirstCommandMs.P99);
                    queueing.Add(r.ConvergeSeconds);
                    cpuPerCommand.Add(r.GatewayCpuSeconds / r.Commands * 1000);
                    commitsPerCommand.Add(r.Commits / r.Commands);
                }
                measurements.Add(Measurement.Of($"round trips/s ({mode})", "1/s", roundTrips, batch == 1 ? "one command + its durable result per round trip" : "HTTP exchanges, each with several commands or results"));
                if (batch > 1)
                    measurements.Add(Measurement.Of($"commands/s ({mode})", "1/s", commandsPerSecond, "every result durable before the next answer"));
                measurements.Add(Measurement.Of($"poke -> first command p50 ({mode})", "ms", p50));
                measurements.Add(Measurement.Of($"poke -> first command p99 ({mode})", "ms", p99));
                measurements.Add(Measurement.Of($"plan + queue + poke all ({mode})", "s", queueing, "POST /converge"));
                measurements.Add(Measurement.Of($"gateway CPU per 1,000 commands ({mode})", "s", cpuPerCommand));
                measurements.Add(Measurement.Of($"database commits per command ({mode})", "1", commitsPerCommand, "group commit: several results per transaction"));
            }
            measurements.Add(Measurement.Single($"gateway peak RSS ({label})", "MiB", ProcessProbe.PeakRssMiB(gateway.Pid)));
            measurements.Add(Measurement.Single($"enrollment of the fleet ({label})", "s", enrollSeconds, "one-time token + CSR per agent"));
            if (reconnect)
            {
                fleet.Batch = 1; // the longest sessions: the most agents cut off mid-queue
                var r = await RoundAsync(api, gateway, fleet, names, ++round, killMidway: true, ct).ConfigureAwait(false);
                measurements.Add(Measurement.Single($"every cut-off agent answered after a gateway restart ({label})", "s", r.AllAnsweredSeconds,
                    $"{r.Reconnecting:N0} agents had work left at the kill; from the restart to the last one's first answer"));
                measurements.Add(Measurement.Single($"all work done after a gateway restart ({label})", "s", r.AfterRestartSeconds, $"the second half of the round; {r.Retries} retries with jittered backoff, {r.Failures} failures"));
                if (r.Failures > 0)
                    throw new InvalidOperationException($"{r.Failures} agents failed across a gateway restart: {fleet.Agents.First(a => a.Failures > 0).LastFailure}");
            }
            var failures = fleet.Agents.Sum(a => a.Failures);
            if (failures > 0)
                throw new InvalidOperationException($"{failures} agent sessions failed: {fleet.Agents.First(a => a.Failures > 0).LastFailure}");
            return (measurements, $"{label}: {fleet.TotalCommands:N0} commands answered, no failures.");
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private sealed record Round(long Commands, long Exchanges, double DispatchSeconds, (double P50, double P99) PokeToFirstCommandMs, double ConvergeSeconds, double GatewayCpuSeconds, double Commits, double AfterRestartSeconds, double AllAnsweredSeconds, int Reconnecting, int Retries, int Failures);

    private static async Task<Round> RoundAsync(OperatorClient api, GatewayHarness gateway, SimulatedFleet fleet, string[] names, int round, bool killMidway, CancellationToken ct)
    {
        await SaveModelAsync(api, names, round, ct).ConfigureAwait(false);
        foreach (var agent in fleet.Agents)
            agent.Reset();
        var expected = fleet.TotalCommands + (long)names.Length * (FilesPerDevice + 1);
        var before = await api.GetAsync<StatusResponse>("api/v1/status", ct).ConfigureAwait(false);
        var cpuBefore = ProcessProbe.CpuSeconds(gateway.Pid);
        var retriesBefore = fleet.Agents.Sum(a => a.Retries);
        var exchangesBefore = Interlocked.Read(ref fleet.TotalExchanges);
        var start = Stopwatch.GetTimestamp();
        var converge = await api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest([], $"bench round {round}"), ct).ConfigureAwait(false);
        var convergeSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (converge.Devices.Any(d => d.Outcome != "queued"))
            throw new InvalidOperationException($"Converge round {round}: {string.Join("; ", converge.Devices.Where(d => d.Outcome != "queued").Take(3).Select(d => $"{d.Device} {d.Outcome} {string.Join(' ', d.Errors.Select(e => e.Message))}"))}");

        double afterRestart = 0, allAnswered = 0;
        var reconnecting = 0;
        if (killMidway)
        {
            var half = expected - (long)names.Length * (FilesPerDevice + 1) / 2;
            await WaitAsync(() => Interlocked.Read(ref fleet.TotalCommands) >= half, TimeSpan.FromMinutes(5), "half of the commands", ct).ConfigureAwait(false);
            await gateway.KillAsync().ConfigureAwait(false);
            var cutOff = fleet.Agents.Where(a => a.DoneAt == 0).ToList(); // work left: each must be answered again
            foreach (var agent in fleet.Agents)
                Interlocked.Exchange(ref agent.AnsweredAt, 0);
            await Task.Delay(500, ct).ConfigureAwait(false);
            var restarted = Stopwatch.GetTimestamp();
            await gateway.StartAsync(ct).ConfigureAwait(false);
            // Agents cut off mid-session retry with backoff; agents whose poke was lost are poked by the starting gateway.
            _ = api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest([], "bench restart"), ct);
            await WaitAsync(() => Interlocked.Read(ref fleet.TotalCommands) >= expected && fleet.Agents.All(a => a.DoneAt != 0), TimeSpan.FromMinutes(5), "every agent after the restart", ct, () => Progress(fleet, expected)).ConfigureAwait(false);
            afterRestart = Stopwatch.GetElapsedTime(restarted).TotalSeconds;
            allAnswered = cutOff.Count == 0 ? 0 : cutOff.Max(a => Stopwatch.GetElapsedTime(restarted, a.AnsweredAt).TotalSeconds);
            reconnecting = cutOff.Count;
        }
        else
        {
            await WaitAsync(() => Interlocked.Read(ref fleet.TotalCommands) >= expected && fleet.Agents.All(a => a.DoneAt != 0), TimeSpan.FromMinutes(10), $"round {round}", ct, () => Progress(fleet, expected)).ConfigureAwait(false);
        }
        var cpu = killMidway ? 0 : ProcessProbe.CpuSeconds(gateway.Pid) - cpuBefore;
        var after = await api.GetAsync<StatusResponse>("api/v1/status", ct).ConfigureAwait(false);
        var firstPoke = fleet.Agents.Where(a => a.PokedAt != 0).Select(a => a.PokedAt).DefaultIfEmpty(start).Min();
        var lastDone = fleet.Agents.Max(a => a.DoneAt);
        var latencies = fleet.Agents.Where(a => a.PokedAt != 0 && a.FirstCommandAt != 0).Select(a => Stopwatch.GetElapsedTime(a.PokedAt, a.FirstCommandAt).TotalMilliseconds).ToList();
        var commands = (long)names.Length * (FilesPerDevice + 1);
        return new Round(commands, Interlocked.Read(ref fleet.TotalExchanges) - exchangesBefore, Stopwatch.GetElapsedTime(firstPoke, lastDone).TotalSeconds,
            (Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99)), convergeSeconds, cpu,
            killMidway ? 0 : after.Store.Commits - before.Store.Commits, afterRestart, allAnswered, reconnecting, fleet.Agents.Sum(a => a.Retries) - retriesBefore, fleet.Agents.Sum(a => a.Failures));
    }

    private static string Progress(SimulatedFleet fleet, long expected)
    {
        var waiting = fleet.Agents.Where(a => a.DoneAt == 0).ToList();
        var failed = fleet.Agents.Where(a => a.Failures > 0).ToList();
        return $"{Interlocked.Read(ref fleet.TotalCommands):N0} of {expected:N0} commands; {waiting.Count} agents not done (e.g. {string.Join(", ", waiting.Take(3).Select(a => a.Name))}); "
            + $"{failed.Count} failed{(failed.Count > 0 ? $" (last: {failed[0].LastFailure})" : "")}";
    }

    private static async Task WaitAsync(Func<bool> done, TimeSpan timeout, string what, CancellationToken ct, Func<string>? progress = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!done())
        {
            if (deadline.Elapsed > timeout)
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}{(progress is null ? "" : ": " + progress())}.");
            await Task.Delay(10, ct).ConfigureAwait(false);
        }
    }

    /// <summary>A model where every device has one os role of <see cref="FilesPerDevice"/> files; the round number
    /// is a parameter every file reads, so each round rewrites every file.</summary>
    private static async Task SaveModelAsync(OperatorClient api, string[] names, int round, CancellationToken ct)
    {
        var model = new RigModel
        {
            Parameters = new Dictionary<string, string> { ["round"] = round.ToString(CultureInfo.InvariantCulture) },
            Sites = [new Site { Name = "bench" }],
            Devices = [.. names.Select(n => new Device { Name = n, Site = "bench" })],
            Templates = [new ConfigTemplate("file", "device {{ device.name }} round {{ params.round }}\n")],
            Roles = [new Role { Name = "files", Kind = BuiltInRoleKinds.Os, Items = [.. Enumerable.Range(0, FilesPerDevice).Select(i => new FileItem($"/etc/bench/f{i}.conf", "file"))] }],
            Assignments = [.. names.Select(n => new RoleAssignment(n, "files"))],
        };
        await api.PutJsonTextAsync<ModelPutResponse>($"api/v1/model?message=round%20{round}", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), ct).ConfigureAwait(false);
    }
}
