using Rig.Agent.Components;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Protocol.Packaging;
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
            .Select(f => (f[0], f[1], f[2], "deb")).OrderBy(p => p.Item1, StringComparer.Ordinal).ThenBy(p => p.Item3, StringComparer.Ordinal).ToList();
        Assert.NotNull(inventory.NativePackages);
        Assert.True(expected.Count > 50, $"a minbase root has ~90 packages, dpkg-query listed {expected.Count}");
        Assert.Equal(expected, inventory.NativePackages.Select(p => (p.Name, p.Version, p.Architecture, p.Format)));
        foreach (var name in new[] { "dpkg", "libc6", "bash" })
            Assert.Contains(inventory.NativePackages, p => p.Name == name && p.Format == "deb" && p.Version.Length > 0);
    }

    [Fact]
    public async Task Inventory_of_a_debian_root_reports_relations_and_essential_as_dpkg_query_reads_them()
    {
        var inventory = await Inventory.CollectAsync(Platform(), CancellationToken.None);

        var (code, output) = await DebianRoot.RunToolAsync("dpkg-query", "--admindir", Path.Combine(_root, "var/lib/dpkg"), "-W", "-f",
            "${db:Status-Status}\t${Package}\t${Pre-Depends}\t${Depends}\t${Provides}\t${Conflicts}\t${Breaks}\t${Essential}\n");
        Assert.True(code == 0, output);
        var native = inventory.NativePackages!.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(f => f[0] == "installed").ToList();
        Assert.Equal(rows.Count, native.Count);
        foreach (var f in rows)
        {
            var package = native[f[1]];
            // dpkg-query's own reading of each field, written canonically: Pre-Depends before Depends, Breaks after Conflicts.
            Assert.Equal(Canonical(f[2]).Concat(Canonical(f[3])), package.Depends!);
            Assert.Equal(Canonical(f[4]), package.Provides!);
            Assert.Equal(Canonical(f[5]).Concat(Canonical(f[6])), package.Conflicts!);
            Assert.True((f[7] == "yes") == package.Essential, $"{f[1]}: Essential is '{f[7]}' for dpkg-query, {package.Essential} in the inventory");
        }

        // What a planner relies on, read straight from the packages (bookworm's minbase root).
        Assert.Equal(["libgcc-s1"], native["libc6"].Depends);
        Assert.Contains(native["libc6"].Conflicts!, c => c.StartsWith("nscd (<< ", StringComparison.Ordinal)); // a Breaks
        Assert.False(native["libc6"].Essential);
        Assert.Equal(["awk"], native["base-files"].Depends); // Pre-Depends: awk
        Assert.Equal(["awk"], native["mawk"].Provides);
        Assert.Contains("debconf (>= 0.5) | debconf-2.0", native["libpam-runtime"].Depends!);
        Assert.Equal(["debconf-2.0"], native["debconf"].Provides);
        Assert.Contains(native["libgcc-s1"].Provides!, p => p.StartsWith("libgcc1 (= 1:", StringComparison.Ordinal));
        Assert.Equal("libc6 (>= 2.36)", native["bash"].Depends![0]); // Pre-Depends first
        Assert.Contains("base-files (>= 2.1.12)", native["bash"].Depends!);
        Assert.All(["dpkg", "bash", "base-files", "coreutils", "perl-base"], name => Assert.True(native[name].Essential, $"{name} is Essential"));
        Assert.All(native.Values, p =>
        {
            Assert.All(p.Depends!, group => Assert.True(PackageRelations.IsValidGroup(group), $"{p.Name}: '{group}'"));
            Assert.All(p.Provides!.Concat(p.Conflicts!), relation => Assert.True(PackageRelations.IsValid(relation), $"{p.Name}: '{relation}'"));
        });
        Assert.Null(ContractChecks.InventoryProblem(inventory));
        Assert.Null(inventory.Truncated);

        static IEnumerable<string> Canonical(string field) => PackageRelations.ParseDebianField(field).Select(PackageRelations.Format);
    }

    [Fact]
    public void A_relation_field_dpkg_status_holds_that_rig_cannot_read_leaves_only_that_list_unknown()
    {
        const string status = "Package: odd\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\nDepends: Not A Relation (>= 1)\n"
            + "Provides: odd-virtual (= 1.0)\nBreaks: a | b\nConflicts: c\nEssential: yes\n\n"
            + "Package: folded\nStatus: install ok installed\nVersion: 2.0\nArchitecture: all\nDepends: libc6 (>= 2.34),\n libfoo1 (>> 1:1.0)\n"
            + "Pre-Depends: dpkg (>= 1.17)\nDescription: a package\n Depends: not-a-field\n";

        var packages = Discovery.ParseDpkgStatus(status);

        Assert.Equal(2, packages.Count);
        var odd = packages[0];
        Assert.Equal(("odd", "1.0", "amd64", "deb"), (odd.Name, odd.Version, odd.Architecture, odd.Format));
        Assert.Null(odd.Depends); // unreadable: unknown, not "none"
        Assert.Equal(["odd-virtual (= 1.0)"], odd.Provides);
        Assert.Null(odd.Conflicts); // alternatives in Breaks: dpkg refuses those, Rig does not guess
        Assert.True(odd.Essential);
        var folded = packages[1];
        Assert.Equal(["dpkg (>= 1.17)", "libc6 (>= 2.34)", "libfoo1 (>> 1:1.0)"], folded.Depends);
        Assert.Equal([], folded.Provides);
        Assert.Equal([], folded.Conflicts);
        Assert.False(folded.Essential);
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
        Assert.Equal([new NativePackage("bash", "5.1.8-6.el9", "x86_64", "rpm") { Depends = [], Provides = [], Conflicts = [] },
                new NativePackage("tzdata", "1:2024a-1.el9", "noarch", "rpm") { Depends = [], Provides = [], Conflicts = [] }],
            Discovery.ParseRpmQuery("P\u001fbash\u001f0:5.1.8-6.el9\u001fx86_64\u001e\nP\u001fgpg-pubkey\u001f0:fd431d51-4ae0493b\u001f(none)\u001e\n"
                + "R\u001fsomething\u001f0\u001f\u001e\nP\u001ftzdata\u001f1:2024a-1.el9\u001fnoarch\u001e\n"));
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
    public void Rpm_query_records_that_rig_cannot_write_leave_only_their_list_unknown_and_never_break_the_inventory()
    {
        const char U = '\u001f', R = '\u001e';
        string Line(params string[] fields) => string.Join(U, fields) + R;
        var output = string.Join('\n',
            Line("P", "good", "0:1.0-1", "x86_64"),
            Line("R", "rpmlib(PayloadIsZstd)", "16777226", "5.4.18-1"), // rpm's own feature: left out
            Line("R", "(a or b)", "0", ""), // rich dependency: left out
            Line("R", "libc.so.6(GLIBC_2.34)(64bit)", "0", ""),
            Line("R", "libc.so.6(GLIBC_2.34)(64bit)", "0", ""), // twice (scriptlet and file): once
            Line("R", "perl(Foo::Bar)", "12", "1.2"),
            Line("V", "good", "8", "1.0-1"),
            Line("V", "config(good)", "8", "1.0-1"),
            Line("C", "bad-old", "2", "3"),
            Line("O", "good-ancient", "10", "1:0.5"),
            Line("F", "/usr/bin/good"),
            Line("F", "/usr/lib64/libgood.so.1"), // not a primary file
            Line("F", "/etc/good.conf"),
            Line("F", "/etc/with space.conf"), // not writable as a relation: that file alone is left out
            // A Requires name holding a line break arrives over two lines: Depends is unknown, Provides stays.
            Line("P", "broken", "2:3.0-1", "noarch"),
            Line("R", "ok", "0", ""),
            "R" + U + "first half",
            "second half" + U + "0" + U + R,
            Line("V", "broken", "8", "2:3.0-1"),
            Line("C", "has space", "0", ""), // a conflict Rig cannot write: Conflicts unknown
            Line("P", "odd", "0:1-1", "noarch", "extra-field"), // not a package record: skipped with what follows
            Line("R", "belongs-to-odd", "0", ""),
            Line("P", "cut", "0:1-1", "noarch"),
            Line("R", "whole", "0", ""),
            "R" + U + "cut-off"); // the output ends inside a record

        var packages = Discovery.ParseRpmQuery(output);

        Assert.Equal(["good", "broken", "cut"], packages.Select(p => p.Name));
        var good = packages[0];
        Assert.Equal("1.0-1", good.Version);
        Assert.Equal(["libc.so.6(GLIBC_2.34)(64bit)", "perl(Foo::Bar) (>= 1.2)"], good.Depends);
        Assert.Equal(["good (= 1.0-1)", "config(good) (= 1.0-1)", "/usr/bin/good", "/etc/good.conf"], good.Provides);
        Assert.Equal(["bad-old (<< 3)", "good-ancient (<= 1:0.5)"], good.Conflicts);
        var broken = packages[1];
        Assert.Equal("2:3.0-1", broken.Version);
        Assert.Null(broken.Depends);
        Assert.Equal(["broken (= 2:3.0-1)"], broken.Provides);
        Assert.Null(broken.Conflicts);
        var cut = packages[2];
        Assert.True(cut.Depends is null && cut.Provides is null && cut.Conflicts is null, "what the cut package needs is unknown, not 'whole' alone");
        Assert.Null(ContractChecks.InventoryProblem(new InventoryReport { NativePackages = packages }));
    }

    [Fact]
    public void Dpkg_status_parser_keeps_only_installed_packages()
    {
        const string status = "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:2.0-3\nDescription: x\n continued\n\n"
            + "Package: b\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n"
            + "Package: c\nStatus: hold ok installed\nArchitecture: all\nVersion: 0.1\n";

        Assert.Equal([new NativePackage("a", "1:2.0-3", "amd64", "deb") { Depends = [], Provides = [], Conflicts = [] },
            new NativePackage("c", "0.1", "all", "deb") { Depends = [], Provides = [], Conflicts = [] }], Discovery.ParseDpkgStatus(status));
    }
}
