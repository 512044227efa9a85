using System.ComponentModel;
using System.Globalization;
using Rig.Cli.Operator;
using Spectre.Console;
using Spectre.Console.Cli;
using Rig.Contracts;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig rollout start</c>.</summary>
internal sealed class RolloutStartSettings : ConnectionSettings
{
    /// <summary>Revision.</summary>
    [CommandArgument(0, "[REV]")]
    [Description("Model revision to roll out (default: the current one)")]
    public long? Revision { get; init; }

    /// <summary>Selector.</summary>
    [CommandOption("--devices <SELECTOR>")]
    [Description("Devices: names, globs (web-*), or site=/tier=/role=/os=/arch= terms, comma-separated (default: all)")]
    public string? Devices { get; init; }

    /// <summary>Canary wave size.</summary>
    [CommandOption("--canary <N>")]
    [Description("Devices in the first wave, alone (default 0)")]
    public int Canary { get; init; }

    /// <summary>Batch.</summary>
    [CommandOption("--batch <N|P%>")]
    [Description("Devices per later wave: a number or a percentage of all devices (default 100%)")]
    public string Batch { get; init; } = "100%";

    /// <summary>Parallelism.</summary>
    [CommandOption("--max-parallel <N>")]
    [Description("Queues running at once (default 50)")]
    public int MaxParallel { get; init; } = 50;

    /// <summary>Failure threshold.</summary>
    [CommandOption("--max-failures <N>")]
    [Description("Failed devices tolerated; one more pauses the rollout (default 0)")]
    public int MaxFailures { get; init; }

    /// <summary>Why.</summary>
    [CommandOption("-m|--reason <TEXT>")]
    public string? Reason { get; init; }

    /// <summary>How long a device's agent may take to ask for its queue.</summary>
    [CommandOption("--device-timeout <DURATION>")]
    [Description("How long to wait for a device's agent to ask for its queue before the device fails (e.g. 90s, 30m, 2h; default 30m)")]
    public string? DeviceTimeout { get; init; }

    /// <summary>Do not follow.</summary>
    [CommandOption("--no-wait")]
    [Description("Start it and return; follow it later with `rig rollout status ID --follow`")]
    public bool NoWait { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        DeviceTimeout is not null && Rig.Server.Gateway.Gateway.DeviceTimeoutProblem(DeviceTimeout, Rig.Protocol.RigLimits.Default) is { } problem
            ? ValidationResult.Error(problem)
            : ValidationResult.Success();
}

/// <summary><c>rig rollout start [REV]</c></summary>
internal sealed class RolloutStartCommand : AsyncCommand<RolloutStartSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, RolloutStartSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var rollout = await client.PostAsync<RolloutView>("api/v1/rollouts",
            new RolloutStartRequest(settings.Revision, settings.Devices, settings.Canary, settings.Batch, settings.MaxParallel, settings.MaxFailures, settings.Reason, settings.DeviceTimeout), cancellationToken).ConfigureAwait(false);
        if (settings.NoWait)
        {
            if (settings.Json)
                Output.JsonLine(rollout);
            else
                AnsiConsole.MarkupLine($"Rollout [bold]{Output.Safe(rollout.Id)}[/] of revision {rollout.Rev} started: {Output.Safe(RolloutDisplay.Shape(rollout))}.");
            return 0;
        }
        return await RolloutDisplay.FollowAsync(client, rollout.Id, settings.Json, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Options of <c>rig rollout retry [ID]</c>.</summary>
internal sealed class RolloutRetrySettings : ConnectionSettings
{
    /// <summary>Rollout id (default: the newest).</summary>
    [CommandArgument(0, "[ID]")]
    [Description("Rollout whose failed devices to retry (default: the newest rollout)")]
    public string? Id { get; init; }

    /// <summary>Do not follow.</summary>
    [CommandOption("--no-wait")]
    [Description("Re-queue them and return; follow it later with `rig rollout status ID --follow`")]
    public bool NoWait { get; init; }
}

/// <summary><c>rig rollout retry [ID]</c>: the failed devices of a finished or paused rollout go back into their waves
/// and the rollout runs again with its settings.</summary>
internal sealed class RolloutRetryCommand : AsyncCommand<RolloutRetrySettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, RolloutRetrySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var id = await new RolloutIdSettings { Id = settings.Id }.ResolveAsync(client, cancellationToken).ConfigureAwait(false);
        var before = await client.GetAsync<RolloutView>($"api/v1/rollouts/{id}", cancellationToken).ConfigureAwait(false);
        var failed = before.Devices.Where(d => d.Status == RolloutDeviceStatuses.Failed).Select(d => d.Device).ToList();
        var rollout = await client.PostAsync<RolloutView>($"api/v1/rollouts/{id}/retry", null, cancellationToken).ConfigureAwait(false);
        if (!settings.Json)
            AnsiConsole.MarkupLine($"Rollout [bold]{Output.Safe(rollout.Id)}[/]: retrying {failed.Count} failed device(s): {Output.Safe(string.Join(", ", failed))}.");
        if (settings.NoWait)
        {
            if (settings.Json)
                Output.JsonLine(rollout);
            return 0;
        }
        return await RolloutDisplay.FollowAsync(client, rollout.Id, settings.Json, cancellationToken, announce: false).ConfigureAwait(false);
    }
}

/// <summary>Options naming a rollout.</summary>
internal sealed class RolloutIdSettings : ConnectionSettings
{
    /// <summary>Rollout id (default: the newest).</summary>
    [CommandArgument(0, "[ID]")]
    public string? Id { get; init; }

    /// <summary>Follow until it finishes.</summary>
    [CommandOption("--follow")]
    public bool Follow { get; init; }

    /// <summary>New failure threshold (resume).</summary>
    [CommandOption("--max-failures <N>")]
    [Description("resume: raise the failure threshold")]
    public int? MaxFailures { get; init; }

    /// <summary>The rollout to act on: the given id or the newest.</summary>
    public async Task<string> ResolveAsync(OperatorClient client, CancellationToken ct)
    {
        if (Id is not null)
            return Id;
        var latest = await client.GetAsync<List<RolloutView>>("api/v1/rollouts", ct).ConfigureAwait(false);
        return latest.FirstOrDefault()?.Id ?? throw new CliException("There are no rollouts yet; start one with `rig rollout start`.");
    }
}

/// <summary><c>rig rollout status [ID]</c></summary>
internal sealed class RolloutStatusCommand : AsyncCommand<RolloutIdSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, RolloutIdSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.MaxFailures is not null)
            throw new UsageException("--max-failures is an option of `rig rollout resume`, not of `rig rollout status`; nothing was done.");
        using var client = settings.Connect();
        var id = await settings.ResolveAsync(client, cancellationToken).ConfigureAwait(false);
        if (settings.Follow)
            return await RolloutDisplay.FollowAsync(client, id, settings.Json, cancellationToken).ConfigureAwait(false);
        var rollout = await client.GetAsync<RolloutView>($"api/v1/rollouts/{id}", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(rollout);
        else
            RolloutDisplay.Print(rollout);
        return RolloutDisplay.ExitCode(rollout);
    }
}

/// <summary><c>rig rollout pause|resume|cancel [ID]</c></summary>
internal sealed class RolloutActionCommand : AsyncCommand<RolloutIdSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, RolloutIdSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(context);
        using var client = settings.Connect();
        var id = await settings.ResolveAsync(client, cancellationToken).ConfigureAwait(false);
        var action = context.Name;
        if (action != "resume" && (settings.Follow || settings.MaxFailures is not null))
            throw new UsageException($"{(settings.Follow ? "--follow" : "--max-failures")} is an option of `rig rollout resume`, not of `rig rollout {action}`; nothing was done.");
        var query = action == "resume" && settings.MaxFailures is { } max ? $"?maxFailures={max.ToString(CultureInfo.InvariantCulture)}" : "";
        var rollout = await client.PostAsync<RolloutView>($"api/v1/rollouts/{id}/{action}{query}", null, cancellationToken).ConfigureAwait(false);
        if (action == "resume" && settings.Follow)
        {
            if (!settings.Json) // with --json the followed rollout's final state is the one document
                AnsiConsole.MarkupLine($"Rollout [bold]{Output.Safe(rollout.Id)}[/]: {Output.Safe(rollout.Status)}.");
            return await RolloutDisplay.FollowAsync(client, id, settings.Json, cancellationToken).ConfigureAwait(false);
        }
        if (settings.Json)
            Output.JsonLine(rollout);
        else
            AnsiConsole.MarkupLine($"Rollout [bold]{Output.Safe(rollout.Id)}[/]: {Output.Safe(rollout.Status)}{(rollout.Error is null ? "" : $" ({Output.Safe(rollout.Error)})")}.");
        return 0;
    }
}

/// <summary><c>rig rollout list</c></summary>
internal sealed class RolloutListCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var rollouts = await client.GetAsync<List<RolloutView>>("api/v1/rollouts", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(rollouts);
            return 0;
        }
        var table = new Table().AddColumns("id", "rev", "devices", "waves", "status", "by", "started", "reason");
        foreach (var r in rollouts)
        {
            table.AddRow(Output.Safe(r.Id), r.Rev.ToString(CultureInfo.InvariantCulture), $"{r.Devices.Count(d => RolloutDeviceStatuses.IsFinished(d.Status))}/{r.Devices.Count}", r.Waves.ToString(CultureInfo.InvariantCulture),
                RolloutDisplay.Colour(r.Status), Output.Safe(r.CreatedBy), r.CreatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), Output.Safe(r.Reason));
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary>Live progress of a rollout: one bar per wave, then a table per device.</summary>
internal static class RolloutDisplay
{
    /// <summary>Follow a rollout until it is finished or paused; the exit code says how it ended.</summary>
    public static async Task<int> FollowAsync(OperatorClient client, string id, bool json, CancellationToken ct, bool announce = true)
    {
        ArgumentNullException.ThrowIfNull(client);
        RolloutView rollout = await client.GetAsync<RolloutView>($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
        if (json)
        {
            while (rollout.Status == RolloutStates.Running)
            {
                await Task.Delay(250, ct).ConfigureAwait(false);
                rollout = await client.GetAsync<RolloutView>($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
            }
            Output.JsonLine(rollout);
            return ExitCode(rollout);
        }
        if (announce)
            AnsiConsole.MarkupLine($"Rollout [bold]{Output.Safe(rollout.Id)}[/] of revision {rollout.Rev}: {Output.Safe(Shape(rollout))}, at most {rollout.MaxParallel} at once, {rollout.MaxFailures} failure(s) tolerated, device timeout {Output.Safe(rollout.DeviceTimeout)}.");
        await AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async progress =>
            {
                var tasks = Enumerable.Range(0, rollout.Waves).ToDictionary(w => w, w => progress.AddTask(WaveLabel(rollout, w), maxValue: Math.Max(1, rollout.Devices.Count(d => d.Wave == w))));
                while (true)
                {
                    foreach (var (wave, task) in tasks)
                    {
                        task.Value = rollout.Devices.Count(d => d.Wave == wave && RolloutDeviceStatuses.IsFinished(d.Status));
                        task.Description = WaveLabel(rollout, wave);
                    }
                    if (rollout.Status != RolloutStates.Running)
                        return;
                    await Task.Delay(250, ct).ConfigureAwait(false);
                    rollout = await client.GetAsync<RolloutView>($"api/v1/rollouts/{id}", ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        Print(rollout);
        return ExitCode(rollout);
    }

    private static string WaveLabel(RolloutView rollout, int wave)
    {
        var devices = rollout.Devices.Where(d => d.Wave == wave).ToList();
        var failed = devices.Count(d => d.Status == RolloutDeviceStatuses.Failed);
        var running = devices.Count(d => d.State is RolloutDeviceStates.Running or RolloutDeviceStates.Rebooting);
        var waiting = devices.Count(d => d.State == RolloutDeviceStates.WaitingForAgent);
        var name = wave == 0 && rollout.Canary > 0 ? "canary" : $"wave {wave}";
        return $"{name,-7} {devices.Count(d => RolloutDeviceStatuses.IsFinished(d.Status)),3}/{devices.Count,-3} {(running > 0 ? $"[blue]{running} running[/] " : "")}" +
            $"{(waiting > 0 ? $"[yellow]{waiting} waiting for agent[/] " : "")}{(failed > 0 ? $"[red]{failed} failed[/]" : "")}";
    }

    /// <summary>"5 devices: 3 to change in 2 wave(s), 2 unchanged" (devices with nothing to do are in no wave).</summary>
    public static string Shape(RolloutView rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        var unchanged = rollout.Devices.Count(d => d.Wave is null);
        if (unchanged == rollout.Devices.Count)
            return rollout.Summary;
        return $"{rollout.Devices.Count} device(s): {rollout.Devices.Count - unchanged} to change in {rollout.Waves} wave(s){(unchanged > 0 ? $", {unchanged} unchanged (nothing to do)" : "")}";
    }

    /// <summary>A rollout as a table.</summary>
    public static void Print(RolloutView rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        var table = new Table().Title($"Rollout {Output.Safe(rollout.Id)} of revision {rollout.Rev}: {Colour(rollout.Status)}").AddColumns("device", "wave", "state", "detail");
        foreach (var d in rollout.Devices)
            table.AddRow(Output.Safe(d.Device), d.Wave?.ToString(CultureInfo.InvariantCulture) ?? "-", Colour(d.State ?? d.Status), Output.Safe(d.Detail ?? ""));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(Output.Safe(rollout.Summary) + ".");
        // The table may cut long details: each device that needs an operator (failed, blocked, waiting for its agent) in
        // full, with its error code, and where to look next.
        var failed = rollout.Devices.Where(d => (d.State ?? d.Status) is RolloutDeviceStates.Failed or RolloutDeviceStates.Blocked or RolloutDeviceStates.WaitingForAgent && d.Detail is not null).ToList();
        if (failed.Count > 0)
        {
            AnsiConsole.MarkupLine("[red]Needs attention[/]:");
            foreach (var d in failed)
                AnsiConsole.MarkupLine($"  [bold]{Output.Safe(d.Device)}[/]: {Output.Safe(d.Detail!)}");
            AnsiConsole.MarkupLine($"[grey]Every command of a device, with output: rig device show {Output.Safe(failed[0].Device)}[/]");
            if (rollout.Status is RolloutStates.Failed or RolloutStates.Paused && rollout.Devices.Any(d => d.Status == RolloutDeviceStatuses.Failed))
                AnsiConsole.MarkupLine($"[grey]Cause fixed? Run them again: rig rollout retry {Output.Safe(rollout.Id)}[/]");
        }
        if (rollout.Error is { } error)
            AnsiConsole.MarkupLine($"[yellow]{Output.Safe(error)}[/]");
    }

    /// <summary>The CLI's exit codes for a rollout: 0 succeeded (or still running, for `rig rollout status` without
    /// --follow: its `status` says so), 1 failed or cancelled, 3 paused. (Running was 4, a code the CLI's table does not have.)</summary>
    public static int ExitCode(RolloutView rollout) => rollout?.Status switch
    {
        RolloutStates.Succeeded or RolloutStates.Running => 0,
        RolloutStates.Paused => 3,
        _ => 1,
    };

    /// <summary>A status with its colour.</summary>
    public static string Colour(string status) => status switch
    {
        RolloutStates.Succeeded or RolloutDeviceStates.Unchanged => $"[green]{status}[/]",
        RolloutStates.Failed or RolloutStates.Cancelled => $"[red]{status}[/]",
        RolloutStates.Paused or RolloutDeviceStates.Blocked or RolloutDeviceStates.WaitingForAgent => $"[yellow]{status}[/]",
        _ => $"[blue]{Output.Safe(status)}[/]", // not one of the gateway's known states: shown as text
    };
}
