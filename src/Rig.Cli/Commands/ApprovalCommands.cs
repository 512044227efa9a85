using System.ComponentModel;
using System.Globalization;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig approval REV</c>.</summary>
internal class ApprovalSettings : ConnectionSettings
{
    /// <summary>The revision.</summary>
    [CommandArgument(0, "<REV>")]
    [Description("The model revision (see `rig history`).")]
    public long Revision { get; init; }
}

/// <summary>Options of <c>rig approve</c> and <c>rig reject</c>.</summary>
internal sealed class ApprovalDecisionSettings : ApprovalSettings
{
    /// <summary>Why (kept with the decision).</summary>
    [CommandOption("-m|--message <TEXT>")]
    [Description("Why: recorded with the decision.")]
    public string? Message { get; init; }
}

/// <summary><c>rig approval REV</c>: what the approval policy asks of a revision and what it has.</summary>
internal sealed class ApprovalShowCommand : AsyncCommand<ApprovalSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ApprovalSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var approval = await client.GetAsync<ApprovalView>($"api/v1/revisions/{settings.Revision}/approval", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(approval);
        else
            ApprovalOutput.Write(approval);
        return 0;
    }
}

/// <summary><c>rig approve REV [-m WHY]</c> and <c>rig reject REV [-m WHY]</c>: record a decision (four eyes).</summary>
internal sealed class ApprovalDecisionCommand : AsyncCommand<ApprovalDecisionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ApprovalDecisionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(settings);
        var decision = context.Name == "reject" ? "reject" : "approve";
        using var client = settings.Connect();
        var path = $"api/v1/revisions/{settings.Revision}/{decision}" + (settings.Message is null ? "" : $"?message={Uri.EscapeDataString(settings.Message)}");
        var approval = await client.PostAsync<ApprovalView>(path, null, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(approval);
            return 0;
        }
        AnsiConsole.MarkupLine($"{(decision == "approve" ? "Approved" : "Rejected")} revision {approval.Revision}.");
        ApprovalOutput.Write(approval);
        return 0;
    }
}

/// <summary>The human view of an <see cref="ApprovalView"/>.</summary>
internal static class ApprovalOutput
{
    public static void Write(ApprovalView a)
    {
        var colour = a.State switch
        {
            ApprovalStates.Approved or ApprovalStates.NotRequired => "green",
            ApprovalStates.Rejected => "red",
            _ => "yellow",
        };
        AnsiConsole.MarkupLine($"Revision [bold]{a.Revision}[/] by {Output.Safe(a.Author)}: [{colour}]{Output.Safe(a.State)}[/]" +
            (a.Required > 0 ? $" ({a.ApprovedBy.Count} of {a.Required} approval(s){(a.ApprovedBy.Count > 0 ? ": " + Output.Safe(string.Join(", ", a.ApprovedBy)) : "")})" : ""));
        if (a.Objects.Count > 0)
        {
            var table = new Table().AddColumns("kind", "name", "approvals", "where an approver needs 'approve'");
            foreach (var o in a.Objects)
                table.AddRow(Output.Safe(o.Kind), Output.Safe(o.Name), o.Approvals.ToString(CultureInfo.InvariantCulture), Output.Safe(string.Join("; ", o.Places)));
            AnsiConsole.Write(table);
        }
        foreach (var d in a.Decisions)
        {
            AnsiConsole.MarkupLine($"  {d.At.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} {Output.Safe(d.Operator)} {Output.Safe(d.Decision)}d" +
                (d.Message.Length > 0 ? $": {Output.Safe(d.Message)}" : ""));
        }
        if (a.BlockedBy.Count > 0)
            AnsiConsole.MarkupLine($"[yellow]Earlier revisions lacking approval also block its rollout:[/] {Output.Safe(string.Join(", ", a.BlockedBy))} (see `rig approval REV`).");
    }
}
