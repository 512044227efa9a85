using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Cli.Demo;
using Rig.Cli.Operator;
using Rig.Testing;

namespace Rig.Bench.Common;

/// <summary>The gateway under test: a real <c>rig server run</c> process of its own (so its CPU time and memory
/// are its own), on fixed loopback ports so it can be killed and started again.</summary>
public sealed class GatewayUnderTest : IAsyncDisposable
{
    /// <summary>How to run rig: the rig.dll next to this benchmark.</summary>
    public static RigLauncher Rig { get; } = new(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet", [Path.Combine(AppContext.BaseDirectory, "rig.dll")]);

    private Process? _process;
    private IDisposable? _exitGuard;

    private GatewayUnderTest(string data, int agentPort, int apiPort, string token)
    {
        DataDirectory = data;
        AgentPort = agentPort;
        ApiPort = apiPort;
        Token = token;
    }

    /// <summary>Data directory.</summary>
    public string DataDirectory { get; }
    /// <summary>Agent port.</summary>
    public int AgentPort { get; }
    /// <summary>API port.</summary>
    public int ApiPort { get; }
    /// <summary>Admin token.</summary>
    public string Token { get; }
    /// <summary>Agent endpoint (by DNS name, so TLS sessions can resume).</summary>
    public Uri AgentUrl => new($"https://localhost:{AgentPort}/");
    /// <summary>The CA certificate.</summary>
    public X509Certificate2 Ca => X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(DataDirectory, "ca", "ca.crt")));
    /// <summary>The CA pin.</summary>
    public string CaPin => Server.Security.CertificateAuthority.PinOf(Ca);
    /// <summary>The first "Unhandled exception" line the current (or last) gateway process wrote, if any.</summary>
    public string? LastError { get; private set; }

    /// <summary>The gateway's process id.</summary>
    public int Pid => _process?.Id ?? throw new InvalidOperationException("The gateway is not running.");

    /// <summary>Initialise a data directory (SQLite, or <paramref name="connectionString"/>) and start.</summary>
    public static async Task<GatewayUnderTest> StartAsync(string data, string? connectionString, CancellationToken ct)
    {
        var ports = LoopbackPorts.Free(2);
        var (agentPort, apiPort) = (ports[0], ports[1]);
        var args = new List<string> { "server", "init", "--data", data, "--agent-port", agentPort.ToString(CultureInfo.InvariantCulture),
            "--api-port", apiPort.ToString(CultureInfo.InvariantCulture), "--agent-listen", "127.0.0.1", "--json" };
        if (connectionString is not null)
            args.AddRange(["--db", connectionString]);
        var (code, stdout, stderr) = await RunAsync(args, ct).ConfigureAwait(false);
        if (code != 0)
            throw new InvalidOperationException($"rig server init failed: {stderr}{stdout}");
        var token = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("adminToken").GetString()!;
        var gateway = new GatewayUnderTest(data, agentPort, apiPort, token);
        await gateway.StartAsync(ct).ConfigureAwait(false);
        return gateway;
    }

    /// <summary>Start (again) and wait until it listens.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        var info = Rig.StartInfo("server", "run", "--data", DataDirectory, "--log-level", "Error");
        info.Environment["DOTNET_gcServer"] = "0";
        if (Environment.GetEnvironmentVariable("RIG_BENCH_PERFMAP") == "1")
            info.Environment["DOTNET_PerfMapEnabled"] = "1"; // lets `perf` name JIT-compiled frames
        LastError = null;
        _process = Process.Start(info)!;
        _exitGuard?.Dispose();
        _exitGuard = ExitCleanup.KillOnExit(_process.Id); // a benchmark killed by a signal must not leave its gateway running
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("rig gateway listening", StringComparison.Ordinal) == true)
                ready.TrySetResult();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 })
            {
                if (LastError is null && e.Data.StartsWith("Unhandled exception.", StringComparison.Ordinal))
                    LastError = e.Data;
                Console.Error.WriteLine($"[gateway] {e.Data}");
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Task.WhenAny(ready.Task, _process.WaitForExitAsync(ct), Task.Delay(TimeSpan.FromSeconds(60), ct)).ConfigureAwait(false);
        if (!ready.Task.IsCompleted)
            throw new InvalidOperationException("The gateway did not start.");
    }

    /// <summary>kill -9.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>An operator client.</summary>
    public OperatorClient Api() => new(new Uri($"https://127.0.0.1:{ApiPort}/"), Token, Ca);

    /// <summary>Run rig to completion.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args, CancellationToken ct)
    {
        using var process = Process.Start(Rig.StartInfo([.. args]))!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process?.Dispose();
        _exitGuard?.Dispose();
    }
}
