using System.Formats.Tar;
using System.IO.Compression;
using CsCheck;
using Rig.Protocol.Archives;
using Rig.Protocol.Tests.Archives;

namespace Rig.Protocol.Tests.Properties;

/// <summary>CHECKLIST 10-13, as properties: generated file sets round-trip through the writer, inspection and
/// extraction; a damaged archive reads to the very same files or is refused with <see cref="ArchiveRejectedException"/>;
/// whatever the archive holds, nothing is ever written outside the staging directory.</summary>
public sealed class RigArchiveProperties
{
    private static readonly RigLimits Limits = RigLimits.Default;

    private static readonly Gen<string> Segment = MessageGen.Str(Gen.Char["abcxyz019._-"], 1, 6).Where(s => s is not ("." or ".."));

    private static readonly Gen<string> DevicePath = Segment.Array[1, 4].Select(s => "/" + string.Join('/', s));

    private static readonly Gen<byte[]> Content = Gen.OneOf(
        Gen.Byte.Array[0, 3000],
        Gen.Select(Gen.Byte, Gen.Int[0, 20_000], (b, n) => Enumerable.Repeat(b, n).ToArray()));

    private static readonly string[] Modes = ["0644", "0640", "0755", "0600", "0444"];

    /// <summary>Files with distinct paths, none of which is a directory of another.</summary>
    private static readonly Gen<ArchiveInput[]> FileSet =
        Gen.Select(DevicePath, Content, Gen.Int[0, Modes.Length - 1], (path, content, mode) => new ArchiveInput(path, content, Modes[mode])).Array[0, 8]
            .Select(files => files
                .DistinctBy(f => f.Path)
                .Where(f => !files.Any(g => g.Path.StartsWith(f.Path + "/", StringComparison.Ordinal)))
                .ToArray());

    private static readonly Gen<RigArchiveManifest> Manifest = Gen.Select(Segment.Where(s => char.IsAsciiLetterOrDigit(s[0])), Gen.Int[0, 99], Gen.Bool,
        (name, minor, reboot) => new RigArchiveManifest { Name = name, Version = $"1.{minor}-1", Description = "generated", Reboot = reboot });

    private static byte[] Write(RigArchiveManifest manifest, IEnumerable<ArchiveInput> files)
    {
        using var output = new MemoryStream();
        RigArchiveWriter.Write(output, manifest, files);
        return output.ToArray();
    }

    private static Dictionary<string, string> PayloadOf(RigArchive archive) =>
        archive.Entries.Where(e => e.Kind == ArchiveEntryKind.File).ToDictionary(e => e.Path, e => e.Sha256!);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // Unix modes; agents run on Linux.
    public void Generated_file_sets_round_trip_through_write_inspect_and_extract()
    {
        Gen.Select(Manifest, FileSet).Sample((manifest, files) =>
        {
            var bytes = Write(manifest, files);

            var archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);
            Assert.Equal((manifest.Name, manifest.Version, manifest.Reboot), (archive.Manifest.Name, archive.Manifest.Version, archive.Manifest.Reboot));
            Assert.Equal(files.Select(f => f.Path).Order(StringComparer.Ordinal), archive.Manifest.Files.Select(f => f.Path));
            Assert.Equal(files.ToDictionary(f => f.Path.TrimStart('/'), f => TarBuilder.Sha256(f.Content)), PayloadOf(archive));

            using var tree = new TempTree();
            archive.ExtractTo(new MemoryStream(bytes), tree.Stage, Limits);
            foreach (var file in files)
            {
                var written = Path.Combine(tree.Stage, file.Path.TrimStart('/'));
                Assert.Equal(file.Content, File.ReadAllBytes(written));
                Assert.Equal(Convert.ToInt32(file.Mode, 8), (int)File.GetUnixFileMode(written));
            }
            AssertNothingOutsideStage(tree);
        }, iter: 150, threads: 1);
    }

    /// <summary>The sample every mutation starts from: a few files, one large enough to span several tar blocks.</summary>
    private static readonly ArchiveInput[] SampleFiles =
    [
        new("/etc/demo/demo.conf", TarBuilder.Text("port=8080\n"), "0640"),
        new("/usr/bin/demo", [.. Enumerable.Range(0, 1500).Select(i => (byte)(i * 7))], "0755"),
        new("/usr/share/demo/index.html", TarBuilder.Text("<h1>hello</h1>\n")),
    ];

    private static readonly byte[] SampleArchive = Write(new RigArchiveManifest { Name = "demo", Version = "1.0-1", Description = "sample" }, SampleFiles);

    private static readonly byte[] SampleTar = Gunzip(SampleArchive);

    private static readonly Dictionary<string, string> SamplePayload = SampleFiles.ToDictionary(f => f.Path.TrimStart('/'), f => TarBuilder.Sha256(f.Content));

    /// <summary>Damage to the gzip bytes, or to the tar inside (then compressed again, so the damage reaches the tar
    /// reader instead of stopping at the gzip checksum): bytes overwritten, truncation, 512-byte blocks removed,
    /// repeated or swapped.</summary>
    private static readonly Gen<(string How, byte[] Bytes)> Damaged =
        Gen.Select(Gen.Bool, Gen.Int[0, 4], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 4]).Select((tarLayer, how, p1, p2, some) =>
        {
            var source = tarLayer ? SampleTar : SampleArchive;
            var at = p1 % source.Length;
            var blocks = source.Length / 512;
            var (b1, b2) = (p1 % blocks * 512, p2 % blocks * 512);
            byte[] damaged = how switch
            {
                0 => Overwrite(source, at, some),
                1 => source[..at],
                2 => [.. source[..b1], .. source[(b1 + 512)..]],
                3 => [.. source[..(b1 + 512)], .. source[b1..]],
                _ => Swap(source, Math.Min(b1, b2), Math.Max(b1, b2)),
            };
            var name = $"{(tarLayer ? "tar" : "gzip")} {(new[] { "overwrite", "truncate", "remove block", "repeat block", "swap blocks" })[how]} at {at}/{b1}/{b2} with {Convert.ToHexString(some)}";
            return (name, tarLayer ? Gzip(damaged) : damaged);
        });

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_damaged_archive_reads_to_the_same_files_or_is_refused_and_never_writes_outside_the_stage()
    {
        var accepted = 0;
        var refused = 0;
        Damaged.Sample(damaged =>
        {
            RigArchive archive;
            try
            {
                archive = RigArchive.Inspect(new MemoryStream(damaged.Bytes), Limits);
            }
            catch (ArchiveRejectedException)
            {
                Interlocked.Increment(ref refused);
                return;
            }
            Interlocked.Increment(ref accepted);
            Assert.Equal(SamplePayload, PayloadOf(archive));

            using var tree = new TempTree();
            archive.ExtractTo(new MemoryStream(damaged.Bytes), tree.Stage, Limits);
            foreach (var (path, sha) in SamplePayload)
                Assert.Equal(sha, TarBuilder.Sha256(File.ReadAllBytes(Path.Combine(tree.Stage, path))));
            AssertNothingOutsideStage(tree);
        }, iter: 1500, print: d => d.How);
        // Both branches ran: damage to a mode, a time or the trailing blocks is harmless, most damage is not.
        Assert.True(accepted > 0 && refused > 0, $"accepted {accepted}, refused {refused}");
    }

    /// <summary>An entry of a hand-built archive: a kind, a name under files/ and, for links, a target.</summary>
    private sealed record Entry(TarEntryType Kind, string Name, string Target, byte[] Content);

    private static readonly Gen<string> LinkSegment = Gen.OneOf(Gen.Const("a"), Gen.Const("b"), Gen.Const(".."), Gen.Const("."), Gen.Const(""), Gen.Const("etc"));

    private static readonly Gen<Entry> AnyEntry = Gen.Select(
        Gen.Frequency((3, Gen.Const(TarEntryType.Directory)), (3, Gen.Const(TarEntryType.RegularFile)), (3, Gen.Const(TarEntryType.SymbolicLink)), (1, Gen.Const(TarEntryType.HardLink))),
        Gen.OneOf(Gen.Const("a"), Gen.Const("b"), Gen.Const("etc")).Array[1, 3].Select(s => "files/" + string.Join('/', s)),
        Gen.Select(Gen.Frequency((4, Gen.Const("")), (1, Gen.Const("/"))), LinkSegment.Array[1, 5], (lead, s) => lead + string.Join('/', s)).Where(t => t.Length > 0), // tar cannot hold an empty link
        Gen.Byte.Array[0, 16],
        (kind, name, target, content) => new Entry(kind, name, kind == TarEntryType.HardLink ? "files/" + target.TrimStart('/') : target, content));

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Whatever_links_an_archive_holds_nothing_is_written_or_resolves_outside_the_stage()
    {
        var accepted = 0;
        AnyEntry.Array[1, 8].Sample(entries =>
        {
            var builder = new TarBuilder();
            var files = entries.Where(e => e.Kind == TarEntryType.RegularFile).DistinctBy(e => e.Name).ToList();
            builder.Manifest(new RigArchiveManifest
            {
                Name = "links", Version = "1",
                Files = [.. files.Select(f => new RigArchiveFile("/" + f.Name["files/".Length..], TarBuilder.Sha256(f.Content)))],
            });
            foreach (var e in entries)
            {
                _ = e.Kind switch
                {
                    TarEntryType.Directory => builder.Directory(e.Name),
                    TarEntryType.RegularFile => builder.File(e.Name, e.Content),
                    TarEntryType.SymbolicLink => builder.Symlink(e.Name, e.Target),
                    _ => builder.HardLink(e.Name, e.Target),
                };
            }
            var bytes = builder.Build();

            RigArchive archive;
            try
            {
                archive = RigArchive.Inspect(new MemoryStream(bytes), Limits);
            }
            catch (ArchiveRejectedException)
            {
                return;
            }
            Interlocked.Increment(ref accepted);
            using var tree = new TempTree();
            archive.ExtractTo(new MemoryStream(bytes), tree.Stage, Limits);
            AssertNothingOutsideStage(tree);
            // The tree's own walk, which lists links without following them: a recursive directory enumeration follows
            // links to directories, and two links to "." make it walk 2^depth paths (the run hung for minutes).
            foreach (var link in tree.Snapshot().Where(e => e.Contains(" -> ", StringComparison.Ordinal)).Select(e => Path.Combine(tree.Root, e[..e.IndexOf(" -> ", StringComparison.Ordinal)])))
            {
                var resolved = Resolve(link);
                Assert.True(resolved is null || resolved == tree.Stage || resolved.StartsWith(tree.Stage + "/", StringComparison.Ordinal),
                    $"{Path.GetRelativePath(tree.Stage, link)} -> {new FileInfo(link).LinkTarget} resolves to {resolved}, outside {tree.Stage}");
            }
        }, iter: 1500, threads: 1, print: es => string.Join("; ", es.Select(e => $"{e.Kind} {e.Name} {e.Target}")));
        Assert.True(accepted > 0, "no generated archive with links was accepted, so the property proved nothing");
    }

    /// <summary>Pieces that make an entry name unsafe wherever they appear.</summary>
    private static readonly Gen<string> HostileName = Gen.Select(Segment.Array[0, 3], Segment.Array[0, 3], Gen.Int[0, 6], (before, after, how) =>
    {
        var head = string.Join('/', before);
        var tail = string.Join('/', after);
        return how switch
        {
            0 => $"{head}/../{tail}",
            1 => $"/{head}/{tail}",
            2 => $"{head}\\{tail}",
            3 => $"C:{head}/{tail}",
            4 => $"{head}/..",
            5 => $"{head}/x\u0001y/{tail}",
            _ => $"{head}\0{tail}",
        };
    });

    [Fact]
    public void Hostile_entry_names_are_always_refused()
    {
        HostileName.Sample(name => Assert.Throws<ArchiveRejectedException>(() => ArchivePaths.NormalizeEntryName(name, Limits.MaxPathLength)), iter: 5000);
    }

    [Fact]
    public void An_archive_holding_a_hostile_entry_name_is_refused_as_a_whole()
    {
        Gen.Select(HostileName.Where(n => !n.Contains('\0', StringComparison.Ordinal)), Gen.Bool).Sample((name, asFile) =>
        {
            var hostile = name.StartsWith('/') || name.StartsWith("C:", StringComparison.Ordinal) ? name : "files/" + name;
            var builder = new TarBuilder().Manifest(TarBuilder.ManifestFor());
            var bytes = (asFile ? builder.File(hostile, [1, 2, 3]) : builder.Symlink(hostile, "a")).Build();

            var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(bytes), Limits));
            Assert.Contains(e.Code, (string[])["bad-path", "absolute-path", "path-traversal"]);
        }, iter: 1000);
    }

    private static void AssertNothingOutsideStage(TempTree tree)
    {
        var outside = tree.Snapshot().Where(p => p is not ("outer/" or "outer/inner/") && !p.StartsWith("outer/inner/stage/", StringComparison.Ordinal)).ToList();
        Assert.True(outside.Count == 0, "written outside the stage: " + string.Join(", ", outside));
    }

    /// <summary>The absolute path <paramref name="path"/> names once every symbolic link along it is followed (missing
    /// components are kept as they are), or null when the links loop (the kernel's ELOOP: it names nothing).</summary>
    private static string? Resolve(string path, int hops = 0)
    {
        if (hops > 40)
            return null;
        var current = "/";
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
                continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }
            var next = Path.Combine(current, part);
            if (new FileInfo(next).LinkTarget is { } target)
            {
                var resolved = Resolve(target.StartsWith('/') ? target : current + "/" + target, hops + 1);
                if (resolved is null)
                    return null;
                next = resolved;
            }
            current = next;
        }
        return current;
    }

    private static byte[] Overwrite(byte[] source, int at, byte[] some)
    {
        var copy = (byte[])source.Clone();
        for (var i = 0; i < some.Length && at + i < copy.Length; i++)
            copy[at + i] = some[i];
        return copy;
    }

    private static byte[] Swap(byte[] source, int first, int second)
    {
        var copy = (byte[])source.Clone();
        source.AsSpan(first, 512).CopyTo(copy.AsSpan(second));
        source.AsSpan(second, 512).CopyTo(copy.AsSpan(first));
        return copy;
    }

    private static byte[] Gunzip(byte[] gz)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress))
            gzip.CopyTo(output);
        return output.ToArray();
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(data);
        return output.ToArray();
    }
}
