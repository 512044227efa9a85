using System.ComponentModel;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig drift</c>.</summary>
internal sealed class DriftSettings : ConnectionSettings
{
    /// <summary>Selector.</summary>
    [CommandArgument(0, "[DEVICE|SELECTOR]")]
    [Description("A device, or a selector (names, globs, key=value terms); all devices without it")]
    public string? Devices { get; init; }

    /// <summary>Show devices without drift too.</summary>
    [CommandOption("--all")]
    [Description("Show devices without drift too")]
    public bool All { get; init; }
}

/// <summary><c>rig drift [DEVICE|SELECTOR]</c>: what differs between the model and what the devices' agents last
/// reported. Nothing is sent. Exit codes: 0 no drift, 2 drift, 1 errors (a device without an inventory, model errors).</summary>
internal sealed class DriftCommand : AsyncCommand<DriftSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DriftSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var query = string.IsNullOrWhiteSpace(settings.Devices) ? "" : $"?devices={Uri.EscapeDataString(settings.Devices)}";
        var report = await client.GetAsync<DriftReport>($"api/v1/drift{query}", cancellationToken).ConfigureAwait(false);
        if (report.Devices.Count == 0 && !string.IsNullOrWhiteSpace(settings.Devices))
            throw new CliException($"No device matches '{settings.Devices}'.", "no-match", "See `rig device list` for the devices' names; a selector is names, globs or key=value terms.");
        var code = report.HasErrors ? ExitCodes.Error : report.HasDrift ? ExitCodes.Pending : ExitCodes.Ok;
        if (settings.Json)
        {
            Output.JsonLine(report);
            return code;
        }
        if (report.Devices.Count == 0)
            AnsiConsole.MarkupLine("[yellow]The model has no devices.[/]");
        foreach (var device in report.Devices)
        {
            if (device.Outcome == DriftOutcome.None && !settings.All)
                continue;
            var header = device.Outcome switch
            {
                DriftOutcome.None => "[green]no drift[/]",
                DriftOutcome.Drift => $"[yellow]{device.Items.Count} difference(s)[/]",
                _ => "[red]cannot be compared[/]",
            };
            var when = device.CollectedAt is { } at ? $" [grey](inventory of {at.ToLocalTime():yyyy-MM-dd HH:mm:ss})[/]" : "";
            Output.Heading($"[bold]{Safe(device.Device)}[/] {header}{when}");
            if (device.Note is { } note)
                AnsiConsole.MarkupLine($"  [{(device.Outcome == DriftOutcome.Drift ? "grey" : "red")}]{Safe(note)}[/]");
            if (device.Items.Count == 0)
                continue;
            var table = new Table().Border(TableBorder.Simple).AddColumns("kind", "item", "drift", "model", "actual");
            foreach (var item in device.Items)
            {
                var colour = item.Change switch { "missing" => "red", "extra" => "yellow", _ => "blue" };
                table.AddRow(Safe(item.Kind), Safe(item.Item), $"[{colour}]{Safe(item.Change)}[/]", Safe(item.Model ?? "-"), Safe(item.Actual ?? "-"));
            }
            AnsiConsole.Write(table);
        }
        var drifted = report.Devices.Count(d => d.Outcome == DriftOutcome.Drift);
        var unknown = report.Devices.Count(d => d.Outcome is DriftOutcome.NoInventory or DriftOutcome.Invalid);
        AnsiConsole.MarkupLine($"{report.Devices.Count} device(s): {drifted} drifted, {report.Devices.Count - drifted - unknown} as modelled, {unknown} cannot be compared. "
            + (drifted > 0 ? "`rig plan` shows the repair; `rig converge` applies it." : "Nothing was sent."));
        return code;
    }

    /// <summary>Text that came from a device, ready for markup: control characters (ESC, CR, LF...) made visible, so a
    /// name cannot move the cursor or recolour the operator's terminal, then markup escaped (<see cref="Output.Safe"/>).</summary>
    public static string Safe(string text) => Output.Safe(text);
}
