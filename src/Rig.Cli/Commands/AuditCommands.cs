using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>Options of <c>rig audit</c>.</summary>
internal sealed class AuditSettings : ConnectionSettings
{
    /// <summary>From when.</summary>
    [CommandOption("--since <T>")]
    [Description("Only entries at or after T: a date and time (2026-12-05T14:00:00Z) or a duration back from now (30m, 2h, 7d)")]
    public string? Since { get; init; }

    /// <summary>One device.</summary>
    [CommandOption("--device <D>")]
    [Description("Only entries about device D (its commands' results, operator actions on it)")]
    public string? Device { get; init; }

    /// <summary>One operator.</summary>
    [CommandOption("--operator <O>")]
    [Description("Only entries by operator O")]
    public string? Operator { get; init; }

    /// <summary>How many.</summary>
    [CommandOption("--limit <N>")]
    [Description("Show the newest N matching entries (default 50)")]
    public int Limit { get; init; } = 50;
}

/// <summary>Options of <c>rig audit export</c>.</summary>
internal sealed class AuditExportSettings : ConnectionSettings
{
    /// <summary>Where to.</summary>
    [CommandOption("-o|--output <FILE>")]
    [Description("Write the JSON lines to FILE (default: standard output)")]
    public string? Output { get; init; }
}

/// <summary>Reading the audit log through the operator API, page after page (<c>after</c> = the previous page's <c>next</c>).</summary>
internal static class AuditPages
{
    /// <summary>Entries per request.</summary>
    public const int PageSize = 1000;

    /// <summary>Every entry matching <paramref name="filters"/> (query text, may be empty), oldest first.</summary>
    public static async IAsyncEnumerable<AuditEntryView> ReadAsync(OperatorClient client, string filters, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        long? after = 0;
        while (after is { } from)
        {
            var page = await client.GetAsync<AuditPage>($"api/v1/audit?limit={PageSize}&after={from.ToString(CultureInfo.InvariantCulture)}{filters}", ct).ConfigureAwait(false);
            foreach (var entry in page.Entries)
                yield return entry;
            after = page.Next;
        }
    }
}

/// <summary><c>rig audit</c>: the newest audit log entries, filtered by time, device and operator.</summary>
internal sealed class AuditListCommand : AsyncCommand<AuditSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, AuditSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Limit < 1)
            throw new UsageException($"--limit {settings.Limit} is not a positive number; nothing was done.");
        var filters = "";
        if (settings.Since is { } since)
            filters += "&since=" + Uri.EscapeDataString(Since(since).ToString("O", CultureInfo.InvariantCulture));
        if (settings.Device is { } device)
            filters += "&device=" + Uri.EscapeDataString(device);
        if (settings.Operator is { } op)
            filters += "&operator=" + Uri.EscapeDataString(op);
        using var client = settings.Connect();
        var newest = new Queue<AuditEntryView>();
        await foreach (var entry in AuditPages.ReadAsync(client, filters, cancellationToken).ConfigureAwait(false))
        {
            newest.Enqueue(entry);
            if (newest.Count > settings.Limit)
                newest.Dequeue();
        }
        if (settings.Json)
        {
            Output.JsonLine(newest.ToList());
            return ExitCodes.Ok;
        }
        var table = new Table().AddColumns("seq", "when", "operator", "action", "target", "device", "outcome", "detail");
        foreach (var e in newest)
        {
            table.AddRow(e.Seq.ToString(CultureInfo.InvariantCulture), e.At.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                DriftCommand.Safe(e.Operator ?? "-"), DriftCommand.Safe(e.Action), DriftCommand.Safe(e.Target), DriftCommand.Safe(e.Device ?? "-"),
                DriftCommand.Safe(e.Outcome), DriftCommand.Safe(e.Detail ?? ""));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"{newest.Count} entr{(newest.Count == 1 ? "y" : "ies")}. `rig audit verify` checks the chain.");
        return ExitCodes.Ok;
    }

    /// <summary>An absolute time from <c>--since</c>: a date and time, or a duration back from now.</summary>
    private static DateTimeOffset Since(string text)
    {
        if (Rig.Model.Durations.TryParse(text, out var back, out _))
            return DateTimeOffset.UtcNow - back;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            return at;
        throw new UsageException($"--since '{text}' is neither a date and time (2026-12-05T14:00:00Z) nor a duration (30m, 2h, 7d); nothing was done.");
    }
}

/// <summary><c>rig audit verify</c>: recompute the chain on the gateway. Exit codes: 0 intact, 1 broken (the first
/// entry altered, removed or reordered is named).</summary>
internal sealed class AuditVerifyCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var result = await client.GetAsync<AuditVerifyResponse>("api/v1/audit/verify", cancellationToken).ConfigureAwait(false);
        var code = result.Ok ? ExitCodes.Ok : ExitCodes.Error;
        if (settings.Json)
        {
            Output.JsonLine(result);
            return code;
        }
        if (result.Break is { } broken)
        {
            CliErrors.Stderr.MarkupLine($"[red]The audit log is broken at entry {broken.Seq}[/] ({Output.Safe(broken.Action ?? "missing")}, {Output.Safe(broken.Problem)}): {Output.Safe(broken.Message)}");
            CliErrors.Stderr.MarkupLine($"{result.Checked} entries checked. Compare with the heads in the gateway's log (event 1802) and restore the database from a backup.");
            return code;
        }
        AnsiConsole.MarkupLine($"[green]The audit log is intact[/]: {result.Checked} entries checked; head seq {result.HeadSeq} hash {Output.Safe(result.HeadHash)}.");
        AnsiConsole.MarkupLine("Compare the head with the newest `Audit log head` line (event 1802) in the gateway's log.");
        return code;
    }
}

/// <summary><c>rig audit export</c>: every entry the operator may see, as JSON lines (one entry per line, oldest first).</summary>
internal sealed class AuditExportCommand : AsyncCommand<AuditExportSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, AuditExportSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var count = 0L;
        var file = settings.Output is { } path ? new StreamWriter(path, append: false) : null;
        await using (file)
        {
            var writer = file ?? Console.Out;
            await foreach (var entry in AuditPages.ReadAsync(client, "", cancellationToken).ConfigureAwait(false))
            {
                await writer.WriteLineAsync(JsonSerializer.Serialize(entry, OperatorClient.Json).AsMemory(), cancellationToken).ConfigureAwait(false);
                count++;
            }
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        if (settings.Output is { } written)
        {
            if (settings.Json)
                Output.JsonLine(new { file = written, entries = count });
            else
                AnsiConsole.MarkupLine($"{count} entries written to {Output.Safe(written)}.");
        }
        return ExitCodes.Ok;
    }
}
