using System.Text;
using System.Text.Json;
using Rig.Protocol.Messages;

namespace Rig.Agent.Runtime;

/// <summary>The agent's journal of commands: append-only JSON lines, flushed to disk before the agent reports
/// (the results of one answer together, see <see cref="Commit"/>). A command whose <c>end</c> is in the journal is never run again: a re-delivery is answered from
/// here. A torn last line (power cut mid-write) is ignored.</summary>
internal sealed class Journal : IDisposable
{
    /// <summary>Lines kept when the journal is compacted at start-up.</summary>
    public const int KeepEntries = 20_000;

    private readonly Dictionary<string, CommandResult> _finished = new(StringComparer.Ordinal);
    private readonly List<string> _finishOrder = [];
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rebooted = new(StringComparer.Ordinal);
    private readonly HashSet<string> _acknowledged = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _rebootStarted = new(StringComparer.Ordinal);
    private readonly FileStream _stream;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();

    /// <summary>Open (and replay) the journal at <paramref name="path"/>.</summary>
    public Journal(string path, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
        var lines = File.Exists(path) ? File.ReadAllLines(path) : [];
        var valid = new List<string>();
        var tracksReports = false;
        foreach (var line in lines)
        {
            JournalEntry? entry;
            try
            {
                entry = JsonSerializer.Deserialize(line, AgentJson.Default.JournalEntry);
            }
            catch (JsonException)
            {
                continue; // torn write
            }
            if (entry is null)
                continue;
            valid.Add(line);
            Replay(entry);
            tracksReports |= entry.Event == TracksReports;
        }
        // A last line cut just before its newline parses, but the next entry would be glued onto it: rewrite.
        if (valid.Count > KeepEntries * 2 || valid.Count != lines.Length || !EndsWithNewline(path))
        {
            // A compacted journal that marks reported results starts with the marker again (the old one may be cut
            // off): at the start it covers nothing, and the lines kept say the rest.
            var kept = valid.Skip(Math.Max(0, valid.Count - KeepEntries));
            try
            {
                Rewrite(path, tracksReports ? kept.Prepend(Line(new JournalEntry("-", TracksReports, Now)).TrimEnd('\n')) : kept);
            }
            catch (IOException)
            {
                // Disk full: the journal stays as it is (a torn line is skipped again next time) and is compacted later.
            }
        }
        // Unbuffered: every write is one write(2), so a write that fails (disk full) leaves nothing behind in a buffer
        // to be glued onto the next line; the failed write itself is cut off again (see Write).
        _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.None);
        if (!tracksReports)
        {
            // A new journal, or one written by an agent that did not mark reported results: those results were all
            // reported (such an agent kept reporting one until the gateway answered), except an unacknowledged reboot.
            var marker = new JournalEntry("-", TracksReports, Now);
            try
            {
                Write(Line(marker), durable: true);
            }
            catch (IOException)
            {
                // Disk full: the marker holds in memory and is written when the journal is opened next time.
            }
            Replay(marker);
        }
    }

    private const string TracksReports = "tracks-reports";

    /// <summary>The result of a finished command, if it finished.</summary>
    public bool TryGetResult(string commandId, out CommandResult result)
    {
        lock (_gate)
            return _finished.TryGetValue(commandId, out result!);
    }

    /// <summary>A reboot that was started (the gateway acknowledged "rebooting") and whose return has not been
    /// recorded yet: the agent coming up with this set has been through the reboot.</summary>
    public string? PendingReboot
    {
        get
        {
            lock (_gate)
                return _rebootStarted.Keys.FirstOrDefault(id => !_rebooted.Contains(id));
        }
    }

    /// <summary>Every finished result the gateway has not been seen to record, in the order the commands finished:
    /// what the agent reports when it starts (it may have died between journaling an answer and reporting it). A
    /// result may be reported twice this way (the gateway recorded it but the "reported" mark was lost); the gateway
    /// takes a result of a finished command as a replay.</summary>
    public IReadOnlyList<CommandResult> Unreported
    {
        get
        {
            lock (_gate)
                return [.. _finishOrder.Where(id => !_reported.Contains(id) && !_rebootStarted.ContainsKey(id)).Select(id => _finished[id])];
        }
    }

    /// <summary>The journaled results of <paramref name="commandIds"/> that the journal has, in the order they finished
    /// (the gateway asked for them: <c>missing-results</c>).</summary>
    public IReadOnlyList<CommandResult> ResultsOf(IEnumerable<string> commandIds)
    {
        lock (_gate)
        {
            var wanted = commandIds.ToHashSet(StringComparer.Ordinal);
            return [.. _finishOrder.Where(wanted.Contains).Select(id => _finished[id])];
        }
    }

    /// <summary>Record that the gateway answered a request carrying these results (it recorded them). Not forced to
    /// disk: a lost mark only makes the agent report those results again after a crash, which the gateway ignores.</summary>
    public void Reported(IReadOnlyList<string> commandIds)
    {
        ArgumentNullException.ThrowIfNull(commandIds);
        if (commandIds.Count > 0)
            Append(new JournalEntry(commandIds[0], "reported", Now, Ids: commandIds), durable: false);
    }

    /// <summary>Record that the gateway acknowledged the reboot and the device is going down now;
    /// <paramref name="bootId"/> identifies the boot being ended (null where the device has none).</summary>
    public void RebootStarted(string commandId, string? bootId) => Append(new JournalEntry(commandId, "reboot-started", Now, Boot: bootId));

    /// <summary>The boot id journaled when the reboot of <paramref name="commandId"/> started, if any.</summary>
    public string? BootAtRebootStart(string commandId)
    {
        lock (_gate)
            return _rebootStarted.GetValueOrDefault(commandId);
    }

    /// <summary>A reboot that happened but whose "rebooted" the gateway has not acknowledged yet; the agent
    /// reports it with every request until it is.</summary>
    public string? RebootToReport
    {
        get
        {
            lock (_gate)
                return _rebooted.FirstOrDefault(id => !_acknowledged.Contains(id));
        }
    }

    /// <summary>Record that the gateway acknowledged the device's return from a reboot.</summary>
    public void Acknowledged(string commandId) => Append(new JournalEntry(commandId, "acknowledged", Now));

    /// <summary>Record that a command is about to run. Not forced to disk: a lost "begin" means the same as a
    /// "begin" without an "end" (the command runs again when delivered again), so it needs no fsync of its own;
    /// the next "end" flushes it.</summary>
    public void Begin(string commandId, string kind) => Append(new JournalEntry(commandId, "begin", Now, kind), durable: false);

    /// <summary>Record a command's result (flushed before this returns).</summary>
    public void End(string commandId, CommandResult result) => Append(new JournalEntry(commandId, "end", Now, null, result));

    /// <summary>Journal the results of one answer with one fsync. The agent calls it once per answer, after the
    /// device's record (package database) is saved and before it reports: a journaled result is never ahead of the
    /// device's record, and a result never leaves before its "end" is on disk. Throws <see cref="IOException"/> (disk
    /// full) with nothing journaled.</summary>
    public void Commit(IReadOnlyList<CommandResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Count == 0)
            return;
        var entries = results.Select(r => new JournalEntry(r.CommandId, "end", Now, null, r)).ToList();
        var text = new StringBuilder();
        foreach (var entry in entries)
            text.Append(Line(entry));
        lock (_gate)
        {
            Write(text.ToString(), durable: true);
            foreach (var entry in entries)
                Replay(entry);
        }
    }

    /// <summary>Record that the device came back from the reboot requested by <paramref name="commandId"/>.</summary>
    public void Rebooted(string commandId) => Append(new JournalEntry(commandId, "rebooted", Now));

    private long Now => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    private static string Line(JournalEntry entry) => JsonSerializer.Serialize(entry, AgentJson.Default.JournalEntry) + "\n";

    private void Append(JournalEntry entry, bool durable = true)
    {
        lock (_gate)
        {
            Write(Line(entry), durable);
            Replay(entry);
        }
    }

    /// <summary>Append whole lines; when the write fails (disk full, I/O error) whatever part of it reached the file is
    /// cut off again, so the journal never holds a torn line in the middle, and the exception is thrown.</summary>
    private void Write(string lines, bool durable)
    {
        var length = _stream.Length;
        try
        {
            _stream.Write(Encoding.UTF8.GetBytes(lines));
            if (durable)
                _stream.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            try
            {
                _stream.SetLength(length);
            }
            catch (IOException)
            {
                // a torn last line is skipped when the journal is read again
            }
            throw;
        }
    }

    private void Replay(JournalEntry entry)
    {
        switch (entry.Event)
        {
            case "end" when entry.Result is not null:
                if (_finished.TryAdd(entry.Id, entry.Result))
                    _finishOrder.Add(entry.Id);
                else
                    _finished[entry.Id] = entry.Result;
                break;
            case "reported" when entry.Ids is not null:
                _reported.UnionWith(entry.Ids);
                break;
            case TracksReports:
                foreach (var (id, result) in _finished)
                {
                    if (result.Outcome != CommandOutcome.Rebooting || _rebootStarted.ContainsKey(id))
                        _reported.Add(id);
                }
                break;
            case "rebooted":
                _rebooted.Add(entry.Id);
                if (_finished.TryGetValue(entry.Id, out var r) && r.Outcome == CommandOutcome.Rebooting)
                    _finished[entry.Id] = r with { Outcome = CommandOutcome.Succeeded, Output = "device rebooted" };
                break;
            case "acknowledged":
                _acknowledged.Add(entry.Id);
                break;
            case "reboot-started":
                _rebootStarted[entry.Id] = entry.Boot;
                break;
        }
    }

    private static bool EndsWithNewline(string path)
    {
        if (!File.Exists(path))
            return true;
        using var stream = File.OpenRead(path);
        if (stream.Length == 0)
            return true;
        stream.Seek(-1, SeekOrigin.End);
        return stream.ReadByte() == '\n';
    }

    private static void Rewrite(string path, IEnumerable<string> lines)
    {
        var temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
            using (var writer = new StreamWriter(stream, new UTF8Encoding(false)))
            {
                foreach (var line in lines)
                    writer.Write(line + "\n");
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException)
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
