using System.ComponentModel;
using System.Globalization;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig history</c>.</summary>
internal sealed class HistorySettings : ConnectionSettings
{
    /// <summary>How many.</summary>
    [CommandOption("--limit <N>")]
    public int Limit { get; init; } = 30;
}

/// <summary><c>rig history</c>: model revisions, newest first.</summary>
internal sealed class HistoryCommand : AsyncCommand<HistorySettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, HistorySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var revisions = await client.GetAsync<List<RevisionView>>($"api/v1/revisions?limit={settings.Limit}", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(revisions);
            return 0;
        }
        var table = new Table().AddColumns("rev", "when", "who", "objects", "approval", "why");
        foreach (var r in revisions)
        {
            table.AddRow(r.Revision.ToString(CultureInfo.InvariantCulture), r.CreatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Output.Safe(r.Author), r.Changes.ToString(CultureInfo.InvariantCulture),
                r.Approval switch { ApprovalStates.Pending => "[yellow]pending[/]", ApprovalStates.Rejected => "[red]rejected[/]", ApprovalStates.Approved => "[green]approved[/]", _ => "-" }, Output.Safe(r.Message));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary>Options of <c>rig diff</c>.</summary>
internal sealed class DiffSettings : ConnectionSettings
{
    /// <summary>From.</summary>
    [CommandArgument(0, "<REV1>")]
    public long From { get; init; }

    /// <summary>To.</summary>
    [CommandArgument(1, "<REV2>")]
    public long To { get; init; }
}

/// <summary><c>rig diff REV1 REV2</c>: what differs, object by object.</summary>
internal sealed class DiffCommand : AsyncCommand<DiffSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DiffSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var entries = await client.GetAsync<List<ModelDiffEntry>>($"api/v1/revisions/diff?from={settings.From}&to={settings.To}", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(entries);
            return 0;
        }
        if (entries.Count == 0)
            AnsiConsole.MarkupLine($"Revisions {settings.From} and {settings.To} are the same model.");
        foreach (var e in entries)
        {
            AnsiConsole.MarkupLine($"[bold]{Output.Safe(e.Change)}[/] {Output.Safe(e.Kind)} [bold]{Output.Safe(e.Name)}[/]");
            PlanView.WriteDiff(e.Diff);
        }
        return 0;
    }
}
