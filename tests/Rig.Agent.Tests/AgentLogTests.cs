using System.Text.Json;
using Rig.Agent.Runtime;

namespace Rig.Agent.Tests;

public sealed class AgentLogTests
{
    [Fact]
    public void A_json_log_line_is_one_object_on_one_line_whatever_the_message_holds()
    {
        var time = new DateTimeOffset(2026, 12, 5, 14, 6, 51, 295, TimeSpan.FromHours(1));
        var line = AgentLog.JsonLine(time, "warn", "web-1", "command-failed", "dpkg said:\n\"E: broken\"\r\n\ttab \u0001 end");

        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\r', line);
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal("2026-12-05T13:06:51.295Z", json.GetProperty("time").GetString());
        Assert.Equal("warn", json.GetProperty("level").GetString());
        Assert.Equal("web-1", json.GetProperty("device").GetString());
        Assert.Equal("command-failed", json.GetProperty("event").GetString());
        Assert.Equal("dpkg said:\n\"E: broken\"\r\n\ttab \u0001 end", json.GetProperty("message").GetString());
        Assert.Equal(5, json.EnumerateObject().Count());
        Assert.Contains("\\\"E: broken\\\"", line, StringComparison.Ordinal); // quotes escaped as \", not \u0022
    }
}
