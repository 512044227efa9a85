using System.Diagnostics;
using System.Globalization;
using Rig.Bench.Common;
using Rig.Cli.Operator;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Testing;

namespace Rig.Bench.Dispatch;

/// <summary>What one floor round measured: requests answered (each with its durable row), from the first session's
/// start to the last "no command", the floor server's CPU time, and each agent's time from its start to its first command.</summary>
internal sealed record FloorRound(long Requests, double Seconds, double ServerCpuSeconds, IReadOnlyList<double> FirstCommandMs)
{
    /// <summary>Requests per second.</summary>
    public double PerSecond => Requests / Seconds;

    /// <summary>Server CPU seconds per 1,000 requests.</summary>
    public double CpuPer1000 => ServerCpuSeconds / Requests * 1000;
}

/// <summary>The floor server (<see cref="FloorServer"/>) as a child process, driven by the dispatch benchmark's simulated
/// fleet: every agent a session of its own (a new mTLS connection, kept alive), started through a window of
/// <see cref="RigLimits.PokeWindow"/> sessions not yet answered, as the gateway's poke scheduler starts them.</summary>
internal sealed class FloorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly IDisposable _guard;

    private FloorProcess(Process process, IDisposable guard, Uri url)
    {
        _process = process;
        _guard = guard;
        Url = url;
    }

    /// <summary>Where agents connect (by DNS name, as to the gateway).</summary>
    public Uri Url { get; }

    /// <summary>Start on the certificates of the gateway in <paramref name="gatewayData"/>; rows go to
    /// <paramref name="postgres"/> when given, else to a SQLite file at <paramref name="sqlitePath"/>.</summary>
    public static async Task<FloorProcess> StartAsync(string gatewayData, string? postgres, string sqlitePath, int commands, CancellationToken ct)
    {
        var port = LoopbackPorts.Free(1)[0];
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            info.ArgumentList.Add(typeof(FloorProcess).Assembly.Location);
        foreach (var a in new[] { FloorServer.Verb, "--data", gatewayData, "--port", port.ToString(CultureInfo.InvariantCulture), "--commands", commands.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        info.ArgumentList.Add(postgres is null ? "--sqlite" : "--postgres");
        info.ArgumentList.Add(postgres ?? sqlitePath);
        info.Environment["DOTNET_gcServer"] = "0"; // as the gateway under test
        var process = Process.Start(info)!;
        var guard = ExitCleanup.KillOnExit(process.Id);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == "floor listening")
                ready.TrySetResult();
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 })
                Console.Error.WriteLine($"[floor] {e.Data}");
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await Task.WhenAny(ready.Task, process.WaitForExitAsync(ct), Task.Delay(TimeSpan.FromSeconds(60), ct)).ConfigureAwait(false);
        if (!ready.Task.IsCompleted)
        {
            process.Kill();
            throw new InvalidOperationException("The floor server did not start.");
        }
        return new FloorProcess(process, guard, new Uri($"https://localhost:{port}/"));
    }

    /// <summary>One round: each of <paramref name="agents"/> runs one session against the floor (the fleet points at the
    /// floor for the round and back at its gateway after).</summary>
    public async Task<FloorRound> RoundAsync(SimulatedFleet fleet, IReadOnlyList<SimulatedAgent> agents, int window)
    {
        var gateway = fleet.GatewayUrl;
        fleet.GatewayUrl = Url;
        try
        {
            foreach (var agent in agents)
                agent.Reset();
            var requestsBefore = Interlocked.Read(ref fleet.TotalExchanges);
            var cpuBefore = ProcessProbe.CpuSeconds(_process.Id);
            using var starting = new SemaphoreSlim(window, window);
            var start = Stopwatch.GetTimestamp();
            var sessions = new List<Task>(agents.Count);
            foreach (var agent in agents)
            {
                while (!await starting.WaitAsync(200).ConfigureAwait(false))
                {
                    if (_process.HasExited)
                        throw new InvalidOperationException($"The floor server exited with {_process.ExitCode} during a round.");
                }
                agent.PokedAt = Stopwatch.GetTimestamp();
                sessions.Add(Task.Run(() => agent.SessionAsync(fleet, InquiryReason.Poke, () => starting.Release())));
            }
            var all = Task.WhenAll(sessions);
            while (!all.IsCompleted)
            {
                if (_process.HasExited)
                    throw new InvalidOperationException($"The floor server exited with {_process.ExitCode} during a round.");
                if (Stopwatch.GetElapsedTime(start) > TimeSpan.FromMinutes(10))
                    throw new TimeoutException("A floor round did not finish in 10 minutes.");
                await Task.WhenAny(all, Task.Delay(200)).ConfigureAwait(false);
            }
            await all.ConfigureAwait(false);
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var cpu = ProcessProbe.CpuSeconds(_process.Id) - cpuBefore;
            var failed = agents.FirstOrDefault(a => a.Failures > 0);
            if (failed is not null)
                throw new InvalidOperationException($"Floor session of {failed.Name} failed: {failed.LastFailure}");
            var latencies = agents.Where(a => a.FirstCommandAt != 0).Select(a => Stopwatch.GetElapsedTime(a.PokedAt, a.FirstCommandAt).TotalMilliseconds).ToList();
            return new FloorRound(Interlocked.Read(ref fleet.TotalExchanges) - requestsBefore, seconds, cpu, latencies);
        }
        finally
        {
            fleet.GatewayUrl = gateway;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        _process.Dispose();
        _guard.Dispose();
    }
}

/// <summary>The store's counters read from the gateway's <c>/metrics</c> (Prometheus text): statements, round trips and
/// group-commit batches since the gateway started.</summary>
internal sealed record StoreWork(double Statements, double RoundTrips, double Batches)
{
    /// <summary>Scrape them with an operator token.</summary>
    public static async Task<StoreWork> ReadAsync(OperatorClient api, CancellationToken ct)
    {
        double statements = 0, roundTrips = 0, batches = 0;
        await foreach (var line in api.StreamLinesAsync("metrics", ct).ConfigureAwait(false))
        {
            if (line.StartsWith('#'))
                continue;
            var nameEnd = line.IndexOfAny(['{', ' ']);
            if (nameEnd < 0)
                continue;
            var name = line[..nameEnd];
            var rest = line[(line[nameEnd] == '{' ? line.LastIndexOf('}') + 1 : nameEnd)..].Trim();
            if (!double.TryParse(rest.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                continue;
            switch (name)
            {
                case "rig_store_statements_total":
                    statements = value;
                    break;
                case "rig_store_round_trips_total":
                    roundTrips = value;
                    break;
                case "rig_store_commit_exchanges_count":
                    batches += value;
                    break;
            }
        }
        return new StoreWork(statements, roundTrips, batches);
    }

    /// <summary>What happened between <paramref name="before"/> and this.</summary>
    public StoreWork Since(StoreWork before) => new(Statements - before.Statements, RoundTrips - before.RoundTrips, Batches - before.Batches);
}
