using System.ComponentModel;
using System.Globalization;
using Rig.Cli.Operator;
using Rig.Protocol.Messages;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig device clone</c>.</summary>
internal sealed class DeviceCloneSettings : ConnectionSettings
{
    /// <summary>New device.</summary>
    [CommandArgument(0, "<NEW>")]
    public string Name { get; init; } = "";

    /// <summary>Source device.</summary>
    [CommandOption("--from <DEVICE>")]
    [Description("The device to copy (roles, interconnections, facts)")]
    public string From { get; init; } = "";

    /// <summary>Addresses.</summary>
    [CommandOption("--address <IP>")]
    [Description("The clone's IP address (repeatable; the first is primary)")]
    public string[] Addresses { get; init; } = [];

    /// <summary>MACs.</summary>
    [CommandOption("--mac <MAC>")]
    [Description("MAC address for each of the source's network interfaces, in order")]
    public string[] Macs { get; init; } = [];

    /// <summary>Host name.</summary>
    [CommandOption("--hostname <NAME>")]
    public string? Hostname { get; init; }

    /// <summary>Why.</summary>
    [CommandOption("-m|--message <TEXT>")]
    [Description("Why (recorded with the revision; required)")]
    public string? Message { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() => RevisionMessage.Require(Message, "device clone");
}

/// <summary><c>rig device clone NEW --from EXISTING</c>: a new revision, then its plan.</summary>
internal sealed class DeviceCloneCommand : AsyncCommand<DeviceCloneSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceCloneSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.From.Length == 0)
            throw new CliException("Give the device to copy with --from.");
        using var client = settings.Connect();
        var result = await client.PostAsync<LifecycleResponse>($"api/v1/devices/{Uri.EscapeDataString(settings.From)}/clone",
            new CloneDeviceRequest(settings.Name, settings.Hostname, settings.Addresses, settings.Macs, settings.Message), cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(result); // the API's LifecycleResponse; `rig plan --json` gives the plan
            return 0;
        }
        var plan = await client.GetAsync<PlanReport>("api/v1/plan", cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine($"Revision [bold]{result.Revision}[/]: {Output.Safe(settings.Name)} added like {Output.Safe(settings.From)} ({result.Changes.Count} model objects). What rolling it out would do:");
        PlanView.Print(plan, showUnchanged: false);
        AnsiConsole.MarkupLine($"Next: [grey]rig rollout start {result.Revision}[/]");
        return 0;
    }
}

/// <summary>Options of <c>rig device decommission</c>.</summary>
internal sealed class DeviceDecommissionSettings : ConnectionSettings
{
    /// <summary>The device.</summary>
    [CommandArgument(0, "<DEVICE>")]
    public string Device { get; init; } = "";

    /// <summary>Why.</summary>
    [CommandOption("-m|--message <TEXT>")]
    [Description("Why (recorded with the revision; required)")]
    public string? Message { get; init; }

    /// <summary>Do not follow.</summary>
    [CommandOption("--no-wait")]
    public bool NoWait { get; init; }

    /// <summary>Confirm without asking.</summary>
    [CommandOption("-y|--yes")]
    [Description("Decommission without asking (required without a terminal)")]
    public bool Yes { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() => RevisionMessage.Require(Message, "device decommission");
}

/// <summary><c>rig device decommission DEVICE -m WHY</c>: shows what it would remove (the device's software in reverse
/// role order, its neighbours re-configured), asks (or wants <c>--yes</c>), then records the revision and rolls it out.</summary>
internal sealed class DeviceDecommissionCommand : AsyncCommand<DeviceDecommissionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceDecommissionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var device = Uri.EscapeDataString(settings.Device);
        var plan = await client.GetAsync<PlanReport>($"api/v1/devices/{device}/decommission-plan", cancellationToken).ConfigureAwait(false);
        if (!settings.Json)
        {
            AnsiConsole.MarkupLine($"Decommissioning [bold]{Output.Safe(settings.Device)}[/] records a revision where it has no roles and no interconnections, rolls it out, then removes it from the model and revokes its certificates. What the rollout would do:");
            PlanView.Print(plan, showUnchanged: false);
        }
        var planned = PlanRemovals.Of(plan);
        var removals = planned with { Devices = [.. planned.Devices.Append(settings.Device).Distinct(StringComparer.Ordinal)] };
        if (!Confirmation.Confirm(removals, settings.Yes, settings.Json, $"Decommission {settings.Device}"))
            return Confirmation.Refused;
        var result = await client.PostAsync<LifecycleResponse>($"api/v1/devices/{device}/decommission?message={Uri.EscapeDataString(settings.Message!)}&baseRevision={plan.BaseRevision}", null, cancellationToken).ConfigureAwait(false);
        var rollout = result.Rollout!;
        if (!settings.Json)
            AnsiConsole.MarkupLine($"Revision [bold]{result.Revision}[/]: {Output.Safe(settings.Device)} has no roles and no interconnections. Rollout [bold]{Output.Safe(rollout.Id)}[/] removes its software and re-plans {rollout.Devices.Count - 1} neighbour(s); then the device leaves the model and its certificates are revoked.");
        if (settings.NoWait)
        {
            if (settings.Json)
                Output.JsonLine(result);
            return 0;
        }
        return await RolloutDisplay.FollowAsync(client, rollout.Id, settings.Json, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Options of <c>rig device rebuild</c>.</summary>
internal sealed class DeviceRebuildSettings : ConnectionSettings
{
    /// <summary>The device.</summary>
    [CommandArgument(0, "<DEVICE>")]
    public string Device { get; init; } = "";

    /// <summary>Why.</summary>
    [CommandOption("-m|--message <TEXT>")]
    [Description("Why (kept as the reason of the rebuild's queue; required)")]
    public string? Message { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() => RevisionMessage.Require(Message, "device rebuild");
}

/// <summary><c>rig device rebuild DEVICE -m WHY</c></summary>
internal sealed class DeviceRebuildCommand : AsyncCommand<DeviceRebuildSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceRebuildSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var result = await client.PostAsync<LifecycleResponse>($"api/v1/devices/{Uri.EscapeDataString(settings.Device)}/rebuild?message={Uri.EscapeDataString(settings.Message!)}", null, cancellationToken).ConfigureAwait(false);
        var file = EnrollmentTokenFile.Write(result.Token!, null); // the token file is written with --json too
        if (settings.Json)
        {
            Output.JsonLine(result);
            return 0;
        }
        var queue = result.Queues.FirstOrDefault();
        AnsiConsole.MarkupLine($"[bold]{Output.Safe(settings.Device)}[/]: old certificates revoked, recorded state forgotten, {queue?.Commands ?? 0} commands queued from revision {result.Revision}.");
        AnsiConsole.MarkupLine($"Enroll the fresh agent (it finds the queue waiting); its one-time token is in [bold]{Output.Safe(file)}[/] (mode 0600).");
        await EnrollmentTokenFile.PrintInstallLineAsync(client, result.Token!, file, cancellationToken).ConfigureAwait(false);
        return 0;
    }
}

/// <summary><c>rig device cancel DEVICE</c></summary>
internal sealed class DeviceCancelCommand : AsyncCommand<DeviceSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var queue = await client.PostAsync<QueueView>($"api/v1/devices/{Uri.EscapeDataString(settings.Device)}/cancel", null, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(queue);
        else
            AnsiConsole.MarkupLine($"Queue {Output.Safe(queue.Id)} of {Output.Safe(settings.Device)} cancelled at {queue.Position}/{queue.Length}; a command already running finishes.");
        return 0;
    }
}

/// <summary>Options of <c>rig script add</c>.</summary>
internal sealed class ScriptAddSettings : ConnectionSettings
{
    /// <summary>Script name.</summary>
    [CommandArgument(0, "<NAME>")]
    public string Name { get; init; } = "";

    /// <summary>Steps.</summary>
    [CommandOption("--step <STEP>")]
    [Description("A step, in order (repeatable): 'service NAME start|stop|restart|enable|disable', 'reboot [REASON]', 'inventory'")]
    public string[] Steps { get; init; } = [];

    /// <summary>Description.</summary>
    [CommandOption("-d|--description <TEXT>")]
    public string? Description { get; init; }
}

/// <summary><c>rig script add NAME --step ...</c></summary>
internal sealed class ScriptAddCommand : AsyncCommand<ScriptAddSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ScriptAddSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var commands = settings.Steps.Select(ParseStep).ToList();
        using var client = settings.Connect();
        var script = await client.PutJsonTextAsync<ScriptView>($"api/v1/scripts/{Uri.EscapeDataString(settings.Name)}",
            System.Text.Json.JsonSerializer.Serialize(new ScriptRequest(settings.Description, commands), OperatorClient.Json), cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(script);
        else
            AnsiConsole.MarkupLine($"Stored script [bold]{Output.Safe(script.Name)}[/]: {Output.Safe(string.Join("; ", script.Commands.Select(c => c.Describe())))}.");
        return 0;
    }

    /// <summary>Parse one step.</summary>
    public static CommandSpec ParseStep(string step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var words = step.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return words switch
        {
            ["inventory"] => new InventoryCommand(),
            ["reboot", .. var reason] => new RebootCommand(reason.Length == 0 ? "stored script" : string.Join(' ', reason)),
            ["service", var name, var action] when Enum.TryParse<ServiceAction>(action, ignoreCase: true, out var a) => new ServiceCommand(name, a),
            _ => throw new CliException($"Step '{step}' is not 'service NAME start|stop|restart|enable|disable', 'reboot [REASON]' or 'inventory'."),
        };
    }
}

/// <summary>Options of <c>rig script run</c>.</summary>
internal sealed class ScriptRunSettings : ConnectionSettings
{
    /// <summary>Script name.</summary>
    [CommandArgument(0, "<NAME>")]
    public string Name { get; init; } = "";

    /// <summary>Selector.</summary>
    [CommandOption("--devices <SELECTOR>")]
    [Description("Devices: names, globs or key=value terms (required)")]
    public string? Devices { get; init; }

    /// <summary>Wait for every device's queue to end.</summary>
    [CommandOption("--wait")]
    [Description("Wait until every device's queue has ended and print each device's result (exit 1 if any failed, was cancelled or did not end within --timeout)")]
    public bool Wait { get; init; }

    /// <summary>How long --wait waits.</summary>
    [CommandOption("--timeout <SECONDS>")]
    [Description("With --wait: give up waiting after this many seconds (default 600); devices still running are reported 'waiting'")]
    public int Timeout { get; init; } = 600;

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        Timeout is < 1 or > 86_400 ? ValidationResult.Error($"--timeout {Timeout} is out of range: give 1 to 86400 seconds.")
        : !Wait && Timeout != 600 ? ValidationResult.Error("--timeout only applies with --wait.")
        : ValidationResult.Success();
}

/// <summary>One device's result of <c>rig script run --wait</c>.</summary>
/// <param name="Result"><c>succeeded</c>, <c>failed</c>, <c>cancelled</c>, <c>waiting</c> (still running at the timeout) or
/// the run's outcome when nothing was queued (<c>busy</c>, <c>invalid</c>...).</param>
/// <param name="Error">For a failed device: its failed command's error (or the queue's).</param>
/// <param name="Queue">The device's queue with every command and its result (output included), or null when none was queued.</param>
internal sealed record ScriptDeviceResult(string Device, string Result, string? ErrorCode, string? Error, QueueDetail? Queue);

/// <summary><c>rig script run NAME --devices SELECTOR [--wait]</c></summary>
internal sealed class ScriptRunCommand : AsyncCommand<ScriptRunSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ScriptRunSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (string.IsNullOrWhiteSpace(settings.Devices))
            throw new CliException("Say where with --devices (e.g. --devices web-1 or --devices tier=web).");
        using var client = settings.Connect();
        var result = await client.PostAsync<LifecycleResponse>($"api/v1/scripts/{Uri.EscapeDataString(settings.Name)}/run", new ScriptRunRequest(settings.Devices), cancellationToken).ConfigureAwait(false);
        if (settings.Wait)
            return await WaitAsync(client, settings, result, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(result);
        }
        else
        {
            var table = new Table().AddColumns("device", "outcome", "queue", "commands", "poked");
            foreach (var q in result.Queues)
                table.AddRow(Output.Safe(q.Device), Output.Safe(q.Outcome), Output.Safe(q.QueueId ?? "-"), q.Commands.ToString(CultureInfo.InvariantCulture), q.Poked ? "yes" : "no");
            AnsiConsole.Write(table);
        }
        return result.Queues.All(q => q.Outcome == "queued") ? 0 : 1;
    }

    /// <summary>Wait for every queued device's queue to end (one device list per round, not one request per device),
    /// then read each queue once and print every device's result.</summary>
    private static async Task<int> WaitAsync(OperatorClient client, ScriptRunSettings settings, LifecycleResponse run, CancellationToken ct)
    {
        var pending = run.Queues.Where(q => q.QueueId is not null).ToDictionary(q => q.Device, q => q.QueueId!, StringComparer.Ordinal);
        var deadline = DateTimeOffset.UtcNow.AddSeconds(settings.Timeout);
        if (!settings.Json)
            AnsiConsole.MarkupLine($"Waiting for {pending.Count} device(s) to run script [bold]{Output.Safe(settings.Name)}[/]...");
        var waiting = new HashSet<string>(pending.Keys, StringComparer.Ordinal);
        while (waiting.Count > 0 && DateTimeOffset.UtcNow < deadline)
        {
            var devices = await client.GetAsync<List<DeviceStatus>>("api/v1/devices", ct).ConfigureAwait(false);
            foreach (var d in devices.Where(d => waiting.Contains(d.Name)))
            {
                // Its queue ended when it is no longer active, or a newer queue replaced it as the latest.
                if (d.Queue is not { } q || q.Id != pending[d.Name] || !QueueStates.IsActive(q.Status))
                    waiting.Remove(d.Name);
            }
            if (waiting.Count > 0)
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
        }

        var results = new List<ScriptDeviceResult>();
        foreach (var queued in run.Queues)
        {
            if (queued.QueueId is null)
            {
                results.Add(new ScriptDeviceResult(queued.Device, queued.Outcome, queued.Errors.FirstOrDefault()?.Code, queued.Errors.FirstOrDefault()?.Message, null));
                continue;
            }
            var detail = await client.GetAsync<QueueDetail>($"api/v1/queues/{Uri.EscapeDataString(queued.QueueId)}", ct).ConfigureAwait(false);
            var failed = detail.Commands.FirstOrDefault(c => c.Status == CommandStates.Failed);
            var outcome = QueueStates.IsActive(detail.Queue.Status) ? "waiting" : detail.Queue.Status;
            results.Add(new ScriptDeviceResult(queued.Device, outcome, failed?.Result?.ErrorCode,
                failed?.Result?.Error ?? detail.Queue.Error ?? (outcome == "waiting" ? $"still {detail.Queue.Status} after {settings.Timeout} s ({detail.Queue.Position}/{detail.Queue.Length})" : null), detail));
        }
        var ok = results.All(r => r.Result == QueueStates.Succeeded);
        if (settings.Json)
        {
            Output.JsonLine(new { run, results });
            return ok ? 0 : 1;
        }
        var table = new Table().AddColumns("device", "result", "queue", "commands", "error / last output");
        foreach (var r in results)
        {
            var lastOutput = r.Queue?.Commands.LastOrDefault(c => c.Result?.Output is { Length: > 0 })?.Result?.Output?.Trim();
            var text = r.Error is { } error ? $"[red]{Output.Safe(r.ErrorCode ?? "error")}[/]: {Output.Safe(error)}" : Output.Safe(lastOutput ?? "");
            var colour = r.Result == QueueStates.Succeeded ? "green" : r.Result == "waiting" ? "yellow" : "red";
            table.AddRow(Output.Safe(r.Device), $"[{colour}]{Output.Safe(r.Result)}[/]", Output.Safe(r.Queue?.Queue.Id ?? "-"),
                r.Queue is { } q ? $"{q.Commands.Count(c => c.Status == CommandStates.Succeeded)}/{q.Queue.Length}" : "-", text);
        }
        AnsiConsole.Write(table);
        // The table may cut long text: each failure in full on its own line.
        foreach (var r in results.Where(r => r.Result != QueueStates.Succeeded && r.Error is not null))
            AnsiConsole.MarkupLine($"[red]{Output.Safe(r.Device)} {Output.Safe(r.Result)}[/] [bold]{Output.Safe(r.ErrorCode ?? "")}[/]: {Output.SafeBlock(r.Error!)}");
        return ok ? 0 : 1;
    }
}

/// <summary><c>rig script list</c></summary>
internal sealed class ScriptListCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var scripts = await client.GetAsync<List<ScriptView>>("api/v1/scripts", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(scripts);
            return 0;
        }
        var table = new Table().AddColumns("name", "steps", "description", "by");
        foreach (var s in scripts)
            table.AddRow(Output.Safe(s.Name), Output.Safe(string.Join("; ", s.Commands.Select(c => c.Describe()))), Output.Safe(s.Description), Output.Safe(s.CreatedBy));
        AnsiConsole.Write(table);
        return 0;
    }
}
