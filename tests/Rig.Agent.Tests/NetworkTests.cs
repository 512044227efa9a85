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
    public async Task Offline_root_gets_the_file_and_nothing_is_applied_live_and_no_pending_record_stays()
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
        Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));
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
        Assert.True((await new GatewayProbe("127.0.0.1", port).WaitStableAsync(TimeSpan.FromSeconds(5), CancellationToken.None)).Reached);

        // Bound but never listening: Linux refuses connects to it, and nobody else can take the port meanwhile.
        using var closed = BoundNotListening(out var closedPort);
        var (reached, error) = await new GatewayProbe("127.0.0.1", closedPort).WaitAsync(TimeSpan.FromSeconds(3), CancellationToken.None);
        Assert.False(reached);
        Assert.Contains("refused", error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_change_the_agent_died_during_is_rolled_back_when_the_platform_starts_again()
    {
        var root = _temp.Sub("crash");
        var networkd = Path.Combine(root, "etc/systemd/network/10-rig-eth0.network");
        var ifupdown = Path.Combine(root, "etc/network/interfaces.d/rig-eth0");
        Directory.CreateDirectory(Path.GetDirectoryName(networkd)!);
        Directory.CreateDirectory(Path.GetDirectoryName(ifupdown)!);
        await File.WriteAllTextAsync(ifupdown, "old ifupdown\n");
        // What ApplyAsync leaves when the process dies during the probe: the record, then the new files.
        new PendingNetworkChange("eth0", NetworkRenderers.Networkd,
            [new PreviousNetworkFile("/etc/systemd/network/10-rig-eth0.network", null), new PreviousNetworkFile("/etc/network/interfaces.d/rig-eth0", "old ifupdown\n"u8.ToArray())],
            Live: null).Save(Path.Combine(root, "var/lib/rig/network/pending.json"));
        await File.WriteAllTextAsync(networkd, "new\n");
        File.Delete(ifupdown);

        var platform = new LinuxPlatform(root, "dev1", ["/etc", "/var"], RigLimits.Default, new Uri("https://gateway.test:7443/"));
        var recovered = await platform.Network.RecoverAsync(CancellationToken.None);

        Assert.NotNull(recovered);
        Assert.Contains("did not finish", recovered, StringComparison.Ordinal);
        Assert.False(File.Exists(networkd));
        Assert.Equal("old ifupdown\n", await File.ReadAllTextAsync(ifupdown));
        Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));
        Assert.Null(await platform.Network.RecoverAsync(CancellationToken.None)); // nothing left to recover
    }

    [Fact]
    public async Task A_failure_after_the_first_write_rolls_the_files_back()
    {
        var root = _temp.Sub("blocked");
        var platform = new LinuxPlatform(root, "dev1", ["/etc", "/var"], RigLimits.Default, new Uri("https://gateway.test:7443/"));
        var networkd = Path.Combine(root, "etc/systemd/network/10-rig-eth0.network");
        Directory.CreateDirectory(Path.GetDirectoryName(networkd)!);
        await File.WriteAllTextAsync(networkd, "old\n");
        // The other renderer's file cannot be removed: a directory stands where it belongs.
        Directory.CreateDirectory(Path.Combine(root, "etc/network/interfaces.d/rig-eth0"));

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => platform.Network.ApplyAsync(Static(NetworkRenderers.Networkd), CancellationToken.None));

        Assert.Equal("network-path-blocked", e.Code);
        Assert.Contains("/etc/network/interfaces.d/rig-eth0", e.Message, StringComparison.Ordinal);
        Assert.Contains("were restored", e.Message, StringComparison.Ordinal);
        Assert.Equal("old\n", await File.ReadAllTextAsync(networkd));
        Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));
    }

    [Theory]
    [InlineData("etc/network/interfaces", "auto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n", "/etc/network/interfaces (line 5)")]
    [InlineData("etc/network/interfaces.d/50-eth0", "iface  eth0  inet6 auto\n", "/etc/network/interfaces.d/50-eth0 (line 1)")]
    public async Task Ifupdown_refuses_an_interface_another_file_defines_and_changes_nothing(string file, string content, string named)
    {
        var root = _temp.Sub("conflict");
        var platform = new LinuxPlatform(root, "dev1", ["/etc", "/var"], RigLimits.Default, new Uri("https://gateway.test:7443/"));
        Directory.CreateDirectory(Path.Combine(root, "etc/network/interfaces.d"));
        await File.WriteAllTextAsync(Path.Combine(root, file), content);
        await File.WriteAllTextAsync(Path.Combine(root, "etc/network/interfaces.d/eth00"), "iface eth00 inet dhcp\n"); // another interface: no conflict

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => platform.Network.ApplyAsync(Static(NetworkRenderers.Ifupdown), CancellationToken.None));

        Assert.Equal("network-conflict", e.Code);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(root, "etc/network/interfaces.d/rig-eth0")));
        Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));
    }

    [Fact]
    public async Task Live_change_takes_the_old_configuration_down_before_writing_and_succeeds_once_the_address_shows_and_the_probe_holds()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var (root, applier, configurator) = Live("ok", ((System.Net.IPEndPoint)listener.LocalEndpoint).Port);

        var output = await configurator.ApplyAsync(Static(NetworkRenderers.Ifupdown) with { ProbeTimeoutSeconds = 5 }, CancellationToken.None);

        Assert.Contains("applied (recording)", output, StringComparison.Ordinal);
        Assert.Equal(["snapshot", "before-write [old]", "apply [new]", "snapshot"], applier.Steps);
        Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));
    }

    [Fact]
    public async Task Lost_gateway_rolls_back_new_down_then_files_then_old_up_then_live_state_last()
    {
        using var closed = BoundNotListening(out var port);
        var (root, applier, configurator) = Live("lost", port);

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => configurator.ApplyAsync(Static(NetworkRenderers.Ifupdown) with { ProbeTimeoutSeconds = 5 }, CancellationToken.None));

        Assert.Equal("network-rolled-back", e.Code);
        Assert.Equal(["snapshot", "before-write [old]", "apply [new]", "snapshot", "before-restore [new]", "after-restore [old] own=True", "restore-live 10.9.9.9/24"], applier.Steps);
        Assert.Equal("old\n", await File.ReadAllTextAsync(Path.Combine(root, "etc/network/interfaces.d/rig-eth0")));
        Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));
    }

    [Fact]
    public async Task A_failing_rollback_step_does_not_stop_the_others_and_keeps_the_record_for_a_retry()
    {
        using var closed = BoundNotListening(out var port);
        var (root, applier, configurator) = Live("partial", port);
        applier.FailAfterRestore = true;

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => configurator.ApplyAsync(Static(NetworkRenderers.Ifupdown) with { ProbeTimeoutSeconds = 5 }, CancellationToken.None));

        Assert.Equal("network-failed", e.Code);
        Assert.Contains("ifup refused", e.Message, StringComparison.Ordinal);
        Assert.Contains("restore-live 10.9.9.9/24", applier.Steps); // the step after the failing one still ran
        Assert.Equal("old\n", await File.ReadAllTextAsync(Path.Combine(root, "etc/network/interfaces.d/rig-eth0")));
        Assert.True(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));

        applier.FailAfterRestore = false;
        Assert.Contains("rolled back", await configurator.RecoverAsync(CancellationToken.None), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(root, "var/lib/rig/network/pending.json")));
    }

    [Fact]
    public async Task An_address_that_never_shows_is_rolled_back_without_trusting_the_probe()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var (root, applier, configurator) = Live("unsettled", ((System.Net.IPEndPoint)listener.LocalEndpoint).Port);
        applier.ApplyChangesAddress = false; // the manager returned, but the interface still has the old address

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => configurator.ApplyAsync(Static(NetworkRenderers.Ifupdown) with { ProbeTimeoutSeconds = 5 }, CancellationToken.None));

        Assert.Equal("network-rolled-back", e.Code);
        Assert.Contains("did not get the address 10.0.0.5/24", e.Message, StringComparison.Ordinal);
        Assert.Equal("restore-live 10.9.9.9/24", applier.Steps[^1]);
        Assert.Equal("old\n", await File.ReadAllTextAsync(Path.Combine(root, "etc/network/interfaces.d/rig-eth0")));
    }

    private (string Root, RecordingApplier Applier, NetworkConfigurator Configurator) Live(string name, int probePort)
    {
        var root = _temp.Sub(name);
        var file = Path.Combine(root, "etc/network/interfaces.d/rig-eth0");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, "old\n");
        var applier = new RecordingApplier(file);
        var configurator = new NetworkConfigurator(new DeviceFileSystem(root, ["/etc", "/var"], RigLimits.Default),
            new NetworkSettings(new GatewayProbe("127.0.0.1", probePort), Live: true, Managers: true, "unused"), (_, _) => Task.FromResult<INetworkApplier>(applier));
        return (root, applier, configurator);
    }

    private static System.Net.Sockets.Socket BoundNotListening(out int port)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        port = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }

    /// <summary>Records the order of the live steps and which file (old or new) was on disk at each; ONLY for
    /// ordering: the real steps run ip/ifup/networkctl on a live network (see Rig.EndToEnd NetworkTests).</summary>
    private sealed class RecordingApplier(string file) : INetworkApplier
    {
        private LiveInterfaceState _state = new("eth0", ["10.9.9.9/24"], []);

        public List<string> Steps { get; } = [];
        public bool FailAfterRestore { get; set; }
        public bool ApplyChangesAddress { get; set; } = true;
        public string How => "(recording)";

        private string OnDisk => !File.Exists(file) ? "[absent]" : File.ReadAllText(file) == "old\n" ? "[old]" : "[new]";

        public Task<LiveInterfaceState> SnapshotAsync(string interfaceName, CancellationToken ct)
        {
            if (Steps.Count == 0 || Steps[^1] != "snapshot")
                Steps.Add("snapshot");
            return Task.FromResult(_state);
        }

        public Task BeforeWriteAsync(NetworkCommand command, CancellationToken ct) => Record($"before-write {OnDisk}");

        public Task ApplyAsync(NetworkCommand command, CancellationToken ct)
        {
            if (ApplyChangesAddress)
                _state = _state with { Addresses = [command.Address!] };
            return Record($"apply {OnDisk}");
        }

        public Task BeforeRestoreAsync(string interfaceName, CancellationToken ct) => Record($"before-restore {OnDisk}");

        public Task AfterRestoreAsync(string interfaceName, bool ownFileRestored, CancellationToken ct)
        {
            Steps.Add($"after-restore {OnDisk} own={ownFileRestored}");
            return FailAfterRestore ? throw new CommandFailedException("network-apply-failed", "ifup refused") : Task.CompletedTask;
        }

        public Task RestoreLiveAsync(LiveInterfaceState state, CancellationToken ct)
        {
            _state = state;
            return Record($"restore-live {string.Join(",", state.Addresses)}");
        }

        private Task Record(string step)
        {
            Steps.Add(step);
            return Task.CompletedTask;
        }
    }
}
