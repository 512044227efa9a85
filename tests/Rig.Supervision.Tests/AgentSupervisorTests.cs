using Rig.Protocol;

namespace Rig.Supervision.Tests;

/// <summary>The supervisor against a stand-in agent: <c>sh -c SCRIPT sh run --state DIR --verbose</c>, so the script
/// sees the state directory as <c>$3</c> and counts its runs in <c>$3/runs</c>.</summary>
public sealed class AgentSupervisorTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30); // against a hung test, not a timing assertion
    private readonly string _state = Path.Combine(Path.GetTempPath(), $"rig-supervision-{Guid.NewGuid():n}");

    public AgentSupervisorTests() => Directory.CreateDirectory(_state);

    public void Dispose() => Directory.Delete(_state, recursive: true);

    /// <summary>A stand-in agent: counts its run (0, 1, ...) in $3/runs, prints it, then runs <paramref name="body"/>.</summary>
    private static RigLauncher Agent(string body) => new("/bin/sh",
        ["-c", $"n=$(cat \"$3/runs\" 2>/dev/null || echo 0); echo $((n + 1)) > \"$3/runs\"; echo \"run $n\"; {body}", "sh"]);

    /// <summary>Runs the stand-in counted so far (0 also while the script is between truncating and writing the file).</summary>
    private int Runs => File.Exists(Path.Combine(_state, "runs")) && int.TryParse(File.ReadAllText(Path.Combine(_state, "runs")).Trim(), System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var cts = new CancellationTokenSource(Bound);
        while (!condition())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail($"no sign of {what} within {Bound}");
            await Task.Delay(20, CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_agent_that_exits_with_the_reboot_code_is_started_again_at_once_and_counted_as_a_reboot()
    {
        await using var agent = new AgentSupervisor("dev-1", _state, Agent($"if [ $n -lt 2 ]; then exit {ProtocolInfo.RebootExitCode}; fi; exec sleep 60"));
        agent.Start();

        await UntilAsync(() => Runs == 3 && agent.Pid is not null, "the third run");
        Assert.Equal(2, agent.Reboots);
        Assert.Equal(0, agent.Crashes);
        Assert.Null(agent.UnexpectedExit);
        await UntilAsync(() => agent.ReadLog().Contains("run 2", StringComparison.Ordinal), "the third run's line in agent.log");
    }

    [Fact]
    public async Task An_agent_that_upgraded_itself_is_started_again_and_counted_as_a_restart()
    {
        await using var agent = new AgentSupervisor("dev-1", _state, Agent($"if [ $n -lt 1 ]; then exit {ProtocolInfo.RestartExitCode}; fi; exec sleep 60"));
        agent.Start();

        await UntilAsync(() => Runs == 2, "the second run");
        Assert.Equal(1, agent.Restarts);
        Assert.Equal(0, agent.Reboots);
    }

    [Fact]
    public async Task A_crashed_agent_is_started_again_after_a_pause_and_its_exit_code_is_kept()
    {
        await using var agent = new AgentSupervisor("dev-1", _state, Agent("if [ $n -lt 1 ]; then exit 3; fi; exec sleep 60"));
        agent.Start();

        await UntilAsync(() => Runs == 2, "the run after the crash");
        Assert.Equal(1, agent.Crashes);
        Assert.Equal(3, agent.UnexpectedExit);
    }

    [Fact]
    public async Task A_killed_agent_is_not_started_again()
    {
        var agent = new AgentSupervisor("dev-1", _state, Agent("exec sleep 60"));
        agent.Start();
        // Its own first line, not only its pid: killed before that, the stand-in would not have counted its run.
        await UntilAsync(() => agent.Pid is not null && Runs == 1, "the agent to run");
        var pid = agent.Pid!.Value;

        await agent.KillAsync();

        Assert.Null(agent.Pid);
        Assert.False(Signals.Send(pid, 0), "the killed agent still runs");
        await Task.Delay(500); // a supervisor that would start it again does so at once (no crash pause after a kill)
        Assert.Equal(1, Runs);
        Assert.Equal(0, agent.Crashes);
        await agent.DisposeAsync();
    }

    [Fact]
    public async Task Stopping_a_frozen_agent_continues_it_so_it_ends_on_SIGTERM()
    {
        await using var agent = new AgentSupervisor("dev-1", _state, Agent("trap 'echo terminated; exit 0' TERM; while true; do sleep 0.1; done"));
        agent.Start();
        await UntilAsync(() => agent.ReadLog().Contains("run 0", StringComparison.Ordinal), "the agent to run");
        Assert.True(agent.Signal(Signals.Stop));

        await agent.StopAsync(TimeSpan.FromSeconds(20));

        Assert.Contains("terminated", agent.ReadLog(), StringComparison.Ordinal);
        Assert.Equal(1, Runs);
    }

    [Fact]
    public async Task Every_line_the_agent_prints_reaches_the_observer_and_the_log()
    {
        var lines = new List<string>();
        await using var agent = new AgentSupervisor("dev-1", _state, Agent("echo to-stderr >&2; echo to-stdout; exec sleep 60")) { OnLine = line => { lock (lines) lines.Add(line); } };
        agent.Start();

        await UntilAsync(() => { lock (lines) return lines.Count == 3; }, "three lines");
        lock (lines)
            Assert.Equal(["run 0", "to-stderr", "to-stdout"], lines.Order(StringComparer.Ordinal));
        Assert.Contains("to-stderr", agent.ReadLog(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_torn_last_journal_line_is_skipped()
    {
        File.WriteAllText(Path.Combine(_state, "journal.jsonl"), "{\"event\":\"end\",\"id\":\"c1\"}\n{\"event\":\"be");

        var journal = AgentSupervisor.ReadJournal(_state);

        Assert.Equal("c1", Assert.Single(journal).GetProperty("id").GetString());
    }
}
