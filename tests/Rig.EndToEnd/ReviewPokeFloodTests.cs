using System.Net;
using System.Net.Sockets;
using Rig.EndToEnd.Harness;
using Rig.Protocol;

namespace Rig.EndToEnd;

/// <summary>Regression (security review): anyone who can reach an agent's poke port turns each poke into a new mTLS session at
/// the gateway plus a TouchDevice write transaction (fsync, global SQLite writer) — PokeMinInterval is 50 ms.</summary>
public sealed class ReviewPokeFloodTests
{
    [Fact]
    public async Task Forged_pokes_do_not_turn_into_a_gateway_write_storm()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await site.StartAgentAsync("web-1");
        var log = site.AgentLog("web-1");
        var line = log.Split('\n').First(l => l.Contains("listening: pokes on", StringComparison.Ordinal));
        var endpoint = line[(line.IndexOf("pokes on ", StringComparison.Ordinal) + 9)..].Split(',')[0];
        var port = int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

        var before = CountSessions(site.AgentLog("web-1"));
        var until = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < until)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            await client.GetStream().WriteAsync(ProtocolInfo.PokeBytes.ToArray());
            await Task.Delay(5);
        }
        await Task.Delay(1000);
        var sessions = CountSessions(site.AgentLog("web-1")) - before;
        Assert.True(sessions <= 10, $"5 s of forged pokes caused {sessions} gateway sessions (each: a TLS handshake + a fsync'd write transaction)");
    }

    private static int CountSessions(string log) => log.Split("idle: no command").Length - 1;
}
