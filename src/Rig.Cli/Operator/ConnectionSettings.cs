using System.ComponentModel;
using System.Security.Cryptography.X509Certificates;
using Rig.Server;
using Spectre.Console.Cli;

namespace Rig.Cli.Operator;

/// <summary>Options every operator command shares: where the operator API is and how to trust and authenticate.</summary>
public class ConnectionSettings : CommandSettings
{
    /// <summary>Operator API URL.</summary>
    [CommandOption("--server <URL>")]
    [Description("Operator API URL (env RIG_SERVER; default from --data, else https://localhost:7444)")]
    public string? Server { get; init; }

    /// <summary>Operator token.</summary>
    [CommandOption("--token <TOKEN>")]
    [Description("Operator token (env RIG_TOKEN), printed once by `rig server init`")]
    public string? Token { get; init; }

    /// <summary>CA certificate file.</summary>
    [CommandOption("--ca <FILE>")]
    [Description("Rig CA certificate to trust (env RIG_CA; default DATA/ca/ca.crt with --data)")]
    public string? Ca { get; init; }

    /// <summary>Gateway data directory on this machine (for defaults).</summary>
    [CommandOption("--data <DIR>")]
    [Description("The gateway's data directory, when on this machine (env RIG_DATA)")]
    public string? Data { get; init; }

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    [Description("Print the result as one JSON object on the last line of standard output")]
    public bool Json { get; init; }

    /// <summary>Build a client from options, environment and the data directory.</summary>
    public OperatorClient Connect()
    {
        var data = Data ?? Environment.GetEnvironmentVariable("RIG_DATA");
        ServerOptions? local = data is not null && File.Exists(ServerOptions.ConfigPath(data)) ? ServerOptions.Load(data) : null;
        var server = Server ?? Environment.GetEnvironmentVariable("RIG_SERVER") ?? (local is null ? "https://localhost:7444" : $"https://localhost:{local.ApiPort}");
        var token = Token ?? Environment.GetEnvironmentVariable("RIG_TOKEN")
            ?? throw new CliException("No operator token: pass --token or set RIG_TOKEN (the token `rig server init` printed).");
        var caPath = Ca ?? Environment.GetEnvironmentVariable("RIG_CA") ?? (data is null ? null : Path.Combine(data, "ca", "ca.crt"))
            ?? throw new CliException("No CA to trust: pass --ca FILE (the gateway's DATA/ca/ca.crt), set RIG_CA, or pass --data DIR on the gateway's machine.");
        if (!File.Exists(caPath))
            throw new CliException($"CA certificate '{caPath}' does not exist; copy DATA/ca/ca.crt from the gateway.");
        if (!Uri.TryCreate(server.EndsWith('/') ? server : server + "/", UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
            throw new CliException($"'{server}' is not an https:// URL of the operator API.");
        return new OperatorClient(uri, token, X509CertificateLoader.LoadCertificateFromFile(caPath));
    }
}
