using System.ComponentModel;
using System.Runtime.InteropServices;
using Rig.Server;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig server init</c>.</summary>
internal sealed class ServerInitSettings : CommandSettings
{
    /// <summary>Data directory.</summary>
    [CommandOption("--data <DIR>")]
    [Description("Data directory to create (database, blobs, CA)")]
    public string Data { get; init; } = "rig-data";

    /// <summary>Agent endpoint port.</summary>
    [CommandOption("--agent-port <PORT>")]
    [Description("Port of the agent endpoint (mTLS)")]
    public int AgentPort { get; init; } = 7443;

    /// <summary>Operator API port.</summary>
    [CommandOption("--api-port <PORT>")]
    [Description("Port of the operator API")]
    public int ApiPort { get; init; } = 7444;

    /// <summary>Agent endpoint listen address.</summary>
    [CommandOption("--agent-listen <ADDRESS>")]
    [Description("Address the agent endpoint listens on")]
    public string AgentListen { get; init; } = "0.0.0.0";

    /// <summary>Operator API listen address.</summary>
    [CommandOption("--api-listen <ADDRESS>")]
    [Description("Address the operator API listens on (loopback by default)")]
    public string ApiListen { get; init; } = "127.0.0.1";

    /// <summary>DNS names of the gateway.</summary>
    [CommandOption("--dns <NAME>")]
    [Description("DNS name agents use to reach the gateway (repeatable; default localhost)")]
    public string[] Dns { get; init; } = [];

    /// <summary>Database.</summary>
    [CommandOption("--db <CONNECTION>")]
    [Description("Database connection string: empty for SQLite in the data directory, or Host=...;Database=... for PostgreSQL")]
    public string? Db { get; init; }

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    public bool Json { get; init; }
}

/// <summary><c>rig server init</c></summary>
internal sealed class ServerInitCommand : AsyncCommand<ServerInitSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ServerInitSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = new ServerOptions
        {
            DataDirectory = Path.GetFullPath(settings.Data),
            AgentPort = settings.AgentPort,
            ApiPort = settings.ApiPort,
            AgentListenAddress = settings.AgentListen,
            ApiListenAddress = settings.ApiListen,
            DnsNames = settings.Dns.Length > 0 ? settings.Dns : ["localhost"],
            ConnectionString = settings.Db,
        };
        string token;
        try
        {
            token = await GatewayServer.InitializeAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(e.Message);
        }
        var pin = Security.PinOfFile(Path.Combine(options.DataDirectory, "ca", "ca.crt"));
        if (settings.Json)
        {
            Output.JsonLine(new { dataDirectory = options.DataDirectory, adminToken = token, caPin = pin, agentUrl = $"https://{options.DnsNames[0]}:{options.AgentPort}", apiUrl = $"https://localhost:{options.ApiPort}" });
            return 0;
        }
        var table = new Table().AddColumns("", "");
        table.HideHeaders();
        table.AddRow("data directory", Output.Safe(options.DataDirectory));
        table.AddRow("agent endpoint", Output.Safe($"https://{options.DnsNames[0]}:{options.AgentPort}"));
        table.AddRow("operator API", Output.Safe($"https://{options.ApiListenAddress}:{options.ApiPort}"));
        table.AddRow("CA pin", Output.Safe(pin));
        table.AddRow("database", options.ConnectionString is null ? "SQLite (rig.db)" : "PostgreSQL");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[bold]Admin token[/] (shown once, store it now): [yellow]{Output.Safe(token)}[/]");
        AnsiConsole.MarkupLine($"Next: [grey]rig server run --data {Output.Safe(settings.Data)}[/]");
        return 0;
    }
}

/// <summary>Options of <c>rig server run</c>.</summary>
internal sealed class ServerRunSettings : CommandSettings
{
    /// <summary>Data directory.</summary>
    [CommandOption("--data <DIR>")]
    [Description("An initialised data directory")]
    public string Data { get; init; } = "rig-data";

    /// <summary>Log level.</summary>
    [CommandOption("--log-level <LEVEL>")]
    [Description("Trace, Debug, Information, Warning (default from server.json)")]
    public string? LogLevel { get; init; }

    /// <summary>Log format.</summary>
    [CommandOption("--log-format <FORMAT>")]
    [Description("text (default) or json: one JSON object per line on standard output (default from server.json)")]
    public string? LogFormat { get; init; }

    /// <summary>OTLP endpoint for traces.</summary>
    [CommandOption("--otlp-endpoint <URL>")]
    [Description("Export traces by OTLP over HTTP/protobuf, e.g. http://collector:4318 (default from server.json: none, no traces)")]
    public string? OtlpEndpoint { get; init; }

    /// <summary>Agent endpoint port for this run.</summary>
    [CommandOption("--agent-port <PORT>")]
    [Description("Listen for agents on this port instead of server.json's agentPort (agents keep the port they enrolled with)")]
    public int? AgentPort { get; init; }

    /// <summary>Operator API port for this run.</summary>
    [CommandOption("--api-port <PORT>")]
    [Description("Listen for operators on this port instead of server.json's apiPort")]
    public int? ApiPort { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (LogLevel is not null && !Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(LogLevel, ignoreCase: true, out _))
            return ValidationResult.Error($"--log-level '{LogLevel}' is unknown: use Trace, Debug, Information, Warning, Error or Critical.");
        if (AgentPort is < 1 or > 65535)
            return ValidationResult.Error($"--agent-port {AgentPort} is not a port (1-65535).");
        if (ApiPort is < 1 or > 65535)
            return ValidationResult.Error($"--api-port {ApiPort} is not a port (1-65535).");
        if (LogFormat is not null && !ServerOptions.LogFormats.Contains(LogFormat))
            return ValidationResult.Error($"--log-format '{LogFormat}' is unknown: use {string.Join(" or ", ServerOptions.LogFormats)}.");
        if (OtlpEndpoint is not null)
        {
            try
            {
                ServerOptions.OtlpTracesUri(OtlpEndpoint);
            }
            catch (ArgumentException e)
            {
                return ValidationResult.Error($"--otlp-endpoint: {e.Message}");
            }
        }
        return ValidationResult.Success();
    }
}

/// <summary><c>rig server run</c></summary>
internal sealed class ServerRunCommand : AsyncCommand<ServerRunSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ServerRunSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ServerOptions options;
        try
        {
            options = ServerOptions.Load(settings.Data);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            throw new CliException(e.Message);
        }
        if (settings.LogLevel is not null)
            options = options with { LogLevel = settings.LogLevel };
        if (settings.LogFormat is not null)
            options = options with { LogFormat = settings.LogFormat };
        if (settings.OtlpEndpoint is not null)
            options = options with { OtlpEndpoint = settings.OtlpEndpoint };
        if (!ServerOptions.LogFormats.Contains(options.LogFormat))
            throw new CliException($"logFormat '{options.LogFormat}' in {ServerOptions.ConfigPath(options.DataDirectory)} is unknown: use {string.Join(" or ", ServerOptions.LogFormats)}.");
        if (options.OtlpEndpoint is { } otlp)
        {
            try
            {
                ServerOptions.OtlpTracesUri(otlp);
            }
            catch (ArgumentException e)
            {
                throw new CliException($"otlpEndpoint in {ServerOptions.ConfigPath(options.DataDirectory)}: {e.Message}");
            }
        }
        options = options with { AgentPort = settings.AgentPort ?? options.AgentPort, ApiPort = settings.ApiPort ?? options.ApiPort };
        using var stop = new StopSignals(cancellationToken);
        GatewayServer started;
        try
        {
            started = await GatewayServer.StartAsync(options, stop.Token).ConfigureAwait(false);
        }
        catch (ListenerBindException e)
        {
            throw ListenerError(e, options.DataDirectory);
        }
        catch (Rig.Server.Security.SecretKeyException e)
        {
            throw new CliException(e.Message, "secrets-key");
        }
        catch (OperationCanceledException) when (stop.IsStopRequested)
        {
            return 0; // stopped (Ctrl+C, SIGTERM) while starting, e.g. while waiting for the database
        }
        await using var server = started;
        // Tests and scripts read this line to learn the bound ports; with JSON logs it is a JSON object like every line.
        var listening = $"rig gateway listening: agents {server.AgentUrl} operators {server.ApiUrl}";
        Console.Out.WriteLine(options.LogFormat == "json"
            ? System.Text.Json.JsonSerializer.Serialize(new // the fields of Microsoft.Extensions.Logging's JSON console lines
            {
                Timestamp = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
                EventId = ServerEventIds.Listening,
                LogLevel = "Information",
                Category = "Rig.Server",
                Message = listening,
                State = new { AgentUrl = server.AgentUrl.ToString(), ApiUrl = server.ApiUrl.ToString() },
            })
            : listening);
        Console.Out.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        return 0;
    }

    /// <summary>One line: the port, which listener, and the option that moves it (this run, or server.json for good); the
    /// hint says how to find the other process and what moving the port means for enrolled agents.</summary>
    internal static CliException ListenerError(ListenerBindException e, string data)
    {
        var agents = e.Listener == ListenerBindException.AgentEndpoint;
        var (option, key) = agents ? ("--agent-port", "agentPort") : ("--api-port", "apiPort");
        var where = $"{option} N (or {key} in {ServerOptions.ConfigPath(data)})";
        var moving = agents ? " Agents keep the port they enrolled with: moving it for good means enrolling them again." : "";
        return e.Problem switch
        {
            ListenerProblem.InUse => new CliException($"port {e.Port} ({e.Listener}) is in use by another process; choose {where}", "port-in-use",
                $"Or stop that process: `ss -ltnp 'sport = :{e.Port}'` shows which it is.{moving}"),
            ListenerProblem.Forbidden => new CliException($"port {e.Port} ({e.Listener}) needs privileges this user lacks (ports below 1024); choose {where}", "port-forbidden",
                $"Use a port above 1023.{moving}"),
            _ => new CliException($"the {e.Listener} cannot listen on {e.Address}: this host has no such address", "no-such-address",
                $"Change {(agents ? "agentListenAddress" : "apiListenAddress")} in {ServerOptions.ConfigPath(data)} to one of this host's addresses (0.0.0.0: all of them)."),
        };
    }
}

/// <summary>Options of <c>rig server metrics-token</c>.</summary>
internal sealed class ServerMetricsTokenSettings : CommandSettings
{
    /// <summary>Data directory.</summary>
    [CommandOption("--data <DIR>")]
    [Description("An initialised data directory")]
    public string Data { get; init; } = "rig-data";

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    public bool Json { get; init; }
}

/// <summary><c>rig server metrics-token</c>: a new read-only token for <c>/metrics</c> (the previous one stops working),
/// printed once; the running gateway takes it at once.</summary>
internal sealed class ServerMetricsTokenCommand : Command<ServerMetricsTokenSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, ServerMetricsTokenSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        try
        {
            ServerOptions.Load(settings.Data);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            throw new CliException(e.Message);
        }
        var metrics = new Server.Security.MetricsToken(Path.GetFullPath(settings.Data));
        var token = metrics.Create();
        if (settings.Json)
        {
            Output.JsonLine(new { metricsToken = token, file = metrics.FilePath });
            return 0;
        }
        AnsiConsole.MarkupLine($"[bold]Metrics token[/] (shown once; it reads /metrics and nothing else; the previous one no longer works): [yellow]{Output.Safe(token)}[/]");
        AnsiConsole.MarkupLine($"Its hash is in {Output.Safe(metrics.FilePath)}. Give the token to Prometheus in a file: [grey]authorization: {{ credentials_file: /etc/prometheus/rig-metrics.token }}[/]");
        return 0;
    }
}

/// <summary>Certificate helpers for the CLI.</summary>
internal static class Security
{
    public static string PinOfFile(string path) =>
        Server.Security.CertificateAuthority.PinOf(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(path)));
}

/// <summary>Options of <c>rig server rotate-secrets-key</c>.</summary>
internal sealed class ServerRotateSecretsKeySettings : CommandSettings
{
    /// <summary>Data directory.</summary>
    [CommandOption("--data <DIR>")]
    [Description("An initialised data directory (the gateway stopped)")]
    public string Data { get; init; } = "rig-data";

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    public bool Json { get; init; }
}

/// <summary><c>rig server rotate-secrets-key</c>: a new secrets key; every secret value in the database re-sealed with it
/// in one transaction; the old key kept as <c>secrets.key.old</c> until the operator removes it. Run with the gateway stopped.</summary>
internal sealed class ServerRotateSecretsKeyCommand : AsyncCommand<ServerRotateSecretsKeySettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ServerRotateSecretsKeySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ServerOptions options;
        try
        {
            options = ServerOptions.Load(settings.Data);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            throw new CliException(e.Message);
        }
        Server.Security.SecretRotation rotation;
        try
        {
            rotation = await Server.Security.SecretsKeyRotation.RotateAsync(options, ct: cancellationToken).ConfigureAwait(false);
        }
        catch (Server.Security.SecretKeyException e)
        {
            throw new CliException(e.Message, "secrets-key");
        }
        var backup = Path.Combine(options.DataDirectory, Server.Security.SecretsKeyFile.BackupName);
        if (settings.Json)
        {
            Output.JsonLine(new { oldKeyId = rotation.OldKeyId, newKeyId = rotation.NewKeyId, modelRows = rotation.ModelRows, values = rotation.Values, commands = rotation.Commands, renderedFiles = rotation.RenderedFiles, backup });
            return 0;
        }
        AnsiConsole.MarkupLine($"Secrets key rotated: {rotation.OldKeyId} -> [bold]{rotation.NewKeyId}[/]; re-sealed {rotation.Values} secret values in {rotation.ModelRows} model rows, {rotation.Commands} queued commands, {rotation.RenderedFiles} rendered files.");
        AnsiConsole.MarkupLine($"The old key is in {Output.Safe(backup)}: start the gateway, check it reads its secrets, then remove it (keep a copy offline while database backups made before now exist).");
        return 0;
    }
}
