using System.ComponentModel;
using System.Diagnostics;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig package fetch</c>.</summary>
internal sealed class PackageFetchSettings : ConnectionSettings
{
    /// <summary>Packages to fetch.</summary>
    [CommandArgument(0, "<PACKAGE>")]
    [Description("NAME or NAME=VERSION (a pinned version), e.g. nginx-light")]
    public string[] Packages { get; init; } = [];

    /// <summary>Debian suite.</summary>
    [CommandOption("--distro <SUITE>")]
    [Description("Debian suite of the devices: bookworm, trixie, ... (required)")]
    public string? Distro { get; init; }

    /// <summary>dpkg architecture.</summary>
    [CommandOption("--arch <ARCH>")]
    [Description("dpkg architecture of the devices: amd64, arm64, ... (required)")]
    public string? Architecture { get; init; }

    /// <summary>Devices whose packages need not be fetched.</summary>
    [CommandOption("--device <DEVICE>")]
    [Description("A device whose packages (its latest inventory) are not fetched; repeat it: only what every named device has is left out. None: the full closure")]
    public string[] Devices { get; init; } = [];

    /// <summary>Debian archive mirror.</summary>
    [CommandOption("--mirror <URL>")]
    [Description("Debian archive (default: the gateway's fetchMirror, else its host's apt sources, else http://deb.debian.org/debian)")]
    public string? Mirror { get; init; }

    /// <summary>Security archive mirror.</summary>
    [CommandOption("--security-mirror <URL>")]
    [Description("Debian security archive (default likewise, else http://deb.debian.org/debian-security)")]
    public string? SecurityMirror { get; init; }

    /// <summary>Archive areas.</summary>
    [CommandOption("--component <AREA>")]
    [Description("Archive area; repeat it (default: main)")]
    public string[] Components { get; init; } = [];

    /// <summary>Package format.</summary>
    [CommandOption("--format <FORMAT>")]
    [Description("deb (default); rpm is refused with the reason")]
    public string? Format { get; init; }

    /// <summary>Refresh the lists now.</summary>
    [CommandOption("--refresh")]
    [Description("Download the package lists again even when they are recent")]
    public bool Refresh { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Distro))
            return ValidationResult.Error("--distro is required: the Debian suite of the devices (e.g. --distro bookworm).");
        if (string.IsNullOrWhiteSpace(Architecture))
            return ValidationResult.Error("--arch is required: the devices' dpkg architecture (e.g. --arch amd64).");
        return ValidationResult.Success();
    }
}

/// <summary><c>rig package fetch NAME[=VERSION]... --distro SUITE --arch ARCH [--device DEV]...</c>: the gateway downloads
/// the packages and the dependencies the devices lack from the distribution's mirror, verified, into the store.</summary>
internal sealed class PackageFetchCommand : AsyncCommand<PackageFetchSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, PackageFetchSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var request = new PackageFetchRequest(settings.Packages, settings.Distro, settings.Architecture, settings.Devices, settings.Mirror, settings.SecurityMirror,
            settings.Components, settings.Format, settings.Refresh);
        var response = settings.Json
            ? await client.PostAsync<PackageFetchResponse>("api/v1/packages/fetch", request, cancellationToken).ConfigureAwait(false)
            : await WithProgressAsync(client, request, settings, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(response);
            return response.Failed == 0 ? 0 : 1;
        }
        Print(response, settings.Packages);
        return response.Failed == 0 ? 0 : 1;
    }

    /// <summary>The request with a live status line: what the gateway is doing and for how long.</summary>
    private static async Task<PackageFetchResponse> WithProgressAsync(OperatorClient client, PackageFetchRequest request, PackageFetchSettings settings, CancellationToken ct)
    {
        var what = $"{string.Join(' ', settings.Packages)} for {settings.Distro}/{settings.Architecture}";
        var over = settings.Devices.Length == 0 ? "an empty system (full closure)" : $"what {string.Join(", ", settings.Devices)} {(settings.Devices.Length == 1 ? "has" : "all have")}";
        AnsiConsole.MarkupLine($"Fetching [bold]{Output.Safe(what)}[/] over {Output.Safe(over)}.");
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return await client.PostAsync<PackageFetchResponse>("api/v1/packages/fetch", request, ct).ConfigureAwait(false); // a log, not a terminal: no status line per second
        return await AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync("gateway: package lists, resolving, downloading, verifying, importing...", async status =>
        {
            var watch = Stopwatch.StartNew();
            var call = client.PostAsync<PackageFetchResponse>("api/v1/packages/fetch", request, ct);
            while (await Task.WhenAny(call, Task.Delay(500, ct)).ConfigureAwait(false) != call)
                status.Status($"gateway: package lists, resolving, downloading, verifying, importing... {watch.Elapsed.TotalSeconds:0} s");
            return await call.ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    private static void Print(PackageFetchResponse response, IReadOnlyList<string> requested)
    {
        var table = new Table().AddColumns("package", "version", "arch", "needed as", "sha256", "size", "result");
        foreach (var p in response.Packages)
        {
            var reason = p.DeviceVersion is null ? p.Reason : $"{p.Reason} (devices have {p.DeviceVersion})";
            var result = p.Outcome switch
            {
                "added" => "[green]added[/]",
                "already-present" => "[grey]already present[/]",
                _ => $"[red]{Output.Safe(p.Outcome)}[/]",
            };
            table.AddRow(Output.Safe(p.Name), Output.Safe(p.Version), Output.Safe(p.Architecture), Output.Safe(reason), Output.Short(p.Sha256), Output.Size(p.Size), result);
        }
        AnsiConsole.Write(table);
        foreach (var p in response.Packages.Where(p => p.Error is not null))
            AnsiConsole.MarkupLine($"[red]{Output.Safe(p.Name)}:[/] {Output.Safe(p.Error!)}");
        foreach (var note in response.Notes)
            AnsiConsole.MarkupLine($"[yellow]note:[/] {Output.Safe(note)}");
        var basis = response.Devices.Count == 0 ? "an empty system" : $"{response.BasePackages} packages common to {string.Join(", ", response.Devices)}";
        AnsiConsole.MarkupLine($"{response.Packages.Count(p => p.Outcome == "added")} added, {response.Packages.Count(p => p.Outcome == "already-present")} already present, " +
            $"{response.Failed} not imported; {response.Distro}/{response.Architecture} from {Output.Safe(response.Mirror)}, resolved over {Output.Safe(basis)}.");
        if (response.Failed == 0)
        {
            var pins = response.Packages.Where(p => requested.Any(r => r == p.Name || r.StartsWith(p.Name + "=", StringComparison.Ordinal)))
                .Select(p => $"package: {p.Name} {p.Version}");
            AnsiConsole.MarkupLine($"Next: list [bold]{Output.Safe(string.Join("; ", pins))}[/] in a role; its dependencies are in the store now.");
        }
    }
}
