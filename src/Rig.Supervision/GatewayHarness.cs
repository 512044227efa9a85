using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Server;
using Rig.Server.Security;

namespace Rig.Supervision;

/// <summary>How a <see cref="GatewayHarness"/> prepares and runs its gateway.</summary>
/// <param name="DataDirectory">The gateway's data directory (created and initialised by <see cref="GatewayHarness.StartNewAsync"/>).</param>
internal sealed record GatewaySetup(string DataDirectory)
{
    /// <summary>Run the gateway in this process (<c>rig demo</c>: no second .NET start-up) instead of as
    /// <c>rig server run</c> (its own CPU and memory, and it can be killed with SIGKILL).</summary>
    public bool InProcess { get; init; }

    /// <summary>How to start <c>rig</c> (a child gateway and <c>rig server init</c>).</summary>
    public RigLauncher Rig { get; init; } = RigLauncher.BuiltAlongside();

    /// <summary>Agent endpoint port; null: a free one (<see cref="LoopbackPorts"/>), kept across restarts. 0 (in
    /// process only): whatever the system gives, kept across restarts once bound.</summary>
    public int? AgentPort { get; init; }

    /// <summary>Operator API port, as <see cref="AgentPort"/>.</summary>
    public int? ApiPort { get; init; }

    /// <summary>Where the agent endpoint listens (agents in a network namespace reach it on a veth address).</summary>
    public string AgentListen { get; init; } = "127.0.0.1";

    /// <summary>The DNS name in the gateway's certificate that agents connect to (TLS session resumption needs SNI).</summary>
    public string DnsName { get; init; } = "localhost";

    /// <summary>A PostgreSQL connection string; null: SQLite in the data directory.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>The gateway's log level (<c>None</c> keeps standard output for <c>rig demo --json</c>'s JSON line).</summary>
    public string LogLevel { get; init; } = "Information";

    /// <summary>More <c>rig server run</c> options (e.g. <c>--log-format json</c>); child gateway only.</summary>
    public IReadOnlyList<string> RunArguments { get; init; } = [];

    /// <summary>Environment variables added to a child gateway's.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Called with every line a child gateway prints (e.g. a benchmark echoes them to its standard error).</summary>
    public Action<string>? OnOutput { get; init; }

    /// <summary>Called with each child gateway's process id; the handle returned is disposed when the harness is done
    /// with that process (a benchmark kills it should a signal end the benchmark itself).</summary>
    public Func<int, IDisposable?>? WhileRunning { get; init; }

    /// <summary>How long a start may take until <c>/readyz</c> answers.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>One gateway for <c>rig demo</c>, the end-to-end tests, the benchmarks and the nemesis: initialised on chosen
/// or free loopback ports, started as <c>rig server run</c> or in this process, ready once its operator listener's
/// <c>/readyz</c> answers 200 (the store answers), and stopped, killed (SIGKILL, child only) and started again on the same
/// data directory and ports.</summary>
internal sealed class GatewayHarness : IAsyncDisposable
{
    private static readonly TimeSpan ReadinessPoll = TimeSpan.FromMilliseconds(50);
    private readonly GatewaySetup _setup;
    private readonly List<string> _output = [];
    private readonly HttpClient _probe;
    private readonly X509Certificate2 _ca;
    private Process? _process;
    private IDisposable? _processGuard;
    private GatewayServer? _server;

    private GatewayHarness(GatewaySetup setup, int agentPort, int apiPort, string token)
    {
        _setup = setup;
        AgentPort = agentPort;
        ApiPort = apiPort;
        Token = token;
        var ca = _ca = Ca;
        _probe = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, errors) => IssuedBy(ca, certificate, errors) },
        })
        { Timeout = TimeSpan.FromSeconds(5) };
    }

    /// <summary>The data directory.</summary>
    public string DataDirectory => _setup.DataDirectory;
    /// <summary>Agent endpoint port.</summary>
    public int AgentPort { get; private set; }
    /// <summary>Operator API port.</summary>
    public int ApiPort { get; private set; }
    /// <summary>The first operator token (<c>admin</c>).</summary>
    public string Token { get; }
    /// <summary>The DNS name in the gateway's certificate that agents use.</summary>
    public string DnsName => _setup.DnsName;
    /// <summary>Agent endpoint URL (by DNS name, so TLS sessions can resume).</summary>
    public Uri AgentUrl => new($"https://{DnsName}:{AgentPort}/");
    /// <summary>Operator API URL.</summary>
    public Uri ApiUrl => new($"https://127.0.0.1:{ApiPort}/");
    /// <summary>The CA certificate file.</summary>
    public string CaPath => Path.Combine(DataDirectory, "ca", "ca.crt");
    /// <summary>The CA certificate (agents pin it; operator clients trust it).</summary>
    public X509Certificate2 Ca => X509CertificateLoader.LoadCertificateFromFile(CaPath);
    /// <summary>The CA pin agents enroll with.</summary>
    public string CaPin
    {
        get => CertificateAuthority.PinOf(_ca);
    }
    /// <summary>The SQLite database file (without <see cref="GatewaySetup.ConnectionString"/>).</summary>
    public string DatabasePath => Path.Combine(DataDirectory, "rig.db");

    /// <summary>The gateway running in this process, or null (a child gateway, or stopped).</summary>
    public GatewayServer? Server => _server;

    /// <summary>The child gateway's process id.</summary>
    public int Pid => _process?.Id ?? throw new InvalidOperationException(_setup.InProcess ? "The gateway runs in this process." : "The gateway is not running.");

    /// <summary>The first "Unhandled exception" line the current (or last) child gateway wrote, if any.</summary>
    public string? LastError { get; private set; }

    /// <summary>Everything the child gateways printed (standard output and error, as the lines arrived).</summary>
    public string Output
    {
        get
        {
            lock (_output)
                return string.Join('\n', _output);
        }
    }

    /// <summary>Initialise <see cref="GatewaySetup.DataDirectory"/> (CA, certificates, database, admin token) and start.</summary>
    public static async Task<GatewayHarness> StartNewAsync(GatewaySetup setup, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var free = setup.AgentPort is null || setup.ApiPort is null ? LoopbackPorts.Free(2) : [0, 0];
        var (agentPort, apiPort) = (setup.AgentPort ?? free[0], setup.ApiPort ?? free[1]);
        string token;
        if (setup.InProcess)
            token = await GatewayServer.InitializeAsync(Options(setup, agentPort, apiPort), ct).ConfigureAwait(false);
        else
        {
            if (agentPort == 0 || apiPort == 0)
                throw new ArgumentException("A child gateway needs its ports chosen before it starts (null for free ones), so it can be started again on them.", nameof(setup));
            var args = new List<string> { "server", "init", "--data", setup.DataDirectory, "--agent-port", agentPort.ToString(CultureInfo.InvariantCulture),
                "--api-port", apiPort.ToString(CultureInfo.InvariantCulture), "--agent-listen", setup.AgentListen, "--dns", setup.DnsName, "--json" };
            if (setup.ConnectionString is not null)
                args.AddRange(["--db", setup.ConnectionString]);
            var (code, stdout, stderr) = await setup.Rig.RunAsync(TimeSpan.FromMinutes(1), ct, [.. args]).ConfigureAwait(false);
            if (code != 0)
                throw new InvalidOperationException($"rig server init failed ({code}): {stderr}{stdout}");
            using var init = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
            token = init.RootElement.GetProperty("adminToken").GetString()!;
        }
        var gateway = new GatewayHarness(setup, agentPort, apiPort, token);
        try
        {
            await gateway.StartAsync(ct).ConfigureAwait(false);
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static ServerOptions Options(GatewaySetup setup, int agentPort, int apiPort) => new()
    {
        DataDirectory = setup.DataDirectory,
        ConnectionString = setup.ConnectionString,
        AgentListenAddress = setup.AgentListen,
        AgentPort = agentPort,
        ApiPort = apiPort,
        DnsNames = [setup.DnsName],
        LogLevel = setup.LogLevel,
    };

    /// <summary>Start (or start again, on the same data directory and ports) and wait until <c>/readyz</c> answers.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        if (_setup.InProcess)
        {
            if (_server is not null)
                throw new InvalidOperationException("The gateway is already running.");
            _server = await GatewayServer.StartAsync(Options(_setup, AgentPort, ApiPort), ct).ConfigureAwait(false);
            (AgentPort, ApiPort) = (_server.AgentUrl.Port, _server.ApiUrl.Port); // port 0 bound: keep it for a restart
            await WaitReadyAsync(null, ct).ConfigureAwait(false);
            return;
        }
        if (_process is { HasExited: false })
            throw new InvalidOperationException("The gateway is already running.");
        var info = _setup.Rig.StartInfo(["server", "run", "--data", DataDirectory, "--log-level", _setup.LogLevel, .. _setup.RunArguments]);
        foreach (var (name, value) in _setup.Environment)
            info.Environment[name] = value;
        LastError = null;
        _processGuard?.Dispose();
        _process?.Dispose();
        _process = Process.Start(info)!;
        _processGuard = _setup.WhileRunning?.Invoke(_process.Id);
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitReadyAsync(_process, ct).ConfigureAwait(false);
    }

    private void Add(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            _output.Add(line);
            if (LastError is null && line.StartsWith("Unhandled exception.", StringComparison.Ordinal))
                LastError = line;
        }
        _setup.OnOutput?.Invoke(line);
    }

    private async Task WaitReadyAsync(Process? process, CancellationToken ct)
    {
        var ready = new Uri(ApiUrl, "readyz");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await _probe.GetAsync(ready, ct).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // not listening yet
            }
            if (process is { HasExited: true })
            {
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false); // every line is in
                throw new InvalidOperationException($"The gateway did not start (exit code {process.ExitCode}):\n{Output}");
            }
            if (deadline.Elapsed > _setup.StartTimeout)
                throw new TimeoutException($"The gateway's {ready} did not answer within {_setup.StartTimeout}:\n{Output}");
            await Task.Delay(ReadinessPoll, ct).ConfigureAwait(false);
        }
    }

    /// <summary>True when <paramref name="certificate"/> chains to <paramref name="ca"/> alone (a client of the gateway checks its answer so).</summary>
    internal static bool IssuedBy(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    /// <summary>Stop gracefully: SIGTERM (the gateway drains and exits) and SIGKILL after <paramref name="grace"/>; in
    /// this process, the gateway is disposed.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_server is { } server)
        {
            _server = null;
            await server.DisposeAsync().ConfigureAwait(false);
            return;
        }
        if (_process is not { HasExited: false } p)
            return;
        Signals.Send(p.Id, Signals.Terminate);
        Signals.Send(p.Id, Signals.Continue);
        try
        {
            await p.WaitForExitAsync(CancellationToken.None).WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await KillAsync().ConfigureAwait(false);
        }
    }

    /// <summary>kill -9: the child gateway dies wherever it is.</summary>
    public async Task KillAsync()
    {
        if (_setup.InProcess)
            throw new InvalidOperationException("A gateway in this process cannot be killed; start it as a child (GatewaySetup.InProcess = false).");
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_setup.InProcess)
            await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        else
            await KillAsync().ConfigureAwait(false); // nothing to keep: the quickest end
        _process?.Dispose();
        _processGuard?.Dispose();
        _probe.Dispose();
        _ca.Dispose();
    }
}
