using System.Text;
using System.Text.Json;
using Rig.Protocol.Messages;

namespace Rig.Agent.Runtime;

/// <summary>The agent's journal of commands: append-only JSON lines, flushed to disk before the agent reports
/// (the results of one answer together, see <see cref="Commit"/>). A command whose <c>end</c> is in the journal is never run again: a re-delivery is answered from
/// here. A torn last line (power cut mid-write) is ignored.</summary>
public sealed class Journal : IDisposable
{
    /// <summary>Lines kept when the journal is compacted at start-up.</summary>
    public const int KeepEntries = 20_000;

    private readonly Dictionary<string, CommandResult> _finished = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rebooted = new(StringComparer.Ordinal);
    private readonly HashSet<string> _acknowledged = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _rebootStarted = new(StringComparer.Ordinal);
    private readonly List<JournalEntry> _pending = [];
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
        }
        // A last line cut just before its newline parses, but the next entry would be glued onto it: rewrite.
        if (valid.Count > KeepEntries * 2 || valid.Count != lines.Length || !EndsWithNewline(path))
            Rewrite(path, valid.Skip(Math.Max(0, valid.Count - KeepEntries)));
        _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.None);
    }


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

    /// <summary>A "rebooting" result the gateway never acknowledged: no reboot happened yet (the agent died before
    /// the acknowledgement), so the result must be reported again, not taken for a reboot.</summary>
    public CommandResult? UnacknowledgedReboot
    {
        get
        {
            lock (_gate)
                return _finished.Where(f => f.Value.Outcome == CommandOutcome.Rebooting && !_rebootStarted.ContainsKey(f.Key)).Select(f => f.Value).FirstOrDefault();
        }
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

    /// <summary>Record a command's result at the next <see cref="Commit"/>, which the agent calls once per answer,
    /// before it reports (a result never leaves before its "end" is on disk). The line is held in memory, not
    /// written, so it cannot reach the disk before the device's package database that the command changed.</summary>
    public void EndAtCommit(string commandId, CommandResult result)
    {
        lock (_gate)
            _pending.Add(new JournalEntry(commandId, "end", Now, null, result));
    }

    /// <summary>Write every result held by <see cref="EndAtCommit"/> and force them to disk with one fsync.</summary>
    public void Commit()
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
                return;
            var text = new StringBuilder();
            foreach (var entry in _pending)
                text.Append(JsonSerializer.Serialize(entry, AgentJson.Default.JournalEntry)).Append('\n');
            _stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
            _stream.Flush(flushToDisk: true);
            foreach (var entry in _pending)
                Replay(entry);
            _pending.Clear();
        }
    }

    /// <summary>Record that the device came back from the reboot requested by <paramref name="commandId"/>.</summary>
    public void Rebooted(string commandId) => Append(new JournalEntry(commandId, "rebooted", Now));

    private long Now => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    private void Append(JournalEntry entry, bool durable = true)
    {
        var line = JsonSerializer.Serialize(entry, AgentJson.Default.JournalEntry) + "\n";
        var bytes = Encoding.UTF8.GetBytes(line);
        lock (_gate)
        {
            _stream.Write(bytes);
            _stream.Flush(flushToDisk: durable);
            Replay(entry);
        }
    }

    private void Replay(JournalEntry entry)
    {
        switch (entry.Event)
        {
            case "end" when entry.Result is not null:
                _finished[entry.Id] = entry.Result;
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

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
