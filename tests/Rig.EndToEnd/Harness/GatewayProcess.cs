using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Cli.Operator;

namespace Rig.EndToEnd.Harness;

/// <summary>A real gateway process (<c>rig server run</c>) on fixed loopback ports, so it can be killed with
/// SIGKILL and started again on the same data directory and ports.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private Process? _process;
    private readonly List<string> _output = [];

    private GatewayProcess(string dataDirectory, int agentPort, int apiPort, string token, string dnsName = "localhost")
    {
        DnsName = dnsName;
        DataDirectory = dataDirectory;
        AgentPort = agentPort;
        ApiPort = apiPort;
        Token = token;
    }

    /// <summary>The data directory.</summary>
    public string DataDirectory { get; }
    /// <summary>Agent endpoint port.</summary>
    public int AgentPort { get; }
    /// <summary>Operator API port.</summary>
    public int ApiPort { get; }
    /// <summary>Admin token.</summary>
    public string Token { get; }
    /// <summary>The DNS name in the gateway's certificate that agents use.</summary>
    public string DnsName { get; }
    /// <summary>Agent endpoint URL (by DNS name).</summary>
    public Uri AgentUrl => new($"https://{DnsName}:{AgentPort}/");
    /// <summary>Operator API URL.</summary>
    public Uri ApiUrl => new($"https://127.0.0.1:{ApiPort}/");
    /// <summary>The CA certificate file.</summary>
    public string CaPath => Path.Combine(DataDirectory, "ca", "ca.crt");
    /// <summary>The SQLite database file.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, "rig.db");

    /// <summary><c>rig server init</c> on free ports, then start. The agent endpoint listens on
    /// <paramref name="agentListen"/> and its certificate names <paramref name="dnsName"/> (agents in a network
    /// namespace reach the gateway on a veth address, by a name their namespace's hosts file resolves).</summary>
    public static async Task<GatewayProcess> StartNewAsync(string dataDirectory, string agentListen = "127.0.0.1", string dnsName = "localhost", IReadOnlyList<string>? runArguments = null)
    {
        var ports = Rig.Testing.LoopbackPorts.Free(2);
        var (agentPort, apiPort) = (ports[0], ports[1]);
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "server", "init", "--data", dataDirectory,
            "--agent-port", agentPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--api-port", apiPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--agent-listen", agentListen, "--dns", dnsName, "--json");
        Assert.True(code == 0, $"rig server init failed: {stderr}{stdout}");
        var init = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        var gateway = new GatewayProcess(dataDirectory, agentPort, apiPort, init.GetProperty("adminToken").GetString()!, dnsName) { RunArguments = runArguments ?? [] };
        await gateway.StartAsync();
        return gateway;
    }

    /// <summary>Options given to <c>rig server run</c> after the data directory and log level (e.g. <c>--log-format json</c>).</summary>
    public IReadOnlyList<string> RunArguments { get; init; } = [];

    /// <summary>Start (or restart) the gateway process and wait until it listens.</summary>
    public async Task StartAsync()
    {
        var info = Launch.Rig.StartInfo(["server", "run", "--data", DataDirectory, "--log-level", "Information", .. RunArguments]);
        _process = Process.Start(info)!;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_output)
                _output.Add(e.Data);
            // The start-up line, as text or as a JSON log line (--log-format json).
            if (e.Data.StartsWith("rig gateway listening", StringComparison.Ordinal) || e.Data.Contains("\"Message\":\"rig gateway listening", StringComparison.Ordinal))
                ready.TrySetResult();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_output)
                    _output.Add(e.Data);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var done = await Task.WhenAny(ready.Task, _process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (!ready.Task.IsCompleted)
            throw new InvalidOperationException($"The gateway did not start:\n{Output}");
        _ = done;
    }

    /// <summary>Everything the gateway printed.</summary>
    public string Output
    {
        get
        {
            lock (_output)
                return string.Join('\n', _output);
        }
    }

    /// <summary>kill -9: the gateway dies wherever it is.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
    }

    /// <summary>An operator API client.</summary>
    public OperatorClient Api() => new(ApiUrl, Token, X509CertificateLoader.LoadCertificateFromFile(CaPath));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }
}
