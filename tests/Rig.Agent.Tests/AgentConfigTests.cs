using Rig.Agent.Runtime;

namespace Rig.Agent.Tests;

public class AgentConfigTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("257")]
    [InlineData("-1")]
    [InlineData("many")]
    public async Task Enroll_refuses_a_batch_outside_1_to_256_before_contacting_the_gateway(string batch)
    {
        using var dir = new TempDirectory();
        var state = dir.Sub("state");
        // The gateway address is unroutable on purpose: the option must be refused before any connection.
        var code = await AgentCommandLine.RunAsync(["enroll", "--state", state, "--gateway", "https://192.0.2.1:7443", "--device", "web-1",
            "--token", "rigenroll_x", "--ca-pin", "sha256:00", "--batch", batch]);

        Assert.Equal(1, code);
        Assert.False(File.Exists(new AgentPaths(state).Config));
    }

    [Fact]
    public void A_config_file_with_a_batch_out_of_range_is_refused_with_the_value_and_the_file()
    {
        using var dir = new TempDirectory();
        var paths = new AgentPaths(dir.Sub("state"));
        File.WriteAllText(paths.Config, """{"gatewayUrl":"https://gw:7443","device":"web-1","batch":1000}""");

        var error = Assert.Throws<AgentException>(() => AgentJson.LoadConfig(paths));

        Assert.Contains("batch 1000 is outside 0-256", error.Message, StringComparison.Ordinal);
        Assert.Contains(paths.Config, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_file_with_a_batch_in_range_loads()
    {
        using var dir = new TempDirectory();
        var paths = new AgentPaths(dir.Sub("state"));
        File.WriteAllText(paths.Config, """{"gatewayUrl":"https://gw:7443","device":"web-1","batch":1}""");

        Assert.Equal(1, AgentJson.LoadConfig(paths).Batch);
    }

    [Theory]
    [InlineData("""{"gatewayUrl":"https://gw:7443","device":"web-1","platform":"windows"}""", "platform 'windows' is unknown")]
    [InlineData("""{"gatewayUrl":"https://gw:7443","device":"web-1","platform":"linux","root":"srv/image"}""", "root 'srv/image' is not an absolute path")]
    public void A_config_file_with_an_unknown_platform_or_a_relative_root_is_refused(string json, string expected)
    {
        using var dir = new TempDirectory();
        var paths = new AgentPaths(dir.Sub("state"));
        File.WriteAllText(paths.Config, json);

        var error = Assert.Throws<AgentException>(() => AgentJson.LoadConfig(paths));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enroll_refuses_an_unknown_platform_before_contacting_the_gateway()
    {
        using var dir = new TempDirectory();
        var state = dir.Sub("state");
        var code = await AgentCommandLine.RunAsync(["enroll", "--state", state, "--gateway", "https://192.0.2.1:7443", "--device", "web-1",
            "--token", "rigenroll_x", "--ca-pin", "sha256:00", "--platform", "solaris"]);

        Assert.Equal(1, code);
        Assert.False(File.Exists(new AgentPaths(state).Config));
    }

    [Fact]
    public void The_unit_runs_the_given_program_with_the_state_directory_and_restarts_always()
    {
        var unit = ServiceInstall.UnitText(["/usr/lib/rig-agent/rig-agent"], "/var/lib/rig-agent");

        Assert.Contains("ExecStart=/usr/lib/rig-agent/rig-agent run --state /var/lib/rig-agent\n", unit, StringComparison.Ordinal);
        Assert.Contains("Restart=always\n", unit, StringComparison.Ordinal);
        Assert.Contains("WantedBy=multi-user.target\n", unit, StringComparison.Ordinal);
        Assert.DoesNotContain("@", unit, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/opt/rig agent/rig-agent")]
    [InlineData("/opt/%h/rig-agent")]
    [InlineData("/opt/$HOME/rig-agent")]
    [InlineData("/opt/\"rig\"")]
    [InlineData("/opt/rig\nExecStartPre=/bin/evil")]
    public void A_path_systemd_would_expand_or_split_is_refused_for_the_unit(string program)
    {
        var error = Assert.Throws<AgentException>(() => ServiceInstall.UnitText([program], "/var/lib/rig-agent"));

        Assert.Contains("cannot go into a systemd unit", error.Message, StringComparison.Ordinal);
    }
}
