using System.Text;
using System.Text.Json;
using Rig.Agent.Runtime;
using Rig.Testing;
using Rig.Protocol.Messages;

namespace Rig.Agent.Tests;

/// <summary>CHECKLIST 17 and 20: the journal answers re-delivered commands after a crash or reboot, survives
/// a torn write, and tracks a reboot from "rebooting" to "rebooted" to "acknowledged".</summary>
public sealed class JournalTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string JournalPath => Path.Combine(_dir.Path, "journal.jsonl");

    private Journal Open() => new(JournalPath, TimeProvider.System);

    private static CommandResult Succeeded(string id) =>
        new() { CommandId = id, Outcome = CommandOutcome.Succeeded, Output = "done " + id, DurationMs = 12 };

    private static CommandResult Rebooting(string id) =>
        new() { CommandId = id, Outcome = CommandOutcome.Rebooting, Output = "rebooting: kernel update" };

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Finished_command_is_answered_by_a_new_journal_on_the_same_file()
    {
        using (var journal = Open())
        {
            journal.Begin("c1", "write-file");
            journal.End("c1", Succeeded("c1"));
            journal.Begin("c2", "install");
            journal.End("c2", new CommandResult { CommandId = "c2", Outcome = CommandOutcome.Failed, ErrorCode = "digest-mismatch", Error = "bad blob" });
        }

        using var reopened = Open();

        Assert.True(reopened.TryGetResult("c1", out var first));
        Assert.Equal(CommandOutcome.Succeeded, first.Outcome);
        Assert.Equal("done c1", first.Output);
        Assert.Equal(12, first.DurationMs);
        Assert.True(reopened.TryGetResult("c2", out var second)); // a failed command is finished too: never re-run
        Assert.Equal(CommandOutcome.Failed, second.Outcome);
        Assert.Equal("digest-mismatch", second.ErrorCode);
        Assert.False(reopened.TryGetResult("c3", out _));
    }

    [Fact]
    public void End_is_on_disk_when_it_returns_even_if_the_process_dies_without_disposing()
    {
        var journal = Open();
        try
        {
            journal.End("c1", Succeeded("c1"));

            // kill -9 now: copy what is on disk while the writer is still open and never disposed.
            var crashed = Path.Combine(_dir.Path, "after-crash.jsonl");
            using (var source = new FileStream(JournalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            using (var copy = File.Create(crashed))
                source.CopyTo(copy);
            using var restarted = new Journal(crashed, TimeProvider.System);

            Assert.True(restarted.TryGetResult("c1", out var result));
            Assert.Equal("done c1", result.Output);
        }
        finally
        {
            journal.Dispose();
        }
    }

    /// <summary>What a crash leaves on disk: a copy taken while the writer is still open.</summary>
    private Journal AfterCrash()
    {
        var crashed = Path.Combine(_dir.Path, $"after-crash-{Guid.NewGuid():n}.jsonl");
        using (var source = new FileStream(JournalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var copy = File.Create(crashed))
            source.CopyTo(copy);
        return new Journal(crashed, TimeProvider.System);
    }

    [Fact]
    public void An_answers_results_are_on_disk_after_its_commit_and_not_before()
    {
        using var journal = Open();
        journal.Begin("c1", "write-file");
        journal.Begin("c2", "write-file");

        using (var before = AfterCrash())
        {
            // A crash before the commit: both commands run again when delivered again.
            Assert.False(before.TryGetResult("c1", out _));
            Assert.False(before.TryGetResult("c2", out _));
        }

        journal.Commit([Succeeded("c1"), Succeeded("c2")]);

        using var after = AfterCrash();
        Assert.True(after.TryGetResult("c1", out var first));
        Assert.Equal("done c1", first.Output);
        Assert.True(after.TryGetResult("c2", out _));
        Assert.True(journal.TryGetResult("c2", out _));
        journal.Commit([]); // nothing to journal: nothing written
        Assert.Equal(2, File.ReadAllLines(JournalPath).Count(l => l.Contains("\"end\"", StringComparison.Ordinal)));
    }

    [Fact]
    public void Results_not_marked_reported_are_reported_again_after_a_crash_in_the_order_they_finished()
    {
        using (var journal = Open())
        {
            journal.Commit([Succeeded("c1"), Succeeded("c2")]);
            journal.Reported(["c1", "c2"]);
            journal.Commit([Succeeded("c3"), Succeeded("c4"), Rebooting("r1")]);
            // killed here: the answer is journaled, the gateway never saw it
        }
        using var reopened = AfterCrash();

        Assert.Equal(["c3", "c4", "r1"], reopened.Unreported.Select(r => r.CommandId));
        Assert.Equal(["c1", "c4"], reopened.ResultsOf(["c4", "c1", "nope"]).Select(r => r.CommandId));
        reopened.Reported(["c3", "c4"]);
        reopened.RebootStarted("r1", null); // acknowledged by the gateway
        Assert.Empty(reopened.Unreported);
    }

    [Fact]
    public void A_journal_of_an_agent_that_did_not_mark_reported_results_counts_them_reported_except_an_unacknowledged_reboot()
    {
        // As an older agent left it: results (all reported, or it would still be reporting them) and a reboot it
        // accepted but the gateway never acknowledged.
        File.WriteAllLines(JournalPath,
        [
            """{"id":"c1","event":"end","at":1,"result":{"commandId":"c1","outcome":"succeeded","output":"done c1"}}""",
            """{"id":"r1","event":"end","at":2,"result":{"commandId":"r1","outcome":"rebooting","output":"going down"}}""",
        ]);

        using (var journal = Open())
            Assert.Equal(["r1"], journal.Unreported.Select(r => r.CommandId));
        using (var again = Open())
            Assert.Equal(["r1"], again.Unreported.Select(r => r.CommandId));
    }

    [Fact]
    public void A_commit_that_fails_on_a_full_disk_journals_nothing_and_leaves_no_torn_line()
    {
        using var disk = SmallDisk.Mount(64 * 1024);
        var path = Path.Combine(disk.Path, "journal.jsonl");
        using var journal = new Journal(path, TimeProvider.System);
        journal.Commit([Succeeded("c0")]);
        disk.Fill();
        var big = Enumerable.Range(1, 200).Select(i => new CommandResult { CommandId = $"c{i}", Outcome = CommandOutcome.Succeeded, Output = new string('x', 2000) }).ToList();

        var e = Assert.ThrowsAny<IOException>(() => journal.Commit(big));

        Assert.True(Rig.Agent.Platform.DiskFull.Is(e), e.ToString());
        Assert.False(journal.TryGetResult("c1", out _));
        disk.Free();
        journal.Commit([Succeeded("c201")]);
        using var reopened = new Journal(path, TimeProvider.System);
        Assert.True(reopened.TryGetResult("c0", out _));
        Assert.True(reopened.TryGetResult("c201", out _));
        Assert.False(reopened.TryGetResult("c1", out _));
        Assert.All(File.ReadAllLines(path), line => Assert.StartsWith("{", line, StringComparison.Ordinal));
    }

    [Fact]
    public void Torn_last_line_is_ignored_and_the_journal_still_opens_and_appends()
    {
        using (var journal = Open())
        {
            journal.End("c1", Succeeded("c1"));
            journal.End("c2", Succeeded("c2"));
        }
        var whole = File.ReadAllLines(JournalPath)[^1].Replace("c2", "c3", StringComparison.Ordinal);
        File.AppendAllText(JournalPath, whole[..(whole.Length / 2)]); // power cut mid-write: half a line, no newline

        using (var journal = Open())
        {
            Assert.True(journal.TryGetResult("c1", out _));
            Assert.True(journal.TryGetResult("c2", out _));
            Assert.False(journal.TryGetResult("c3", out _));
            journal.End("c4", Succeeded("c4"));
        }

        using var reopened = Open();
        Assert.True(reopened.TryGetResult("c1", out _));
        Assert.True(reopened.TryGetResult("c2", out _));
        Assert.False(reopened.TryGetResult("c3", out _));
        Assert.True(reopened.TryGetResult("c4", out var c4));
        Assert.Equal("done c4", c4.Output);
        Assert.All(File.ReadAllLines(JournalPath), line => JsonDocument.Parse(line).Dispose()); // the torn half is gone
    }

    [Fact]
    public void Last_line_torn_just_before_its_newline_is_kept_and_the_next_entry_goes_on_its_own_line()
    {
        using (var journal = Open())
        {
            journal.End("c1", Succeeded("c1"));
            journal.End("c2", Succeeded("c2"));
        }
        var bytes = File.ReadAllBytes(JournalPath);
        Assert.Equal((byte)'\n', bytes[^1]);
        File.WriteAllBytes(JournalPath, bytes[..^1]); // the JSON reached the disk, its newline did not

        using (var journal = Open())
        {
            Assert.True(journal.TryGetResult("c2", out _));
            journal.End("c3", Succeeded("c3"));
        }

        using var reopened = Open();
        Assert.True(reopened.TryGetResult("c1", out _));
        Assert.True(reopened.TryGetResult("c2", out _)); // was lost: "c2" and "c3" were glued on one line
        Assert.True(reopened.TryGetResult("c3", out _));
    }

    [Fact]
    public void Garbage_in_the_middle_of_the_journal_does_not_hide_the_entries_around_it()
    {
        using (var journal = Open())
            journal.End("c1", Succeeded("c1"));
        File.AppendAllText(JournalPath, "not json at all\n{\"id\":\n", Encoding.UTF8);
        using (var journal = Open())
            journal.End("c2", Succeeded("c2"));

        using var reopened = Open();
        Assert.True(reopened.TryGetResult("c1", out _));
        Assert.True(reopened.TryGetResult("c2", out _));
    }

    [Fact]
    public void Begin_without_end_is_not_finished()
    {
        using (var journal = Open())
        {
            journal.Begin("c1", "install");
            Assert.False(journal.TryGetResult("c1", out _));
            journal.Begin("r1", "reboot");
            Assert.Null(journal.PendingReboot); // a reboot that never answered "rebooting" is not pending
        }

        using var reopened = Open();
        Assert.False(reopened.TryGetResult("c1", out _));
        Assert.Null(reopened.PendingReboot);
        Assert.Null(reopened.RebootToReport);
    }

    [Fact]
    public void Pending_reboot_is_a_started_reboot_without_a_rebooted_entry()
    {
        using var journal = Open();
        journal.End("c1", Succeeded("c1"));
        Assert.Null(journal.PendingReboot);

        journal.Begin("r1", "reboot");
        journal.End("r1", Rebooting("r1"));
        Assert.Null(journal.PendingReboot); // accepted, but the gateway has not acknowledged: no reboot yet
        Assert.Equal(["c1", "r1"], journal.Unreported.Select(r => r.CommandId));

        journal.RebootStarted("r1", null);
        Assert.Equal(["c1"], journal.Unreported.Select(r => r.CommandId));
        Assert.Equal("r1", journal.PendingReboot);
        Assert.Null(journal.RebootToReport);
        Assert.True(journal.TryGetResult("r1", out var result));
        Assert.Equal(CommandOutcome.Rebooting, result.Outcome);
    }

    [Fact]
    public void Pending_reboot_survives_the_reboot_itself()
    {
        using (var journal = Open())
        {
            journal.End("r1", Rebooting("r1"));
            journal.RebootStarted("r1", null); // the gateway acknowledged: the device goes down
        }

        using var afterReboot = Open();
        Assert.Equal("r1", afterReboot.PendingReboot);
    }

    [Fact]
    public void The_boot_id_at_the_start_of_a_reboot_is_journaled_so_a_restart_without_reboot_is_told_apart()
    {
        using (var journal = Open())
        {
            journal.End("r1", Rebooting("r1"));
            journal.RebootStarted("r1", "78cb5660-4ba2-41c8-9cdc-bde6d60c6b45");
        }

        using var reopened = Open();
        Assert.Equal("r1", reopened.PendingReboot);
        Assert.Equal("78cb5660-4ba2-41c8-9cdc-bde6d60c6b45", reopened.BootAtRebootStart("r1"));
        Assert.Null(reopened.BootAtRebootStart("other"));
    }

    [Fact]
    public void Rebooted_turns_the_result_into_success_and_is_reported_until_acknowledged()
    {
        using (var journal = Open())
        {
            journal.End("r1", Rebooting("r1"));
            journal.Rebooted("r1");

            Assert.Null(journal.PendingReboot); // no reboot loop: the next start does not count it again
            Assert.True(journal.TryGetResult("r1", out var result));
            Assert.Equal(CommandOutcome.Succeeded, result.Outcome);
            Assert.Equal("r1", journal.RebootToReport);
        }

        using (var journal = Open())
        {
            // The gateway did not answer before the agent stopped again: still owed.
            Assert.Null(journal.PendingReboot);
            Assert.True(journal.TryGetResult("r1", out var result));
            Assert.Equal(CommandOutcome.Succeeded, result.Outcome);
            Assert.Equal("r1", journal.RebootToReport);

            journal.Acknowledged("r1");
            Assert.Null(journal.RebootToReport);
        }

        using var reopened = Open();
        Assert.Null(reopened.RebootToReport);
        Assert.Null(reopened.PendingReboot);
        Assert.True(reopened.TryGetResult("r1", out var final));
        Assert.Equal(CommandOutcome.Succeeded, final.Outcome);
    }
}
