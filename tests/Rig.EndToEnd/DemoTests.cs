using System.Diagnostics;
using System.Text.Json;
using Rig.EndToEnd.Harness;
using Rig.Supervision;

namespace Rig.EndToEnd;

/// <summary>README's first command.</summary>
public sealed class DemoTests
{
    [Fact]
    public async Task Rig_demo_json_provisions_the_three_tier_site_and_names_the_directory_it_keeps()
    {
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(15), "demo", "--json", "--keep");
        Assert.True(code == 0, $"rig demo failed ({code}):\n{stdout}\n{stderr}");
        var lines = stdout.TrimEnd().Split('\n');
        var summary = JsonDocument.Parse(lines[^1]).RootElement;
        Assert.Equal(6, summary.GetProperty("devices").GetInt32());
        Assert.Equal(6, summary.GetProperty("succeeded").GetInt32());
        Assert.Equal(0, summary.GetProperty("failed").GetInt32());
        Assert.Equal(6, summary.GetProperty("reboots").GetInt32());
        Assert.True(summary.GetProperty("commands").GetInt32() >= 6 * 8);
        Assert.True(summary.GetProperty("seconds").GetDouble() > 0);
        Assert.Single(lines); // --json: the JSON object is all of standard output
        var kept = summary.GetProperty("directory").GetString()!;
        try
        {
            Assert.True(File.Exists(Path.Combine(kept, "agents", "web-1", "agent.log")), $"--keep must keep {kept}");
        }
        finally
        {
            Directory.Delete(kept, recursive: true);
        }
    }

    [Theory]
    [InlineData(Signals.Interrupt)]
    [InlineData(Signals.Terminate)]
    public async Task Rig_demo_ui_stops_its_agents_and_ends_on_ctrl_c_or_sigterm(int signal)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"rig-demo-signal-{Guid.NewGuid():n}"[..28]);
        using var demo = Process.Start(RigLauncher.BuiltAlongside().StartInfo("demo", "--ui", "--json", "--dir", dir))!;
        var stderr = demo.StandardError.ReadToEndAsync();
        try
        {
            using (var ready = new CancellationTokenSource(TimeSpan.FromMinutes(10)))
            {
                while (await demo.StandardOutput.ReadLineAsync(ready.Token) is { } line && !line.StartsWith('{'))
                {
                }
            }
            var agents = AgentsOf(dir);
            Assert.Equal(6, agents.Count);

            Assert.True(Signals.Send(demo.Id, signal));
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                try
                {
                    await demo.WaitForExitAsync(exit.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"rig demo --ui was still running 60 s after signal {signal}; its agents: {string.Join(", ", AgentsOf(dir))}");
                }
            }
            Assert.True(demo.ExitCode == 0, $"rig demo --ui ended with {demo.ExitCode} after signal {signal}: {await stderr}");
            Assert.Empty(AgentsOf(dir)); // no agent left behind
        }
        finally
        {
            if (!demo.HasExited)
                demo.Kill(entireProcessTree: true);
            foreach (var pid in AgentsOf(dir))
                Signals.Send(pid, Signals.Kill);
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The agent processes (<c>rig agent run --state DIR/agents/...</c>) of the demo in <paramref name="dir"/>.</summary>
    private static List<int> AgentsOf(string dir)
    {
        var prefix = Path.Combine(dir, "agents") + "/";
        var pids = new List<int>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid))
                continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
                var at = Array.IndexOf(args, "--state");
                if (at > 0 && at + 1 < args.Length && args[at + 1].StartsWith(prefix, StringComparison.Ordinal) && args.Contains("run"))
                    pids.Add(pid);
            }
            catch (IOException)
            {
            }
        }
        return pids;
    }

    [Theory]
    [InlineData("scale-out", new[] { "lb-1", "web-3" })]
    [InlineData("upgrade-content", new[] { "web-1", "web-2" })]
    [InlineData("decommission", new[] { "app-2", "db-1", "web-1", "web-2" })]
    [InlineData("disaster-recovery", new[] { "web-1" })]
    public async Task Rig_demo_scenario_runs_the_lifecycle_step_and_checks_it(string scenario, string[] changed)
    {
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(15), "demo", "--scenario", scenario, "--json");
        Assert.True(code == 0, $"rig demo --scenario {scenario} failed ({code}):\n{stdout}\n{stderr}");
        var summary = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]).RootElement;
        Assert.Equal(scenario, summary.GetProperty("scenario").GetString());
        Assert.Equal(0, summary.GetProperty("failed").GetInt32());
        Assert.Equal(summary.GetProperty("devices").GetInt32(), summary.GetProperty("succeeded").GetInt32());
        Assert.Equal(changed.Order(), summary.GetProperty("changed").EnumerateArray().Select(e => e.GetString()!).Order());
        Assert.True(summary.GetProperty("revision").GetInt64() >= 1);
    }
}
