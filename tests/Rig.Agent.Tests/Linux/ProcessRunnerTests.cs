using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;

namespace Rig.Agent.Tests.Linux;

/// <summary>ProcessRunner with real programs: the run ends when the program exits (not when a child it left
/// behind closes the output), and a program over its timeout is stopped with its children.</summary>
public sealed class ProcessRunnerTests
{
    [Fact]
    public async Task A_program_whose_background_child_keeps_stdout_open_returns_when_the_program_exits()
    {
        // The background sleep inherits stdout and stderr: their pipes stay open for a minute.
        ProcessOutcome? outcome = null;
        try
        {
            outcome = await ProcessRunner.RunAsync("/bin/sh", ["-c", "sleep 60 & echo started $!"], TimeSpan.FromMinutes(5), CancellationToken.None);

            Assert.Equal(0, outcome.ExitCode);
            Assert.StartsWith("started ", outcome.StandardOutput, StringComparison.Ordinal);
            Assert.True(IsRunning(Pids(outcome.StandardOutput)[0]), "the child is still running (holding stdout) when the run has returned");
        }
        finally
        {
            if (outcome is not null)
                KillOwn(Pids(outcome.StandardOutput));
        }
    }

    [Fact]
    public async Task A_program_over_its_timeout_is_stopped_with_its_children_and_the_error_names_it()
    {
        var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
            ProcessRunner.RunAsync("/bin/sh", ["-c", "sleep 60 & echo $$ $!; wait"], TimeSpan.FromSeconds(1), CancellationToken.None));
        var pids = Pids(error.Message[(error.Message.IndexOf("Last output: ", StringComparison.Ordinal) + 13)..]);
        try
        {
            Assert.Equal("timeout", error.Code);
            Assert.Contains("'/bin/sh -c sleep 60 & echo $$ $!; wait' did not finish within 1 s and was stopped", error.Message, StringComparison.Ordinal);
            Assert.Equal(2, pids.Count);
            Assert.All(pids, pid => Assert.False(IsRunning(pid), $"process {pid} of the stopped program still runs"));
        }
        finally
        {
            KillOwn(pids);
        }
    }

    [Fact]
    public async Task A_program_ignoring_SIGTERM_is_killed_with_its_children_after_the_grace_period()
    {
        // Ignored signals stay ignored in children: neither sh nor sleep stops on SIGTERM.
        var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
            ProcessRunner.RunAsync("/bin/sh", ["-c", "trap '' TERM; sleep 60 & echo $$ $!; wait"], TimeSpan.FromSeconds(1), CancellationToken.None, stopGrace: TimeSpan.FromSeconds(1)));
        var pids = Pids(error.Message[(error.Message.IndexOf("Last output: ", StringComparison.Ordinal) + 13)..]);
        try
        {
            Assert.Equal("timeout", error.Code);
            Assert.Contains("SIGKILL to what was still running after 1 s", error.Message, StringComparison.Ordinal);
            Assert.Equal(2, pids.Count);
            Assert.All(pids, pid => Assert.False(IsRunning(pid), $"process {pid} of the stopped program still runs"));
        }
        finally
        {
            KillOwn(pids);
        }
    }

    [Fact]
    public async Task Streamed_output_reaches_the_reader_whole_however_long_it_is()
    {
        // 200,000 lines, ~1.3 MB: twenty times what a run keeps of its output.
        var lines = new List<string>();
        var outcome = await ProcessRunner.RunAsync("seq", ["200000"], TimeSpan.FromMinutes(1), CancellationToken.None, outputLines: lines.Add);

        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal(200_000, lines.Count);
        Assert.Equal(("1", "200000"), (lines[0], lines[^1]));
        Assert.Equal("", outcome.StandardOutput); // nothing kept besides

        var kept = await ProcessRunner.RunAsync("seq", ["200000"], TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.True(kept.StandardOutput.Length <= ProcessRunner.MaxCapturedChars, "without a reader only the tail is kept");
        Assert.EndsWith("200000\n", kept.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_output_reader_fails_the_run_after_the_program_exited()
    {
        var seen = 0;
        var error = await Assert.ThrowsAsync<FormatException>(() => ProcessRunner.RunAsync("seq", ["1000"], TimeSpan.FromMinutes(1), CancellationToken.None,
            outputLines: line => { seen++; if (line == "10") throw new FormatException("line 10 is unreadable"); }));

        Assert.Equal("line 10 is unreadable", error.Message);
        Assert.Equal(10, seen); // no line after the failure reached the reader
    }

    [Fact]
    public async Task A_missing_program_is_tool_missing()
    {
        var error = await Assert.ThrowsAsync<CommandFailedException>(() => ProcessRunner.RunAsync("rig-no-such-tool", [], TimeSpan.FromSeconds(5), CancellationToken.None));

        Assert.Equal("tool-missing", error.Code);
        Assert.Contains("'rig-no-such-tool' is not installed", error.Message, StringComparison.Ordinal);
    }

    private static List<int> Pids(string text) =>
        [.. text.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(w => int.TryParse(w, out var pid) ? pid : 0).Where(pid => pid > 0)];

    /// <summary>Alive and not a zombie (a killed orphan may wait for a reaper that a container's init lacks).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z') is false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Kill what these tests started (a sleep or sh they printed the pid of), never anything else.</summary>
    private static void KillOwn(IEnumerable<int> pids)
    {
        foreach (var pid in pids.Where(IsRunning))
        {
            try
            {
                var name = File.ReadAllText($"/proc/{pid}/comm").Trim();
                if (name is "sleep" or "sh" or "dash")
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException)
            {
                // Gone meanwhile.
            }
        }
    }
}
