using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig device log</c>.</summary>
internal sealed class DeviceLogSettings : ConnectionSettings
{
    /// <summary>The device.</summary>
    [CommandArgument(0, "<DEVICE>")]
    public string Device { get; init; } = "";

    /// <summary>Keep printing until the queue ends.</summary>
    [CommandOption("-f|--follow")]
    [Description("Print each command's output as its result arrives, until the queue ends (exit 0 succeeded, 1 failed or cancelled). With --json: one JSON object per line")]
    public bool Follow { get; init; }

    /// <summary>Another queue than the latest.</summary>
    [CommandOption("--queue <ID>")]
    [Description("A queue of the device other than its latest (ids: rig device show DEVICE)")]
    public string? Queue { get; init; }
}

/// <summary><c>rig device log DEVICE [--follow]</c>: each finished command of a device's queue with its output, per
/// command under a header; <c>--follow</c> streams them as the gateway records them until the queue ends.</summary>
internal sealed class DeviceLogCommand : AsyncCommand<DeviceLogSettings>
{
    /// <summary>Reconnections after a broken stream before giving up (each resumes at the last cursor read).</summary>
    private const int MaxReconnects = 10;

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DeviceLogSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var path = $"api/v1/devices/{Uri.EscapeDataString(settings.Device)}/log";
        if (!settings.Follow)
        {
            var log = await client.GetAsync<DeviceLog>(path + (settings.Queue is null ? "" : $"?queue={Uri.EscapeDataString(settings.Queue)}"), cancellationToken).ConfigureAwait(false);
            if (settings.Json)
            {
                Output.JsonLine(log);
            }
            else
            {
                QueueHeader(log.Device, log.Queue);
                foreach (var entry in log.Commands)
                    Print(entry);
                if (log.Finished)
                    QueueFooter(log.Queue);
                else
                    AnsiConsole.MarkupLine($"[grey]... the queue is {Output.Safe(log.Queue.Status)}; `rig device log {Output.Safe(log.Device)} --follow` prints the rest as it comes.[/]");
            }
            return log.Queue.Status == QueueStates.Failed ? 1 : 0;
        }

        string? cursor = null;
        var headerShown = false;
        for (var attempt = 0; ; attempt++)
        {
            var query = cursor is not null ? $"?follow=true&cursor={Uri.EscapeDataString(cursor)}"
                : settings.Queue is not null ? $"?follow=true&queue={Uri.EscapeDataString(settings.Queue)}" : "?follow=true";
            try
            {
                await foreach (var line in client.StreamLinesAsync(path + query, cancellationToken).ConfigureAwait(false))
                {
                    var evt = JsonSerializer.Deserialize<DeviceLogEvent>(line, OperatorClient.Json)
                        ?? throw new CliException($"The gateway sent a log line that is not an event: {line}");
                    cursor = evt.Cursor;
                    if (evt.Type == "queue" && headerShown)
                        continue; // resumed: the queue was announced already
                    if (settings.Json)
                        Output.JsonLine(evt);
                    switch (evt.Type)
                    {
                        case "queue" when !settings.Json:
                            QueueHeader(evt.Device, evt.Queue!);
                            break;
                        case "command" when !settings.Json:
                            Print(evt.Command!);
                            break;
                        case "end":
                            if (!settings.Json)
                                QueueFooter(evt.Queue!);
                            return evt.Queue!.Status == QueueStates.Succeeded ? 0 : 1;
                    }
                    headerShown |= evt.Type == "queue";
                }
            }
            catch (Exception e) when ((e is IOException or HttpRequestException || (e is CliException && cursor is not null)) && attempt < MaxReconnects && !cancellationToken.IsCancellationRequested)
            {
                // The connection broke mid-stream, or the gateway is restarting (cannot be reached for now): resume after
                // the last line read.
            }
            if (attempt >= MaxReconnects)
                throw new CliException($"The log stream of '{settings.Device}' kept breaking ({MaxReconnects + 1} attempts); run `rig device log {settings.Device} --follow` again.");
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500 * (attempt + 1), 5_000)), cancellationToken).ConfigureAwait(false);
        }
    }

    private static void QueueHeader(string device, QueueView queue) =>
        AnsiConsole.MarkupLine($"[bold]{Output.Safe(device)}[/] queue {Output.Safe(queue.Id)} ({Output.Safe(queue.Reason)}), {queue.Length} command(s), {RolloutDisplay.Colour(queue.Status)}, created {queue.CreatedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}");

    private static void QueueFooter(QueueView queue) =>
        AnsiConsole.MarkupLine($"queue {RolloutDisplay.Colour(queue.Status)}{(queue.Error is { } error ? ": " + Output.Safe(error) : "")}");

    /// <summary>One finished command: a header line, then its output (and error) indented, as the device sent it.</summary>
    public static void Print(CommandLogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var status = entry.Status == "failed" ? "[red]failed[/]" : "[green]succeeded[/]";
        AnsiConsole.MarkupLine($"[bold]== [[{entry.Sequence + 1}/{entry.Of}]] {Output.Safe(entry.Description)}[/] {status} [grey]{entry.DurationMs} ms{(entry.FromJournal ? ", from the agent's journal" : "")}[/]");
        if (entry.Error is { } error)
            AnsiConsole.MarkupLine($"   [red]{Output.Safe(entry.ErrorCode ?? "error")}[/]: {Output.SafeBlock(error)}");
        foreach (var line in (entry.Output ?? "").TrimEnd('\n', '\r').Split('\n').Where(l => l.Length > 0))
            Console.Out.WriteLine("   " + Output.VisibleBlock(line.TrimEnd('\r')));
    }
}
