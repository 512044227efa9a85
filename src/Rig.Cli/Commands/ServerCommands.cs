using System.ComponentModel;
using System.Runtime.InteropServices;
using Rig.Server;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig server init</c>.</summary>
public sealed class ServerInitSettings : CommandSettings
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
public sealed class ServerInitCommand : AsyncCommand<ServerInitSettings>
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
        table.AddRow("data directory", Markup.Escape(options.DataDirectory));
        table.AddRow("agent endpoint", $"https://{options.DnsNames[0]}:{options.AgentPort}");
        table.AddRow("operator API", $"https://{options.ApiListenAddress}:{options.ApiPort}");
        table.AddRow("CA pin", pin);
        table.AddRow("database", options.ConnectionString is null ? "SQLite (rig.db)" : "PostgreSQL");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[bold]Admin token[/] (shown once, store it now): [yellow]{token}[/]");
        AnsiConsole.MarkupLine($"Next: [grey]rig server run --data {Markup.Escape(settings.Data)}[/]");
        return 0;
    }
}

/// <summary>Options of <c>rig server run</c>.</summary>
public sealed class ServerRunSettings : CommandSettings
{
    /// <summary>Data directory.</summary>
    [CommandOption("--data <DIR>")]
    [Description("An initialised data directory")]
    public string Data { get; init; } = "rig-data";

    /// <summary>Log level.</summary>
    [CommandOption("--log-level <LEVEL>")]
    [Description("Trace, Debug, Information, Warning (default from server.json)")]
    public string? LogLevel { get; init; }
}

/// <summary><c>rig server run</c></summary>
public sealed class ServerRunCommand : AsyncCommand<ServerRunSettings>
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
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        await using var server = await GatewayServer.StartAsync(options, stop.Token).ConfigureAwait(false);
        // Tests and scripts read this line to learn the bound ports.
        Console.Out.WriteLine($"rig gateway listening: agents {server.AgentUrl} operators {server.ApiUrl}");
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
}

/// <summary>Certificate helpers for the CLI.</summary>
internal static class Security
{
    public static string PinOfFile(string path) =>
        Server.Security.CertificateAuthority.PinOf(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(path)));
}
