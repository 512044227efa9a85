using System.Globalization;
using Rig.Server.Api;
using Spectre.Console;

namespace Rig.Cli.Commands;

/// <summary>A plan for people: per device the commands that would run and coloured diffs of configuration files.</summary>
public static class PlanView
{
    /// <summary>Print a plan report.</summary>
    public static void Print(PlanReport plan, bool showUnchanged)
    {
        ArgumentNullException.ThrowIfNull(plan);
        foreach (var device in plan.Devices)
        {
            if (device.Outcome == "unchanged" && !showUnchanged)
                continue;
            var header = device.Outcome switch
            {
                "unchanged" => "[green]unchanged[/]",
                "invalid" => "[red]cannot be planned[/]",
                "removed" => $"[yellow]no longer in the model: {device.Commands.Count} command(s)[/]",
                _ => $"[blue]{device.Commands.Count} command(s)[/]{(device.DownloadBytes > 0 ? $", {Output.Size(device.DownloadBytes)} to download" : "")}",
            };
            Output.Heading($"[bold]{Markup.Escape(device.Device)}[/] {header}");
            foreach (var error in device.Errors)
                AnsiConsole.MarkupLine($"  [red]error[/] {Markup.Escape(error.Message)} [grey]({Markup.Escape(error.Code)}, {Markup.Escape(error.Where)})[/]");
            if (device.Commands.Count > 0)
            {
                var table = new Table().Border(TableBorder.Simple).AddColumns("#", "command", "role", "why");
                for (var i = 0; i < device.Commands.Count; i++)
                {
                    var c = device.Commands[i];
                    table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), Markup.Escape(c.Description), Markup.Escape(c.Role), Markup.Escape(c.Reason));
                }
                AnsiConsole.Write(table);
                var added = device.Commands.Count(c => c.Kind == "install" && c.Reason.Contains("needed by ", StringComparison.Ordinal));
                if (added > 0)
                    AnsiConsole.MarkupLine($"  [grey]{added} install(s) of dependencies no role lists: the catalog's packages the listed ones need and the device lacks (see why).[/]");
            }
            foreach (var diff in device.Diffs)
                WriteDiff(diff.Diff);
        }
        var changed = plan.Devices.Count(d => d.Commands.Count > 0);
        var invalid = plan.Devices.Count(d => d.Errors.Count > 0);
        AnsiConsole.MarkupLine($"{plan.Devices.Count} device(s): {changed} would change, {plan.Devices.Count - changed - invalid} unchanged, {invalid} with errors. Nothing was sent.");
    }

    /// <summary>Write a unified diff with colours.</summary>
    public static void WriteDiff(string diff)
    {
        ArgumentNullException.ThrowIfNull(diff);
        foreach (var line in diff.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            var colour = line.StartsWith("+++", StringComparison.Ordinal) || line.StartsWith("---", StringComparison.Ordinal) ? "bold"
                : line[0] == '+' ? "green" : line[0] == '-' ? "red" : line.StartsWith("@@", StringComparison.Ordinal) ? "cyan" : "grey";
            AnsiConsole.MarkupLine($"    [{colour}]{Markup.Escape(line)}[/]");
        }
    }
}
