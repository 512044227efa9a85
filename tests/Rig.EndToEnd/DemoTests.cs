using System.Text.Json;
using Rig.EndToEnd.Harness;

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
