using Rig.Cli.Operator;

namespace Rig.Bench.Common;

/// <summary>The gateway under test: a real <c>rig server run</c> process of its own (so its CPU time and memory are its
/// own, <see cref="GatewayHarness.Pid"/>), on fixed loopback ports so it can be killed and started again.</summary>
internal static class BenchGateway
{
    /// <summary>Initialise a data directory (SQLite, or <paramref name="connectionString"/>) and start: workstation GC,
    /// errors only (echoed to standard error), killed should a signal end the benchmark.</summary>
    public static Task<GatewayHarness> StartAsync(string data, string? connectionString, CancellationToken ct)
    {
        var environment = new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" };
        if (Environment.GetEnvironmentVariable("RIG_BENCH_PERFMAP") == "1")
            environment["DOTNET_PerfMapEnabled"] = "1"; // lets `perf` name JIT-compiled frames
        return GatewayHarness.StartNewAsync(new GatewaySetup(data)
        {
            ConnectionString = connectionString,
            LogLevel = "Error",
            Environment = environment,
            OnOutput = line =>
            {
                if (line.Length > 0 && !line.StartsWith("rig gateway listening", StringComparison.Ordinal))
                    Console.Error.WriteLine($"[gateway] {line}");
            },
            WhileRunning = ExitCleanup.KillOnExit, // a benchmark killed by a signal must not leave its gateway running
        }, ct);
    }

    /// <summary>An operator client with the admin token.</summary>
    public static OperatorClient Api(this GatewayHarness gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        return new(gateway.ApiUrl, gateway.Token, gateway.Ca);
    }
}
