using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Rig.Agent.Components;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Sandbox;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;
using static Rig.Agent.Tests.TestFiles;

namespace Rig.Agent.Tests;

/// <summary>CHECKLIST 13 and 16 through the executor: config files are checked and written atomically, only
/// managed files are deleted, installs use only verified blobs, and the inventory reports what is on disk now.</summary>
public sealed class CommandExecutorTests : IDisposable
{
    // Fast retries and a short connect timeout: the gateway below is never there.
    private static readonly RigLimits Limits = RigLimits.Default with
    {
        RetryInitialDelay = TimeSpan.FromMilliseconds(1),
        RetryMaxDelay = TimeSpan.FromMilliseconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(2),
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    private readonly TempDirectory _dir = new();
    private readonly string _root;
    private readonly AgentPaths _paths;
    private readonly SandboxPlatform _platform;
    private readonly CommandExecutor _executor;
    private readonly X509Certificate2 _ca;
    private readonly GatewayClient _unusedGateway;
    private int _commands;

    public CommandExecutorTests()
    {
        _root = _dir.Sub("root");
        _paths = new AgentPaths(_dir.Sub("state"));
        _platform = new SandboxPlatform(_root, "dev1", ["/etc", "/opt"], Limits);
        _executor = new CommandExecutor(_platform, _paths, Limits);
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            _ca = new CertificateRequest("CN=unused test CA", key, HashAlgorithmName.SHA256)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        _unusedGateway = new GatewayClient(new Uri($"https://127.0.0.1:{UnusedPort()}"), null, _ca, Limits);
    }

    public void Dispose()
    {
        _unusedGateway.Dispose();
        _ca.Dispose();
        _dir.Dispose();
    }

    private static int UnusedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken stop = default)
    {
        var id = $"cmd-{++_commands}";
        return _executor.ExecuteAsync(new Command { Id = id, QueueId = "q1", Sequence = _commands - 1, QueueLength = 10, Spec = spec }, _unusedGateway, stop);
    }

    private static WriteFileCommand Write(string path, string content, string mode = "0644") =>
        new(path, content, Sha256(content), mode, "root", "root");

    private static void AssertSucceeded(CommandResult result) =>
        Assert.True(result.Outcome == CommandOutcome.Succeeded, $"expected success, got {result.ErrorCode}: {result.Error}");

    private static void AssertFailed(string code, CommandResult result)
    {
        Assert.Equal(CommandOutcome.Failed, result.Outcome);
        Assert.Equal(code, result.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(result.Error));
    }

    /// <summary>A package blob put in the agent's cache under its digest, as a previous download would have.</summary>
    private PackageRef Cached(string name, string version, params ArchiveInput[] files)
    {
        Directory.CreateDirectory(_paths.Cache);
        return Store(_paths.Cache, name, version, Archive(name, version, files)).Package;
    }

    // ---- write-file ------------------------------------------------------------------------

    [Fact]
    public async Task Write_file_writes_atomically_and_records_the_managed_file()
    {
        var result = await RunAsync(Write("/etc/app/app.conf", "port=80\n", "0640"));

        AssertSucceeded(result);
        var host = Host(_root, "/etc/app/app.conf");
        Assert.Equal("port=80\n", File.ReadAllText(host));
        Assert.Equal((UnixFileMode)Convert.ToInt32("0640", 8), File.GetUnixFileMode(host));
        Assert.Equal(["app.conf"], Directory.GetFileSystemEntries(Path.GetDirectoryName(host)!).Select(Path.GetFileName)); // no temp file
        var record = Assert.Single(_platform.Database.Snapshot.Files);
        Assert.Equal(new ManagedFileRecord("/etc/app/app.conf", Sha256("port=80\n"), "0640", "root", "root"), record);
    }

    [Fact]
    public async Task Write_file_again_replaces_the_content_and_the_record()
    {
        AssertSucceeded(await RunAsync(Write("/etc/app.conf", "one")));

        AssertSucceeded(await RunAsync(Write("/etc/app.conf", "two", "0600")));

        Assert.Equal("two", File.ReadAllText(Host(_root, "/etc/app.conf")));
        var record = Assert.Single(_platform.Database.Snapshot.Files);
        Assert.Equal(Sha256("two"), record.Sha256);
        Assert.Equal("0600", record.Mode);
    }

    [Fact]
    public async Task Content_whose_digest_differs_from_the_command_is_refused_and_nothing_is_written()
    {
        AssertSucceeded(await RunAsync(Write("/etc/app.conf", "original")));
        var before = Snapshot(_root);

        var result = await RunAsync(new WriteFileCommand("/etc/app.conf", "tampered", Sha256("original"), "0644", "root", "root"));
        var fresh = await RunAsync(new WriteFileCommand("/etc/new.conf", "tampered", Sha256("something else"), "0644", "root", "root"));

        AssertFailed("digest-mismatch", result);
        Assert.Contains(Sha256("tampered"), result.Error, StringComparison.Ordinal);
        Assert.Contains(Sha256("original"), result.Error, StringComparison.Ordinal);
        AssertFailed("digest-mismatch", fresh);
        AssertUnchanged(before, Snapshot(_root));
        Assert.Equal(Sha256("original"), Assert.Single(_platform.Database.Snapshot.Files).Sha256);
    }

    [Fact]
    public async Task Write_file_target_that_is_a_symlink_is_refused_and_the_link_is_unchanged()
    {
        Put(_root, "/srv/real.conf", "original");
        Link(_root, "/etc/app.conf", "/srv/real.conf");
        var before = Snapshot(_root);

        var result = await RunAsync(Write("/etc/app.conf", "written through the link"));

        AssertFailed("link-target", result);
        Assert.Equal("/srv/real.conf", new FileInfo(Host(_root, "/etc/app.conf")).LinkTarget);
        Assert.Equal("original", File.ReadAllText(Host(_root, "/srv/real.conf")));
        AssertUnchanged(before, Snapshot(_root));
        Assert.Empty(_platform.Database.Snapshot.Files);
    }

    [Theory]
    [InlineData("/usr/bin/evil")]
    [InlineData("/root/.ssh/authorized_keys")]
    [InlineData("/etc/app.d/escape.conf")] // /etc/app.d -> /usr/lib (set up below)
    public async Task Write_file_target_outside_the_allowed_roots_is_refused(string path)
    {
        Directory.CreateDirectory(Host(_root, "/usr/lib"));
        Link(_root, "/etc/app.d", "/usr/lib");
        var before = Snapshot(_root);

        var result = await RunAsync(Write(path, "evil"));

        AssertFailed("outside-allowed-roots", result);
        AssertUnchanged(before, Snapshot(_root));
        Assert.Empty(_platform.Database.Snapshot.Files);
    }

    [Theory]
    [InlineData("etc/app.conf")]
    [InlineData("/etc/../usr/bin/evil")]
    [InlineData("/etc/app\n.conf")]
    public async Task Write_file_with_an_unsafe_path_is_refused(string path)
    {
        var result = await RunAsync(Write(path, "evil"));

        AssertFailed("bad-path", result);
        Assert.Empty(Snapshot(_root));
    }

    [Theory]
    [InlineData("4755")]
    [InlineData("2755")]
    [InlineData("6777")]
    [InlineData("0x1ff")]
    [InlineData("rwxr-xr-x")]
    [InlineData("75")]
    [InlineData("00644")]
    [InlineData("0844")]
    [InlineData("-644")]
    public async Task Write_file_with_a_setuid_or_malformed_mode_is_refused(string mode)
    {
        var result = await RunAsync(Write("/opt/app/run", "#!/bin/sh\n", mode));

        AssertFailed("bad-mode", result);
        Assert.Contains(mode, result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Host(_root, "/opt/app/run")));
        Assert.Empty(_platform.Database.Snapshot.Files);
    }

    [Theory]
    [InlineData("root;rm -rf /", "root")]
    [InlineData("root", "$(id)")]
    [InlineData("-oops", "root")]
    public async Task Write_file_with_a_bad_owner_or_group_is_refused(string owner, string group)
    {
        var result = await RunAsync(new WriteFileCommand("/etc/app.conf", "x", Sha256("x"), "0644", owner, group));

        AssertFailed("bad-owner", result);
        Assert.Empty(Snapshot(_root));
    }

    [Fact]
    public async Task Write_file_over_a_directory_is_refused()
    {
        Put(_root, "/etc/app.conf/inside", "keep");

        AssertFailed("is-directory", await RunAsync(Write("/etc/app.conf", "x")));

        Assert.Equal("keep", File.ReadAllText(Host(_root, "/etc/app.conf/inside")));
    }

    [Fact]
    public async Task Write_file_larger_than_the_limit_is_refused()
    {
        var executor = new CommandExecutor(_platform, _paths, Limits with { MaxConfigFileBytes = 16 });
        var content = new string('x', 17);

        var result = await executor.ExecuteAsync(new Command { Id = "big", QueueId = "q", Sequence = 0, Spec = Write("/etc/big.conf", content) }, _unusedGateway, CancellationToken.None);

        AssertFailed("too-large", result);
        Assert.False(File.Exists(Host(_root, "/etc/big.conf")));
    }

    // ---- delete-file -----------------------------------------------------------------------

    [Fact]
    public async Task Delete_file_that_Rig_did_not_write_is_refused_and_the_file_stays()
    {
        Put(_root, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");

        var result = await RunAsync(new DeleteFileCommand("/etc/passwd"));

        AssertFailed("not-managed", result);
        Assert.Equal("root:x:0:0::/root:/bin/sh\n", File.ReadAllText(Host(_root, "/etc/passwd")));
    }

    [Fact]
    public async Task Delete_file_removes_a_managed_file_and_its_record()
    {
        AssertSucceeded(await RunAsync(Write("/etc/app.conf", "x")));
        AssertSucceeded(await RunAsync(Write("/etc/other.conf", "y")));

        AssertSucceeded(await RunAsync(new DeleteFileCommand("/etc/app.conf")));

        Assert.False(File.Exists(Host(_root, "/etc/app.conf")));
        Assert.Equal("/etc/other.conf", Assert.Single(_platform.Database.Snapshot.Files).Path);
        AssertFailed("not-managed", await RunAsync(new DeleteFileCommand("/etc/app.conf"))); // and it is no longer ours
    }

    [Fact]
    public async Task Delete_of_a_managed_file_replaced_by_a_symlink_removes_the_link_not_its_target()
    {
        AssertSucceeded(await RunAsync(Write("/etc/app.conf", "x")));
        Put(_root, "/srv/precious", "precious");
        File.Delete(Host(_root, "/etc/app.conf"));
        Link(_root, "/etc/app.conf", "/srv/precious");

        AssertSucceeded(await RunAsync(new DeleteFileCommand("/etc/app.conf")));

        Assert.False(File.Exists(Host(_root, "/etc/app.conf")) || new FileInfo(Host(_root, "/etc/app.conf")).LinkTarget is not null);
        Assert.Equal("precious", File.ReadAllText(Host(_root, "/srv/precious")));
    }

    // ---- service ---------------------------------------------------------------------------

    [Fact]
    public async Task Service_commands_are_recorded_in_the_sandbox()
    {
        AssertSucceeded(await RunAsync(new ServiceCommand("nginx", ServiceAction.Start)));
        AssertSucceeded(await RunAsync(new ServiceCommand("nginx", ServiceAction.Enable)));
        AssertSucceeded(await RunAsync(new ServiceCommand("redis", ServiceAction.Enable)));
        AssertSucceeded(await RunAsync(new ServiceCommand("redis", ServiceAction.Restart)));
        AssertSucceeded(await RunAsync(new ServiceCommand("redis", ServiceAction.Stop)));
        AssertSucceeded(await RunAsync(new ServiceCommand("redis", ServiceAction.Disable)));

        Assert.Equal([new ServiceState("nginx", true, true), new ServiceState("redis", false, false)], await _platform.Services.ListAsync(default));
        var reopened = new SandboxPlatform(_root, "dev1", ["/etc"], Limits);
        Assert.Equal(await _platform.Services.ListAsync(default), await reopened.Services.ListAsync(default));
    }

    [Fact]
    public async Task Service_with_a_bad_name_is_refused()
    {
        AssertFailed("bad-service", await RunAsync(new ServiceCommand("nginx;reboot", ServiceAction.Start)));

        Assert.Empty(await _platform.Services.ListAsync(default));
    }

    // ---- install ---------------------------------------------------------------------------

    [Fact]
    public async Task Install_uses_a_cached_blob_whose_digest_matches_without_downloading()
    {
        var package = Cached("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("hello"), "0640"));

        var result = await RunAsync(new InstallCommand(package, "web"));

        AssertSucceeded(result); // the gateway does not exist: success means no download was tried
        Assert.Equal("hello", File.ReadAllText(Host(_root, "/opt/app/app.txt")));
        Assert.Equal((UnixFileMode)Convert.ToInt32("0640", 8), File.GetUnixFileMode(Host(_root, "/opt/app/app.txt")));
        var record = Assert.Single(_platform.Database.Snapshot.Packages);
        Assert.Equal(("app", "1.0", package.Sha256), (record.Name, record.Version, record.Sha256));
        var staging = Host(_root, "/var/lib/rig/staging");
        Assert.True(!Directory.Exists(staging) || Directory.GetFileSystemEntries(staging).Length == 0);
    }

    [Fact]
    public async Task Cached_blob_whose_content_does_not_match_its_name_is_downloaded_again_and_never_installed()
    {
        var package = Cached("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("hello")));
        var evil = Archive("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("evil")));
        File.WriteAllBytes(Path.Combine(_paths.Cache, package.Sha256), evil); // a corrupted or planted cache entry
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        // The planted entry is not used: the agent goes to the gateway (away here) until it is stopped.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunAsync(new InstallCommand(package, "web"), stop.Token));

        Assert.False(Directory.Exists(Host(_root, "/opt")));
        Assert.Empty(_platform.Database.Snapshot.Packages);
    }

    [Theory]
    [InlineData("app;reboot", "1.0", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("-app", "1.0", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("app", "$(id)", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("app", "1.0", "../../../../etc/passwd")]
    [InlineData("app", "1.0", "00000000000000000000000000000000000000000000000000000000000000AA")]
    public async Task Install_of_a_package_with_an_unsafe_name_version_or_digest_is_refused(string name, string version, string sha)
    {
        var result = await RunAsync(new InstallCommand(new PackageRef(name, version, PackageFormats.RigArchive, sha, 10), "web"));

        AssertFailed("bad-package", result);
        Assert.Empty(Snapshot(_root));
    }

    [Fact]
    public async Task Install_of_a_format_the_platform_cannot_install_is_refused()
    {
        var package = Cached("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("hello")));

        AssertFailed("unsupported-format", await RunAsync(new InstallCommand(package with { Format = PackageFormats.Deb }, "web")));

        Assert.Empty(_platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task Remove_command_removes_an_installed_package()
    {
        AssertSucceeded(await RunAsync(new InstallCommand(Cached("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("hello"))), "web")));

        AssertSucceeded(await RunAsync(new RemoveCommand("app", PackageFormats.RigArchive)));

        Assert.False(File.Exists(Host(_root, "/opt/app/app.txt")));
        Assert.Empty(_platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task Rig_archives_sent_together_are_refused_before_anything_is_installed_or_removed()
    {
        var app = Cached("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("app")));
        var tool = Cached("tool", "1.0", new ArchiveInput("/opt/tool/tool.txt", Utf8("tool")));

        var install = await RunAsync(new InstallCommand(app, "web") { With = [tool] });

        AssertFailed("unsupported", install);
        Assert.Contains("installs 'rig' packages one at a time; refusing install app 1.0 with tool 1.0", install.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Host(_root, "/opt")));
        Assert.Empty(_platform.Database.Snapshot.Packages);

        AssertSucceeded(await RunAsync(new InstallCommand(app, "web")));
        AssertSucceeded(await RunAsync(new InstallCommand(tool, "web")));
        var remove = await RunAsync(new RemoveCommand("app", PackageFormats.RigArchive) { With = ["tool"] });

        AssertFailed("unsupported", remove);
        Assert.True(File.Exists(Host(_root, "/opt/app/app.txt")) && File.Exists(Host(_root, "/opt/tool/tool.txt")), "nothing was removed");
        Assert.Equal(["app", "tool"], _platform.Database.Snapshot.Packages.Select(p => p.Name).Order(StringComparer.Ordinal));
        var direct = await Assert.ThrowsAsync<CommandFailedException>(() => _platform.Installers[PackageFormats.RigArchive].RemoveAsync(["app", "tool"], CancellationToken.None));
        Assert.Equal("unsupported", direct.Code);
        Assert.Equal(2, _platform.Database.Snapshot.Packages.Count);
    }

    [Fact]
    public async Task An_empty_with_is_the_single_package_command()
    {
        var app = Cached("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("app")));

        AssertSucceeded(await RunAsync(new InstallCommand(app, "web") { With = [] }));
        AssertSucceeded(await RunAsync(new RemoveCommand("app", PackageFormats.RigArchive) { With = [] }));

        Assert.Empty(_platform.Database.Snapshot.Packages);
    }

    // ---- inventory -------------------------------------------------------------------------

    [Fact]
    public async Task Inventory_reports_packages_services_boots_and_the_current_digest_of_managed_files()
    {
        var package = Cached("app", "1.0", new ArchiveInput("/opt/app/app.txt", Utf8("hello")));
        AssertSucceeded(await RunAsync(new InstallCommand(package, "web")));
        AssertSucceeded(await RunAsync(Write("/etc/app/a.conf", "a=1\n", "0600")));
        AssertSucceeded(await RunAsync(Write("/etc/app/b.conf", "b=1\n")));
        AssertSucceeded(await RunAsync(Write("/etc/app/c.conf", "c=1\n")));
        AssertSucceeded(await RunAsync(new ServiceCommand("app", ServiceAction.Start)));
        _platform.RecordBoot();
        _platform.RecordBoot();

        var untouched = await RunAsync(new InventoryCommand());
        File.WriteAllText(Host(_root, "/etc/app/b.conf"), "b=2\n"); // changed behind Rig's back
        File.Delete(Host(_root, "/etc/app/c.conf"));                // deleted behind Rig's back
        var drifted = await RunAsync(new InventoryCommand());

        AssertSucceeded(untouched);
        var before = untouched.Inventory;
        Assert.NotNull(before);
        Assert.Equal("dev1", before.Hostname);
        Assert.Equal("sandbox", before.Platform);
        Assert.Equal(2, before.BootCount);
        Assert.Equal([new InstalledPackage("app", "1.0", PackageFormats.RigArchive, package.Sha256)], before.Packages);
        Assert.Equal([new ServiceState("app", true, false)], before.Services);
        Assert.Equal(
            [
                new ManagedFile("/etc/app/a.conf", Sha256("a=1\n"), "0600", "root", "root"),
                new ManagedFile("/etc/app/b.conf", Sha256("b=1\n"), "0644", "root", "root"),
                new ManagedFile("/etc/app/c.conf", Sha256("c=1\n"), "0644", "root", "root"),
            ],
            before.Files);

        AssertSucceeded(drifted);
        var after = drifted.Inventory;
        Assert.NotNull(after);
        Assert.Equal(
            [
                new ManagedFile("/etc/app/a.conf", Sha256("a=1\n"), "0600", "root", "root"),
                new ManagedFile("/etc/app/b.conf", Sha256("b=2\n"), "0644", "root", "root"),
                new ManagedFile("/etc/app/c.conf", Inventory.Missing, "0644", "root", "root"),
            ],
            after.Files);
    }

    [Fact]
    public async Task Inventory_does_not_read_a_managed_file_replaced_by_a_symlink()
    {
        AssertSucceeded(await RunAsync(Write("/etc/app.conf", "x")));
        Put(_root, "/srv/secret", "secret");
        File.Delete(Host(_root, "/etc/app.conf"));
        Link(_root, "/etc/app.conf", "/srv/secret");

        var result = await RunAsync(new InventoryCommand());

        AssertSucceeded(result);
        Assert.Equal(Inventory.Missing, Assert.Single(result.Inventory!.Files).Sha256);
    }
}
