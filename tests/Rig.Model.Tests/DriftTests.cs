using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;

namespace Rig.Model.Tests;

/// <summary><see cref="Drift.Compare"/>: the model's desired state and facts against a device's inventory.</summary>
public sealed class DriftTests
{
    private static readonly string ShaA = new('a', 64);
    private static readonly string ShaB = new('b', 64);
    private static readonly string ShaC = new('c', 64);

    private static readonly PackageInfo Nginx = new() { Name = "nginx", Version = "1.24", Format = "deb", Sha256 = ShaA, Service = "nginx" };
    private static readonly PackageInfo Tool = new() { Name = "tool", Version = "2.0", Format = "rig", Sha256 = ShaB };

    private static DesiredState Desired(params DesiredStep[] steps) => new("web-1", [new DesiredRole("web", "app", "1", steps)], []);

    private static DesiredFile File(string path, string sha) => new("role:web", path, "content", sha, "0644", "root", "root", "t");

    private static Device Device(HardwareFacts? hardware = null, string osFamily = "linux") =>
        new() { Name = "web-1", Site = "s", OsFamily = osFamily, Hardware = hardware ?? new HardwareFacts() };

    /// <summary>The inventory of a device exactly as <see cref="Desired"/> wants it (the nginx service running).</summary>
    private static InventoryReport AsModelled() => new()
    {
        Packages = [new InstalledPackage("nginx", "1.24", "deb", ShaA), new InstalledPackage("tool", "2.0", "rig", ShaB)],
        Files = [new ManagedFile("/etc/nginx/nginx.conf", ShaC, "0644", "root", "root"), new ManagedFile("/etc/tool.conf", ShaA, "0644", "root", "root")],
        Services = [new ServiceState("nginx", true, true)],
    };

    private static readonly DesiredState Wanted = Desired(
        new DesiredPackage("role:web", Nginx), new DesiredPackage("role:web", Tool),
        File("/etc/nginx/nginx.conf", ShaC), File("/etc/tool.conf", ShaA));

    private static IReadOnlyList<DriftItem> Compare(InventoryReport inventory, Device? device = null, IReadOnlyList<PackageInfo>? catalog = null) =>
        Drift.Compare(Wanted, device ?? Device(), inventory, catalog ?? [Nginx, Tool]);

    [Fact]
    public void A_device_as_modelled_has_no_drift() => Assert.Empty(Compare(AsModelled()));

    [Fact]
    public void A_modified_file_is_changed_with_both_digests()
    {
        var inventory = AsModelled();
        inventory.Files = [inventory.Files[0] with { Sha256 = ShaB }, inventory.Files[1]];

        var item = Assert.Single(Compare(inventory));

        Assert.Equal(new DriftItem("file", "/etc/nginx/nginx.conf", "changed", $"sha256 {ShaC[..12]}", $"sha256 {ShaB[..12]}"), item);
    }

    [Fact]
    public void A_deleted_file_is_missing()
    {
        var inventory = AsModelled();
        inventory.Files = [inventory.Files[0], inventory.Files[1] with { Sha256 = "missing" }];

        Assert.Equal(new DriftItem("file", "/etc/tool.conf", "missing", $"sha256 {ShaA[..12]}", "deleted on the device"), Assert.Single(Compare(inventory)));
    }

    [Fact]
    public void An_added_file_is_extra_and_a_never_written_file_missing()
    {
        var inventory = AsModelled();
        inventory.Files = [inventory.Files[0], new ManagedFile("/etc/old.conf", ShaB, "0600", "root", "root")];

        var items = Compare(inventory);

        Assert.Equal([new DriftItem("file", "/etc/old.conf", "extra", null, $"sha256 {ShaB[..12]}"), new DriftItem("file", "/etc/tool.conf", "missing", $"sha256 {ShaA[..12]}", null)], items);
    }

    [Fact]
    public void A_file_with_another_mode_is_changed()
    {
        var inventory = AsModelled();
        inventory.Files = [inventory.Files[0] with { Mode = "0666" }, inventory.Files[1]];

        Assert.Equal(new DriftItem("file", "/etc/nginx/nginx.conf", "changed", "0644 root:root", "0666 root:root"), Assert.Single(Compare(inventory)));
    }

    [Fact]
    public void A_chmod_or_chown_behind_rigs_back_is_changed()
    {
        // The agent reads mode, owner and group from disk (an owner the device's passwd does not name is numeric).
        var inventory = AsModelled();
        inventory.Files = [inventory.Files[0], inventory.Files[1] with { Mode = "0600", Owner = "1001" }];

        Assert.Equal(new DriftItem("file", "/etc/tool.conf", "changed", "0644 root:root", "0600 1001:root"), Assert.Single(Compare(inventory)));
    }

    private static Device Networked(params NetworkInterfaceConfig[] interfaces) =>
        Device() with { Network = new DeviceNetwork { Interfaces = interfaces } };

    private static InventoryReport WithNics(params NicReport[] nics) =>
        new() { Packages = AsModelled().Packages, Files = AsModelled().Files, Services = AsModelled().Services, Hardware = new HardwareReport(4, 8192, [], nics) };

    [Fact]
    public void A_static_address_of_the_network_section_not_on_its_interface_is_missing()
    {
        var device = Networked(new NetworkInterfaceConfig { Name = "eth0", Address = "10.0.0.5/24", Gateway = "10.0.0.1" },
            new NetworkInterfaceConfig { Name = "eth1", Dhcp = true }, new NetworkInterfaceConfig { Name = "eth2", Address = "192.168.1.2/24" });

        Assert.Empty(Compare(WithNics(new NicReport("eth0", "up", ["10.0.0.5/24", "fe80::1/64"]), new NicReport("eth1", "up", []), new NicReport("eth2", "up", ["192.168.1.2/24"])), device));

        var items = Compare(WithNics(new NicReport("eth0", "up", ["10.0.0.99/24"]), new NicReport("eth1", "up", [])), device);

        Assert.Equal([new DriftItem("network", "eth0 address", "missing", "10.0.0.5/24", "10.0.0.99/24"), new DriftItem("network", "eth2 address", "missing", "192.168.1.2/24", "no interface eth2")], items);
        Assert.Equal(new DriftItem("network", "eth0 address", "missing", "10.0.0.5/24", "10.0.0.5/16"),
            Assert.Single(Compare(WithNics(new NicReport("eth0", "up", ["10.0.0.5/16"]), new NicReport("eth2", "up", ["192.168.1.2/24"])), device)));
    }

    [Fact]
    public void The_network_section_is_not_compared_when_the_device_reported_no_nics()
    {
        var device = Networked(new NetworkInterfaceConfig { Name = "eth0", Address = "10.0.0.5/24" });

        Assert.Empty(Compare(AsModelled(), device)); // the sandbox reports no hardware: unknown, not missing
    }

    [Fact]
    public void A_removed_package_is_missing_and_says_when_it_is_still_installed_outside_rig()
    {
        var inventory = AsModelled();
        inventory.Packages = [inventory.Packages[1]];

        Assert.Equal(new DriftItem("package", "nginx", "missing", "1.24 (deb)", null), Assert.Single(Compare(inventory)));

        var outside = new InventoryReport { Packages = inventory.Packages, Files = inventory.Files, Services = inventory.Services, NativePackages = [new NativePackage("nginx", "1.22", "amd64", "deb")] };
        Assert.Equal(new DriftItem("package", "nginx", "missing", "1.24 (deb)", "1.22 (installed outside Rig)"), Assert.Single(Compare(outside)));
    }

    [Fact]
    public void An_added_package_is_extra()
    {
        var inventory = AsModelled();
        inventory.Packages = [.. inventory.Packages, new InstalledPackage("debug-tools", "0.1", "rig", ShaC)];

        Assert.Equal(new DriftItem("package", "debug-tools", "extra", null, "0.1 (rig)"), Assert.Single(Compare(inventory)));
    }

    [Fact]
    public void A_modified_package_is_changed_by_version_content_or_damage()
    {
        var inventory = AsModelled();
        inventory.Packages = [inventory.Packages[0] with { Version = "1.22" }, inventory.Packages[1] with { Problem = "files-missing: /usr/bin/tool" }];

        Assert.Equal(
            [new DriftItem("package", "nginx", "changed", "1.24 (deb)", "1.22 (deb)"), new DriftItem("package", "tool", "changed", "2.0 (rig)", "2.0: files-missing: /usr/bin/tool")],
            Compare(inventory));

        inventory.Packages = [inventory.Packages[0] with { Version = "1.24" }, new InstalledPackage("tool", "2.0", "rig", ShaC)];
        Assert.Equal(new DriftItem("package", "tool", "changed", $"2.0 (rig) sha256 {ShaB[..12]}", $"2.0 sha256 {ShaC[..12]}"), Assert.Single(Compare(inventory)));
    }

    [Fact]
    public void Native_packages_are_extra_only_when_the_catalog_knows_them()
    {
        var inventory = AsModelled();
        var withNative = new InventoryReport
        {
            Packages = inventory.Packages, Files = inventory.Files, Services = inventory.Services,
            NativePackages = [new NativePackage("libc6", "2.36-9", "amd64", "deb"), new NativePackage("nginx", "1.24", "amd64", "deb"), new NativePackage("redis", "7.0", "amd64", "deb")],
        };
        var redis = new PackageInfo { Name = "redis", Version = "7.0", Format = "deb", Sha256 = ShaC };

        Assert.Equal(new DriftItem("native-package", "redis", "extra", null, "7.0 (deb, installed outside Rig)"), Assert.Single(Compare(withNative, catalog: [Nginx, Tool, redis])));
    }

    [Fact]
    public void Services_not_in_their_desired_state_and_unwanted_running_services_drift()
    {
        var inventory = AsModelled();
        inventory.Services = [new ServiceState("nginx", false, true), new ServiceState("telnetd", true, true)];

        Assert.Equal(
            [new DriftItem("service", "nginx", "changed", "running, enabled", "stopped, enabled"), new DriftItem("service", "telnetd", "extra", null, "running, enabled")],
            Compare(inventory));
    }

    [Fact]
    public void Hardware_compares_only_the_facts_the_model_sets()
    {
        var actual = new HardwareReport(8, 15_900, [new DiskReport("sda", 100L << 30, false)], [new NicReport("eth0", "up", ["10.0.0.5/24"], "52:54:00:aa:bb:cc")], "cpu");
        var inventory = AsModelled();
        var reported = new InventoryReport { Packages = inventory.Packages, Files = inventory.Files, Services = inventory.Services, Hardware = actual };

        Assert.Empty(Compare(reported, Device(new HardwareFacts())));
        Assert.Empty(Compare(reported, Device(new HardwareFacts { CpuCount = 8, MemoryMiB = 16_384, Disks = [new Disk("sda", 100)], Nics = [new Nic("eth0", "52-54-00-AA-BB-CC", "10.0.0.5")] })));

        var items = Compare(reported, Device(new HardwareFacts { CpuCount = 4, MemoryMiB = 32_768, Disks = [new Disk("sda", 200), new Disk("sdb", 50)], Nics = [new Nic("eth0", "52:54:00:00:00:01"), new Nic("eth1", "52:54:00:00:00:02")] }));

        Assert.Equal(
        [
            new DriftItem("hardware", "cpuCount", "changed", "4", "8"),
            new DriftItem("hardware", "disk sda", "changed", "200 GiB", "100 GiB"),
            new DriftItem("hardware", "disk sdb", "missing", "50 GiB", null),
            new DriftItem("hardware", "memoryMiB", "changed", "32768 MiB", "15900 MiB"),
            new DriftItem("hardware", "nic eth0", "changed", "mac 52:54:00:00:00:01", "mac 52:54:00:aa:bb:cc"),
            new DriftItem("hardware", "nic eth1", "missing", "mac 52:54:00:00:00:02", null),
        ], items);
    }

    [Fact]
    public void Unknown_hardware_os_and_native_packages_are_not_drift()
    {
        // An older agent or the sandbox: null means unknown, never "none".
        var items = Compare(AsModelled(), Device(new HardwareFacts { CpuCount = 4, MemoryMiB = 8192, Disks = [new Disk("sda", 10)] }, osFamily: "rhel"));

        Assert.Empty(items);
    }

    [Fact]
    public void Os_family_and_architecture_are_compared_with_os_release()
    {
        var inventory = AsModelled();
        var debian = new InventoryReport { Packages = inventory.Packages, Files = inventory.Files, Services = inventory.Services, Os = new OsReport("debian", null, "12", "Debian GNU/Linux 12 (bookworm)", null, "amd64") };

        Assert.Empty(Compare(debian, Device(osFamily: "debian")));
        Assert.Empty(Compare(debian, Device(osFamily: "linux")));
        Assert.Equal(new DriftItem("os", "osFamily", "changed", "rhel", "debian"), Assert.Single(Compare(debian, Device(osFamily: "rhel"))));
        Assert.True(Drift.OsFamilyMatches("rhel", new OsReport("rocky", "rhel centos fedora", "9.3", null, null, null)));
        Assert.True(Drift.OsFamilyMatches("debian", new OsReport("ubuntu", "debian", "24.04", null, null, null)));
    }
}
