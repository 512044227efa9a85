using System.Formats.Tar;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Sandbox;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;
using static Rig.Agent.Tests.TestFiles;

namespace Rig.Agent.Tests;

/// <summary>CHECKLIST 10-12 for the Archive plug-in on the sandbox platform: packages land under the root with
/// their modes and are recorded; upgrades drop old files; a package never overwrites another's files; a hostile
/// archive is refused before anything is written.</summary>
public sealed class ArchiveInstallerTests : IDisposable
{
    private static readonly RigLimits Limits = RigLimits.Default;
    private readonly TempDirectory _dir = new();
    private readonly string _root;
    private readonly string _blobs;
    private readonly SandboxPlatform _platform;
    private readonly IPackageInstaller _installer;
    private int _commands;

    public ArchiveInstallerTests()
    {
        _root = _dir.Sub("root");
        _blobs = _dir.Sub("blobs");
        _platform = new SandboxPlatform(_root, "dev1", ["/etc", "/opt"], Limits);
        _installer = _platform.Installers[PackageFormats.RigArchive];
        Directory.CreateDirectory(StagingRoot); // the agent's own bookkeeping directory, there after its first install
    }

    public void Dispose() => _dir.Dispose();

    private static ArchiveInput In(string path, string content, string mode = "0644") => new(path, Utf8(content), mode);

    private string NewWorkDirectory() => _platform.Files.Internal($"/var/lib/rig/staging/cmd-{++_commands}");

    private (PackageRef Package, string Path) Blob(string name, string version, params ArchiveInput[] files) =>
        Store(_blobs, name, version, Archive(name, version, files));

    private Task<string> InstallAsync((PackageRef Package, string Path) blob) =>
        _installer.InstallAsync(blob.Package, blob.Path, NewWorkDirectory(), CancellationToken.None);

    private InstalledPackageRecord? Record(string name) => _platform.Database.Snapshot.Packages.SingleOrDefault(p => p.Name == name);

    private string StagingRoot => Host(_root, "/var/lib/rig/staging");

    private void AssertNoStaging() =>
        Assert.True(!Directory.Exists(StagingRoot) || Directory.GetFileSystemEntries(StagingRoot).Length == 0, "the staging directory was left behind");

    [Fact]
    public async Task Package_lands_under_the_root_with_content_and_modes_and_is_recorded()
    {
        var blob = Blob("app", "1.0",
            In("/opt/app/bin/app", "#!/bin/sh\necho app\n", "0755"),
            In("/opt/app/share/index.html", "<h1>app</h1>"),
            In("/etc/app/app.conf", "port=80\n", "0600"));

        var output = await InstallAsync(blob);

        Assert.Contains("installed app 1.0", output, StringComparison.Ordinal);
        Assert.Equal("#!/bin/sh\necho app\n", File.ReadAllText(Host(_root, "/opt/app/bin/app")));
        Assert.Equal("<h1>app</h1>", File.ReadAllText(Host(_root, "/opt/app/share/index.html")));
        Assert.Equal("port=80\n", File.ReadAllText(Host(_root, "/etc/app/app.conf")));
        Assert.Equal((UnixFileMode)Convert.ToInt32("0755", 8), File.GetUnixFileMode(Host(_root, "/opt/app/bin/app")));
        Assert.Equal((UnixFileMode)Convert.ToInt32("0644", 8), File.GetUnixFileMode(Host(_root, "/opt/app/share/index.html")));
        Assert.Equal((UnixFileMode)Convert.ToInt32("0600", 8), File.GetUnixFileMode(Host(_root, "/etc/app/app.conf")));

        var record = Record("app");
        Assert.NotNull(record);
        Assert.Equal("1.0", record.Version);
        Assert.Equal(PackageFormats.RigArchive, record.Format);
        Assert.Equal(blob.Package.Sha256, record.Sha256);
        Assert.Equal(["/etc/app/app.conf", "/opt/app/bin/app", "/opt/app/share/index.html"], record.Files.Order(StringComparer.Ordinal));
        AssertNoStaging();

        // The record is on disk: a new platform over the same root sees it.
        var reopened = new SandboxPlatform(_root, "dev1", ["/etc", "/opt"], Limits);
        Assert.Equal("1.0", reopened.Database.Snapshot.Packages.Single(p => p.Name == "app").Version);
    }

    [Fact]
    public async Task Upgrade_replaces_changed_files_and_removes_files_the_new_version_no_longer_has()
    {
        await InstallAsync(Blob("app", "1.0", In("/opt/app/a.txt", "a1"), In("/opt/app/old.txt", "old")));
        var v2 = Blob("app", "2.0", In("/opt/app/a.txt", "a2"), In("/opt/app/new.txt", "new"));

        var output = await InstallAsync(v2);

        Assert.Contains("upgraded from 1.0 to app 2.0", output, StringComparison.Ordinal);
        Assert.Equal("a2", File.ReadAllText(Host(_root, "/opt/app/a.txt")));
        Assert.Equal("new", File.ReadAllText(Host(_root, "/opt/app/new.txt")));
        Assert.False(File.Exists(Host(_root, "/opt/app/old.txt")));
        var record = Record("app");
        Assert.NotNull(record);
        Assert.Equal("2.0", record.Version);
        Assert.Equal(v2.Package.Sha256, record.Sha256);
        Assert.Equal(["/opt/app/a.txt", "/opt/app/new.txt"], record.Files.Order(StringComparer.Ordinal));
        Assert.Single(_platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task Reinstalling_the_same_version_keeps_every_file()
    {
        var blob = Blob("app", "1.0", In("/opt/app/a.txt", "a"), In("/opt/app/b.txt", "b"));
        await InstallAsync(blob);

        await InstallAsync(blob);

        Assert.Equal("a", File.ReadAllText(Host(_root, "/opt/app/a.txt")));
        Assert.Equal("b", File.ReadAllText(Host(_root, "/opt/app/b.txt")));
        Assert.Equal(2, Record("app")!.Files.Count);
    }

    [Fact]
    public async Task File_owned_by_another_package_is_a_conflict_and_nothing_of_the_second_package_is_written()
    {
        await InstallAsync(Blob("liba", "1.0", In("/opt/shared/lib.so", "liba's")));
        var other = Blob("libb", "1.0", In("/opt/libb/own.txt", "b"), In("/opt/shared/lib.so", "libb's"), In("/opt/zz/last.txt", "z"));
        var before = Snapshot(_dir.Path);

        var e = await AssertFailsAsync("file-conflict", () => InstallAsync(other));

        Assert.Contains("/opt/shared/lib.so", e.Message, StringComparison.Ordinal);
        Assert.Contains("liba", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before, Snapshot(_dir.Path));
        Assert.Equal("liba's", File.ReadAllText(Host(_root, "/opt/shared/lib.so")));
        Assert.Null(Record("libb"));
    }

    [Fact]
    public async Task File_owned_by_another_package_through_a_symlinked_directory_is_a_conflict()
    {
        Directory.CreateDirectory(Host(_root, "/usr/bin"));
        Link(_root, "/bin", "usr/bin"); // merged /usr: /bin/tool and /usr/bin/tool are the same file
        await InstallAsync(Blob("tools-a", "1.0", In("/usr/bin/tool", "a's tool")));
        var other = Blob("tools-b", "1.0", In("/bin/tool", "b's tool"));
        var before = Snapshot(_dir.Path);

        await AssertFailsAsync("file-conflict", () => InstallAsync(other));

        AssertUnchanged(before, Snapshot(_dir.Path));
        Assert.Equal("a's tool", File.ReadAllText(Host(_root, "/usr/bin/tool")));
        Assert.Null(Record("tools-b"));
    }

    [Fact]
    public async Task Upgrade_that_moves_a_file_to_a_symlinked_alias_keeps_the_file()
    {
        Directory.CreateDirectory(Host(_root, "/usr/bin"));
        Link(_root, "/bin", "usr/bin");
        await InstallAsync(Blob("tools", "1.0", In("/usr/bin/tool", "v1")));

        await InstallAsync(Blob("tools", "2.0", In("/bin/tool", "v2"))); // same file, new name: not stale

        Assert.Equal("v2", File.ReadAllText(Host(_root, "/usr/bin/tool")));
        Assert.Equal(["/bin/tool"], Record("tools")!.Files);
    }

    [Fact]
    public async Task Package_link_where_the_device_has_a_directory_is_refused_before_anything_is_written()
    {
        Put(_root, "/opt/app/zz/data.txt", "device data");
        var blob = Store(_blobs, "app", "1.0", new HandMadeArchive()
            .File("files/opt/app/aa.txt", "aa")
            .Entry(TarEntryType.SymbolicLink, "files/opt/app/zz", linkName: "aa.txt")
            .Build("app", "1.0"));
        var before = Snapshot(_dir.Path);

        await AssertFailsAsync("file-conflict", () => InstallAsync(blob));

        AssertUnchanged(before, Snapshot(_dir.Path));
    }

    [Fact]
    public async Task Device_directory_where_the_package_has_a_file_is_refused_before_anything_is_written()
    {
        Put(_root, "/opt/app/zz/data.txt", "device data"); // /opt/app/zz is a directory on the device
        var blob = Blob("app", "1.0", In("/opt/app/aa.txt", "aa"), In("/opt/app/zz", "a file"));
        var before = Snapshot(_dir.Path);

        await AssertFailsAsync("file-conflict", () => InstallAsync(blob));

        AssertUnchanged(before, Snapshot(_dir.Path));
        Assert.Null(Record("app"));
    }

    [Fact]
    public async Task Remove_deletes_the_package_files_and_its_record()
    {
        await InstallAsync(Blob("keep", "1.0", In("/opt/keep/k.txt", "k")));
        await InstallAsync(Blob("app", "1.0", In("/opt/app/a.txt", "a"), In("/etc/app.conf", "c")));

        var output = await _installer.RemoveAsync("app", CancellationToken.None);

        Assert.Contains("removed app 1.0", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Host(_root, "/opt/app/a.txt")));
        Assert.False(File.Exists(Host(_root, "/etc/app.conf")));
        Assert.Null(Record("app"));
        Assert.Equal("k", File.ReadAllText(Host(_root, "/opt/keep/k.txt")));
        Assert.NotNull(Record("keep"));

        var again = await _installer.RemoveAsync("app", CancellationToken.None);
        Assert.Contains("not installed", again, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("other", "1.0")]
    [InlineData("app", "2.0")]
    public async Task Blob_holding_another_package_or_version_is_refused(string blobName, string blobVersion)
    {
        var blob = Store(_blobs, blobName, blobVersion, Archive(blobName, blobVersion, In("/opt/app/a.txt", "a")));
        var command = blob with { Package = blob.Package with { Name = "app", Version = "1.0" } };
        var before = Snapshot(_root);

        var e = await AssertFailsAsync("package-mismatch", () => InstallAsync(command));

        Assert.Contains(blobName, e.Message, StringComparison.Ordinal);
        AssertUnchanged(before, Snapshot(_root));
        Assert.Empty(_platform.Database.Snapshot.Packages);
    }

    public static TheoryData<string, string> HostileArchives => new()
    {
        { "dot-dot", "path-traversal" },
        { "dot-dot-inside", "path-traversal" },
        { "absolute", "absolute-path" },
        { "backslash", "bad-path" },
        { "symlink-up", "link-escape" },
        { "symlink-absolute", "link-escape" },
        { "hardlink-outside", "path-traversal" },
        { "hardlink-absolute", "absolute-path" },
        { "setuid", "setuid" },
        { "char-device", "special-file" },
        { "fifo", "special-file" },
        { "outside-files", "bad-format" },
        { "unlisted-file", "bad-manifest" },
        { "write-through-own-symlink", "link-escape" },
    };

    private const string AbsoluteEvil = "/tmp/rig-agent-tests-absolute-entry";

    private static byte[] Hostile(string kind)
    {
        // Every archive starts with a harmless file, so an installer writing while it reads would leave it behind.
        var archive = new HandMadeArchive().File("files/opt/app/harmless.txt", "harmless");
        _ = kind switch
        {
            "dot-dot" => archive.Entry(TarEntryType.RegularFile, "files/../../evil", content: "evil"),
            "dot-dot-inside" => archive.Entry(TarEntryType.RegularFile, "files/opt/../../../../evil", content: "evil"),
            "absolute" => archive.Entry(TarEntryType.RegularFile, AbsoluteEvil, content: "evil"),
            "backslash" => archive.Entry(TarEntryType.RegularFile, "files\\..\\..\\evil", content: "evil"),
            "symlink-up" => archive.Entry(TarEntryType.SymbolicLink, "files/opt/app/link", linkName: "../../../../etc"),
            "symlink-absolute" => archive.Entry(TarEntryType.SymbolicLink, "files/opt/app/link", linkName: "/etc"),
            "hardlink-outside" => archive.Entry(TarEntryType.HardLink, "files/opt/app/hard", linkName: "../etc/passwd"),
            "hardlink-absolute" => archive.Entry(TarEntryType.HardLink, "files/opt/app/hard", linkName: "/etc/passwd"),
            "setuid" => archive.File("files/opt/app/su", "#!/bin/sh\n", mode: Convert.ToInt32("4755", 8)),
            "char-device" => archive.Entry(TarEntryType.CharacterDevice, "files/opt/app/mem"),
            "fifo" => archive.Entry(TarEntryType.Fifo, "files/opt/app/pipe"),
            "outside-files" => archive.Entry(TarEntryType.RegularFile, "etc/cron.d/evil", content: "* * * * * root sh"),
            "unlisted-file" => archive.Entry(TarEntryType.RegularFile, "files/opt/app/extra", content: "not in rig.json"),
            // Passes inspection (the link stays inside); extraction must refuse to write through it.
            "write-through-own-symlink" => archive.Entry(TarEntryType.SymbolicLink, "files/opt/app/dir", linkName: ".").File("files/opt/app/dir/x", "x"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return archive.Build("app", "1.0");
    }

    [Theory]
    [MemberData(nameof(HostileArchives))]
    public async Task Hostile_archive_is_refused_and_nothing_is_written_inside_or_outside_the_root(string kind, string code)
    {
        var blob = Store(_blobs, "app", "1.0", Hostile(kind));
        var work = NewWorkDirectory();
        var before = Snapshot(_dir.Path);

        var e = await AssertFailsAsync(code, () => _installer.InstallAsync(blob.Package, blob.Path, work, CancellationToken.None));

        Assert.Contains("nothing was installed", e.Message, StringComparison.Ordinal);
        AssertUnchanged(before, Snapshot(_dir.Path));
        Assert.False(Directory.Exists(work));
        AssertNoStaging();
        Assert.False(File.Exists(AbsoluteEvil));
        Assert.Empty(_platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task Hand_made_archive_without_tricks_installs()
    {
        // The hostile-archive test is only meaningful if the hand-made archive itself is accepted.
        var blob = Store(_blobs, "app", "1.0", new HandMadeArchive()
            .File("files/opt/app/harmless.txt", "harmless")
            .Entry(TarEntryType.SymbolicLink, "files/opt/app/link", linkName: "harmless.txt")
            .Build("app", "1.0"));

        await InstallAsync(blob);

        Assert.Equal("harmless", File.ReadAllText(Host(_root, "/opt/app/harmless.txt")));
        Assert.Equal("harmless.txt", new FileInfo(Host(_root, "/opt/app/link")).LinkTarget);
    }

    [Fact]
    public async Task Truncated_blob_is_refused_and_nothing_is_written()
    {
        var whole = Archive("app", "1.0", In("/opt/app/a.txt", new string('a', 100_000)), In("/opt/app/b.txt", "b"));
        var blob = Store(_blobs, "app", "1.0", whole[..(whole.Length / 2)]);
        var before = Snapshot(_root);

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => InstallAsync(blob));

        Assert.Contains(e.Code, new[] { "bad-format", "bad-manifest" });

        AssertUnchanged(before, Snapshot(_root));
        Assert.Empty(_platform.Database.Snapshot.Packages);
    }
}
