using System.Globalization;
using Rig.Contracts;
using Spectre.Console;

namespace Rig.Cli.Commands;

/// <summary>A plan for people: per device the commands that would run and coloured diffs of configuration files.</summary>
internal static class PlanView
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
            Output.Heading($"[bold]{Output.Safe(device.Device)}[/] {header}");
            foreach (var error in device.Errors)
                AnsiConsole.MarkupLine($"  [red]error[/] {Output.Safe(error.Message)} [grey]({Output.Safe(error.Code)}, {Output.Safe(error.Where)})[/]");
            if (device.Commands.Count > 0)
            {
                var table = new Table().Border(TableBorder.Simple).AddColumns("#", "command", "role", "why");
                for (var i = 0; i < device.Commands.Count; i++)
                {
                    var c = device.Commands[i];
                    table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), Output.Safe(c.Description), Output.Safe(c.Role), Output.Safe(c.Reason));
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

    /// <summary>The device-level impact of a plan, before anything is recorded: devices added to and removed from the
    /// model, then one row per device that would change with what is installed, removed, written or deleted and what
    /// happens to services (<c>rig plan</c> shows every command and diff).</summary>
    public static void PrintImpact(PlanReport plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var added = plan.ModelChanges.Where(c => c.Kind == "device" && c.Change == "added").Select(c => c.Name).ToList();
        var removed = plan.ModelChanges.Where(c => c.Kind == "device" && c.Change == "removed").Select(c => c.Name).ToList();
        var counts = plan.ModelChanges.GroupBy(c => c.Change).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}");
        AnsiConsole.MarkupLine($"Model (revision {plan.BaseRevision} now): {(plan.ModelChanges.Count == 0 ? "no change" : Output.Safe(string.Join(", ", counts)) + " object(s)")}.");
        if (added.Count > 0)
            AnsiConsole.MarkupLine($"  devices added: [green]{Output.Safe(string.Join(", ", added))}[/]");
        if (removed.Count > 0)
            AnsiConsole.MarkupLine($"  devices removed: [red]{Output.Safe(string.Join(", ", removed))}[/]");
        var unassigned = plan.ModelChanges.Where(c => c.Kind == "assignment" && c.Change == "removed").Select(c => c.Name.Replace("|", ": ", StringComparison.Ordinal)).ToList();
        if (unassigned.Count > 0)
            AnsiConsole.MarkupLine($"  role assignments removed: [red]{Output.Safe(string.Join(", ", unassigned))}[/]");

        var affected = plan.Devices.Where(d => d.Commands.Count > 0 || d.Errors.Count > 0).ToList();
        if (affected.Count > 0)
        {
            static string Objects(DevicePlanReport d, string kind) =>
                Output.Safe(string.Join(", ", d.Commands.Where(c => c.Kind == kind).Select(c => c.Description.Split(' ', 2) is [_, var rest] ? rest : c.Description)));
            var table = new Table().AddColumns("device", "impact", "install", "remove", "write", "delete", "services");
            foreach (var d in affected)
            {
                var impact = d.Errors.Count > 0 ? $"[red]{d.Errors.Count} error(s)[/]"
                    : d.Outcome == "removed" ? "[red]removed: everything goes[/]"
                    : added.Contains(d.Device, StringComparer.Ordinal) ? $"[green]new[/], {d.Commands.Count} command(s)"
                    : $"{d.Commands.Count} command(s)";
                var removals = Objects(d, "remove");
                table.AddRow(Output.Safe(d.Device), impact, Objects(d, "install"), removals.Length == 0 ? "" : $"[red]{removals}[/]",
                    Objects(d, "write-file"), Objects(d, "delete-file"), Objects(d, "service"));
            }
            AnsiConsole.Write(table);
        }
        var unchanged = plan.Devices.Count - affected.Count;
        AnsiConsole.MarkupLine($"{affected.Count} device(s) would change when this revision is rolled out, {unchanged} unchanged. [grey]`rig plan` shows every command and diff.[/]");
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
            AnsiConsole.MarkupLine($"    [{colour}]{Output.Safe(line)}[/]");
        }
    }
}
