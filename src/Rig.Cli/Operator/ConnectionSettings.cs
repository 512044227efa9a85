using System.ComponentModel;
using System.Security.Cryptography.X509Certificates;
using Rig.Server;
using Spectre.Console.Cli;

namespace Rig.Cli.Operator;

/// <summary>Options every operator command shares: where the operator API is and how to trust and authenticate.
/// Each setting comes from, in order: its option, its environment variable, the gateway's data directory
/// (<c>--data</c>/<c>RIG_DATA</c>, on the gateway host), then the context (<c>--context</c>, <c>RIG_CONTEXT</c> or
/// the one chosen with <c>rig context use</c>).</summary>
internal class ConnectionSettings : CommandSettings
{
    /// <summary>Operator API URL.</summary>
    [CommandOption("--server <URL>")]
    [Description("Operator API URL (env RIG_SERVER; else from --data or the context; else https://localhost:7444)")]
    public string? Server { get; init; }

    /// <summary>Operator token.</summary>
    [CommandOption("--token <TOKEN>")]
    [Description("Operator token (env RIG_TOKEN); prefer --token-file, a command line is visible to other users")]
    public string? Token { get; init; }

    /// <summary>File with the operator token.</summary>
    [CommandOption("--token-file <FILE>")]
    [Description("File holding the operator token (env RIG_TOKEN_FILE)")]
    public string? TokenFile { get; init; }

    /// <summary>CA certificate file.</summary>
    [CommandOption("--ca <FILE>")]
    [Description("Rig CA certificate to trust (env RIG_CA; default DATA/ca/ca.crt with --data, else the context's)")]
    public string? Ca { get; init; }

    /// <summary>Gateway data directory on this machine (for defaults).</summary>
    [CommandOption("--data <DIR>")]
    [Description("The gateway's data directory, when on this machine (env RIG_DATA)")]
    public string? Data { get; init; }

    /// <summary>Context name.</summary>
    [CommandOption("--context <NAME>")]
    [Description("A context saved with `rig context add` (env RIG_CONTEXT; default: the current context)")]
    public string? Context { get; init; }

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    [Description("Print the result (or the error) as one JSON document on standard output")]
    public bool Json { get; init; }

    /// <summary>Build a client from options, environment, the data directory and the context.</summary>
    public OperatorClient Connect()
    {
        if (Context is not null && Data is not null)
            throw new UsageException("--context and --data both say where the gateway is; give one of them.");
        // An explicit --context wins over RIG_DATA; a context is never used for another gateway than its own (its token
        // must not be sent to a --server given on the command line or in RIG_SERVER).
        var data = Context is null ? Data ?? Environment.GetEnvironmentVariable("RIG_DATA") : null;
        ServerOptions? local = data is not null && File.Exists(ServerOptions.ConfigPath(data)) ? ServerOptions.Load(data) : null;
        var explicitServer = Server ?? Environment.GetEnvironmentVariable("RIG_SERVER");
        if (Context is not null && explicitServer is not null)
            throw new UsageException("--context and --server (or RIG_SERVER) both say where the gateway is; give one of them.");
        var context = data is null && explicitServer is null ? SelectedContext() : null;
        var server = explicitServer ?? (local is not null ? $"https://localhost:{local.ApiPort}" : context?.Context.Server) ?? "https://localhost:7444";
        var token = Token ?? Environment.GetEnvironmentVariable("RIG_TOKEN")
            ?? ReadTokenFile(TokenFile ?? Environment.GetEnvironmentVariable("RIG_TOKEN_FILE") ?? context?.Context.TokenFile)
            ?? throw new CliException("No operator token.", "no-token",
                "Pass --token-file FILE or set RIG_TOKEN (the token `rig server init` printed), or add a context: `rig context add NAME --gateway URL --ca-pin PIN --token-file FILE`.");
        var caPath = Ca ?? Environment.GetEnvironmentVariable("RIG_CA") ?? (data is null ? null : Path.Combine(data, "ca", "ca.crt")) ?? context?.Context.CaFile
            ?? throw new CliException("No CA to trust.", "no-ca",
                "Pass --ca FILE (the gateway's DATA/ca/ca.crt), set RIG_CA, pass --data DIR on the gateway's machine, or add a context with `rig context add`.");
        if (!File.Exists(caPath))
            throw new CliException($"CA certificate '{caPath}' does not exist.", "no-ca", "Copy DATA/ca/ca.crt from the gateway, or add a context with `rig context add` (it fetches the CA and checks its pin).");
        if (!Uri.TryCreate(server.EndsWith('/') ? server : server + "/", UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
            throw new UsageException($"'{server}' is not an https:// URL of the operator API.", "Pass --server https://HOST:7444 (the operator listener of `rig server run`).");
        return new OperatorClient(uri, token, X509CertificateLoader.LoadCertificateFromFile(caPath));
    }

    private (string Name, ClientContext Context)? SelectedContext()
    {
        var name = Context ?? Environment.GetEnvironmentVariable("RIG_CONTEXT");
        var contexts = name is null && !File.Exists(ClientContexts.FilePath) ? null : ClientContexts.Load();
        name ??= contexts?.Current;
        if (name is null)
            return null;
        if (contexts is null || !contexts.Contexts.TryGetValue(name, out var found))
            throw new CliException($"There is no context '{name}'.", "unknown-context",
                $"See `rig context list`; add one with `rig context add {name} --gateway URL --ca-pin PIN --token-file FILE`.");
        return (name, found);
    }

    private static string? ReadTokenFile(string? path)
    {
        if (path is null)
            return null;
        if (!File.Exists(path))
            throw new CliException($"The token file '{path}' does not exist.", "no-token", "Write the operator token into it (mode 0600), or pass another --token-file.");
        var token = File.ReadAllText(path).Trim();
        if (token.Length == 0)
            throw new CliException($"The token file '{path}' is empty.", "no-token", "Write the operator token `rig server init` printed into it.");
        return token;
    }
}
