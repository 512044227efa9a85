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
    }

    private async Task BuildAsync(string name, string version, string release, string extra)
    {
        var top = _dir.Sub($"build-{name}-{version}");
        var spec = Path.Combine(top, name + ".spec");
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
            mkdir -p %{"{"}buildroot{"}"}/opt/{name}
            echo {version} > %{"{"}buildroot{"}"}/opt/{name}/version.txt

            %files
            /opt/{name}/version.txt

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
        Assert.Equal([new Protocol.Messages.NativePackage("rigtest-app", "1.0-1", "noarch", "rpm")], await new Components.Discovery(Root, runningSystem: false).NativePackagesAsync(CancellationToken.None));
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
    public async Task A_root_without_an_rpm_database_is_refused_with_the_command_to_create_one()
    {
        using var empty = new TempDirectory();
        var installer = Native.Platform(empty.Path).Installers["rpm"];

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => InstallAsync("rigtest-app", "1.0-1", installer));

        Assert.Equal("no-package-database", error.Code);
        Assert.Contains($"rpm --root {empty.Path} --dbpath /var/lib/rpm --initdb", error.Message, StringComparison.Ordinal);
    }
}
