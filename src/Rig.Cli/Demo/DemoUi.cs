using Rig.Cli.Operator;
using Rig.Server.Gateway;
using Rig.Supervision;
using Rig.Contracts;
using Spectre.Console;

namespace Rig.Cli.Demo;

/// <summary>The demo's human view: steps, a live progress bar per device, the summary table. Silent in
/// <c>--json</c> mode (standard output then carries only the JSON line).</summary>
internal sealed class DemoUi(bool json)
{
    /// <summary>True with <c>--json</c>: standard output carries only the JSON line.</summary>
    public bool Json => json;

    private readonly IAnsiConsole _console = json
        ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) })
        : AnsiConsole.Console;

    public void Step(string markup) => _console.MarkupLine($"[green]✓[/] {markup}");

    /// <summary>Follow every device's queue until all are finished; returns the final status of each.</summary>
    public async Task<Dictionary<string, DeviceStatus>> TrackAsync(OperatorClient api, IReadOnlyDictionary<string, int> queued, IReadOnlyList<AgentSupervisor> agents, CancellationToken ct)
    {
        var finals = new Dictionary<string, DeviceStatus>(StringComparer.Ordinal);
        await _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async progress =>
            {
                var tasks = queued.ToDictionary(q => q.Key, q => progress.AddTask(Label(q.Key, "queued", 0, q.Value), maxValue: Math.Max(1, q.Value)));
                while (true)
                {
                    var devices = await api.GetAsync<List<DeviceStatus>>("api/v1/devices", ct).ConfigureAwait(false);
                    foreach (var device in devices.Where(d => tasks.ContainsKey(d.Name)))
                    {
                        var task = tasks[device.Name];
                        var queue = device.Queue;
                        var status = queue?.Status ?? "unchanged";
                        var done = queue is null ? queued[device.Name] : status == QueueStates.Succeeded ? queue.Length : queue.Position;
                        task.Value = done;
                        var reboots = agents.First(a => a.Device == device.Name).Reboots;
                        task.Description = Label(device.Name, status, done, queued[device.Name], reboots);
                        if (queue is null || !QueueStates.IsActive(queue.Status))
                        {
                            finals[device.Name] = device;
                            task.Value = task.MaxValue;
                        }
                    }
                    if (finals.Count == tasks.Count)
                        return;
                    if (agents.FirstOrDefault(a => a.Crashes >= AgentSupervisor.CrashLoop) is { } dead)
                        throw new CliException($"Agent {dead.Device} keeps crashing ({dead.Crashes} times, last exit code {dead.UnexpectedExit}); see {dead.LogPath}.");
                    await Task.Delay(100, ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        return finals;
    }

    /// <summary>Follow a rollout with a progress bar per wave; returns it finished (or paused).</summary>
    public async Task<RolloutView> FollowRolloutAsync(OperatorClient api, string id, CancellationToken ct)
    {
        var rollout = await api.GetAsync<RolloutView>($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
        await _console.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async progress =>
            {
                var tasks = Enumerable.Range(0, rollout.Waves).ToDictionary(w => w, w => progress.AddTask($"rollout {id} {(w == 0 && rollout.Canary > 0 ? "canary" : $"wave {w}")}", maxValue: Math.Max(1, rollout.Devices.Count(d => d.Wave == w))));
                while (true)
                {
                    foreach (var (wave, task) in tasks)
                        task.Value = rollout.Devices.Count(d => d.Wave == wave && RolloutDeviceStatuses.IsFinished(d.Status));
                    if (rollout.Status != RolloutStates.Running)
                        return;
                    await Task.Delay(150, ct).ConfigureAwait(false);
                    rollout = await api.GetAsync<RolloutView>($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        return rollout;
    }

    private static string Label(string device, string status, int done, int total, int reboots = 0)
    {
        var colour = status switch
        {
            QueueStates.Succeeded => "green",
            QueueStates.Failed or QueueStates.Cancelled => "red",
            QueueStates.Rebooting => "yellow",
            _ => "blue",
        };
        return $"{device,-6} [{colour}]{status,-9}[/] {done,2}/{total,-2} cmds{(reboots > 0 ? $", {reboots} reboot" : "")}";
    }

    public void Summary(IReadOnlyList<DemoRow> rows, DemoSummary summary, string lbConfig, string directory, bool kept)
    {
        var table = new Table().Title($"[bold]Site 'shop' checked against the model{(summary.Scenario == "site" ? "" : $" after {summary.Scenario}")}[/]")
            .AddColumns("device", "tier", "roles", "commands", "reboots", "result");
        foreach (var row in rows)
        {
            table.AddRow(Output.Safe(row.Device), Output.Safe(row.Tier), Output.Safe(row.Roles), row.Commands.ToString(System.Globalization.CultureInfo.InvariantCulture), row.Reboots.ToString(System.Globalization.CultureInfo.InvariantCulture),
                row.Problems.Count == 0 ? "[green]matches the model[/]" : $"[red]{Output.Safe(string.Join("; ", row.Problems.Take(3)))}[/]");
        }
        _console.Write(table);
        _console.Write(new Panel(Output.SafeBlock(lbConfig.TrimEnd())).Header("lb-1:/etc/haproxy/haproxy.cfg (rendered from the model's interconnections)"));
        if (summary.Scenario != "site")
        {
            _console.MarkupLine($"[bold]{Output.Safe(summary.Scenario)}[/] (revision {summary.Revision}): changed {Output.Safe(string.Join(", ", summary.Changed ?? []))}; left alone {Output.Safe(string.Join(", ", summary.Unchanged ?? []))}.");
            if (summary.Detail is { } detail)
                _console.MarkupLine(Output.Safe(detail) + ".");
        }
        _console.MarkupLine($"{summary.Succeeded}/{summary.Devices} devices match the model; {summary.Commands} commands, {summary.Reboots} reboots in {summary.Seconds:0.0} s.");
        if (kept && !json)
        {
            // Plain text, not the console's markup: a path must never be wrapped or split when output is not a terminal.
            Console.Out.WriteLine($"Kept {Output.Visible(directory)}");
            Console.Out.WriteLine("  gateway/ (data), agents/*/ (state, journal, agent.log), devices/*/ (device roots)");
        }
    }

    /// <summary>Where the web UI of a demo kept running (<c>rig demo --ui</c>) is and how to sign in.</summary>
    public void UiReady(string url, string token, string caPin)
    {
        if (json)
            return;
        // Plain text: the address and the token must be copied whole, never wrapped by the console.
        Console.Out.WriteLine();
        Console.Out.WriteLine($"Web UI:      {Output.Visible(url)}");
        Console.Out.WriteLine($"Sign in with: {Output.Visible(token)}");
        Console.Out.WriteLine($"The gateway's certificate is issued by the demo's own CA (pin {Output.Visible(caPin)}): the browser warns once; accept it for this address.");
        Console.Out.WriteLine("The gateway and the agents keep running: press Ctrl+C to stop and remove the demo.");
    }
}
