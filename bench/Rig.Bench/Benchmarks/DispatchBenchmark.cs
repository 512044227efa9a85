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
internal sealed class DispatchBenchmark : IBenchmark
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
            Measurement? storeAlone = null;
            await using var postgres = engine == "postgres" ? new PostgresCluster(durable: true) : null;
            if (postgres is not null)
                await postgres.StartClusterAsync().ConfigureAwait(false);
            // The database alone (no TLS, no HTTP): the ceiling the transport works under.
            var ceilingDir = Directory.CreateTempSubdirectory("rig-bench-store-").FullName;
            try
            {
                var ceilingDevices = options.Quick ? 20 : 1_000;
                var connection = postgres is null ? $"Data Source={Path.Combine(ceilingDir, "rig.db")}" : postgres.ConnectionString(await postgres.CreateDatabaseAsync().ConfigureAwait(false));
                var results = new List<StoreCeiling.Result>();
                for (var run = 0; run < rounds; run++)
                    results.Add(await StoreCeiling.MeasureAsync(connection, ceilingDevices, FilesPerDevice + 1, ct).ConfigureAwait(false));
                storeAlone = Measurement.Of($"store alone: exchanges/s ({engine}, {ceilingDevices:N0} devices)", "1/s", results.Select(r => r.PerSecond), "in-process, no TLS or HTTP: the database's ceiling");
                measurements.Add(storeAlone);
                measurements.Add(Measurement.Of($"store alone: commits per exchange ({engine})", "1", results.Select(r => r.CommitsPerExchange)));
                measurements.Add(Measurement.Of($"store alone: statements per exchange ({engine})", "1", results.Select(r => r.StatementsPerExchange), "SQL statements through Store/Statements.cs; the commit not counted"));
                measurements.Add(Measurement.Of($"store alone: database round trips per exchange ({engine})", "1", results.Select(r => r.RoundTripsPerExchange), "SQLite: calls into the engine; PostgreSQL: network round trips (a pipelined batch is one); + 1 commit per batch"));
                measurements.Add(Measurement.Of($"store alone: exchanges per group-commit batch ({engine})", "1", results.Select(r => r.ExchangesPerBatch)));
                measurements.Add(Measurement.Of($"store alone: statements per group-commit batch ({engine})", "1", results.Select(r => r.StatementsPerBatch)));
                measurements.Add(Measurement.Of($"store alone: database round trips per group-commit batch ({engine})", "1", results.Select(r => r.RoundTripsPerBatch), "commit excluded"));
            }
            finally
            {
                Directory.Delete(ceilingDir, recursive: true);
            }
            var ceilingSize = options.Quick ? 20 : 1_000;
            foreach (var n in sizes)
            {
                var (m, note, floor) = await RunSizeAsync(engine, postgres, n, rounds, reconnect: n == sizes.Max(), options.Quick, ct).ConfigureAwait(false);
                measurements.AddRange(m);
                notes.Add(note);
                if (storeAlone is not null && (n == ceilingSize || (n == sizes.Max() && !sizes.Contains(ceilingSize))))
                {
                    measurements.Add(Measurement.Of($"store alone / floor ({engine}, floor at {n:N0} agents)", "ratio", storeAlone.Runs.Select(r => r / floor.Median),
                        "target >= 0.8: the store's exchanges/s against the floor's durable requests/s"));
                }
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

    private static async Task<(List<Measurement>, string, Measurement Floor)> RunSizeAsync(string engine, PostgresCluster? postgres, int n, int rounds, bool reconnect, bool quick, CancellationToken ct)
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

            // The floor in the same run: the same fleet, sessions and window against a minimal mTLS endpoint that durably
            // commits one row per request into the same engine (the gateway is up but idle meanwhile).
            var floorRounds = new List<FloorRound>();
            var floorDb = postgres is null ? null : postgres.ConnectionString(await postgres.CreateDatabaseAsync().ConfigureAwait(false));
            await using (var floor = await FloorProcess.StartAsync(gateway.DataDirectory, floorDb, Path.Combine(dir, "floor.db"), FilesPerDevice + 1, ct).ConfigureAwait(false))
            {
                await floor.RoundAsync(fleet, fleet.Agents, fleet.Limits.PokeWindow).ConfigureAwait(false); // warm-up
                for (var i = 0; i < rounds; i++)
                    floorRounds.Add(await floor.RoundAsync(fleet, fleet.Agents, fleet.Limits.PokeWindow).ConfigureAwait(false));
            }
            var floorRate = Measurement.Of($"floor: requests/s ({label})", "1/s", floorRounds.Select(f => f.PerSecond),
                "minimal Kestrel + mTLS endpoint, one durable group-committed row per request, same fleet and window");
            var floorCpu = Measurement.Of($"floor: server CPU per 1,000 requests ({label})", "s", floorRounds.Select(f => f.CpuPer1000));
            measurements.Add(floorRate);
            measurements.Add(floorCpu);
            measurements.Add(Measurement.Of($"floor: start -> first command p99 ({label})", "ms", floorRounds.Select(f => Stats.Percentile([.. f.FirstCommandMs], 99))));
            AnsiConsole.MarkupLine($"  [grey]{label}: floor {floorRate.Median:N0} requests/s, {floorCpu.Median:0.###} s CPU per 1,000[/]");
            double p99AtSize = 0;
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
                var cpuPerRoundTrip = new List<double>();
                var statementsPerExchange = new List<double>();
                var roundTripsPerExchange = new List<double>();
                var exchangesPerBatch = new List<double>();
                var statementsPerBatch = new List<double>();
                var roundTripsPerBatch = new List<double>();
                for (var i = 0; i < rounds; i++)
                {
                    var work = await StoreWork.ReadAsync(api, ct).ConfigureAwait(false);
                    var r = await RoundAsync(api, gateway, fleet, names, ++round, killMidway: false, ct).ConfigureAwait(false);
                    work = (await StoreWork.ReadAsync(api, ct).ConfigureAwait(false)).Since(work);
                    statementsPerExchange.Add(work.Statements / r.Exchanges);
                    roundTripsPerExchange.Add(work.RoundTrips / r.Exchanges);
                    exchangesPerBatch.Add(r.Exchanges / Math.Max(1, work.Batches));
                    statementsPerBatch.Add(work.Statements / Math.Max(1, work.Batches));
                    roundTripsPerBatch.Add(work.RoundTrips / Math.Max(1, work.Batches));
                    cpuPerRoundTrip.Add(r.GatewayCpuSeconds / r.Exchanges * 1000);
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
                measurements.Add(Measurement.Of($"gateway CPU per 1,000 round trips ({mode})", "s", cpuPerRoundTrip));
                measurements.Add(Measurement.Of($"statements per exchange ({mode})", "1", statementsPerExchange, "store statements (operator paths included: converge, status); commits not counted"));
                measurements.Add(Measurement.Of($"database round trips per exchange ({mode})", "1", roundTripsPerExchange));
                measurements.Add(Measurement.Of($"exchanges per group-commit batch ({mode})", "1", exchangesPerBatch));
                measurements.Add(Measurement.Of($"statements per group-commit batch ({mode})", "1", statementsPerBatch));
                measurements.Add(Measurement.Of($"database round trips per group-commit batch ({mode})", "1", roundTripsPerBatch, "commit excluded"));
                if (batch == 1)
                {
                    measurements.Add(Measurement.Of($"round trips/s / floor requests/s ({label})", "ratio", roundTrips.Select(x => x / floorRate.Median), "target >= 0.6 (PostgreSQL, 1,000 agents)"));
                    measurements.Add(Measurement.Of($"gateway CPU per round trip / floor CPU per request ({label})", "ratio", cpuPerRoundTrip.Select(x => x / floorCpu.Median), "target <= 2"));
                    p99AtSize = Stats.Median(p99);
                }
            }

            // One agent alone: the same poke -> first command with nothing else running, several times (its p99 is the
            // target's denominator: p99 at this size <= 5x).
            fleet.Batch = 1;
            var alone = new List<double>();
            var lone = fleet.Agents[0];
            for (var i = 0; i < (quick ? 3 : 20); i++)
            {
                await SaveModelAsync(api, names, ++round, ct).ConfigureAwait(false);
                lone.Reset();
                var expectedAlone = Interlocked.Read(ref fleet.TotalCommands) + FilesPerDevice + 1;
                await api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest([lone.Name], $"bench one agent {i}"), ct).ConfigureAwait(false);
                await WaitAsync(() => lone.DoneAt != 0 && Interlocked.Read(ref fleet.TotalCommands) >= expectedAlone, TimeSpan.FromMinutes(1), "one agent alone", ct).ConfigureAwait(false);
                alone.Add(Stopwatch.GetElapsedTime(lone.PokedAt, lone.FirstCommandAt).TotalMilliseconds);
            }
            var aloneP99 = Stats.Percentile(alone, 99);
            measurements.Add(Measurement.Of($"poke -> first command, one agent alone ({label})", "ms", alone, $"p99 {aloneP99:0.0} ms over {alone.Count} polls"));
            measurements.Add(Measurement.Single($"poke -> first command p99 / one agent alone p99 ({label})", "ratio", p99AtSize / aloneP99, "target <= 5 at 1,000 agents"));
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
                if (r.Reconnecting > 0)
                {
                    // The floor for the same work: as many new mTLS sessions as agents were cut off, each with the commands
                    // left per agent, against the floor server (no process start, no backoff: what the machine can do).
                    var perAgent = (int)Math.Ceiling(r.LeftAtKill / (double)r.Reconnecting);
                    var restartDb = postgres is null ? null : postgres.ConnectionString(await postgres.CreateDatabaseAsync().ConfigureAwait(false));
                    await using var restartFloor = await FloorProcess.StartAsync(gateway.DataDirectory, restartDb, Path.Combine(dir, "floor-restart.db"), perAgent, ct).ConfigureAwait(false);
                    var cutOff = fleet.Agents.Take(r.Reconnecting).ToList();
                    await restartFloor.RoundAsync(fleet, cutOff.Take(Math.Min(cutOff.Count, 100)).ToList(), fleet.Limits.PokeWindow).ConfigureAwait(false); // warm-up
                    var f = await restartFloor.RoundAsync(fleet, cutOff, fleet.Limits.PokeWindow).ConfigureAwait(false);
                    measurements.Add(Measurement.Single($"floor: {r.Reconnecting:N0} new mTLS sessions with {perAgent} commands each ({label})", "s", f.Seconds,
                        $"the restart's work ({r.LeftAtKill:N0} commands left at the kill) on the floor server"));
                    measurements.Add(Measurement.Single($"all work done after a gateway restart / floor ({label})", "ratio", r.AfterRestartSeconds / f.Seconds,
                        "target <= 1.5; Rig's time includes the gateway's process start and the agents' backoff"));
                }
            }
            var failures = fleet.Agents.Sum(a => a.Failures);
            if (failures > 0)
                throw new InvalidOperationException($"{failures} agent sessions failed: {fleet.Agents.First(a => a.Failures > 0).LastFailure}");
            return (measurements, $"{label}: {fleet.TotalCommands:N0} commands answered, no failures.", floorRate);
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

    private sealed record Round(long Commands, long Exchanges, double DispatchSeconds, (double P50, double P99) PokeToFirstCommandMs, double ConvergeSeconds, double GatewayCpuSeconds, double Commits, double AfterRestartSeconds, double AllAnsweredSeconds, int Reconnecting, int Retries, int Failures)
    {
        /// <summary>Commands still to answer when the gateway was killed.</summary>
        public long LeftAtKill { get; init; }
    }

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
        long leftAtKill = 0;
        var reconnecting = 0;
        if (killMidway)
        {
            var half = expected - (long)names.Length * (FilesPerDevice + 1) / 2;
            await WaitAsync(() => Interlocked.Read(ref fleet.TotalCommands) >= half, TimeSpan.FromMinutes(5), "half of the commands", ct).ConfigureAwait(false);
            await gateway.KillAsync().ConfigureAwait(false);
            leftAtKill = expected - Interlocked.Read(ref fleet.TotalCommands);
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
            killMidway ? 0 : after.Store.Commits - before.Store.Commits, afterRestart, allAnswered, reconnecting, fleet.Agents.Sum(a => a.Retries) - retriesBefore, fleet.Agents.Sum(a => a.Failures))
        {
            LeftAtKill = leftAtKill,
        };
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
