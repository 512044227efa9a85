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
}
