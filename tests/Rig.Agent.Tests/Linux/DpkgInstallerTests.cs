using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Protocol.Messages;
using Rig.Testing;

namespace Rig.Agent.Tests.Linux;

/// <summary>The Debian plug-in against a real debootstrap root, real dpkg and real packages from the Debian
/// mirror (apt-get download): installs run, removals leave dpkg's database consistent, a missing dependency
/// never leaves a half-installed package.</summary>
public sealed class DpkgInstallerTests(DebianRootFixture fixture) : IClassFixture<DebianRootFixture>
{
    private readonly LinuxPlatform _platform = Native.Platform(fixture.Root);

    private IPackageInstaller Deb => _platform.Installers[PackageFormats.Deb];

    private string Work => Path.Combine(fixture.Scratch, "work-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Hello_from_Debian_is_installed_runs_in_the_root_and_is_purged_leaving_dpkg_consistent()
    {
        var blob = await DebianRoot.DownloadAsync("hello");
        var version = (await Native.RunAsync("dpkg-deb", "--field", blob, "Version")).Trim();
        var hello = Native.Ref("hello", version, PackageFormats.Deb, blob);

        var output = await Deb.InstallAsync(hello, blob, Work, CancellationToken.None);

        Assert.Equal($"installed hello {version} with dpkg", output);
        var (code, greeting) = await DebianRoot.ChrootAsync(fixture.Root, "/usr/bin/hello");
        Assert.Equal(0, code);
        Assert.Equal("Hello, world!", greeting.Trim());
        Assert.False(File.Exists(Path.Combine(fixture.Root, "usr/sbin/policy-rc.d")), "the temporary policy-rc.d is gone");
        Assert.Equal($"install ok installed {version}", await Native.DpkgStatusAsync(fixture.Root, "hello"));
        var record = Assert.Single(_platform.Database.Snapshot.Packages, p => p.Name == "hello");
        Assert.Equal((version, "deb", hello.Sha256), (record.Version, record.Format, record.Sha256));
        Assert.Contains("/usr/bin/hello", record.Files);
        Assert.DoesNotContain("/usr/bin", record.Files); // directories are shared, not owned
        var listed = Assert.Single((await new Components.Discovery(fixture.Root, runningSystem: false).NativePackagesAsync(CancellationToken.None))!, p => p.Name == "hello");
        Assert.Equal(("hello", version, (await Native.RunAsync("dpkg", "--print-architecture")).Trim(), "deb"), (listed.Name, listed.Version, listed.Architecture, listed.Format));
        Assert.Contains(listed.Depends!, d => d.StartsWith("libc6 (>= ", StringComparison.Ordinal));

        Assert.Equal($"hello {version} is already installed; nothing to do", await Deb.InstallAsync(hello, blob, Work, CancellationToken.None));

        Assert.Equal($"removed hello {version} with dpkg (purged, configuration files included)", await Deb.RemoveAsync("hello", CancellationToken.None));
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "hello"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
        Assert.False(File.Exists(Path.Combine(fixture.Root, "usr/bin/hello")));
        Assert.DoesNotContain(_platform.Database.Snapshot.Packages, p => p.Name == "hello");
        Assert.Equal("hello is not installed; nothing to remove", await Deb.RemoveAsync("hello", CancellationToken.None));
    }

    [Fact]
    public async Task A_different_version_upgrades_and_an_older_one_downgrades()
    {
        var v1 = await Native.BuildDebAsync(fixture.Scratch, "rig-updown", "1.0-1");
        var v2 = await Native.BuildDebAsync(fixture.Scratch, "rig-updown", "1:0.5-1"); // the epoch makes it newer

        Assert.Equal("installed rig-updown 1.0-1 with dpkg", await Deb.InstallAsync(Native.Ref("rig-updown", "1.0-1", "deb", v1), v1, Work, CancellationToken.None));
        Assert.Equal("upgraded rig-updown from 1.0-1 to 1:0.5-1 with dpkg", await Deb.InstallAsync(Native.Ref("rig-updown", "1:0.5-1", "deb", v2), v2, Work, CancellationToken.None));
        Assert.Equal("1:0.5-1\n", await File.ReadAllTextAsync(Path.Combine(fixture.Root, "usr/share/rig-updown/version.txt")));
        Assert.Equal("downgraded rig-updown from 1:0.5-1 to 1.0-1 with dpkg", await Deb.InstallAsync(Native.Ref("rig-updown", "1.0-1", "deb", v1), v1, Work, CancellationToken.None));
        Assert.Equal("install ok installed 1.0-1", await Native.DpkgStatusAsync(fixture.Root, "rig-updown"));
        Assert.Equal("1.0-1", Assert.Single(_platform.Database.Snapshot.Packages, p => p.Name == "rig-updown").Version);
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
    }

    [Fact]
    public async Task A_missing_dependency_is_refused_before_anything_is_unpacked()
    {
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-needs-missing", "1.0", depends: "libc6 (>= 2.30), rig-no-such-package (>= 1)");

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => Deb.InstallAsync(Native.Ref("rig-needs-missing", "1.0", "deb", blob), blob, Work, CancellationToken.None));

        Assert.Equal("missing-dependency", error.Code);
        Assert.Contains("rig-no-such-package (>= 1) (not installed)", error.Message, StringComparison.Ordinal);
        Assert.Contains("bundle before rig-needs-missing", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("libc6", error.Message, StringComparison.Ordinal); // the base system satisfies that one
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-needs-missing"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
        Assert.False(Directory.Exists(Path.Combine(fixture.Root, "usr/share/rig-needs-missing")));
        Assert.DoesNotContain(_platform.Database.Snapshot.Packages, p => p.Name == "rig-needs-missing");
    }

    [Fact]
    public async Task A_failing_maintainer_script_is_rolled_back_so_dpkg_stays_consistent()
    {
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-bad-postinst", "1.0", postinst: "#!/bin/sh\necho 'rig test: configuration refused' >&2\nexit 3\n");

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => Deb.InstallAsync(Native.Ref("rig-bad-postinst", "1.0", "deb", blob), blob, Work, CancellationToken.None));

        Assert.Equal("install-failed", error.Code);
        Assert.Contains("rig test: configuration refused", error.Message, StringComparison.Ordinal);
        Assert.Contains("purged again; dpkg's database is as before", error.Message, StringComparison.Ordinal);
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-bad-postinst"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
        Assert.False(File.Exists(Path.Combine(fixture.Root, "usr/share/rig-bad-postinst/version.txt")));
        Assert.DoesNotContain(_platform.Database.Snapshot.Packages, p => p.Name == "rig-bad-postinst");
        Assert.False(File.Exists(Path.Combine(fixture.Root, "usr/sbin/policy-rc.d")), "the temporary policy-rc.d is gone");
    }

    [Fact]
    public async Task Maintainer_scripts_run_chrooted_in_the_offline_root_where_services_may_not_start()
    {
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-chrooted", "1.0",
            postinst: "#!/bin/sh\n/usr/sbin/policy-rc.d rig-test start\necho \"policy-rc.d says $?\" > /usr/share/rig-chrooted/seen\n");

        await Deb.InstallAsync(Native.Ref("rig-chrooted", "1.0", "deb", blob), blob, Work, CancellationToken.None);

        Assert.Equal("policy-rc.d says 101\n", await File.ReadAllTextAsync(Path.Combine(fixture.Root, "usr/share/rig-chrooted/seen")));
        Assert.False(File.Exists(Path.Combine(fixture.Root, "usr/sbin/policy-rc.d")), "the temporary policy-rc.d is gone");
    }

    [Fact]
    public async Task Dependencies_are_met_by_alternatives_versions_and_provides_and_an_old_version_is_named()
    {
        var provider = await Native.BuildDebAsync(fixture.Scratch, "rig-provider", "1.5", provides: "rig-virtual (= 2)");
        await Deb.InstallAsync(Native.Ref("rig-provider", "1.5", "deb", provider), provider, Work, CancellationToken.None);
        var consumer = await Native.BuildDebAsync(fixture.Scratch, "rig-consumer", "1.0", depends: "rig-no-such-package | rig-provider (>= 1.0), rig-virtual (>= 2), rig-virtual");
        var tooNew = await Native.BuildDebAsync(fixture.Scratch, "rig-wants-newer", "1.0", depends: "rig-provider (>= 3)");

        Assert.Equal("installed rig-consumer 1.0 with dpkg", await Deb.InstallAsync(Native.Ref("rig-consumer", "1.0", "deb", consumer), consumer, Work, CancellationToken.None));
        var error = await Assert.ThrowsAsync<CommandFailedException>(() => Deb.InstallAsync(Native.Ref("rig-wants-newer", "1.0", "deb", tooNew), tooNew, Work, CancellationToken.None));

        Assert.Equal("missing-dependency", error.Code);
        Assert.Contains("rig-provider (>= 3) (installed: rig-provider 1.5)", error.Message, StringComparison.Ordinal);
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-wants-newer"));
    }

    [Fact]
    public async Task Removing_a_package_others_depend_on_names_them_and_removes_nothing()
    {
        var library = await Native.BuildDebAsync(fixture.Scratch, "rig-base-lib", "1.0");
        var user = await Native.BuildDebAsync(fixture.Scratch, "rig-uses-lib", "1.0", depends: "rig-base-lib");
        await Deb.InstallAsync(Native.Ref("rig-base-lib", "1.0", "deb", library), library, Work, CancellationToken.None);
        await Deb.InstallAsync(Native.Ref("rig-uses-lib", "1.0", "deb", user), user, Work, CancellationToken.None);

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => Deb.RemoveAsync("rig-base-lib", CancellationToken.None));

        Assert.Equal("dependency-conflict", error.Code);
        Assert.Contains("(rig-uses-lib)", error.Message, StringComparison.Ordinal);
        Assert.Contains("came from outside Rig since the device's last inventory: remove them on the device (or keep rig-base-lib in a role)", error.Message, StringComparison.Ordinal);
        Assert.Equal("install ok installed 1.0", await Native.DpkgStatusAsync(fixture.Root, "rig-base-lib"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
        Assert.Contains(_platform.Database.Snapshot.Packages, p => p.Name == "rig-base-lib");
    }

    [Fact]
    public async Task A_blob_holding_another_package_is_refused()
    {
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-actual", "1.0");

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => Deb.InstallAsync(Native.Ref("rig-claimed", "1.0", "deb", blob), blob, Work, CancellationToken.None));

        Assert.Equal("package-mismatch", error.Code);
        Assert.Contains("holds rig-actual 1.0, not rig-claimed 1.0", error.Message, StringComparison.Ordinal);
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-actual"));
    }

    [Theory]
    [InlineData("lock-frontend")] // apt, or dpkg run by hand
    [InlineData("lock")] // a dpkg run that ignores the frontend lock
    public async Task A_dpkg_lock_never_released_fails_after_the_bounded_wait_naming_the_holder(string lockFile)
    {
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-locked-out-" + lockFile, "1.0");
        var path = Path.Combine(fixture.Root, "var/lib/dpkg", lockFile);
        await using var holder = await ForeignLock.TakeAsync(path);

        var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
            Deb.InstallAsync(Native.Ref("rig-locked-out-" + lockFile, "1.0", "deb", blob), blob, Work, CancellationToken.None));

        Assert.Equal("package-database-locked", error.Code);
        Assert.Contains($"'{path}' is still locked by process {holder.Pid} (perl)", error.Message, StringComparison.Ordinal);
        Assert.Contains("after waiting 3 s", error.Message, StringComparison.Ordinal);
        Assert.True(holder.IsAlive, "the lock holder still runs");
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-locked-out-" + lockFile));
        Assert.False(Directory.Exists(Path.Combine(fixture.Root, "usr/share/rig-locked-out-" + lockFile)), "nothing was unpacked");
    }

    [Fact]
    public async Task An_install_waits_for_the_dpkg_lock_and_proceeds_once_it_is_released()
    {
        var platform = Native.Platform(fixture.Root, Native.Timeouts with { LockWait = TimeSpan.FromMinutes(2) });
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-waits", "1.0");
        var holder = await ForeignLock.TakeAsync(Path.Combine(fixture.Root, "var/lib/dpkg/lock-frontend"));
        Task<string> install;
        try
        {
            install = platform.Installers["deb"].InstallAsync(Native.Ref("rig-waits", "1.0", "deb", blob), blob, Work, CancellationToken.None);
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.False(install.IsCompleted, "the install must wait while another process holds the lock");
            Assert.True(holder.IsAlive, "the lock holder still runs");
            Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-waits"));
            Assert.False(Directory.Exists(Path.Combine(fixture.Root, "usr/share/rig-waits")), "nothing is unpacked while the lock is held");
        }
        finally
        {
            await holder.DisposeAsync();
        }

        Assert.Equal("installed rig-waits 1.0 with dpkg", await install);
        Assert.Equal("install ok installed 1.0", await Native.DpkgStatusAsync(fixture.Root, "rig-waits"));
    }

    [Fact]
    public async Task While_the_agent_holds_the_frontend_lock_a_plain_dpkg_run_is_refused()
    {
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-outsider", "1.0");
        using (await PackageManagerLock.AcquireAsync(Path.Combine(fixture.Root, "var/lib/dpkg/lock-frontend"), new LockDeadline(TimeSpan.FromSeconds(5)), TimeSpan.FromMilliseconds(100), CancellationToken.None))
        {
            var outcome = await Native.TryRunAsync("dpkg", "--root=" + fixture.Root, "--install", blob);

            Assert.NotEqual(0, outcome.ExitCode);
            Assert.Contains("frontend lock", outcome.StandardError, StringComparison.Ordinal);
        }
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-outsider"));
        var after = await Native.TryRunAsync("dpkg", "--root=" + fixture.Root, "--install", blob); // released: dpkg gets it
        Assert.Equal(0, after.ExitCode);
    }

    [Fact]
    public async Task An_offline_root_whose_usr_sbin_links_outside_it_is_refused_and_nothing_is_written_outside()
    {
        // A minimal offline root (an empty dpkg database) whose /usr/sbin is an absolute link to a directory
        // outside it: followed on the host, policy-rc.d would land in (and later be deleted from) that directory.
        using var dir = new TempDirectory();
        var outside = dir.Sub("outside-the-root");
        var root = dir.Sub("root");
        Directory.CreateDirectory(Path.Combine(root, "var/lib/dpkg/info"));
        Directory.CreateDirectory(Path.Combine(root, "var/lib/dpkg/updates"));
        await File.WriteAllTextAsync(Path.Combine(root, "var/lib/dpkg/status"), "");
        Directory.CreateDirectory(Path.Combine(root, "usr"));
        File.CreateSymbolicLink(Path.Combine(root, "usr/sbin"), outside);
        var before = Directory.GetLastWriteTimeUtc(outside);
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-linked-sbin", "1.0");

        var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
            Native.Platform(root).Installers["deb"].InstallAsync(Native.Ref("rig-linked-sbin", "1.0", "deb", blob), blob, Work, CancellationToken.None));

        Assert.Equal("unsafe-offline-root", error.Code);
        Assert.Contains($"it resolves to '{root}{outside}', which does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("dpkg was not run", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(outside));
        Assert.Equal(before, Directory.GetLastWriteTimeUtc(outside)); // nothing was even created and deleted there
        Assert.Null(await Native.DpkgStatusAsync(root, "rig-linked-sbin"));
    }

    [Fact]
    public async Task A_policy_rc_d_left_by_a_stopped_agent_is_replaced_for_the_run_and_removed()
    {
        var policy = Path.Combine(fixture.Root, "usr/sbin/policy-rc.d");
        await File.WriteAllTextAsync(policy, $"#!/bin/sh\n{DpkgInstaller.PolicyRcDMarker}\nexit 101\n");
        File.SetUnixFileMode(policy, (UnixFileMode)0b111_101_101);
        try
        {
            var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-after-crash", "1.0",
                postinst: "#!/bin/sh\n/usr/sbin/policy-rc.d rig-test start\necho \"policy-rc.d says $?\" > /usr/share/rig-after-crash/seen\n");

            await Deb.InstallAsync(Native.Ref("rig-after-crash", "1.0", "deb", blob), blob, Work, CancellationToken.None);

            Assert.Equal("policy-rc.d says 101\n", await File.ReadAllTextAsync(Path.Combine(fixture.Root, "usr/share/rig-after-crash/seen")));
            Assert.False(File.Exists(policy), "the leftover policy-rc.d is gone");
        }
        finally
        {
            File.Delete(policy);
        }
    }

    [Fact]
    public async Task The_images_own_policy_rc_d_without_the_marker_is_used_and_kept_untouched()
    {
        var policy = Path.Combine(fixture.Root, "usr/sbin/policy-rc.d");
        const string Own = "#!/bin/sh\n# the image's own policy\nexit 0\n";
        await File.WriteAllTextAsync(policy, Own);
        File.SetUnixFileMode(policy, (UnixFileMode)0b111_101_101);
        try
        {
            var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-image-policy", "1.0",
                postinst: "#!/bin/sh\n/usr/sbin/policy-rc.d rig-test start\necho \"policy-rc.d says $?\" > /usr/share/rig-image-policy/seen\n");

            await Deb.InstallAsync(Native.Ref("rig-image-policy", "1.0", "deb", blob), blob, Work, CancellationToken.None);
            await Deb.RemoveAsync("rig-image-policy", CancellationToken.None);

            Assert.Equal(Own, await File.ReadAllTextAsync(policy));
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(policy));
        }
        finally
        {
            File.Delete(policy);
        }
    }

    [Fact]
    public async Task A_maintainer_script_over_the_change_timeout_is_stopped_and_the_error_says_how_to_recover()
    {
        var platform = Native.Platform(fixture.Root, Native.Timeouts with { Change = TimeSpan.FromSeconds(5) });
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-slow-postinst", "1.0",
            postinst: "#!/bin/sh\nsleep 600 &\necho $! > /usr/share/rig-slow-postinst/sleep.pid\nwait\n");
        try
        {
            var error = await Assert.ThrowsAsync<CommandFailedException>(() =>
                platform.Installers["deb"].InstallAsync(Native.Ref("rig-slow-postinst", "1.0", "deb", blob), blob, Work, CancellationToken.None));

            Assert.Equal("timeout", error.Code);
            Assert.Contains("did not finish within 5 s and was stopped", error.Message, StringComparison.Ordinal);
            Assert.Contains("dpkg's database now says: rig-slow-postinst 1.0 is '", error.Message, StringComparison.Ordinal);
            Assert.Contains($"'dpkg --root={fixture.Root} --audit'", error.Message, StringComparison.Ordinal);
            Assert.Contains($"'dpkg --root={fixture.Root} --configure -a'", error.Message, StringComparison.Ordinal);
            var pid = int.Parse(await File.ReadAllTextAsync(Path.Combine(fixture.Root, "usr/share/rig-slow-postinst/sleep.pid")), System.Globalization.CultureInfo.InvariantCulture);
            Assert.False(IsRunning(pid), "the maintainer script's sleep was stopped with dpkg");
            Assert.False(File.Exists(Path.Combine(fixture.Root, "usr/sbin/policy-rc.d")), "the temporary policy-rc.d is gone");
        }
        finally
        {
            await Native.TryRunAsync("dpkg", "--root=" + fixture.Root, "--purge", "rig-slow-postinst"); // the class's root stays consistent
        }
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    // ---- packages installed and removed together (InstallCommand.With, RemoveCommand.With) ----------------------

    [Fact]
    public async Task A_dependency_cycle_is_installed_by_one_dpkg_run_and_removed_together()
    {
        using var executor = new OfflineExecutor(_platform);
        var a = executor.Cached("rig-cycle-a", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-cycle-a", "1.0", depends: "rig-cycle-b (>= 1.0)"));
        var b = executor.Cached("rig-cycle-b", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-cycle-b", "1.0", depends: "rig-cycle-a (= 1.0), libc6"));

        // Alone, neither can go first.
        var alone = await executor.RunAsync(new InstallCommand(a, "app"));
        Assert.Equal((CommandOutcome.Failed, "missing-dependency"), (alone.Outcome, alone.ErrorCode));
        Assert.Contains("rig-cycle-b (>= 1.0) (not installed)", alone.Error, StringComparison.Ordinal);

        var together = await executor.RunAsync(new InstallCommand(a, "app") { With = [b] });

        Assert.True(together.Outcome == CommandOutcome.Succeeded, together.Error);
        Assert.Equal("installed rig-cycle-a 1.0; installed rig-cycle-b 1.0; with dpkg in one run", together.Output);
        Assert.Equal("install ok installed 1.0", await Native.DpkgStatusAsync(fixture.Root, "rig-cycle-a"));
        Assert.Equal("install ok installed 1.0", await Native.DpkgStatusAsync(fixture.Root, "rig-cycle-b"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
        Assert.Equal([(a.Name, a.Sha256), (b.Name, b.Sha256)], _platform.Database.Snapshot.Packages.Where(p => p.Name.StartsWith("rig-cycle-", StringComparison.Ordinal))
            .OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => (p.Name, p.Sha256)));
        Assert.Contains("/usr/share/rig-cycle-b/version.txt", _platform.Database.Snapshot.Packages.Single(p => p.Name == "rig-cycle-b").Files);
        var native = (await new Components.Discovery(fixture.Root, runningSystem: false).NativePackagesAsync(CancellationToken.None))!;
        Assert.Equal(["rig-cycle-b (>= 1.0)"], native.Single(p => p.Name == "rig-cycle-a").Depends);
        Assert.Equal(["rig-cycle-a (= 1.0)", "libc6"], native.Single(p => p.Name == "rig-cycle-b").Depends);

        var again = await executor.RunAsync(new InstallCommand(a, "app") { With = [b] });
        Assert.Equal("rig-cycle-a 1.0 and rig-cycle-b 1.0 are already installed; nothing to do", again.Output);

        // Removing one leaves the other broken: refused, nothing removed.
        var one = await executor.RunAsync(new RemoveCommand("rig-cycle-b", "deb"));
        Assert.Equal((CommandOutcome.Failed, "dependency-conflict"), (one.Outcome, one.ErrorCode));
        Assert.Contains("(rig-cycle-a)", one.Error, StringComparison.Ordinal);
        Assert.Equal("install ok installed 1.0", await Native.DpkgStatusAsync(fixture.Root, "rig-cycle-b"));

        var both = await executor.RunAsync(new RemoveCommand("rig-cycle-a", "deb") { With = ["rig-cycle-b"] });

        Assert.True(both.Outcome == CommandOutcome.Succeeded, both.Error);
        Assert.Equal("removed rig-cycle-a 1.0, rig-cycle-b 1.0 with dpkg in one run (purged, configuration files included)", both.Output);
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-cycle-a"));
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-cycle-b"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
        Assert.DoesNotContain(_platform.Database.Snapshot.Packages, p => p.Name.StartsWith("rig-cycle-", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(fixture.Root, "usr/share/rig-cycle-a")));
    }

    [Fact]
    public async Task A_set_whose_member_fails_to_configure_is_purged_again_whole_and_the_error_names_what_was_purged()
    {
        using var executor = new OfflineExecutor(_platform);
        var a = executor.Cached("rig-cyfail-a", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-cyfail-a", "1.0", depends: "rig-cyfail-b"));
        var b = executor.Cached("rig-cyfail-b", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-cyfail-b", "1.0", depends: "rig-cyfail-a",
            postinst: "#!/bin/sh\necho 'rig test: b refuses to configure' >&2\nexit 7\n"));

        var result = await executor.RunAsync(new InstallCommand(a, "app") { With = [b] });

        Assert.Equal((CommandOutcome.Failed, "install-failed"), (result.Outcome, result.ErrorCode));
        Assert.Contains("dpkg could not install rig-cyfail-a 1.0 and rig-cyfail-b 1.0", result.Error, StringComparison.Ordinal);
        Assert.Contains("rig test: b refuses to configure", result.Error, StringComparison.Ordinal);
        Assert.Contains("Purged again (they were not installed before): rig-cyfail-a and rig-cyfail-b.", result.Error, StringComparison.Ordinal);
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-cyfail-a"));
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-cyfail-b"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
        Assert.DoesNotContain(_platform.Database.Snapshot.Packages, p => p.Name.StartsWith("rig-cyfail-", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(fixture.Root, "usr/share/rig-cyfail-a")));
    }

    [Fact]
    public async Task A_set_is_checked_against_what_is_installed_plus_the_set_and_a_need_outside_it_installs_nothing()
    {
        using var executor = new OfflineExecutor(_platform);
        var a = executor.Cached("rig-cyneed-a", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-cyneed-a", "1.0", depends: "rig-cyneed-b (>= 2)"));
        var b = executor.Cached("rig-cyneed-b", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-cyneed-b", "1.0", depends: "rig-cyneed-a, rig-no-such-package"));

        var result = await executor.RunAsync(new InstallCommand(a, "app") { With = [b] });

        Assert.Equal((CommandOutcome.Failed, "missing-dependency"), (result.Outcome, result.ErrorCode));
        Assert.Contains("rig-cyneed-a 1.0 and rig-cyneed-b 1.0, installed together:", result.Error, StringComparison.Ordinal);
        Assert.Contains("rig-cyneed-a needs rig-cyneed-b (>= 2) (installed: rig-cyneed-b 1.0)", result.Error, StringComparison.Ordinal); // the set's own version counts
        Assert.Contains("rig-cyneed-b needs rig-no-such-package (not installed)", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("needs rig-cyneed-a", result.Error, StringComparison.Ordinal); // met by the set
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-cyneed-a"));
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-cyneed-b"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
    }

    [Fact]
    public async Task A_pre_dependency_on_another_member_of_the_set_is_refused_since_dpkg_cannot_meet_it_in_one_run()
    {
        using var executor = new OfflineExecutor(_platform);
        var a = executor.Cached("rig-pre-a", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-pre-a", "1.0", preDepends: "rig-pre-b, libc6"));
        var b = executor.Cached("rig-pre-b", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-pre-b", "1.0", depends: "rig-pre-a"));

        var result = await executor.RunAsync(new InstallCommand(b, "app") { With = [a] });

        Assert.Equal((CommandOutcome.Failed, "missing-dependency"), (result.Outcome, result.ErrorCode));
        Assert.Contains("rig-pre-a pre-depends on rig-pre-b (not installed), which must be configured before this set is unpacked: install it in an earlier command",
            result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("libc6", result.Error, StringComparison.Ordinal); // configured already: met
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-pre-a"));
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-pre-b"));
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
    }

    [Fact]
    public async Task With_lists_that_are_not_a_valid_set_are_refused_before_anything_is_fetched_or_changed()
    {
        using var executor = new OfflineExecutor(_platform);
        var kept = executor.Cached("rig-with-kept", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-with-kept", "1.0"));
        Assert.Equal(CommandOutcome.Succeeded, (await executor.RunAsync(new InstallCommand(kept, "app"))).Outcome);
        var main = executor.Cached("rig-with-main", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-with-main", "1.0"));
        // Never cached: fetching it would wait for the absent gateway until the stop below.
        var other = Native.Ref("rig-with-other", "1.0", "deb", await Native.BuildDebAsync(fixture.Scratch, "rig-with-other", "1.0"));
        var before = _platform.Database.Snapshot.Packages.Select(p => p.Name).Order(StringComparer.Ordinal).ToList();

        (CommandSpec Spec, string Why)[] refused =
        [
            (new InstallCommand(main, "app") { With = [other with { Format = "rpm" }] }, "a 'rpm' package, rig-with-main a 'deb' one"),
            (new InstallCommand(main, "app") { With = [other, other] }, "rig-with-other is named twice"),
            (new InstallCommand(main, "app") { With = [other, main] }, "rig-with-main is named twice"),
            (new InstallCommand(main, "app") { With = [other with { Name = "--force-all" }] }, "package '--force-all' '1.0'"),
            (new InstallCommand(main, "app") { With = [other with { Sha256 = "../../etc/passwd" }] }, "name, version or digest is not allowed"),
            (new InstallCommand(main, "app") { With = [.. Enumerable.Range(0, 65).Select(i => other with { Name = $"rig-with-{i}" })] }, "at most 64 packages"),
            (new RemoveCommand("rig-with-kept", "deb") { With = ["-a"] }, "'-a' is not a package name"),
            (new RemoveCommand("rig-with-kept", "deb") { With = ["rig-with-kept"] }, "rig-with-kept is named twice"),
            (new RemoveCommand("rig-with-kept", "deb") { With = [.. Enumerable.Range(0, 65).Select(i => $"rig-with-{i}")] }, "at most 64 packages"),
        ];
        foreach (var (spec, why) in refused)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var result = await executor.RunAsync(spec, stop.Token); // a download attempt would end in OperationCanceledException

            Assert.Equal((CommandOutcome.Failed, "bad-package"), (result.Outcome, result.ErrorCode));
            Assert.Contains(why, result.Error, StringComparison.Ordinal);
            Assert.Contains("Nothing was", result.Error, StringComparison.Ordinal);
        }

        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-with-main"));
        Assert.Null(await Native.DpkgStatusAsync(fixture.Root, "rig-with-other"));
        Assert.Equal("install ok installed 1.0", await Native.DpkgStatusAsync(fixture.Root, "rig-with-kept"));
        Assert.Equal(before, _platform.Database.Snapshot.Packages.Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(executor.Paths.Cache, other.Sha256)), "nothing was downloaded");
        Assert.Equal("", await Native.DpkgAuditAsync(fixture.Root));
    }

    [Fact]
    public async Task A_root_without_a_dpkg_database_is_refused_with_the_reason()
    {
        using var empty = new TempDirectory();
        var blob = await Native.BuildDebAsync(fixture.Scratch, "rig-nowhere", "1.0");
        var deb = Native.Platform(empty.Path).Installers["deb"];

        var error = await Assert.ThrowsAsync<CommandFailedException>(() => deb.InstallAsync(Native.Ref("rig-nowhere", "1.0", "deb", blob), blob, Work, CancellationToken.None));

        Assert.Equal("no-package-database", error.Code);
        Assert.Contains($"'{empty.Path}/var/lib/dpkg/status' does not exist", error.Message, StringComparison.Ordinal);
    }
}
