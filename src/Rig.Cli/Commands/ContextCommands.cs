using System.ComponentModel;
using System.Security.Cryptography.X509Certificates;
using Rig.Cli.Operator;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig context add</c>.</summary>
internal sealed class ContextAddSettings : CommandSettings
{
    /// <summary>Name.</summary>
    [CommandArgument(0, "<NAME>")]
    public string Name { get; init; } = "";

    /// <summary>Operator API URL.</summary>
    [CommandOption("--gateway <URL>")]
    [Description("The gateway's operator API URL, e.g. https://gateway.example:7444 (required)")]
    public string? Gateway { get; init; }

    /// <summary>CA pin.</summary>
    [CommandOption("--ca-pin <PIN>")]
    [Description("The CA pin `rig server init` printed (sha256:...); the CA fetched from the gateway must match it (required)")]
    public string? CaPin { get; init; }

    /// <summary>Token file.</summary>
    [CommandOption("--token-file <FILE>")]
    [Description("File holding the operator token (required; only its path is stored)")]
    public string? TokenFile { get; init; }

    /// <summary>Make it current.</summary>
    [CommandOption("--use")]
    [Description("Make it the current context (the first context added always is)")]
    public bool Use { get; init; }

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    public bool Json { get; init; }
}

/// <summary><c>rig context add NAME --gateway URL --ca-pin PIN --token-file FILE</c>: remember a gateway, so operator
/// commands work from a workstation. The CA is fetched from the gateway and kept only if its pin matches.</summary>
internal sealed class ContextAddCommand : AsyncCommand<ContextAddSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ContextAddSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ClientContexts.CheckName(settings.Name);
        var url = settings.Gateway ?? throw new UsageException("--gateway URL is required: the operator API of the gateway, e.g. https://gateway.example:7444.");
        var pin = settings.CaPin ?? throw new UsageException("--ca-pin PIN is required: the CA pin `rig server init` printed (sha256:...).");
        var tokenFile = settings.TokenFile ?? throw new UsageException("--token-file FILE is required: a file (mode 0600) holding the operator token.");
        if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
            throw new UsageException($"'{url}' is not an https:// URL of the operator API.", "Pass --gateway https://HOST:7444.");
        if (!pin.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) || pin.Length != 71 || !pin[7..].All(char.IsAsciiHexDigit))
            throw new UsageException($"'{pin}' is not a CA pin: expected sha256: and 64 hex digits, as `rig server init` prints it.");
        if (!File.Exists(tokenFile))
            throw new CliException($"The token file '{tokenFile}' does not exist.", "no-token", "Write the operator token into it first (mode 0600).");
        var ca = await FetchCaAsync(uri, cancellationToken).ConfigureAwait(false);
        var actual = ClientContexts.PinOf(ca);
        if (!string.Equals(actual, pin, StringComparison.OrdinalIgnoreCase))
            throw new CliException($"The gateway at {uri} presents CA {actual}, not the pinned {pin}; nothing was saved.", "ca-pin-mismatch",
                "Check the pin `rig server init` printed and the URL: a different CA means another gateway or a man in the middle.");
        var contexts = ClientContexts.Load();
        var caFile = ClientContexts.CaFileOf(settings.Name);
        Directory.CreateDirectory(ClientContexts.Directory);
        await File.WriteAllTextAsync(caFile, ca.ExportCertificatePem(), cancellationToken).ConfigureAwait(false);
        var entry = new ClientContext(uri.ToString(), actual, caFile, Path.GetFullPath(tokenFile));
        var all = new Dictionary<string, ClientContext>(contexts.Contexts, StringComparer.Ordinal) { [settings.Name] = entry };
        var updated = contexts with { Contexts = all, Current = settings.Use || contexts.Current is null ? settings.Name : contexts.Current };
        updated.Save();
        if (settings.Json)
        {
            Output.JsonLine(new ContextView(settings.Name, updated.Current == settings.Name, entry.Server, entry.CaPin, entry.TokenFile));
            return 0;
        }
        AnsiConsole.MarkupLine($"Context [bold]{Output.Safe(settings.Name)}[/] saved in {Output.Safe(ClientContexts.FilePath)}{(updated.Current == settings.Name ? " and is the current context" : $"; `rig context use {Output.Safe(settings.Name)}` to use it")}.");
        return 0;
    }

    private static async Task<X509Certificate2> FetchCaAsync(Uri api, CancellationToken ct)
    {
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            // First contact: the pin, not the TLS chain, decides whether this CA is the right one.
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        using var http = new HttpClient(handler) { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30), MaxResponseContentBufferSize = 64 * 1024 };
        string pem;
        try
        {
            pem = await http.GetStringAsync("ca.crt", ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"Could not fetch the CA from {api}: {e.Message}.", "gateway-unreachable",
                "Check the URL (the operator listener, port 7444 by default) and that `rig server run` runs there.", ExitCodes.Unavailable);
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CliException($"The gateway at {api} did not answer within 30 s.", "gateway-timeout", "Check the URL and the network path to the gateway.", ExitCodes.Unavailable);
        }
        try
        {
            return X509Certificate2.CreateFromPem(pem);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            throw new CliException($"{api}ca.crt did not return a certificate; is this a Rig gateway's operator listener?", "not-a-gateway", "Check the URL and port (7444 by default).");
        }
    }
}

/// <summary>A context as listed.</summary>
internal sealed record ContextView(string Name, bool Current, string Server, string CaPin, string TokenFile);

/// <summary>Options naming one context.</summary>
internal sealed class ContextNameSettings : CommandSettings
{
    /// <summary>Name.</summary>
    [CommandArgument(0, "<NAME>")]
    public string Name { get; init; } = "";

    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    public bool Json { get; init; }
}

/// <summary><c>rig context use NAME</c>.</summary>
internal sealed class ContextUseCommand : Command<ContextNameSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, ContextNameSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var contexts = ClientContexts.Load();
        if (!contexts.Contexts.TryGetValue(settings.Name, out var found))
            throw new CliException($"There is no context '{settings.Name}'.", "unknown-context", "See `rig context list`, or add it with `rig context add`.");
        (contexts with { Current = settings.Name }).Save();
        if (settings.Json)
            Output.JsonLine(new ContextView(settings.Name, true, found.Server, found.CaPin, found.TokenFile));
        else
            AnsiConsole.MarkupLine($"Now using context [bold]{Output.Safe(settings.Name)}[/] ({Output.Safe(found.Server)}).");
        return 0;
    }
}

/// <summary><c>rig context remove NAME</c>.</summary>
internal sealed class ContextRemoveCommand : Command<ContextNameSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, ContextNameSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var contexts = ClientContexts.Load();
        if (!contexts.Contexts.ContainsKey(settings.Name))
            throw new CliException($"There is no context '{settings.Name}'.", "unknown-context", "See `rig context list`.");
        var all = new Dictionary<string, ClientContext>(contexts.Contexts, StringComparer.Ordinal);
        all.Remove(settings.Name);
        (contexts with { Contexts = all, Current = contexts.Current == settings.Name ? null : contexts.Current }).Save();
        File.Delete(ClientContexts.CaFileOf(settings.Name));
        if (settings.Json)
            Output.JsonLine(new { removed = settings.Name });
        else
            AnsiConsole.MarkupLine($"Context [bold]{Output.Safe(settings.Name)}[/] removed (its token file was left alone).");
        return 0;
    }
}

/// <summary>Options of <c>rig context list</c>.</summary>
internal sealed class ContextListSettings : CommandSettings
{
    /// <summary>JSON output.</summary>
    [CommandOption("--json")]
    public bool Json { get; init; }
}

/// <summary><c>rig context list</c>.</summary>
internal sealed class ContextListCommand : Command<ContextListSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, ContextListSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var contexts = ClientContexts.Load();
        var views = contexts.Contexts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => new ContextView(c.Key, c.Key == contexts.Current, c.Value.Server, c.Value.CaPin, c.Value.TokenFile)).ToList();
        if (settings.Json)
        {
            Output.JsonLine(views);
            return 0;
        }
        if (views.Count == 0)
        {
            AnsiConsole.MarkupLine("No contexts. Add one: [grey]rig context add NAME --gateway URL --ca-pin PIN --token-file FILE[/]");
            return 0;
        }
        var table = new Table().AddColumns("", "context", "gateway", "CA pin", "token file");
        foreach (var v in views)
            table.AddRow(v.Current ? "*" : "", Output.Safe(v.Name), Output.Safe(v.Server), Output.Short(v.CaPin["sha256:".Length..]), Output.Safe(v.TokenFile));
        AnsiConsole.Write(table);
        return 0;
    }
}
