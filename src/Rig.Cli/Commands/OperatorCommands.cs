using System.ComponentModel;
using System.Globalization;
using Rig.Cli.Operator;
using Rig.Model.Domain;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig package add</c>.</summary>
internal sealed class PackageAddSettings : ConnectionSettings
{
    /// <summary>Files to import.</summary>
    [CommandArgument(0, "<FILE>")]
    [Description(".rig.tar.gz, .deb or .rpm files")]
    public string[] Files { get; init; } = [];

    /// <summary>Owner.</summary>
    [CommandOption("--customer <NAME>")]
    [Description("Import as this customer's own packages (only roles on its devices may use them); default: the provider's catalog")]
    public string? Customer { get; init; }
}

/// <summary><c>rig package add FILE...</c></summary>
internal sealed class PackageAddCommand : AsyncCommand<PackageAddSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, PackageAddSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var results = new List<PackageAddResponse>();
        var refused = new List<object>();
        var table = new Table().AddColumns("file", "package", "version", "format", "sha256", "size", "result");
        var failed = 0;
        foreach (var file in settings.Files)
        {
            if (!File.Exists(file))
                throw new CliException($"'{file}' does not exist.");
            try
            {
                var added = await client.AddPackageAsync(file, settings.Customer, cancellationToken).ConfigureAwait(false);
                var p = added.Package;
                results.Add(added);
                table.AddRow(Output.Safe(Path.GetFileName(file)), Output.Safe(p.Name), Output.Safe(p.Version), p.Format, Output.Short(p.Sha256), Output.Size(p.Size), added.AlreadyPresent ? "[grey]already present[/]" : "[green]added[/]");
            }
            catch (OperatorApiException e)
            {
                failed++;
                refused.Add(new { file, e.Error.Code, e.Error.Message });
                table.AddRow(Output.Safe(Path.GetFileName(file)), "", "", "", "", "", $"[red]{Output.Safe(e.Message)}[/]");
            }
        }
        if (!settings.Json)
            AnsiConsole.Write(table);
        else if (failed == 0)
            Output.JsonLine(results); // the API's PackageAddResponse per file
        else
            return CliErrors.Report(true, ExitCodes.Error, "package-refused", $"{failed} of {settings.Files.Length} file(s) were refused; the others were imported.",
                "Each refusal names its file and why; fix or drop those files and add them again.", refused);
        return failed == 0 ? 0 : 1;
    }
}

/// <summary><c>rig package list</c></summary>
internal sealed class PackageListCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var packages = await client.GetAsync<List<PackageInfo>>("api/v1/packages", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(packages);
            return 0;
        }
        var table = new Table().AddColumns("name", "version", "format", "os/arch", "sha256", "size", "owner");
        foreach (var p in packages)
            table.AddRow(Output.Safe(p.Name), Output.Safe(p.Version), p.Format, Output.Safe($"{p.OsFamily}/{p.Architecture}"), Output.Short(p.Sha256), Output.Size(p.Size), Output.Safe(p.Customer ?? "provider"));
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary><c>rig device list</c></summary>
internal sealed class DeviceListCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var devices = await client.GetAsync<List<DeviceStatus>>("api/v1/devices", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(devices);
            return 0;
        }
        var table = new Table().AddColumns("device", "state", "site", "tier", "last seen", "agent", "queue", "progress");
        foreach (var d in devices)
        {
            table.AddRow(Output.Safe(d.Name), Output.Safe(d.State), Output.Safe(d.Site ?? "-"), Output.Safe(d.Tier ?? "-"),
                d.LastSeenAt is { } seen ? seen.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) : "[grey]never[/]",
                Output.Safe(d.AgentVersion ?? "-"), Output.Safe(d.Queue?.Status ?? "-"), d.Queue is { } q ? $"{q.Position}/{q.Length}" : "-");
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary><c>rig device show DEVICE</c>: what the gateway knows about one device: model and discovered facts side by
/// side, roles, agent and certificate, inventory, and its latest two queues command by command with each command's
/// output and each failure's error code and message.</summary>
internal sealed class DeviceShowCommand : AsyncCommand<DeviceSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var detail = await client.GetAsync<DeviceDetail>($"api/v1/devices/{Uri.EscapeDataString(settings.Device)}", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(detail);
            return detail.Status.Queue?.Status == "failed" ? 1 : 0;
        }
        var d = detail.Status;
        var facts = new Grid().AddColumns(2);
        facts.AddRow("[bold]device[/]", Output.Safe(d.Name) + (d.InModel ? "" : " [yellow](not in the model)[/]"));
        facts.AddRow("state", Output.Safe(d.State));
        facts.AddRow("site / tier", Output.Safe($"{d.Site ?? "-"} / {d.Tier ?? "-"}"));
        facts.AddRow("roles", detail.Roles.Count == 0 ? "[grey]none[/]" : Output.Safe(string.Join(", ", detail.Roles.Select(r => $"{r.Name} ({r.Kind}) v{r.Version}"))));
        facts.AddRow("agent", d.LastSeenAt is { } seen ? Output.Safe($"{d.AgentVersion ?? "?"}, last seen {Time(seen)}") : "[grey]never checked in[/]");
        facts.AddRow("certificate", detail.Agent?.Certificate is { } cert ? Certificate(cert) : "[yellow]none issued: the device never enrolled (rig device token NAME)[/]");
        facts.AddRow("inventory", detail.Inventory is { } inventory
            ? Output.Safe($"collected {(detail.LastInventoryAt is { } at ? Time(at) : "?")}: {inventory.Platform}, {inventory.Packages.Count} Rig package(s), {inventory.NativePackages?.Count.ToString(CultureInfo.InvariantCulture) ?? "no"} native package(s), {inventory.Files.Count} file(s)")
            : "[grey]none yet[/]");
        if (detail.InventoryNote is { } note)
            facts.AddRow("[yellow]inventory note[/]", Output.Safe(note));
        facts.AddRow("recorded", Output.Safe($"{detail.Recorded.Packages.Count} package(s), {detail.Recorded.Files.Count} file(s), {detail.Recorded.Services.Count} service(s)"));
        AnsiConsole.Write(facts);

        if (detail.Facts.Any(f => f.Model is not null || f.Discovered is not null))
        {
            var table = new Table().AddColumns("fact", "model", "discovered");
            foreach (var f in detail.Facts.Where(f => f.Model is not null || f.Discovered is not null))
            {
                var discovered = Output.Safe(f.Discovered ?? "-");
                table.AddRow(f.Differs ? $"[red]{Output.Safe(f.Fact)}[/]" : Output.Safe(f.Fact), Output.Safe(f.Model ?? "-"), f.Differs ? $"[red]{discovered}[/] [red](differs)[/]" : discovered);
            }
            AnsiConsole.Write(table);
        }

        if (d.Queue is { } q)
            Queue("latest queue", q, detail.Commands);
        if (detail.PreviousQueue is { } previous)
            Queue("previous queue", previous, detail.PreviousCommands);
        return d.Queue?.Status == "failed" ? 1 : 0;
    }

    private static string Time(DateTimeOffset at) => at.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Certificate(DeviceCertificateView cert)
    {
        var text = Output.Safe($"serial {cert.Serial}, issued {Time(cert.IssuedAt)}, expires {Time(cert.NotAfter)}");
        if (cert.RevokedAt is { } revoked)
            return text + $" [red]revoked {Output.Safe(Time(revoked))}[/]";
        var left = cert.NotAfter - DateTimeOffset.UtcNow;
        return left <= TimeSpan.Zero ? text + " [red](expired)[/]"
            : left < TimeSpan.FromDays(30) ? text + $" [yellow](in {(int)left.TotalDays} days: renew it)[/]"
            : text + $" [grey](in {(int)left.TotalDays} days)[/]";
    }

    /// <summary>A queue and every command with its status and output (each failure in full after the table, which may
    /// cut long text).</summary>
    private static void Queue(string title, QueueView q, IReadOnlyList<CommandView> commands)
    {
        AnsiConsole.MarkupLine($"[bold]{title}[/] {Output.Safe(q.Id)} {RolloutDisplay.Colour(q.Status)} {q.Position}/{q.Length}: {Output.Safe(q.Reason)}, created {Time(q.CreatedAt)}{(q.FinishedAt is { } f ? $", finished {Time(f)}" : "")}");
        if (commands.Count == 0)
            return;
        var table = new Table().AddColumns("#", "command", "status", "code", "message / output");
        foreach (var c in commands)
        {
            var text = c.Result?.Error ?? c.Result?.Output ?? "";
            table.AddRow((c.Sequence + 1).ToString(CultureInfo.InvariantCulture), Output.Safe(c.Spec.Describe()),
                c.Status == "failed" ? $"[red]{c.Status}[/]" : Output.Safe(c.Status), Output.Safe(c.Result?.ErrorCode ?? ""), Output.Safe(text.Trim()));
        }
        AnsiConsole.Write(table);
        foreach (var c in commands.Where(c => c.Status == "failed"))
            AnsiConsole.MarkupLine($"[red]command {c.Sequence + 1} ({Output.Safe(c.Spec.Describe())}) failed[/] [bold]{Output.Safe(c.Result?.ErrorCode ?? "")}[/]: {Output.SafeBlock(c.Result?.Error ?? "")}");
    }
}

/// <summary>Options naming one device.</summary>
internal sealed class DeviceSettings : ConnectionSettings
{
    /// <summary>The device.</summary>
    [CommandArgument(0, "<DEVICE>")]
    public string Device { get; init; } = "";
}

/// <summary>Options of <c>rig device token</c>.</summary>
internal sealed class DeviceTokenSettings : ConnectionSettings
{
    /// <summary>The device.</summary>
    [CommandArgument(0, "<DEVICE>")]
    public string Device { get; init; } = "";

    /// <summary>Where the token goes.</summary>
    [CommandOption("-o|--output <FILE>")]
    [Description("File to write the token to, readable only by you (mode 0600; default ./DEVICE.token)")]
    public string? Output { get; init; }
}

/// <summary><c>rig device token DEVICE [-o FILE]</c>: a one-time enrollment token, written to a file only its owner
/// can read (never printed for a command line, where `ps` and shell history show it), and the <c>rig-agent install</c>
/// line with the gateway's real agent URL and CA pin.</summary>
internal sealed class DeviceTokenCommand : AsyncCommand<DeviceTokenSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceTokenSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var token = await client.PostAsync<EnrollmentTokenView>($"api/v1/devices/{Uri.EscapeDataString(settings.Device)}/enrollment-token", null, cancellationToken).ConfigureAwait(false);
        var file = EnrollmentTokenFile.Write(token, settings.Output);
        if (settings.Json)
        {
            Output.JsonLine(token);
            return 0;
        }
        AnsiConsole.MarkupLine($"One-time enrollment token for [bold]{Output.Safe(token.Device)}[/] (valid until {token.ExpiresAt:u}) written to [bold]{Output.Safe(file)}[/] (mode 0600).");
        await EnrollmentTokenFile.PrintInstallLineAsync(client, token, file, cancellationToken).ConfigureAwait(false);
        return 0;
    }
}

/// <summary>The enrollment token file and the agent command line that reads it, shared by <c>rig device token</c> and
/// <c>rig device rebuild</c>.</summary>
internal static class EnrollmentTokenFile
{
    /// <summary>Write the token to <paramref name="output"/> (default <c>DEVICE.token</c> in the current directory),
    /// mode 0600, replacing any older file; returns the path as the operator will type it.</summary>
    public static string Write(EnrollmentTokenView token, string? output)
    {
        var file = output ?? $"{token.Device}.token";
        if (Directory.Exists(file))
            throw new CliException($"Token file '{file}' is a directory; give a file name with --output.");
        var parent = Path.GetDirectoryName(Path.GetFullPath(file))!;
        if (!Directory.Exists(parent))
            throw new CliException($"Cannot write the token to '{file}': directory '{parent}' does not exist; create it or choose another --output.");
        Rig.Protocol.Trust.WritePrivateFile(file, token.Token + "\n");
        return file;
    }

    /// <summary>Print the <c>rig-agent install</c> line on a line of its own (never wrapped, so it can be copied).</summary>
    public static async Task PrintInstallLineAsync(OperatorClient client, EnrollmentTokenView token, string file, CancellationToken ct)
    {
        var agentUrl = token.AgentUrl ?? (await client.GetAsync<StatusResponse>("api/v1/status", ct).ConfigureAwait(false)).AgentUrl.TrimEnd('/');
        AnsiConsole.MarkupLine($"Copy [bold]{Output.Safe(file)}[/] to the device, then run there:");
        Console.Out.WriteLine(Output.Visible($"  rig-agent install --gateway {agentUrl} --device {token.Device} --token-file {file} --ca-pin {token.CaPin}"));
    }
}

/// <summary><c>rig device revoke DEVICE</c></summary>
internal sealed class DeviceRevokeCommand : AsyncCommand<DeviceSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var result = await client.PostAsync<System.Text.Json.JsonElement>($"api/v1/devices/{Uri.EscapeDataString(settings.Device)}/revoke", null, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(result);
        else
            AnsiConsole.MarkupLine($"Revoked {result.GetProperty("revoked").GetInt32()} certificate(s) of [bold]{Output.Safe(settings.Device)}[/]; its agent is refused from now on.");
        return 0;
    }
}

/// <summary>Options of <c>rig model load</c>.</summary>
internal sealed class ModelLoadSettings : ConnectionSettings
{
    /// <summary>The model file.</summary>
    [CommandArgument(0, "<FILE>")]
    [Description("A JSON model file (YAML model directories come with `rig apply`)")]
    public string File { get; init; } = "";

    /// <summary>Why.</summary>
    [CommandOption("-m|--message <TEXT>")]
    [Description("Why (recorded with the revision; required)")]
    public string? Message { get; init; }

    /// <summary>Confirm removals without asking.</summary>
    [CommandOption("-y|--yes")]
    [Description("Load a model that removes devices, role assignments or packages without asking (required without a terminal)")]
    public bool Yes { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() => RevisionMessage.Require(Message, "model load");
}

/// <summary><c>rig model load FILE.json -m WHY</c></summary>
internal sealed class ModelLoadCommand : AsyncCommand<ModelLoadSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ModelLoadSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!System.IO.File.Exists(settings.File))
            throw new CliException($"Model file '{settings.File}' does not exist.");
        using var client = settings.Connect();
        var json = await System.IO.File.ReadAllTextAsync(settings.File, cancellationToken).ConfigureAwait(false);
        // Like apply: what would be removed is shown and confirmed before the model is replaced.
        var plan = await client.PostJsonTextAsync<PlanReport>("api/v1/plan", json, cancellationToken).ConfigureAwait(false);
        if (plan.Errors.Count == 0)
        {
            var removals = PlanRemovals.Of(plan);
            if (!settings.Json && !removals.IsEmpty)
                PlanView.PrintImpact(plan);
            if (!Confirmation.Confirm(removals, settings.Yes, settings.Json, "Load this model"))
                return Confirmation.Refused;
        }
        var saved = await client.PutJsonTextAsync<ModelPutResponse>($"api/v1/model?message={Uri.EscapeDataString(settings.Message!)}", json, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(saved);
        else
            AnsiConsole.MarkupLine(saved.Changed ? $"Model revision [bold]{saved.Revision}[/]: {saved.Added} added, {saved.Modified} changed, {saved.Removed} removed." : $"No change; the model stays at revision {saved.Revision}.");
        return 0;
    }
}

/// <summary>Options of <c>rig converge</c>.</summary>
internal sealed class ConvergeSettings : ConnectionSettings
{
    /// <summary>Devices (all when none).</summary>
    [CommandArgument(0, "[DEVICE]")]
    public string[] Devices { get; init; } = [];
}

/// <summary><c>rig converge [DEVICE...]</c></summary>
internal sealed class ConvergeCommand : AsyncCommand<ConvergeSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConvergeSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var response = await client.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest(settings.Devices, null), cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(response);
        }
        else
        {
            var table = new Table().AddColumns("device", "outcome", "commands", "queue", "poked", "errors");
            foreach (var d in response.Devices)
                table.AddRow(Output.Safe(d.Device), Output.Safe(d.Outcome), d.Commands.ToString(System.Globalization.CultureInfo.InvariantCulture), Output.Safe(d.QueueId ?? "-"), d.Poked ? "yes" : "no", Output.Safe(string.Join("; ", d.Errors.Select(e => e.Message))));
            AnsiConsole.Write(table);
        }
        return response.Devices.Any(d => d.Outcome is "invalid" or "busy") ? 1 : 0;
    }
}
