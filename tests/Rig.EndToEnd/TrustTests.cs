using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.EndToEnd.Harness;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>Trust: mTLS on every agent exchange, one certificate = one device, pinned CA, forged pokes gain nothing.</summary>
public sealed class TrustTests
{
    private static async Task<(GatewayHarness Gateway, TestSite Site, TempDirectory Dir)> TwoDevicesAsync()
    {
        var dir = new TempDirectory();
        var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1", "web-2"]));
        await site.StartAgentAsync("web-1");
        await site.StartAgentAsync("web-2");
        return (gateway, site, dir);
    }

    private static X509Certificate2 Ca(GatewayHarness gateway) => X509Certificate2.CreateFromPem(File.ReadAllText(gateway.CaPath));

    [Fact]
    public async Task Forged_poke_leads_only_to_an_inquiry_answered_no_command()
    {
        var (gateway, site, dir) = await TwoDevicesAsync();
        using (dir)
        await using (gateway)
        await using (site)
        {
            await site.ConvergeAsync("web-1");
            await site.WaitForQueueAsync("web-1");
            var journalBefore = site.Journal("web-1").Count;
            var pokePort = PokePortFromLog(site.AgentLog("web-1"));

            // Anyone can connect to the poke port. Send a poke followed by a command of our own choosing.
            using (var client = new TcpClient())
            {
                await client.ConnectAsync(IPAddress.Loopback, pokePort);
                var stream = client.GetStream();
                await stream.WriteAsync(ProtocolInfo.PokeBytes.ToArray());
                await stream.WriteAsync("""{"id":"evil","spec":{"kind":"write-file","path":"/etc/evil","content":"x"}}"""u8.ToArray());
            }
            await TestSite.WaitUntilAsync(() => Task.FromResult(site.AgentLog("web-1").Contains("poked", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), "the agent to notice the poke");
            await TestSite.WaitUntilAsync(() => Task.FromResult(CountAfterLastPoke(site.AgentLog("web-1"), "idle: no command") > 0), TimeSpan.FromSeconds(20), "the agent's inquiry to be answered");

            Assert.Equal(journalBefore, site.Journal("web-1").Count); // nothing ran
            Assert.False(File.Exists(Path.Combine(site.Root("web-1"), "etc", "evil")));
            var detail = await site.Api.GetAsync<DeviceDetail>("api/v1/devices/web-1");
            Assert.Equal(QueueStates.Succeeded, detail.Status.Queue!.Status); // no new queue appeared
        }
    }

    private static int PokePortFromLog(string log)
    {
        var line = log.Split('\n').First(l => l.Contains("listening: pokes on", StringComparison.Ordinal));
        var endpoint = line[(line.IndexOf("pokes on ", StringComparison.Ordinal) + 9)..].Split(',')[0];
        return int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int CountAfterLastPoke(string log, string what)
    {
        var at = log.LastIndexOf("poked", StringComparison.Ordinal);
        return at < 0 ? 0 : log[at..].Split(what).Length - 1;
    }

    [Fact]
    public async Task Certificates_that_are_not_exactly_one_enrolled_device_are_refused()
    {
        var (gateway, site, dir) = await TwoDevicesAsync();
        using (dir)
        await using (gateway)
        await using (site)
        {
            var ca = Ca(gateway);
            await site.ConvergeAsync("web-2");
            await site.WaitForQueueAsync("web-2");
            var web2Command = (await site.Api.GetAsync<DeviceDetail>("api/v1/devices/web-2")).Commands[0];

            // No client certificate at all: refused on exchange and on blobs.
            using (var anonymous = new RawAgentClient(gateway.AgentUrl, null, ca))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.ExchangeAsync(RawAgentClient.Inquiry("web-1"))).Status);
                using var blob = await anonymous.GetAsync(ProtocolInfo.FilesPrefix + new string('0', 64));
                Assert.Equal(HttpStatusCode.Unauthorized, blob.StatusCode);
            }

            // web-1's own certificate claiming to be web-2, and answering web-2's command: refused, nothing changes.
            using (var web1 = new RawAgentClient(gateway.AgentUrl, RawAgentClient.AgentCertificate(site.State("web-1")), ca))
            {
                var (status, body) = await web1.ExchangeAsync(RawAgentClient.Inquiry("web-2"));
                Assert.Equal(HttpStatusCode.Forbidden, status);
                Assert.Contains("other-device", body, StringComparison.Ordinal);

                var forged = new CommandResult { CommandId = web2Command.Id, Outcome = CommandOutcome.Failed, Error = "forged" };
                (status, body) = await web1.ExchangeAsync(RawAgentClient.Inquiry("web-1", forged));
                Assert.Equal(HttpStatusCode.Forbidden, status);
                Assert.Contains("foreign-command", body, StringComparison.Ordinal);
                var after = await site.Api.GetAsync<DeviceDetail>("api/v1/devices/web-2");
                Assert.Equal(CommandStates.Succeeded, after.Commands[0].Status);
            }

            // A certificate with a valid chain to Rig's CA that was never issued to a device: refused.
            using (var caKey = ECDsa.Create())
            {
                caKey.ImportFromPem(File.ReadAllText(Path.Combine(gateway.DataDirectory, "ca", "ca.key")));
                using var unknown = new RawAgentClient(gateway.AgentUrl, RawAgentClient.IssueClientCertificate("web-1", ca, caKey), ca);
                var (status, body) = await unknown.ExchangeAsync(RawAgentClient.Inquiry("web-1"));
                Assert.Equal(HttpStatusCode.Forbidden, status);
                Assert.Contains("unknown-certificate", body, StringComparison.Ordinal);
            }

            // A certificate from another CA: the TLS handshake itself fails.
            var (strangerCa, strangerKey) = RawAgentClient.StrangerCa();
            using (strangerKey)
            using (var stranger = new RawAgentClient(gateway.AgentUrl, RawAgentClient.IssueClientCertificate("web-1", strangerCa, strangerKey), ca))
                await Assert.ThrowsAnyAsync<HttpRequestException>(() => stranger.ExchangeAsync(RawAgentClient.Inquiry("web-1")));

            // TLS older than 1.2: refused.
#pragma warning disable SYSLIB0039 // the point is to try an obsolete protocol
            using (var old = new RawAgentClient(gateway.AgentUrl, RawAgentClient.AgentCertificate(site.State("web-1")), ca, SslProtocols.Tls11))
#pragma warning restore SYSLIB0039
                await Assert.ThrowsAnyAsync<HttpRequestException>(() => old.ExchangeAsync(RawAgentClient.Inquiry("web-1")));

            // Revoked: web-1's real certificate is refused from the next request on.
            using (var web1 = new RawAgentClient(gateway.AgentUrl, RawAgentClient.AgentCertificate(site.State("web-1")), ca))
            {
                Assert.Equal(HttpStatusCode.OK, (await web1.ExchangeAsync(RawAgentClient.Inquiry("web-1"))).Status);
                await site.Api.PostAsync<JsonElement>("api/v1/devices/web-1/revoke", null);
                var (status, body) = await web1.ExchangeAsync(RawAgentClient.Inquiry("web-1"));
                Assert.Equal(HttpStatusCode.Forbidden, status);
                Assert.Contains("revoked", body, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Agent_refuses_a_gateway_whose_certificate_is_not_from_the_pinned_ca()
    {
        using var dir = new TempDirectory();
        await using var real = await TestGateway.StartAsync(Path.Combine(dir.Path, "real"));
        await using var impostor = await TestGateway.StartAsync(Path.Combine(dir.Path, "impostor"));
        await using var site = new TestSite(dir.Path, real.Api(), real.AgentUrl);
        await site.SaveModelAsync(Models.Site(["web-1"]) with { Roles = [], Assignments = [], Bundles = [] });
        var token = await site.Api.PostAsync<EnrollmentToken>("api/v1/devices/web-1/enrollment-token", null);

        // Enrolling at the impostor with the real gateway's pin: refused before the token is sent.
        var (code, _, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "agent", "enroll", "--state", Path.Combine(dir.Path, "a1"), "--gateway", impostor.AgentUrl.ToString(),
            "--device", "web-1", "--token", token.Token, "--ca-pin", token.CaPin, "--sandbox-root", Path.Combine(dir.Path, "r1"));
        Assert.Equal(1, code);
        Assert.Contains("not the pinned", stderr, StringComparison.Ordinal);

        // The token is still good at the real gateway, and only once.
        (code, _, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "agent", "enroll", "--state", Path.Combine(dir.Path, "a2"), "--gateway", real.AgentUrl.ToString(),
            "--device", "web-1", "--token", token.Token, "--ca-pin", token.CaPin, "--sandbox-root", Path.Combine(dir.Path, "r2"));
        Assert.True(code == 0, stderr);
        (code, _, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "agent", "enroll", "--state", Path.Combine(dir.Path, "a3"), "--gateway", real.AgentUrl.ToString(),
            "--device", "web-1", "--token", token.Token, "--ca-pin", token.CaPin, "--sandbox-root", Path.Combine(dir.Path, "r3"));
        Assert.Equal(1, code);
        Assert.Contains("already used", stderr, StringComparison.Ordinal);

        // An enrolled agent pointed at the impostor (its certificate is not from the pinned CA) never exchanges.
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dir.Path, "a2", "ca.crt")));
        using var client = new Agent.Runtime.GatewayClient(impostor.AgentUrl, RawAgentClient.AgentCertificate(Path.Combine(dir.Path, "a2")), ca, RigLimits.Default);
        await Assert.ThrowsAsync<Agent.Runtime.GatewayUnavailableException>(() => client.ExchangeAsync(RawAgentClient.Inquiry("web-1"), CancellationToken.None));
    }

    [Fact]
    public async Task Blobs_are_served_with_range_requests_to_enrolled_agents()
    {
        var (gateway, site, dir) = await TwoDevicesAsync();
        using (dir)
        await using (gateway)
        await using (site)
        {
            var package = (await site.Api.GetAsync<List<Rig.Model.Domain.PackageInfo>>("api/v1/packages")).Single();
            var bytes = await File.ReadAllBytesAsync(Path.Combine(dir.Path, "packages", "tool_1.0.0.rig.tar.gz"));
            using var web1 = new RawAgentClient(gateway.AgentUrl, RawAgentClient.AgentCertificate(site.State("web-1")), Ca(gateway));
            using var whole = await web1.GetAsync(ProtocolInfo.FilesPrefix + package.Sha256);
            Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
            Assert.Equal(bytes, await whole.Content.ReadAsByteArrayAsync());
            using var part = await web1.GetAsync(ProtocolInfo.FilesPrefix + package.Sha256, 10, 19);
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            Assert.Equal(bytes[10..20], await part.Content.ReadAsByteArrayAsync());
            using var bad = await web1.GetAsync(ProtocolInfo.FilesPrefix + "..%2f..%2fetc%2fpasswd");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
    }
}
