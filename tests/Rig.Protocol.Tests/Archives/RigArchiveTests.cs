using System.Formats.Tar;
using System.IO.Compression;
using Rig.Protocol.Archives;
using static Rig.Protocol.Tests.Archives.TarBuilder;

namespace Rig.Protocol.Tests.Archives;

/// <summary>CHECKLIST 10-13: the Rig archive format. Valid archives round-trip; every hostile archive is refused
/// as a whole by <see cref="RigArchive.Inspect"/> before anything is written.</summary>
public sealed class RigArchiveTests : IDisposable
{
    private static readonly RigLimits Limits = RigLimits.Default;
    private readonly TempTree tree = new();

    public void Dispose() => tree.Dispose();

    // ---- Valid archives ----------------------------------------------------------------------

    private static readonly ArchiveInput[] SampleFiles =
    [
        new("/usr/share/demo/index.html", Text("<h1>hello</h1>\n")),
        new("/etc/demo/demo.conf", Text("port=8080\n"), "0640"),
        new("/usr/bin/demo-tool", Text("#!/bin/sh\necho demo\n"), "0755"),
    ];

    private static readonly RigArchiveManifest SampleManifest = new()
    {
        Name = "demo-app",
        Version = "1:2.3-4~bpo1",
        Description = "A demo package",
        Service = new RigArchiveService("demo.service"),
    };

    private static byte[] WriteSample(IEnumerable<ArchiveInput>? files = null, RigArchiveManifest? manifest = null)
    {
        using var output = new MemoryStream();
        RigArchiveWriter.Write(output, manifest ?? SampleManifest, files ?? SampleFiles);
        return output.ToArray();
    }

    [Fact]
    public void Inspect_of_a_written_archive_returns_its_manifest_and_every_entry_with_its_digest()
    {
        using var output = new MemoryStream();
        var written = RigArchiveWriter.Write(output, SampleManifest, SampleFiles);

        var archive = RigArchive.Inspect(new MemoryStream(output.ToArray()), Limits);

        Assert.Equal("demo-app", archive.Manifest.Name);
        Assert.Equal("1:2.3-4~bpo1", archive.Manifest.Version);
        Assert.Equal("A demo package", archive.Manifest.Description);
        Assert.Equal("demo.service", archive.Manifest.Service?.Name);
        Assert.Equal(written.Files, archive.Manifest.Files);
        Assert.Equal(
            ["/etc/demo/demo.conf", "/usr/bin/demo-tool", "/usr/share/demo/index.html"],
            archive.Manifest.Files.Select(f => f.Path));

        var files = archive.Entries.Where(e => e.Kind == ArchiveEntryKind.File).ToDictionary(e => e.Path);
        Assert.Equal(3, files.Count);
        foreach (var input in SampleFiles)
        {
            var entry = files[input.Path.TrimStart('/')];
            Assert.Equal(Sha256(input.Content), entry.Sha256);
            Assert.Equal(input.Content.Length, entry.Length);
            Assert.Equal(Convert.ToInt32(input.Mode, 8), entry.Mode);
        }
        Assert.Equal(
            ["etc", "etc/demo", "usr", "usr/bin", "usr/share", "usr/share/demo"],
            archive.Entries.Where(e => e.Kind == ArchiveEntryKind.Directory).Select(e => e.Path).Order(StringComparer.Ordinal));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // Unix modes; agents run on Linux.
    public void ExtractTo_writes_every_file_with_its_content_and_mode()
    {
        var bytes = WriteSample();
        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);

        archive.ExtractTo(new MemoryStream(bytes), tree.Stage, Limits);

        foreach (var input in SampleFiles)
        {
            var path = Path.Combine(tree.Stage, input.Path.TrimStart('/'));
            Assert.Equal(input.Content, File.ReadAllBytes(path));
            Assert.Equal((UnixFileMode)Convert.ToInt32(input.Mode, 8), File.GetUnixFileMode(path));
        }
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(Path.Combine(tree.Stage, "usr", "share", "demo")));
    }

    [Fact]
    public void ExtractTo_writes_nothing_outside_the_staging_directory()
    {
        var bytes = WriteSample();
        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);
        var before = tree.Snapshot();

        archive.ExtractTo(new MemoryStream(bytes), tree.Stage, Limits);

        var added = tree.Snapshot().Except(before).ToList();
        Assert.NotEmpty(added);
        Assert.All(added, p => Assert.StartsWith("outer/inner/stage", p, StringComparison.Ordinal));
        Assert.Contains("outer/inner/stage/usr/bin/demo-tool", added);
        Assert.DoesNotContain(added, p => p.Contains("rig.json", StringComparison.Ordinal));
    }

    [Fact]
    public void Writer_gives_the_same_bytes_for_the_same_inputs_in_any_order()
    {
        var first = WriteSample();
        var second = WriteSample();
        var reordered = WriteSample(SampleFiles.Reverse());

        Assert.Equal(first, second);
        Assert.Equal(first, reordered);
    }

    [Fact]
    public void Writer_output_changes_when_one_byte_of_content_changes()
    {
        var changed = SampleFiles.Select(f => f.Path == "/etc/demo/demo.conf" ? f with { Content = Text("port=8081\n") } : f);

        Assert.NotEqual(WriteSample(), WriteSample(changed));
    }

    [Fact]
    public void A_symlink_that_stays_inside_the_root_is_accepted_and_created()
    {
        var lib = Text("\x7fELF not really");
        var conf = Text("x=1\n");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/usr/lib/libdemo.so.1", lib), ("/etc/demo.conf", conf)))
            .Directory("files/")
            .Directory("files/etc/")
            .File("files/etc/demo.conf", conf)
            .Directory("files/usr/")
            .Directory("files/usr/lib/")
            .File("files/usr/lib/libdemo.so.1", lib)
            .Symlink("files/usr/lib/libdemo.so", "libdemo.so.1")
            .Symlink("files/usr/lib/demo.conf", "../../etc/demo.conf")
            .Build();

        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);
        archive.ExtractTo(new MemoryStream(bytes), tree.Stage, Limits);

        Assert.Contains(archive.Entries, e => e is { Path: "usr/lib/libdemo.so", Kind: ArchiveEntryKind.SymbolicLink, LinkTarget: "libdemo.so.1" });
        var link = new FileInfo(Path.Combine(tree.Stage, "usr", "lib", "libdemo.so"));
        Assert.Equal("libdemo.so.1", link.LinkTarget);
        Assert.Equal(lib, File.ReadAllBytes(link.FullName));
        var up = new FileInfo(Path.Combine(tree.Stage, "usr", "lib", "demo.conf"));
        Assert.Equal("../../etc/demo.conf", up.LinkTarget);
        Assert.Equal(conf, File.ReadAllBytes(up.FullName));
    }

    [Fact]
    public void A_hard_link_to_an_earlier_file_is_extracted_with_that_files_content()
    {
        var content = Text("shared\n");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/opt/a", content)))
            .Directory("files/")
            .Directory("files/opt/")
            .File("files/opt/a", content)
            .HardLink("files/opt/b", "files/opt/a")
            .Build();

        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);
        archive.ExtractTo(new MemoryStream(bytes), tree.Stage, Limits);

        Assert.Contains(archive.Entries, e => e is { Path: "opt/b", Kind: ArchiveEntryKind.HardLink, LinkTarget: "opt/a" });
        Assert.Equal(content, File.ReadAllBytes(Path.Combine(tree.Stage, "opt", "b")));
    }

    [Fact]
    public void A_large_incompressible_file_is_not_mistaken_for_a_compression_bomb()
    {
        // 8 MiB of random bytes compress to about 8 MiB: the real ratio is ~1, far below the limit.
        var blob = new byte[8 * 1024 * 1024];
        new Random(7).NextBytes(blob);
        var bytes = WriteSample([new ArchiveInput("/opt/demo/blob.bin", blob)]);

        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);

        Assert.Equal(Sha256(blob), Assert.Single(archive.Entries, e => e.Kind == ArchiveEntryKind.File).Sha256);
    }

    [Fact]
    public void Files_with_the_sticky_bit_or_plain_modes_are_accepted()
    {
        var content = Text("x");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/tmp/x", content)))
            .File("files/tmp/x", content, (UnixFileMode)0x3FF) // 01777: sticky, not setuid/setgid
            .Build();

        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);

        Assert.Equal(0x3FF, Assert.Single(archive.Entries).Mode);
    }

    [Fact]
    public void A_manifest_without_optional_members_gets_the_documented_defaults()
    {
        var bytes = new TarBuilder().RawManifest("""{"name":"meta","version":"1.0"}""").Directory("files/").Build();

        var manifest = RigArchive.Inspect(new MemoryStream(bytes), Limits).Manifest;

        Assert.Equal("any", manifest.OsFamily);
        Assert.Equal("all", manifest.Architecture);
        Assert.Empty(manifest.Files);
        Assert.Null(manifest.Service);
        Assert.False(manifest.Reboot);
    }

    [Fact]
    public void Manifest_file_modes_and_service_enablement_have_defaults()
    {
        var content = Text("x");
        var bytes = new TarBuilder()
            .RawManifest("""{"name":"demo","version":"1.0","files":[{"path":"/etc/x","sha256":"SHA"}],"service":{"name":"demo.service"}}""".Replace("SHA", Sha256(content), StringComparison.Ordinal))
            .File("files/etc/x", content)
            .Build();

        var manifest = RigArchive.Inspect(new MemoryStream(bytes), Limits).Manifest;

        Assert.Equal("0644", Assert.Single(manifest.Files).Mode);
        Assert.True(manifest.Service!.Enable);
    }

    [Fact]
    public void ExtractTo_refuses_an_archive_that_changed_since_it_was_inspected()
    {
        var inspected = RigArchive.Inspect(new MemoryStream(WriteSample()), Limits);
        var swapped = WriteSample(SampleFiles.Select(f => f with { Content = [.. f.Content, (byte)'!'] }));

        var e = Assert.Throws<ArchiveRejectedException>(() => inspected.ExtractTo(new MemoryStream(swapped), tree.Stage, Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("changed between inspection and extraction", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExtractTo_refuses_an_archive_whose_entries_differ_from_the_inspected_ones()
    {
        var inspected = RigArchive.Inspect(new MemoryStream(WriteSample()), Limits);
        var other = WriteSample([.. SampleFiles, new ArchiveInput("/aaa/first.conf", Text("smuggled"))]);

        var e = Assert.Throws<ArchiveRejectedException>(() => inspected.ExtractTo(new MemoryStream(other), tree.Stage, Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("'aaa'", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(tree.Stage, "aaa", "first.conf")));
    }

    [Fact]
    public void ExtractTo_never_writes_through_a_symlink_already_in_the_staging_directory()
    {
        // A stage that is not fresh: /usr is a link to a directory outside it.
        var elsewhere = Path.Combine(tree.Root, "outer", "elsewhere");
        Directory.CreateDirectory(elsewhere);
        Directory.CreateDirectory(tree.Stage);
        Directory.CreateSymbolicLink(Path.Combine(tree.Stage, "usr"), elsewhere);
        var bytes = WriteSample();
        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);

        var e = Assert.Throws<ArchiveRejectedException>(() => archive.ExtractTo(new MemoryStream(bytes), tree.Stage, Limits));

        Assert.Equal("link-escape", e.Code);
        Assert.Contains("'usr'", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
    }

    [Fact]
    public void Pax_global_headers_are_ignored()
    {
        var content = Text("x");
        var bytes = new TarBuilder()
            .Add(() => new PaxGlobalExtendedAttributesTarEntry(new Dictionary<string, string> { ["comment"] = "made by hand" }))
            .Manifest(ManifestFor(("/etc/x", content)))
            .File("files/etc/x", content)
            .Build();

        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);

        Assert.Equal("etc/x", Assert.Single(archive.Entries).Path);
    }

    // ---- Hostile archives: refused by Inspect, so ExtractTo is never reached -------------------

    /// <summary>Runs what an installer runs (Inspect, then ExtractTo only if Inspect accepted) and asserts the
    /// archive is refused with <paramref name="code"/>, the message names <paramref name="mentions"/>, and
    /// ExtractTo was never reached: it creates the staging directory first thing, and there is none.</summary>
    private ArchiveRejectedException AssertRefusedBeforeExtraction(byte[] archive, string code, string mentions, RigLimits? limits = null)
    {
        limits ??= Limits;
        var before = tree.Snapshot();
        var e = Assert.Throws<ArchiveRejectedException>(() =>
        {
            var inspected = RigArchive.Inspect(new MemoryStream(archive), limits);
            inspected.ExtractTo(new MemoryStream(archive), tree.Stage, limits);
        });
        Assert.True(e.Code == code, $"Expected code {code}, got {e.Code}: {e.Message}");
        Assert.True(e.Message.Contains(mentions, StringComparison.Ordinal), $"Expected the message to name '{mentions}': {e.Message}");
        Assert.False(Directory.Exists(tree.Stage), "ExtractTo was reached: the staging directory exists.");
        Assert.Equal(before, tree.Snapshot());
        return e;
    }

    private static TarBuilder Start() => new TarBuilder().Manifest(ManifestFor()).Directory("files/");

    [Fact]
    public void An_entry_with_dot_dot_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().File("files/../../etc/passwd", Text("root::0:0::/:/bin/sh\n")).Build(),
            "path-traversal", "files/../../etc/passwd");
    }

    [Fact]
    public void An_entry_with_dot_dot_after_good_entries_is_refused_as_a_whole()
    {
        var good = Text("good");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/etc/good.conf", good)))
            .Directory("files/")
            .Directory("files/etc/")
            .File("files/etc/good.conf", good)
            .File("files/etc/../../../evil", Text("evil"))
            .Build();

        AssertRefusedBeforeExtraction(bytes, "path-traversal", "files/etc/../../../evil");
    }

    [Fact]
    public void An_absolute_entry_path_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().File("/etc/passwd", Text("x")).Build(), "absolute-path", "/etc/passwd");
    }

    [Fact]
    public void An_entry_with_a_backslash_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().File(@"files\..\..\etc\passwd", Text("x")).Build(), "bad-path", @"files\..\..\etc\passwd");
    }

    [Fact]
    public void An_entry_with_a_drive_letter_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().File("C:/x", Text("x")).Build(), "absolute-path", "C:/x");
    }

    [Theory]
    [InlineData("files/etc/a\u0001b")]
    [InlineData("files/etc/a\tb")]
    [InlineData("files/etc/a\u007fb")]
    public void An_entry_with_a_control_character_is_refused(string name)
    {
        AssertRefusedBeforeExtraction(Start().File(name, Text("x")).Build(), "bad-path", name);
    }

    [Fact]
    public void An_entry_with_a_newline_is_refused()
    {
        // A newline breaks the PAX record that carries the name: the tar layer itself refuses it.
        AssertRefusedBeforeExtraction(Start().File("files/etc/a\nb", Text("x")).Build(), "bad-format", "invalid records");
    }

    [Fact]
    public void A_symlink_escaping_the_root_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().Symlink("files/etc/x", "../../../../etc/shadow").Build(), "link-escape", "../../../../etc/shadow");
    }

    [Fact]
    public void A_symlink_one_level_above_the_root_is_refused()
    {
        // From /etc/x, ".." is the root and "../.." is its parent: the smallest escape.
        var e = AssertRefusedBeforeExtraction(Start().Symlink("files/etc/x", "../../y").Build(), "link-escape", "'../../y'");
        Assert.Contains("/etc/x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_symlink_with_an_absolute_target_is_refused()
    {
        var e = AssertRefusedBeforeExtraction(Start().Symlink("files/etc/x", "/etc/shadow").Build(), "link-escape", "/etc/shadow");
        Assert.Contains("/etc/x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_symlink_escaping_through_another_symlink_is_refused()
    {
        // /d/up -> ".." is the root itself (inside); /escape -> "d/up/.." looks inside when read as text, but the
        // kernel resolves d/up first (to the root) and then "..": the root's parent.
        var bytes = Start()
            .Directory("files/d/")
            .Symlink("files/d/up", "..")
            .Symlink("files/escape", "d/up/..")
            .Build();

        AssertRefusedBeforeExtraction(bytes, "link-escape", "/escape");
    }

    [Fact]
    public void A_chained_symlink_that_looks_inside_really_resolves_outside_on_disk()
    {
        // Why the rule above exists: made by hand, /escape -> d/up/.. with /d/up -> .. leads to the stage's parent.
        Directory.CreateDirectory(Path.Combine(tree.Stage, "d"));
        File.CreateSymbolicLink(Path.Combine(tree.Stage, "d", "up"), "..");
        File.CreateSymbolicLink(Path.Combine(tree.Stage, "escape"), "d/up/..");
        File.WriteAllText(Path.Combine(tree.Root, "outer", "inner", "outside.txt"), "outside");

        Assert.Equal("outside", File.ReadAllText(Path.Combine(tree.Stage, "escape", "outside.txt")));
    }

    [Fact]
    public void A_hard_link_to_a_name_not_earlier_in_the_archive_is_refused()
    {
        var content = Text("x");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/a", content)))
            .Directory("files/")
            .HardLink("files/b", "files/a")
            .File("files/a", content)
            .Build();

        AssertRefusedBeforeExtraction(bytes, "link-escape", "/b");
    }

    [Fact]
    public void A_hard_link_to_the_manifest_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().HardLink("files/m", "rig.json").Build(), "link-escape", "/m");
    }

    [Fact]
    public void A_hard_link_to_an_absolute_path_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().HardLink("files/shadow", "/etc/shadow").Build(), "absolute-path", "/etc/shadow");
    }

    [Fact]
    public void A_hard_link_with_dot_dot_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().HardLink("files/shadow", "files/../../etc/shadow").Build(), "path-traversal", "files/../../etc/shadow");
    }

    [Theory]
    [InlineData(TarEntryType.CharacterDevice, "files/dev/null")]
    [InlineData(TarEntryType.BlockDevice, "files/dev/sda")]
    [InlineData(TarEntryType.Fifo, "files/run/demo.fifo")]
    public void A_device_node_or_fifo_is_refused(TarEntryType type, string name)
    {
        var e = AssertRefusedBeforeExtraction(Start().Special(type, name).Build(), "special-file", name);
        Assert.Contains(type.ToString(), e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x9ED, "4755")] // setuid
    [InlineData(0x5ED, "2755")] // setgid
    [InlineData(0xDED, "6755")] // both
    public void A_setuid_or_setgid_file_is_refused(int mode, string octal)
    {
        var content = Text("#!/bin/sh\n");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/usr/bin/su-demo", content)))
            .Directory("files/")
            .File("files/usr/bin/su-demo", content, (UnixFileMode)mode)
            .Build();

        var e = AssertRefusedBeforeExtraction(bytes, "setuid", "files/usr/bin/su-demo");
        Assert.Contains(octal, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_setgid_directory_is_refused()
    {
        var bytes = Start().Add(() => new PaxTarEntry(TarEntryType.Directory, "files/srv/") { Mode = (UnixFileMode)0x5ED }).Build();

        AssertRefusedBeforeExtraction(bytes, "setuid", "files/srv");
    }

    [Fact]
    public void A_duplicate_entry_is_refused()
    {
        var content = Text("x");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/etc/a", content)))
            .Directory("files/")
            .File("files/etc/a", content)
            .File("files/etc/a", content)
            .Build();

        AssertRefusedBeforeExtraction(bytes, "bad-format", "files/etc/a");
    }

    [Fact]
    public void Two_spellings_of_the_same_entry_are_a_duplicate()
    {
        var content = Text("x");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/etc/a", content)))
            .File("files/etc/a", content)
            .File("./files//etc/a", Text("y"))
            .Build();

        AssertRefusedBeforeExtraction(bytes, "bad-format", "'files/etc/a' appears twice");
    }

    [Fact]
    public void A_second_manifest_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().Manifest(ManifestFor("evil", "6.6.6")).Build(), "bad-format", "rig.json");
    }

    [Fact]
    public void An_entry_outside_files_is_refused()
    {
        AssertRefusedBeforeExtraction(Start().File("etc/passwd", Text("x")).Build(), "bad-format", "etc/passwd");
    }

    [Fact]
    public void An_archive_without_a_manifest_is_refused()
    {
        var bytes = new TarBuilder().Directory("files/").File("files/etc/a", Text("x")).Build();

        AssertRefusedBeforeExtraction(bytes, "bad-manifest", "rig.json");
    }

    [Fact]
    public void A_manifest_that_is_a_directory_is_refused()
    {
        AssertRefusedBeforeExtraction(new TarBuilder().Directory("rig.json/").Build(), "bad-manifest", "rig.json");
    }

    [Theory]
    [InlineData("demo;rm -rf /")]
    [InlineData("$(reboot)")]
    [InlineData("demo`id`")]
    [InlineData("demo\nrm")]
    [InlineData("demo\n")]
    [InlineData("-rf")]
    [InlineData("--force-all")]
    [InlineData("demo app")]
    [InlineData("")]
    public void A_manifest_with_a_bad_package_name_is_refused(string name)
    {
        var e = AssertRefusedBeforeExtraction(new TarBuilder().Manifest(ManifestFor(name, "1.0.0")).Build(),
            "bad-manifest", $"Package name '{name}'");
        Assert.Contains(Names.PackageNameRule, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.0;reboot")]
    [InlineData("$(id)")]
    [InlineData("1.0`id`")]
    [InlineData("1.0\n")]
    [InlineData("-1.0")]
    [InlineData("1.0 2")]
    [InlineData("")]
    public void A_manifest_with_a_bad_version_is_refused(string version)
    {
        var e = AssertRefusedBeforeExtraction(new TarBuilder().Manifest(ManifestFor("demo", version)).Build(),
            "bad-manifest", $"Version '{version}'");
        Assert.Contains(Names.VersionRule, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_manifest_with_a_bad_service_name_is_refused()
    {
        var manifest = ManifestFor() with { Service = new RigArchiveService("demo;reboot") };

        AssertRefusedBeforeExtraction(new TarBuilder().Manifest(manifest).Build(), "bad-manifest", "demo;reboot");
    }

    [Fact]
    public void A_manifest_that_is_not_json_is_refused()
    {
        AssertRefusedBeforeExtraction(new TarBuilder().RawManifest("name = demo").Build(), "bad-manifest", "rig.json");
    }

    [Fact]
    public void A_manifest_with_an_unknown_member_is_refused()
    {
        AssertRefusedBeforeExtraction(new TarBuilder().RawManifest("""{"name":"demo","version":"1.0","postInstall":"rm -rf /"}""").Build(),
            "bad-manifest", "postInstall");
    }

    [Theory]
    [InlineData("""{"name":"demo","version":"1.0","files":null}""", "files")]
    [InlineData("""{"name":null,"version":"1.0"}""", "name")]
    [InlineData("""{"name":"demo","version":"1.0","files":[null]}""", "files")]
    [InlineData("""{"name":"demo","version":"1.0","files":[{"path":null,"sha256":"x"}]}""", "path")]
    [InlineData("""{"name":"demo","version":"1.0","service":{"name":null}}""", "name")]
    public void A_manifest_with_null_where_a_value_is_required_is_refused(string json, string mentions)
    {
        AssertRefusedBeforeExtraction(new TarBuilder().RawManifest(json).Build(), "bad-manifest", mentions);
    }

    [Fact]
    public void A_manifest_larger_than_the_limit_is_refused()
    {
        var limits = Limits with { MaxManifestBytes = 100 };
        var manifest = ManifestFor() with { Description = new string('x', 200) };

        AssertRefusedBeforeExtraction(new TarBuilder().Manifest(manifest).Build(), "bad-manifest", "rig.json", limits);
    }

    [Fact]
    public void A_manifest_listing_a_file_that_is_absent_is_refused()
    {
        var present = Text("here");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/etc/present.conf", present), ("/etc/missing.conf", Text("gone"))))
            .Directory("files/")
            .File("files/etc/present.conf", present)
            .Build();

        AssertRefusedBeforeExtraction(bytes, "bad-manifest", "/etc/missing.conf");
    }

    [Fact]
    public void A_manifest_listing_a_file_twice_is_refused()
    {
        var content = Text("x");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/etc/a", content), ("/etc/a", content)))
            .File("files/etc/a", content)
            .Build();

        AssertRefusedBeforeExtraction(bytes, "bad-manifest", "/etc/a");
    }

    [Fact]
    public void A_payload_file_not_listed_in_the_manifest_is_refused()
    {
        var listed = Text("listed");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/etc/listed.conf", listed)))
            .Directory("files/")
            .File("files/etc/listed.conf", listed)
            .File("files/etc/extra.conf", Text("smuggled"))
            .Build();

        AssertRefusedBeforeExtraction(bytes, "bad-manifest", "/etc/extra.conf");
    }

    [Fact]
    public void A_payload_file_whose_digest_differs_from_the_manifest_is_refused_naming_both_digests()
    {
        var promised = Text("port=80\n");
        var delivered = Text("port=81\n");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/etc/demo.conf", promised)))
            .Directory("files/")
            .File("files/etc/demo.conf", delivered)
            .Build();

        var e = AssertRefusedBeforeExtraction(bytes, "bad-manifest", "/etc/demo.conf");
        Assert.Contains(Sha256(promised), e.Message, StringComparison.Ordinal);
        Assert.Contains(Sha256(delivered), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_compression_bomb_is_refused()
    {
        // 50 MB of zeros deflate to about 50 KB: a ratio near 1000, five times the limit of 200.
        var zeros = new byte[50 * 1000 * 1000];
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/var/bomb", zeros)))
            .Directory("files/")
            .File("files/var/bomb", zeros)
            .Build();
        Assert.True(bytes.Length < zeros.Length / Limits.MaxCompressionRatio, "the test archive is not a bomb");

        var e = AssertRefusedBeforeExtraction(bytes, "compression-ratio", $"{Limits.MaxCompressionRatio}x");
        Assert.Contains("files/var/bomb", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_compression_bomb_is_refused_long_before_it_is_read_to_the_end()
    {
        var zeros = new byte[50 * 1000 * 1000];
        var bytes = new TarBuilder().Manifest(ManifestFor(("/var/bomb", zeros))).File("files/var/bomb", zeros).Build();
        var input = new MemoryStream(bytes);

        Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(input, Limits));

        Assert.True(input.Position < bytes.Length / 2, $"read {input.Position} of {bytes.Length} compressed bytes before refusing");
    }

    [Fact]
    public void A_compression_bomb_spread_over_many_small_files_is_refused()
    {
        // No single file is past the grace size; together they are 20 MB of zeros.
        var limits = Limits with { CompressionRatioGraceBytes = 1024 * 1024 };
        var zeros = new byte[200_000];
        var files = Enumerable.Range(0, 100).Select(i => ($"/var/z{i:D3}", zeros)).ToArray();
        var builder = new TarBuilder().Manifest(ManifestFor(files)).Directory("files/");
        foreach (var (path, content) in files)
            builder.File("files" + path, content);
        var bytes = builder.Build();
        Assert.True((long)bytes.Length * limits.MaxCompressionRatio < zeros.Length * 100L, $"the test archive is not a bomb ({bytes.Length} bytes)");

        AssertRefusedBeforeExtraction(bytes, "compression-ratio", $"{limits.MaxCompressionRatio}x", limits);
    }

    [Fact]
    public void An_archive_unpacking_beyond_the_size_limit_is_refused()
    {
        var limits = Limits with { MaxUnpackedBytes = 4096 };
        var big = new byte[5000];
        new Random(1).NextBytes(big);
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/var/big", big)))
            .Directory("files/")
            .File("files/var/big", big)
            .Build();

        var e = AssertRefusedBeforeExtraction(bytes, "too-large", "4096", limits);
        Assert.Contains("files/var/big", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_archive_exactly_at_the_size_limit_is_accepted()
    {
        var content = new byte[3000];
        var manifest = ManifestFor(("/var/ok", content));
        var manifestLength = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(manifest, RigJson.Default.RigArchiveManifest).Length;
        var bytes = new TarBuilder().Manifest(manifest).File("files/var/ok", content).Build();

        var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits with { MaxUnpackedBytes = content.Length + manifestLength });

        Assert.Single(archive.Entries);
        Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(bytes), Limits with { MaxUnpackedBytes = content.Length + manifestLength - 1 }));
    }

    [Fact]
    public void An_archive_with_too_many_entries_is_refused()
    {
        var limits = Limits with { MaxArchiveEntries = 8 };
        var files = Enumerable.Range(0, 10).Select(i => ($"/etc/f{i}", Text(i.ToString(System.Globalization.CultureInfo.InvariantCulture)))).ToArray();
        var builder = new TarBuilder().Manifest(ManifestFor(files)).Directory("files/");
        foreach (var (path, content) in files)
            builder.File("files" + path, content);

        var e = AssertRefusedBeforeExtraction(builder.Build(), "too-large", "8 entries", limits);
        Assert.Contains("files/etc/f6", e.Message, StringComparison.Ordinal); // rig.json, files/, f0..f5, then f6 is the 9th
    }

    [Fact]
    public void A_truncated_archive_is_refused_as_truncated_naming_the_cut_entry()
    {
        var blob = new byte[200_000];
        new Random(5).NextBytes(blob);
        var whole = WriteSample([new ArchiveInput("/opt/demo/blob.bin", blob)]);

        var e = AssertRefusedBeforeExtraction(whole[..(whole.Length * 6 / 10)], "bad-format", "files/opt/demo/blob.bin");
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_archive_cut_inside_the_manifest_is_refused_as_truncated()
    {
        var whole = WriteSample();

        var e = AssertRefusedBeforeExtraction(whole[..(whole.Length / 2)], "bad-format", "rig.json");
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_archive_cut_anywhere_is_refused()
    {
        // The manifest lists every file, so a cut anywhere before the last file's data must be refused;
        // what code depends on where the cut falls, but it is always a refusal, never another exception.
        var random = new byte[20_000];
        new Random(3).NextBytes(random);
        var whole = WriteSample([.. SampleFiles, new ArchiveInput("/zz/last.bin", random)]);
        for (var cut = 0; cut < whole.Length - 2000; cut += 97)
        {
            var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(whole[..cut]), Limits));
            Assert.Contains(e.Code, new[] { "bad-format", "bad-manifest" });
        }
    }

    [Fact]
    public void A_file_that_is_not_gzip_is_refused()
    {
        AssertRefusedBeforeExtraction(Text("PK\x03\x04 this is a zip, not a Rig archive"), "bad-format", "not a gzip-compressed tar");
    }

    [Fact]
    public void An_uncompressed_tar_is_refused()
    {
        using var plain = new MemoryStream();
        using (var tar = new TarWriter(plain, TarEntryFormat.Pax, leaveOpen: true))
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "files/"));

        AssertRefusedBeforeExtraction(plain.ToArray(), "bad-format", "not a gzip-compressed tar");
    }

    [Fact]
    public void Gzip_of_something_that_is_not_tar_is_refused()
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(Text("{\"name\":\"demo\",\"version\":\"1.0\"} this is not a tar header at all, just text padded out ".PadRight(1024, '.')));

        AssertRefusedBeforeExtraction(output.ToArray(), "bad-format", "not a gzip-compressed tar");
    }

    [Fact]
    public void An_empty_file_is_refused()
    {
        AssertRefusedBeforeExtraction([], "bad-format", "truncated");
    }

    [Fact]
    public void Gzip_of_an_empty_tar_is_refused_as_empty()
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(new byte[1024]); // the end-of-archive marker and nothing else

        AssertRefusedBeforeExtraction(output.ToArray(), "bad-format", "empty");
    }

    // ---- ExtractTo checks again on its own (the archive may change after Inspect) --------------

    /// <summary>An archive object from a harmless archive, for handing a different (hostile) stream to ExtractTo,
    /// as if the file had been swapped between inspection and extraction.</summary>
    private static RigArchive InspectedHarmless() => RigArchive.Inspect(new MemoryStream(WriteSample([])), Limits);

    private void AssertExtractToRefusesAndWritesNothing(byte[] hostile, string code)
    {
        var archive = InspectedHarmless();
        var before = tree.Snapshot();

        var e = Assert.Throws<ArchiveRejectedException>(() => archive.ExtractTo(new MemoryStream(hostile), tree.Stage, Limits));

        Assert.Equal(code, e.Code);
        Assert.Equal([.. before, "outer/inner/stage/"], tree.Snapshot());
        Assert.Empty(Directory.EnumerateFileSystemEntries(tree.Stage));
    }

    [Fact]
    public void ExtractTo_refuses_an_entry_with_dot_dot_and_writes_nothing_at_all()
    {
        AssertExtractToRefusesAndWritesNothing(Start().File("files/../../etc/passwd", Text("root::0:0::/:/bin/sh\n")).Build(), "path-traversal");
    }

    [Fact]
    public void ExtractTo_stopped_by_dot_dot_after_good_entries_leaves_only_those_entries_inside_the_stage()
    {
        var good = Text("good");
        var inspected = RigArchive.Inspect(new MemoryStream(WriteSample([new ArchiveInput("/etc/good.conf", good)])), Limits);
        var hostile = new TarBuilder()
            .Manifest(ManifestFor(("/etc/good.conf", good)))
            .Directory("files/")
            .Directory("files/etc/")
            .File("files/etc/good.conf", good)
            .File("files/etc/../../../../evil", Text("evil"))
            .Build();
        var before = tree.Snapshot();

        var e = Assert.Throws<ArchiveRejectedException>(() => inspected.ExtractTo(new MemoryStream(hostile), tree.Stage, Limits));

        Assert.Equal("path-traversal", e.Code);
        Assert.Equal([.. before, "outer/inner/stage/", "outer/inner/stage/etc/", "outer/inner/stage/etc/good.conf"], tree.Snapshot());
    }

    [Fact]
    public void ExtractTo_refuses_a_symlink_escaping_the_root_and_writes_nothing_at_all()
    {
        AssertExtractToRefusesAndWritesNothing(Start().Symlink("files/etc/x", "../../../../etc/shadow").Build(), "link-escape");
    }

    [Fact]
    public void ExtractTo_refuses_a_file_written_through_an_escaping_symlink_and_writes_nothing_at_all()
    {
        var hostile = Start().Symlink("files/up", "../../..").File("files/up/pwned", Text("pwned")).Build();

        AssertExtractToRefusesAndWritesNothing(hostile, "link-escape");
        Assert.DoesNotContain(tree.Snapshot(), p => p.Contains("pwned", StringComparison.Ordinal));
    }

    [Fact]
    public void ExtractTo_refuses_an_absolute_entry_and_writes_nothing_at_all()
    {
        AssertExtractToRefusesAndWritesNothing(Start().File("/etc/passwd", Text("x")).Build(), "absolute-path");
    }

    [Fact]
    public void A_file_beneath_a_symlink_inside_the_root_is_refused_by_inspect()
    {
        // The link stays inside (lib -> .), but writing lib/x would write through it; an installer relies on
        // Inspect to refuse what ExtractTo would refuse, so that it never half-extracts.
        var content = Text("x");
        var bytes = new TarBuilder()
            .Manifest(ManifestFor(("/lib/x", content)))
            .Directory("files/")
            .Symlink("files/lib", ".")
            .File("files/lib/x", content)
            .Build();

        AssertRefusedBeforeExtraction(bytes, "link-escape", "lib");
    }
}
