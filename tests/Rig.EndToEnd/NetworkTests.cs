using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>configure-network on a real agent process inside a network namespace, talking to a real gateway on
/// the host end of a veth pair. The agent's platform is linux with an offline root (files land in a temp dir) and
/// <c>--network-live</c> (changes are applied to the namespace's eth0 with iproute2, then the gateway is probed).</summary>
public sealed class NetworkTests
{
    private const string Device = "net-1";

    [Fact]
    public async Task Network_change_that_cuts_the_agent_off_is_rolled_back()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        using var directory = new TempDirectory("rig-net");
        await using var gateway = await TestGateway.StartAsync(Path.Combine(directory.Path, "gateway"), ns.HostAddress, ns.GatewayName);
        await using var site = new TestSite(directory.Path, gateway.Api(), gateway.AgentUrl);
        var root = Path.Combine(directory.Path, "device-root");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        var file = Path.Combine(root, "etc/systemd/network/10-rig-eth0.network");
        var keep = new NetworkInterfaceConfig { Name = "eth0", Address = ns.DeviceAddress, Dns = [ns.HostAddress] };

        await site.SaveModelAsync(Model(ns, keep));
        var agent = await StartAgentInNamespaceAsync(site, ns, root);
        try
        {
            // 1. Same address, DNS added: connectivity stays, the change is kept.
            var first = await ConvergeAndWaitAsync(site);
            Assert.True(first.Status.Queue!.Status == QueueStates.Succeeded, Diagnose(site, first));
            var written = await File.ReadAllTextAsync(file);
            Assert.Contains($"Address={ns.DeviceAddress}\n", written, StringComparison.Ordinal);
            Assert.Contains($"DNS={ns.HostAddress}\n", written, StringComparison.Ordinal);
            Assert.Equal([ns.DeviceAddress], await ns.DeviceAddressesAsync());
            Assert.Equal([ns.HostAddress], first.Recorded.Network["eth0"].Dns);

            // 2. Another subnet: the agent loses its gateway, rolls back and says so.
            var x = ns.Subnet;
            await site.SaveModelAsync(Model(ns, new NetworkInterfaceConfig { Name = "eth0", Address = $"10.232.{x}.2/24", Gateway = $"10.232.{x}.1" }));
            var cut = await ConvergeAndWaitAsync(site);
            Assert.True(cut.Status.Queue!.Status == QueueStates.Failed, Diagnose(site, cut));
            var failed = Assert.Single(cut.Commands, c => c.Kind == "configure-network");
            Assert.Equal("network-rolled-back", failed.Result!.ErrorCode);
            Assert.Contains($"{ns.GatewayName}:{gateway.AgentPort}", failed.Result.Error, StringComparison.Ordinal);
            Assert.Contains("unreachable for 5 s", failed.Result.Error, StringComparison.Ordinal);
            Assert.Contains("reachable again", failed.Result.Error, StringComparison.Ordinal);
            Assert.Equal([ns.DeviceAddress], await ns.DeviceAddressesAsync());
            Assert.Equal(written, await File.ReadAllTextAsync(file));
            Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json"))); // rolled back: no change pending
            Assert.Equal(ns.DeviceAddress, cut.Recorded.Network["eth0"].Address); // the failed change was not recorded

            // 3. The agent still talks to its gateway: a change that keeps connectivity goes through.
            await site.SaveModelAsync(Model(ns, keep with { Dns = [ns.HostAddress, $"10.231.{x}.3"] }));
            var after = await ConvergeAndWaitAsync(site);
            Assert.True(after.Status.Queue!.Status == QueueStates.Succeeded, Diagnose(site, after));
            Assert.Contains($"DNS=10.231.{x}.3\n", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
            Assert.Equal([ns.DeviceAddress], await ns.DeviceAddressesAsync());

            // 4. Recorded as applied: nothing left to do.
            var again = await site.ConvergeAsync(Device);
            Assert.Equal(0, Assert.Single(again.Devices).Commands);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{e.Message}\nGateway output:\n{gateway.Output}", e);
        }
        finally
        {
            await agent.StopAsync(TimeSpan.FromSeconds(5));
        }
    }

    private static RigModel Model(NetworkNamespace ns, NetworkInterfaceConfig eth0) => new()
    {
        Sites = [new Site { Name = "t" }],
        Devices =
        [
            new Device
            {
                Name = Device, Site = "t",
                Network = new DeviceNetwork { Renderer = "networkd", ProbeTimeoutSeconds = 5, Interfaces = [eth0] },
            },
        ],
    };

    private static async Task<AgentSupervisor> StartAgentInNamespaceAsync(TestSite site, NetworkNamespace ns, string root)
    {
        var token = await site.Api.PostAsync<EnrollmentToken>($"api/v1/devices/{Device}/enrollment-token", null);
        var state = site.State(Device);
        var (code, stdout, stderr) = await Launch.RunAsync(ns.Launcher, TimeSpan.FromMinutes(1), "agent", "enroll", "--state", state,
            "--gateway", site.AgentUrl.ToString(), "--device", Device, "--token", token.Token, "--ca-pin", token.CaPin,
            "--platform", "linux", "--root", root, "--network-live", "--poll", "1");
        Assert.True(code == 0, $"enroll inside namespace {ns.Name} failed ({code}): {stderr}{stdout}");
        var agent = new AgentSupervisor(Device, state, ns.Launcher.Agent());
        agent.Start();
        await TestSite.WaitUntilAsync(async () => (await site.Api.GetAsync<DeviceDetail>($"api/v1/devices/{Device}")).Status.LastSeenAt is not null,
            TimeSpan.FromSeconds(60), $"{Device} to check in from namespace {ns.Name}", () => site.AgentLog(Device));
        return agent;
    }

    private static async Task<DeviceDetail> ConvergeAndWaitAsync(TestSite site)
    {
        var converge = await site.ConvergeAsync(Device);
        var result = Assert.Single(converge.Devices);
        Assert.True(result.QueueId is not null, $"converge queued nothing: {result.Outcome} {string.Join("; ", result.Errors)}");
        return await site.WaitForQueueAsync(Device);
    }

    private static string Diagnose(TestSite site, DeviceDetail detail) =>
        $"queue {detail.Status.Queue?.Status}: {detail.Status.Queue?.Error}\n"
        + string.Join('\n', detail.Commands.Select(c => $"{c.Kind} {c.Status} {c.Result?.ErrorCode} {c.Result?.Error} {c.Result?.Output}"))
        + "\n" + site.AgentLog(Device);
}
