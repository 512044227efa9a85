using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>The reason every command that records a revision must be given (<c>-m</c>): it is what the history
/// shows whoever reads it later.</summary>
internal static class RevisionMessage
{
    /// <summary>A usage error (exit 64) when <paramref name="message"/> is missing or blank.</summary>
    public static ValidationResult Require(string? message, string command) =>
        string.IsNullOrWhiteSpace(message)
            ? ValidationResult.Error($"`rig {command}` records a model revision and needs the reason with -m/--message (e.g. -m \"retire the old web server\"): it is kept in the history for whoever reads it later.")
            : ValidationResult.Success();
}

/// <summary>Asking before a change removes something: a device, a role assignment, a package from a device. On a
/// terminal the operator is asked; otherwise (a script, a pipe, <c>--json</c>) only <c>--yes</c> lets it through.</summary>
internal static class Confirmation
{
    /// <summary>Exit code of a change refused because it removes something and was not confirmed (nothing was done).</summary>
    public const int Refused = ExitCodes.Error;

    /// <summary>True when both standard input and standard output are a terminal, so a person can be asked.</summary>
    public static bool Interactive => !Console.IsInputRedirected && !Console.IsOutputRedirected;

    /// <summary>True when the change may go ahead: nothing is removed, <paramref name="yes"/> was given, or the
    /// operator said yes on the terminal. Otherwise says why nothing was done (one JSON document with
    /// <paramref name="json"/>) and returns false.</summary>
    public static bool Confirm(PlanRemovals removals, bool yes, bool json, string action)
    {
        ArgumentNullException.ThrowIfNull(removals);
        if (removals.IsEmpty || yes)
            return true;
        var what = removals.ToString();
        if (!json && Interactive)
        {
            AnsiConsole.MarkupLine($"[yellow]This removes:[/] {Output.Safe(what)}");
            if (AnsiConsole.Confirm($"{Output.Safe(action)}?", defaultValue: false))
                return true;
            AnsiConsole.MarkupLine("Nothing was done.");
            return false;
        }
        CliErrors.Report(json, ExitCodes.Error, "confirmation-required",
            $"This change removes {what}; nothing was done.", $"Pass --yes to {action.ToLowerInvariant()} without being asked (there is no terminal to ask on).");
        return false;
    }
}
