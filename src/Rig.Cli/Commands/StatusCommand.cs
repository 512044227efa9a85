using System.Globalization;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary><c>rig status</c>: the gateway at a glance (version, store, devices by state, agents seen recently, active
/// rollouts). <c>--json</c> prints the API's <see cref="StatusResponse"/>.</summary>
internal sealed class StatusCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var status = await client.GetAsync<StatusResponse>("api/v1/status", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(status);
            return 0;
        }
        var about = new Grid().AddColumns(2);
        about.AddRow("[bold]gateway[/]", Output.Safe($"rig {status.Version}, model revision {status.ModelRevision}, {status.Devices} device(s) in the model, {status.Packages} package(s)"));
        about.AddRow("agent URL", Output.Safe(status.AgentUrl));
        about.AddRow("CA pin", Output.Safe(status.CaPin));
        about.AddRow("store", Output.Safe($"{status.Engine}: {status.Store.Exchanges} exchange(s) in {status.Store.Commits} commit(s), largest batch {status.Store.LargestBatch}"));
        about.AddRow("agents", Output.Safe($"{status.AgentsSeen} seen in the last {Window(status.SeenWindowSeconds)}"));
        AnsiConsole.Write(about);

        var s = status.DeviceStates;
        var states = new Table().AddColumns("devices", "count", "meaning");
        states.AddRow("[green]in sync[/]", Count(s.InSync), "latest queue succeeded");
        states.AddRow("[blue]changing[/]", Count(s.Changing), "a queue is running or waiting for a reboot");
        states.AddRow(s.Failed > 0 ? "[red]failed[/]" : "failed", Count(s.Failed), "latest queue failed: rig device show NAME");
        states.AddRow(s.NeverEnrolled > 0 ? "[yellow]never enrolled[/]" : "never enrolled", Count(s.NeverEnrolled), "no agent yet: rig device token NAME");
        states.AddRow(s.NotSeen > 0 ? "[yellow]not seen recently[/]" : "not seen recently", Count(s.NotSeen), $"no request from its agent in the last {Window(status.SeenWindowSeconds)}");
        states.AddRow("not converged", Count(s.NotConverged), "no queue yet, or its latest was cancelled");
        AnsiConsole.Write(states);

        if (status.ActiveRollouts.Count == 0)
        {
            AnsiConsole.MarkupLine("No active rollout.");
        }
        else
        {
            var rollouts = new Table().AddColumns("rollout", "revision", "status", "done", "failed", "by", "reason");
            foreach (var r in status.ActiveRollouts)
            {
                rollouts.AddRow(Output.Safe(r.Id), r.Revision.ToString(CultureInfo.InvariantCulture), RolloutDisplay.Colour(r.Status), $"{r.Done}/{r.Devices}",
                    r.Failed > 0 ? $"[red]{r.Failed}[/]" : "0", Output.Safe(r.CreatedBy), Output.Safe(r.Error ?? r.Reason));
            }
            AnsiConsole.Write(rollouts);
        }
        return 0;
    }

    private static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Window(int seconds) => seconds % 60 == 0 ? $"{seconds / 60} min" : $"{seconds} s";
}
