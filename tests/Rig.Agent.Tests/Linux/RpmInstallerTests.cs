using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Protocol.Messages;

namespace Rig.Agent.Tests.Linux;

/// <summary>Small .rpm files built once per class with rpmbuild (noarch, no scriptlets).</summary>
public sealed class RpmFixture : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();

    /// <summary>Built packages by "name-version-release".</summary>
    public Dictionary<string, string> Rpms { get; } = [];

    /// <summary>A scratch directory.</summary>
    public string Scratch => _dir.Sub("scratch");

    public async Task InitializeAsync()
    {
        await BuildAsync("rigtest-app", "1.0", "1", "");
        await BuildAsync("rigtest-app", "2.0", "1", "");
        await BuildAsync("rigtest-lib", "1.0", "1", "Provides: rigtest-virtual");
        await BuildAsync("rigtest-user", "1.0", "1", "Requires: rigtest-virtual");
        await BuildAsync("rigtest-needy", "1.0", "1", "Requires: rigtest-app >= 1.0\nRequires: rig-no-such-package >= 1");
        await BuildAsync("rigtest-waits", "1.0", "1", "");
        // Relations of every kind, and files in bin directories and /etc (provided) beside others (not provided).
        await BuildAsync("rigtest-rel", "1.0", "1", "Requires: rigtest-lib >= 1.0\nRequires: (rigtest-app or rigtest-lib)\nRequires(post): /bin/sh\n" +
            "Provides: rigtest-rel-virtual = 2.0\nProvides: rigtest-plain\nConflicts: rigtest-old < 3\nObsoletes: rigtest-older <= 1:2.0-1",
            ["/usr/bin/rigtest-rel", "/usr/sbin/rigtest-reld", "/etc/rigtest-rel/rel.conf", "/opt/rigtest-rel/data.txt", "/usr/share/rigtest-rel/readme"]);
        // A dependency cycle: neither can be installed before the other.
        await BuildAsync("rigtest-cyc-a", "1.0", "1", "Requires: rigtest-cyc-b = 1.0-1");
        await BuildAsync("rigtest-cyc-b", "1.0", "1", "Requires: rigtest-cyc-a >= 1.0");
    }

    private async Task BuildAsync(string name, string version, string release, string extra, string[]? paths = null)
    {
        var top = _dir.Sub($"build-{name}-{version}");
        var spec = Path.Combine(top, name + ".spec");
        paths ??= [$"/opt/{name}/version.txt"];
        var install = string.Join("\n", paths.Select(p => $"mkdir -p %{{buildroot}}{Path.GetDirectoryName(p)}\necho {version} > %{{buildroot}}{p}"));
        await File.WriteAllTextAsync(spec, $"""
            Name: {name}
            Version: {version}
            Release: {release}
            Summary: Rig test package
            License: MIT
            BuildArch: noarch
            {extra}

            %description
            A package built by the Rig agent tests.

            %install
            {install}

            %files
            {string.Join("\n", paths)}

            """);
        await Native.RunAsync("rpmbuild", "-bb", "--quiet", "--define", "_topdir " + top, "--define", "_rpmdir " + Path.Combine(top, "out"), spec);
        Rpms[$"{name}-{version}-{release}"] = Directory.GetFiles(Path.Combine(top, "out"), "*.rpm", SearchOption.AllDirectories).Single();
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>The RPM plug-in with the real rpm (Debian's rpm package) in an empty root with its own database.</summary>
public sealed class RpmInstallerTests(RpmFixture fixture) : IClassFixture<RpmFixture>, IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private LinuxPlatform _platform = null!;

    private string Root => _dir.Sub("root");
    private IPackageInstaller Rpm => _platform.Installers[PackageFormats.Rpm];
    private string Work => Path.Combine(fixture.Scratch, "work-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        await Native.RunAsync("rpm", "--root", Root, "--dbpath", "/var/lib/rpm", "--initdb");
        _platform = Native.Platform(Root);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _dir.Dispose();

    private PackageRef Ref(string name, string version) => Native.Ref(name, version, PackageFormats.Rpm, fixture.Rpms[$"{name}-{version}"]);

    private Task<string> InstallAsync(string name, string version, IPackageInstaller? installer = null) =>
        (installer ?? Rpm).InstallAsync(Ref(name, version), fixture.Rpms[$"{name}-{version}"], Work, CancellationToken.None);

    private async Task<string> QueryAllAsync() =>
        (await Native.TryRunAsync("rpm", "--root", Root, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\\n")).StandardOutput.Trim();

    [Fact]
    public async Task Install_query_upgrade_downgrade_and_remove_leave_an_empty_database()
    {
        Assert.Equal("installed rigtest-app 1.0-1 with rpm", await InstallAsync("rigtest-app", "1.0-1"));
        Assert.Equal("rigtest-app-1.0-1", await QueryAllAsync());
        Assert.Equal([new Protocol.Messages.NativePackage("rigtest-app", "1.0-1", "noarch", "rpm") { Depends = [], Provides = ["rigtest-app (= 1.0-1)"], Conflicts = [] }],
            await new Components.Discovery(Root, runningSystem: false).NativePackagesAsync(CancellationToken.None));
        var record = Assert.Single(_platform.Database.Snapshot.Packages);
        Assert.Equal(("rigtest-app", "1.0-1", "rpm"), (record.Name, record.Version, record.Format));
        Assert.Equal(["/opt/rigtest-app/version.txt"], record.Files);
        Assert.Equal("rigtest-app 1.0-1 is already installed; nothing to do", await InstallAsync("rigtest-app", "1.0-1"));

        Assert.Equal("upgraded rigtest-app from 1.0-1 to 2.0-1 with rpm", await InstallAsync("rigtest-app", "2.0-1"));
        Assert.Equal("2.0\n", await File.ReadAllTextAsync(Path.Combine(Root, "opt/rigtest-app/version.txt")));
        Assert.Equal("downgraded rigtest-app from 2.0-1 to 1.0-1 with rpm", await InstallAsync("rigtest-app", "1.0-1"));
        Assert.Equal("rigtest-app-1.0-1", await QueryAllAsync());

        Assert.Equal("removed rigtest-app 1.0-1 with rpm", await Rpm.RemoveAsync("rigtest-app", CancellationToken.None));
        Assert.Equal("", await QueryAllAsync());
        Assert.False(File.Exists(Path.Combine(Root, "opt/rigtest-app/version.txt")));
        Assert.Empty(_platform.Database.Snapshot.Packages);
        Assert.Equal("rigtest-app is not installed; nothing to remove", await Rpm.RemoveAsync("rigtest-app", CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_dependency_is_refused_naming_it_and_nothing_is_installed()
    {
        await InstallAsync("rigtest-app", "1.0-1");

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => InstallAsync("rigtest-needy", "1.0-1"));

        Assert.Equal("missing-dependency", error.Code);
        Assert.Contains("needs rig-no-such-package >= 1, which the device does not have", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("rigtest-app >=", error.Message, StringComparison.Ordinal); // installed: satisfied
        Assert.Contains("bundle before rigtest-needy", error.Message, StringComparison.Ordinal);
        Assert.Equal("rigtest-app-1.0-1", await QueryAllAsync());
        Assert.DoesNotContain(_platform.Database.Snapshot.Packages, p => p.Name == "rigtest-needy");
    }

    [Fact]
    public async Task Removing_a_package_others_require_names_them_and_removes_nothing()
    {
        await InstallAsync("rigtest-lib", "1.0-1");
        await InstallAsync("rigtest-user", "1.0-1");

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => Rpm.RemoveAsync("rigtest-lib", CancellationToken.None));

        Assert.Equal("dependency-conflict", error.Code);
        Assert.Contains("rigtest-user-1.0-1.noarch needs rigtest-virtual", error.Message, StringComparison.Ordinal);
        Assert.Equal("rigtest-lib-1.0-1\nrigtest-user-1.0-1", string.Join('\n', (await QueryAllAsync()).Split('\n').Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task A_blob_holding_another_package_is_refused()
    {
        var blob = fixture.Rpms["rigtest-app-2.0-1"];

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => Rpm.InstallAsync(Native.Ref("rigtest-app", "1.0-1", "rpm", blob), blob, Work, CancellationToken.None));

        Assert.Equal("package-mismatch", error.Code);
        Assert.Contains("holds rigtest-app 2.0-1, not rigtest-app 1.0-1", error.Message, StringComparison.Ordinal);
        Assert.Equal("", await QueryAllAsync());
    }

    [Fact]
    public async Task The_rpm_transaction_lock_held_elsewhere_is_waited_for_boundedly_then_the_install_proceeds_once_released()
    {
        var path = Path.Combine(Root, "var/lib/rpm/.rpm.lock");
        await using (var holder = await ForeignLock.TakeAsync(path))
        {
            var error = await Assert.ThrowsAsync<CommandFailedException>(() => InstallAsync("rigtest-waits", "1.0-1"));

            Assert.Equal("package-database-locked", error.Code);
            Assert.Contains($"'{path}' is still locked by process {holder.Pid}", error.Message, StringComparison.Ordinal);
            Assert.Equal("", await QueryAllAsync());
        }

        var patient = Native.Platform(Root, Native.Timeouts with { LockWait = TimeSpan.FromMinutes(2) }).Installers["rpm"];
        var second = await ForeignLock.TakeAsync(path);
        Task<string> install;
        try
        {
            install = InstallAsync("rigtest-waits", "1.0-1", patient);
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.False(install.IsCompleted, "the install must wait while another process holds the lock");
            Assert.True(second.IsAlive, "the lock holder still runs");
            Assert.Equal("", await QueryAllAsync());
            Assert.False(File.Exists(Path.Combine(Root, "opt/rigtest-waits/version.txt")), "nothing is unpacked while the lock is held");
        }
        finally
        {
            await second.DisposeAsync();
        }
        Assert.Equal("installed rigtest-waits 1.0-1 with rpm", await install);
        Assert.Equal("rigtest-waits-1.0-1", await QueryAllAsync());
    }

    [Fact]
    public async Task While_another_agent_command_holds_Rigs_rpm_lock_installs_and_removals_wait_and_change_nothing()
    {
        await InstallAsync("rigtest-app", "1.0-1");
        var path = Path.Combine(Root, "var/lib/rpm/.rig-agent.lock");
        using (await PackageManagerLock.AcquireAsync(path, new LockDeadline(TimeSpan.FromSeconds(5)), TimeSpan.FromMilliseconds(100), CancellationToken.None))
        {
            var install = await Assert.ThrowsAsync<CommandFailedException>(() => InstallAsync("rigtest-app", "2.0-1"));
            var remove = await Assert.ThrowsAsync<CommandFailedException>(() => Rpm.RemoveAsync("rigtest-app", CancellationToken.None));

            Assert.Equal(("package-database-locked", "package-database-locked"), (install.Code, remove.Code));
            Assert.Contains($"'{path}' is still locked", install.Message, StringComparison.Ordinal);
            Assert.Equal("rigtest-app-1.0-1", await QueryAllAsync());
        }

        Assert.Equal("upgraded rigtest-app from 1.0-1 to 2.0-1 with rpm", await InstallAsync("rigtest-app", "2.0-1")); // released
    }

    [Fact]
    public async Task A_damaged_database_is_a_query_failure_never_taken_for_not_installed()
    {
        await InstallAsync("rigtest-app", "1.0-1");
        foreach (var file in Directory.GetFiles(Path.Combine(Root, "var/lib/rpm"), "rpmdb.sqlite*"))
            await File.WriteAllTextAsync(file, "not a database\n");

        var remove = await Assert.ThrowsAsync<CommandFailedException>(() => Rpm.RemoveAsync("rigtest-app", CancellationToken.None));
        var install = await Assert.ThrowsAsync<CommandFailedException>(() => InstallAsync("rigtest-app", "2.0-1"));

        Assert.Equal(("package-query-failed", "package-query-failed"), (remove.Code, install.Code));
        Assert.Contains("rpm could not tell whether rigtest-app is installed", remove.Message, StringComparison.Ordinal);
        Assert.Contains("file is not a database", remove.Message, StringComparison.Ordinal);
        Assert.Contains($"rpm --root {Root} --dbpath /var/lib/rpm --rebuilddb", remove.Message, StringComparison.Ordinal);
        Assert.Contains(_platform.Database.Snapshot.Packages, p => p.Name == "rigtest-app"); // not forgotten
        Assert.True(File.Exists(Path.Combine(Root, "opt/rigtest-app/version.txt")), "nothing was removed");
    }

    [Fact]
    public async Task Discovery_reports_requires_provides_primary_files_conflicts_and_obsoletes_from_the_rpm_database()
    {
        // --nodeps: /bin/sh and rigtest-lib are not in this root; the database records the relations all the same.
        await Native.RunAsync("rpm", "--root", Root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", "--", fixture.Rpms["rigtest-rel-1.0-1"]);

        var packages = await new Components.Discovery(Root, runningSystem: false).NativePackagesAsync(CancellationToken.None);

        var rel = Assert.Single(packages!);
        Assert.Equal(("rigtest-rel", "1.0-1", "noarch", "rpm", false), (rel.Name, rel.Version, rel.Architecture, rel.Format, rel.Essential));
        // rpmlib() requirements and the rich "(rigtest-app or rigtest-lib)" are left out; Requires(post) is a requirement.
        Assert.Equal(["/bin/sh", "rigtest-lib (>= 1.0)"], rel.Depends!.Order(StringComparer.Ordinal));
        // Files in bin directories and under /etc are provided (createrepo's primary list); /opt and /usr/share are not.
        Assert.Equal(["/etc/rigtest-rel/rel.conf", "/usr/bin/rigtest-rel", "/usr/sbin/rigtest-reld", "rigtest-plain", "rigtest-rel (= 1.0-1)", "rigtest-rel-virtual (= 2.0)"],
            rel.Provides!.Order(StringComparer.Ordinal));
        Assert.Equal(["rigtest-old (<< 3)", "rigtest-older (<= 1:2.0-1)"], rel.Conflicts!.Order(StringComparer.Ordinal));
        // rpm's own view of the same package, for comparison.
        var requires = await Native.RunAsync("rpm", "--root", Root, "--dbpath", "/var/lib/rpm", "-q", "--requires", "rigtest-rel");
        Assert.Contains("rigtest-lib >= 1.0", requires, StringComparison.Ordinal);
        Assert.Contains("rpmlib(", requires, StringComparison.Ordinal);
        Assert.Null(Protocol.ContractChecks.InventoryProblem(new InventoryReport { NativePackages = packages }));
    }

    // ---- packages installed and removed together (InstallCommand.With, RemoveCommand.With) ----------------------

    [Fact]
    public async Task A_dependency_cycle_is_installed_in_one_rpm_transaction_and_removed_together()
    {
        using var executor = new OfflineExecutor(_platform);
        var a = executor.Cached("rigtest-cyc-a", "1.0-1", "rpm", fixture.Rpms["rigtest-cyc-a-1.0-1"]);
        var b = executor.Cached("rigtest-cyc-b", "1.0-1", "rpm", fixture.Rpms["rigtest-cyc-b-1.0-1"]);

        var alone = await executor.RunAsync(new InstallCommand(a, "app"));
        Assert.Equal((CommandOutcome.Failed, "missing-dependency"), (alone.Outcome, alone.ErrorCode));
        Assert.Contains("needs rigtest-cyc-b = 1.0-1, which the device does not have", alone.Error, StringComparison.Ordinal);
        Assert.Equal("", await QueryAllAsync());

        var together = await executor.RunAsync(new InstallCommand(a, "app") { With = [b] });

        Assert.True(together.Outcome == CommandOutcome.Succeeded, together.Error);
        Assert.Equal("installed rigtest-cyc-a 1.0-1; installed rigtest-cyc-b 1.0-1; with rpm in one transaction", together.Output);
        Assert.Equal("rigtest-cyc-a-1.0-1\nrigtest-cyc-b-1.0-1", string.Join('\n', (await QueryAllAsync()).Split('\n').Order(StringComparer.Ordinal)));
        var verify = await Native.TryRunAsync("rpm", "--root", Root, "--dbpath", "/var/lib/rpm", "-V", "--", "rigtest-cyc-a", "rigtest-cyc-b");
        Assert.True(verify.ExitCode == 0, $"rpm -V: {verify.StandardOutput}{verify.StandardError}");
        Assert.Equal([("rigtest-cyc-a", a.Sha256), ("rigtest-cyc-b", b.Sha256)], _platform.Database.Snapshot.Packages.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => (p.Name, p.Sha256)));
        Assert.Equal(["/opt/rigtest-cyc-b/version.txt"], _platform.Database.Snapshot.Packages.Single(p => p.Name == "rigtest-cyc-b").Files);
        Assert.Equal("rigtest-cyc-a 1.0-1 and rigtest-cyc-b 1.0-1 are already installed; nothing to do", (await executor.RunAsync(new InstallCommand(a, "app") { With = [b] })).Output);

        var one = await executor.RunAsync(new RemoveCommand("rigtest-cyc-a", "rpm"));
        Assert.Equal((CommandOutcome.Failed, "dependency-conflict"), (one.Outcome, one.ErrorCode));
        Assert.Contains("rigtest-cyc-b-1.0-1.noarch needs rigtest-cyc-a >= 1.0", one.Error, StringComparison.Ordinal);
        Assert.Equal(2, (await QueryAllAsync()).Split('\n').Length);

        var both = await executor.RunAsync(new RemoveCommand("rigtest-cyc-a", "rpm") { With = ["rigtest-cyc-b"] });

        Assert.True(both.Outcome == CommandOutcome.Succeeded, both.Error);
        Assert.Equal("removed rigtest-cyc-a 1.0-1, rigtest-cyc-b 1.0-1 with rpm in one transaction", both.Output);
        Assert.Equal("", await QueryAllAsync());
        Assert.Empty(_platform.Database.Snapshot.Packages);
        Assert.False(File.Exists(Path.Combine(Root, "opt/rigtest-cyc-a/version.txt")));
    }

    [Fact]
    public async Task A_set_upgrading_one_member_and_installing_another_is_one_transaction_and_a_need_outside_it_installs_nothing()
    {
        await InstallAsync("rigtest-app", "1.0-1");
        using var executor = new OfflineExecutor(_platform);
        var app = executor.Cached("rigtest-app", "2.0-1", "rpm", fixture.Rpms["rigtest-app-2.0-1"]);
        var needy = executor.Cached("rigtest-needy", "1.0-1", "rpm", fixture.Rpms["rigtest-needy-1.0-1"]);
        var lib = executor.Cached("rigtest-lib", "1.0-1", "rpm", fixture.Rpms["rigtest-lib-1.0-1"]);

        var refused = await executor.RunAsync(new InstallCommand(app, "app") { With = [needy] });

        Assert.Equal((CommandOutcome.Failed, "missing-dependency"), (refused.Outcome, refused.ErrorCode));
        Assert.Contains("rigtest-app 2.0-1 and rigtest-needy 1.0-1 (installed together) need rig-no-such-package >= 1", refused.Error, StringComparison.Ordinal);
        Assert.Equal("rigtest-app-1.0-1", await QueryAllAsync());

        var result = await executor.RunAsync(new InstallCommand(app, "app") { With = [lib] });

        Assert.True(result.Outcome == CommandOutcome.Succeeded, result.Error);
        Assert.Equal("upgraded rigtest-app from 1.0-1 to 2.0-1; installed rigtest-lib 1.0-1; with rpm in one transaction", result.Output);
        Assert.Equal("rigtest-app-2.0-1\nrigtest-lib-1.0-1", string.Join('\n', (await QueryAllAsync()).Split('\n').Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task A_root_without_an_rpm_database_is_refused_with_the_command_to_create_one()
    {
        using var empty = new TempDirectory();
        var installer = Native.Platform(empty.Path).Installers["rpm"];

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => InstallAsync("rigtest-app", "1.0-1", installer));

        Assert.Equal("no-package-database", error.Code);
        Assert.Contains($"rpm --root {empty.Path} --dbpath /var/lib/rpm --initdb", error.Message, StringComparison.Ordinal);
    }
}
