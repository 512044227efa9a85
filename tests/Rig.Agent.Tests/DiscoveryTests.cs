using Rig.Agent.Components;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Testing;

namespace Rig.Agent.Tests;

/// <summary>Inventory contents on a real Debian root (debootstrap minbase bookworm) and this machine's /proc and /sys,
/// cross-checked against the real tools (dpkg-query, getconf).</summary>
public sealed class DiscoveryTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();
    private string _root = "";

    public async Task InitializeAsync() => _root = await DebianRoot.CreateAsync(_temp.Sub("root"));

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }

    private LinuxPlatform Platform() => new(_root, null, ["/etc"], RigLimits.Default);

    [Fact]
    public async Task Inventory_of_a_debian_root_reports_os_release_bookworm()
    {
        var inventory = await Inventory.CollectAsync(Platform(), CancellationToken.None);

        Assert.Equal("linux", inventory.Platform);
        Assert.NotNull(inventory.Os);
        Assert.Equal("debian", inventory.Os.Id);
        Assert.Equal("12", inventory.Os.VersionId);
        Assert.StartsWith("Debian GNU/Linux 12", inventory.Os.PrettyName, StringComparison.Ordinal);
        Assert.Null(inventory.Os.KernelRelease); // an offline root: its kernel is not running
        Assert.NotNull(inventory.AgentVersion);
        Assert.NotNull(inventory.CollectedAt);

        // It crosses the wire as it is (nulls left out, bounds respected).
        var request = new ExchangeRequest { ProtocolVersion = ProtocolInfo.Version, Device = "d", RequestId = "r", Inventory = inventory };
        var back = RigJson.Parse(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.ExchangeRequest), RigJson.Default.ExchangeRequest, "request").Inventory!;
        Assert.Equal(inventory.Os, back.Os);
        Assert.Equal(inventory.NativePackages, back.NativePackages);
        Assert.Equal(inventory.Hardware!.Disks, back.Hardware!.Disks);
        Assert.Equal(inventory.Hardware.Nics.Select(n => (n.Name, n.Mac, n.State, string.Join(",", n.Addresses))), back.Hardware.Nics.Select(n => (n.Name, n.Mac, n.State, string.Join(",", n.Addresses))));
    }

    [Fact]
    public async Task Inventory_of_a_debian_root_lists_every_dpkg_package_as_dpkg_query_does()
    {
        var inventory = await Inventory.CollectAsync(Platform(), CancellationToken.None);

        var (code, output) = await DebianRoot.RunToolAsync("dpkg-query", "--admindir", Path.Combine(_root, "var/lib/dpkg"), "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\n");
        Assert.True(code == 0, output);
        var expected = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(f => f[3] == "installed")
            .Select(f => new NativePackage(f[0], f[1], f[2], "deb")).OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Architecture, StringComparer.Ordinal).ToList();
        Assert.NotNull(inventory.NativePackages);
        Assert.True(expected.Count > 50, $"a minbase root has ~90 packages, dpkg-query listed {expected.Count}");
        Assert.Equal(expected, inventory.NativePackages);
        foreach (var name in new[] { "dpkg", "libc6", "bash" })
            Assert.Contains(inventory.NativePackages, p => p.Name == name && p.Format == "deb" && p.Version.Length > 0);
    }

    [Fact]
    public async Task Inventory_reports_this_machines_hardware_from_proc_and_sys()
    {
        var inventory = await Inventory.CollectAsync(Platform(), CancellationToken.None);

        var hardware = inventory.Hardware;
        Assert.NotNull(hardware);
        var (_, nprocs) = await DebianRoot.RunToolAsync("getconf", "_NPROCESSORS_ONLN");
        Assert.Equal(int.Parse(nprocs.Trim(), System.Globalization.CultureInfo.InvariantCulture), hardware.CpuCount);
        var memTotalKiB = long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(memTotalKiB / 1024, hardware.MemoryMiB);
        Assert.DoesNotContain(hardware.Disks, d => d.Name.StartsWith("loop", StringComparison.Ordinal) || d.Name.StartsWith("ram", StringComparison.Ordinal));
        foreach (var disk in hardware.Disks)
            Assert.Equal(long.Parse(File.ReadAllText($"/sys/block/{disk.Name}/size").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 512, disk.SizeBytes);
        Assert.DoesNotContain(hardware.Nics, n => n.Name == "lo");
        foreach (var nic in hardware.Nics)
            Assert.Equal(File.ReadAllText($"/sys/class/net/{nic.Name}/address").Trim(), nic.Mac ?? "");
    }

    [Fact]
    public async Task A_deb_package_purged_behind_rigs_back_leaves_the_rig_package_list()
    {
        var deb = await DebianRoot.DownloadAsync("hello");
        var (code, output) = await DebianRoot.RunToolAsync("dpkg", "--root", _root, "-i", deb);
        Assert.True(code == 0, output);
        var platform = Platform();
        var version = (await Inventory.CollectAsync(platform, CancellationToken.None)).NativePackages!.Single(p => p.Name == "hello").Version;
        // What the dpkg installer records when it installs a package for Rig.
        platform.Database.Update(s => s with { Packages = [.. s.Packages, new InstalledPackageRecord("hello", version, PackageFormats.Deb, new string('a', 64), [], null)] });

        var before = await Inventory.CollectAsync(platform, CancellationToken.None);
        Assert.Equal(new InstalledPackage("hello", version, "deb", new string('a', 64)), Assert.Single(before.Packages));

        (code, output) = await DebianRoot.RunToolAsync("dpkg", "--root", _root, "--purge", "hello");
        Assert.True(code == 0, output);
        var after = await Inventory.CollectAsync(platform, CancellationToken.None);
        Assert.Empty(after.Packages);
        Assert.DoesNotContain(after.NativePackages!, p => p.Name == "hello");
    }

    [Fact]
    public async Task A_chmod_and_chown_behind_rigs_back_are_reported_from_disk()
    {
        var platform = Platform();
        var path = Path.Combine(_root, "etc/rig-drift.conf");
        await File.WriteAllTextAsync(path, "x\n");
        var (code, output) = await DebianRoot.RunToolAsync("chmod", "0644", path);
        Assert.True(code == 0, output);
        (code, output) = await DebianRoot.RunToolAsync("chown", "0:0", path);
        Assert.True(code == 0, output);
        platform.Database.Update(s => s with { Files = [.. s.Files, new ManagedFileRecord("/etc/rig-drift.conf", new string('a', 64), "0644", "root", "root")] });
        Assert.Equal(("0644", "root", "root"), Attributes(await Inventory.CollectAsync(platform, CancellationToken.None)));

        // Behind Rig's back, with the real tools: uid/gid 1 are "daemon" in the root's passwd and group; 4242 is nobody's.
        (code, output) = await DebianRoot.RunToolAsync("chmod", "0600", path);
        Assert.True(code == 0, output);
        (code, output) = await DebianRoot.RunToolAsync("chown", "1:4242", path);
        Assert.True(code == 0, output);

        Assert.Equal(("0600", "daemon", "4242"), Attributes(await Inventory.CollectAsync(platform, CancellationToken.None)));

        static (string, string, string) Attributes(InventoryReport inventory)
        {
            var file = Assert.Single(inventory.Files);
            return (file.Mode, file.Owner, file.Group);
        }
    }

    [Fact]
    public async Task Write_file_on_a_linux_root_gives_the_file_the_models_owner_from_the_roots_passwd()
    {
        var platform = Platform();
        var executor = new CommandExecutor(platform, new AgentPaths(_temp.Sub("state")), RigLimits.Default);
        const string content = "owned\n";
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(content)));
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        using var ca = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=unused", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        using var unused = new Rig.Agent.Runtime.GatewayClient(new Uri("https://127.0.0.1:9"), null, ca, RigLimits.Default); // write-file never calls it

        var result = await executor.ExecuteAsync(new Command { Id = "w", QueueId = "q", Sequence = 0, QueueLength = 1, Spec = new WriteFileCommand("/etc/rig-owned.conf", content, sha, "0640", "daemon", "daemon") }, unused, CancellationToken.None);
        Assert.True(result.Outcome == CommandOutcome.Succeeded, result.Error);

        var (mode, uid, gid) = OnDiskAttributes.Stat(Path.Combine(_root, "etc/rig-owned.conf"))!.Value;
        Assert.Equal((Convert.ToInt32("640", 8), 1u, 1u), (mode, uid, gid));
        var file = Assert.Single((await Inventory.CollectAsync(platform, CancellationToken.None)).Files);
        Assert.Equal(("0640", "daemon", "daemon"), (file.Mode, file.Owner, file.Group));
    }

    [Fact]
    public async Task Write_file_with_an_owner_the_root_does_not_know_fails_before_writing_anything()
    {
        var platform = Platform();
        var executor = new CommandExecutor(platform, new AgentPaths(_temp.Sub("state")), RigLimits.Default);
        const string content = "nobody knows\n";
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(content)));
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        using var ca = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=unused", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        using var unused = new Rig.Agent.Runtime.GatewayClient(new Uri("https://127.0.0.1:9"), null, ca, RigLimits.Default);

        var result = await executor.ExecuteAsync(new Command { Id = "w", QueueId = "q", Sequence = 0, QueueLength = 1, Spec = new WriteFileCommand("/etc/rig-unowned.conf", content, sha, "0644", "rig-no-such-user", "root") }, unused, CancellationToken.None);

        Assert.Equal((CommandOutcome.Failed, "unknown-owner"), (result.Outcome, result.ErrorCode));
        Assert.Contains("rig-no-such-user", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_root, "etc/rig-unowned.conf")), "nothing is written for an owner the device does not have");
        Assert.Empty(platform.Database.Snapshot.Files);
    }

    [Fact]
    public async Task A_deb_package_with_another_native_version_carries_a_problem()
    {
        var platform = Platform();
        var bash = (await Inventory.CollectAsync(platform, CancellationToken.None)).NativePackages!.Single(p => p.Name == "bash");
        platform.Database.Update(s => s with { Packages = [.. s.Packages, new InstalledPackageRecord("bash", "1.0-1", PackageFormats.Deb, new string('b', 64), [], null)] });

        var package = Assert.Single((await Inventory.CollectAsync(platform, CancellationToken.None)).Packages);

        Assert.Equal(bash.Version, package.Version);
        Assert.Equal($"native-version: deb has bash {bash.Version}, Rig installed 1.0-1", package.Problem);
    }

    [Fact]
    public async Task An_rpm_root_is_queried_with_rpm_and_an_empty_database_is_none_not_unknown()
    {
        var rpmRoot = _temp.Sub("rpm-root");
        var (code, output) = await DebianRoot.RunToolAsync("rpm", "--root", rpmRoot, "--dbpath", "/var/lib/rpm", "--initdb");
        Assert.True(code == 0, $"rpm --initdb failed ({code}); install the 'rpm' apt package: {output}");

        var packages = await new Discovery(rpmRoot, runningSystem: false).NativePackagesAsync(CancellationToken.None);

        Assert.NotNull(packages);
        Assert.Empty(packages);
        Assert.Null(await new Discovery(_temp.Sub("no-package-manager"), runningSystem: false).NativePackagesAsync(CancellationToken.None));
        Assert.Equal([new NativePackage("bash", "5.1.8-6.el9", "x86_64", "rpm"), new NativePackage("tzdata", "1:2024a-1.el9", "noarch", "rpm")],
            Discovery.ParseRpmQuery("bash\t0:5.1.8-6.el9\tx86_64\ngpg-pubkey\t0:fd431d51-4ae0493b\t(none)\ntzdata\t1:2024a-1.el9\tnoarch\n"));
    }

    [Fact]
    public async Task Rpm_is_queried_again_only_when_its_database_changed()
    {
        var rpmRoot = _temp.Sub("rpm-cache-root");
        var (code, output) = await DebianRoot.RunToolAsync("rpm", "--root", rpmRoot, "--dbpath", "/var/lib/rpm", "--initdb");
        Assert.True(code == 0, $"rpm --initdb failed ({code}); install the 'rpm' apt package: {output}");
        var discovery = new Discovery(rpmRoot, runningSystem: false);

        Assert.Empty((await discovery.NativePackagesAsync(CancellationToken.None))!);
        Assert.Empty((await discovery.NativePackagesAsync(CancellationToken.None))!);
        Assert.Equal(1, discovery.RpmQueries);

        var database = Path.Combine(rpmRoot, "var/lib/rpm/rpmdb.sqlite"); // what an install writes
        (code, output) = await DebianRoot.RunToolAsync("touch", "-d", "2030-01-01 00:00:00", database);
        Assert.True(code == 0, output);
        Assert.Empty((await discovery.NativePackagesAsync(CancellationToken.None))!);
        Assert.Equal(2, discovery.RpmQueries);
    }

    [Fact]
    public void Dpkg_status_parser_keeps_only_installed_packages()
    {
        const string status = "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.0-3\nDescription: x\n continued\n\n"
            + "Package: b\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n"
            + "Package: c\nStatus: hold ok installed\nArchitecture: all\nVersion: 0.1\n";

        Assert.Equal([new NativePackage("a", "1:2.0-3", "amd64", "deb"), new NativePackage("c", "0.1", "all", "deb")], Discovery.ParseDpkgStatus(status));
    }
}
