using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Platform.Linux.Network;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Tests;

/// <summary>configure-network without a live network: the renderers' exact output, and the files an offline root or
/// the sandbox gets. The live path (apply, probe, rollback) is tested in a network namespace by Rig.EndToEnd.</summary>
public sealed class NetworkTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static NetworkCommand Static(string renderer) =>
        new("eth0", NetworkMode.Static, ["10.0.0.2", "10.0.0.3"], renderer, 30, "10.0.0.5/24", "10.0.0.1");

    private static NetworkCommand Dhcp(string renderer) => new("eth1", NetworkMode.Dhcp, [], renderer, 30);

    [Fact]
    public void Networkd_static_file_has_address_gateway_and_dns()
    {
        Assert.Equal(NetworkRenderer.Header + "\n" + """
            [Match]
            Name=eth0

            [Network]
            Address=10.0.0.5/24
            Gateway=10.0.0.1
            DNS=10.0.0.2
            DNS=10.0.0.3

            """, NetworkRenderer.Render(Static(NetworkRenderers.Networkd)));
        Assert.Equal("/etc/systemd/network/10-rig-eth0.network", NetworkRenderer.PathFor(NetworkRenderers.Networkd, "eth0"));
    }

    [Fact]
    public void Networkd_dhcp_file_asks_for_dhcp()
    {
        Assert.Equal(NetworkRenderer.Header + "\n" + """
            [Match]
            Name=eth1

            [Network]
            DHCP=yes

            """, NetworkRenderer.Render(Dhcp(NetworkRenderers.Networkd)));
    }

    [Fact]
    public void Ifupdown_static_stanza_has_address_gateway_and_dns()
    {
        Assert.Equal(NetworkRenderer.Header + "\n" + """
            auto eth0
            iface eth0 inet static
                address 10.0.0.5/24
                gateway 10.0.0.1
                dns-nameservers 10.0.0.2 10.0.0.3

            """, NetworkRenderer.Render(Static(NetworkRenderers.Ifupdown)));
        Assert.Equal("/etc/network/interfaces.d/rig-eth0", NetworkRenderer.PathFor(NetworkRenderers.Ifupdown, "eth0"));
    }

    [Fact]
    public void Ifupdown_dhcp_and_ipv6_stanzas()
    {
        Assert.Equal(NetworkRenderer.Header + "\nauto eth1\niface eth1 inet dhcp\n", NetworkRenderer.Render(Dhcp(NetworkRenderers.Ifupdown)));
        Assert.Contains("iface eth0 inet6 static\n    address fd00::5/64\n    gateway fd00::1\n",
            NetworkRenderer.Render(new NetworkCommand("eth0", NetworkMode.Static, [], NetworkRenderers.Ifupdown, 30, "fd00::5/64", "fd00::1")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("eth0\nAddress=1.2.3.4/8", "10.0.0.5/24", "interface")]
    [InlineData("eth0", "10.0.0.5/24\nDNS=6.6.6.6", "address")]
    [InlineData("-eth0", "10.0.0.5/24", "interface")]
    public void Values_that_could_inject_configuration_are_refused(string name, string address, string mentioned)
    {
        var e = Assert.Throws<CommandFailedException>(() => NetworkRenderer.Render(new NetworkCommand(name, NetworkMode.Static, [], NetworkRenderers.Networkd, 30, address)));
        Assert.Equal("bad-network", e.Code);
        Assert.Contains(mentioned, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Offline_root_gets_the_file_and_nothing_is_applied_live_and_the_previous_file_is_kept()
    {
        var root = _temp.Sub("root");
        var platform = new LinuxPlatform(root, "dev1", ["/etc", "/var"], RigLimits.Default, new Uri("https://gateway.test:7443/"));
        var file = Path.Combine(root, "etc/systemd/network/10-rig-eth0.network");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, "old\n");
        var ifupdown = Path.Combine(root, "etc/network/interfaces.d/rig-eth0");
        Directory.CreateDirectory(Path.GetDirectoryName(ifupdown)!);
        await File.WriteAllTextAsync(ifupdown, "auto eth0\n");

        var output = await platform.Network.ApplyAsync(Static(NetworkRenderers.Networkd), CancellationToken.None);

        Assert.Equal(NetworkRenderer.Render(Static(NetworkRenderers.Networkd)), await File.ReadAllTextAsync(file));
        Assert.False(File.Exists(ifupdown)); // one renderer per interface: the other one's file goes
        Assert.Equal("old\n", await File.ReadAllTextAsync(Path.Combine(root, "var/lib/rig/network/previous/10-rig-eth0.network")));
        Assert.Equal("auto eth0\n", await File.ReadAllTextAsync(Path.Combine(root, "var/lib/rig/network/previous/rig-eth0")));
        Assert.Contains("not applied live", output, StringComparison.Ordinal);
        Assert.Contains($"offline root {root}", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sandbox_writes_the_file_under_its_root()
    {
        var root = _temp.Sub("sandbox");
        var platform = new Platform.Sandbox.SandboxPlatform(root, "dev1", ["/etc"], RigLimits.Default);

        var output = await platform.Network.ApplyAsync(Dhcp(NetworkRenderers.Ifupdown), CancellationToken.None);

        Assert.Equal(NetworkRenderer.Render(Dhcp(NetworkRenderers.Ifupdown)), await File.ReadAllTextAsync(Path.Combine(root, "etc/network/interfaces.d/rig-eth1")));
        Assert.Contains("not applied live (sandbox)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateway_probe_reaches_a_listening_port_and_gives_up_on_a_closed_one()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;

        Assert.True((await new GatewayProbe("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None)).Reached);
        listener.Stop();
        // A closed loopback port refuses at once; the probe keeps trying until its time is up and says why.
        var (reached, error) = await new GatewayProbe("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(3), CancellationToken.None);
        Assert.False(reached);
        Assert.Contains("refused", error, StringComparison.OrdinalIgnoreCase);
    }
}
