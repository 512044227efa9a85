using System.IO.Compression;
using System.Text;
using Rig.Protocol.Archives;

namespace Rig.Protocol.Tests.Archives;

/// <summary>Regressions found by <c>RigArchiveProperties</c>: a damaged archive is refused with
/// <see cref="ArchiveRejectedException"/>. The gzip checksum (CRC-32 and length in the trailer) is verified, so damage
/// that deflate's back-references spread alike over rig.json and the tar headers is not read as another,
/// self-consistent package; and the tar reader's other exception types for damaged headers are refused too.</summary>
public sealed class ArchiveDamageTests
{
    private static readonly RigLimits Limits = RigLimits.Default;

    private static byte[] Sample(string word = "demo")
    {
        using var output = new MemoryStream();
        RigArchiveWriter.Write(output, new RigArchiveManifest { Name = "demo", Version = "1.0-1", Description = "sample" },
        [
            new($"/etc/{word}/{word}.conf", TarBuilder.Text("port=8080\n"), "0640"),
            new($"/usr/bin/{word}", [.. Enumerable.Range(0, 1500).Select(i => (byte)(i * 7))], "0755"),
            new($"/usr/share/{word}/index.html", TarBuilder.Text("<h1>hello</h1>\n")),
        ]);
        return output.ToArray();
    }

    [Theory]
    [InlineData(8)] // first byte of the CRC-32
    [InlineData(5)] // last byte of the CRC-32
    [InlineData(4)] // first byte of the uncompressed length
    [InlineData(1)] // last byte of the uncompressed length
    public void An_archive_whose_gzip_trailer_does_not_match_its_content_is_refused(int fromEnd)
    {
        var bytes = Sample();
        bytes[^fromEnd] ^= 0x01;

        var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(bytes), Limits));

        Assert.Equal("bad-format", e.Code);
    }

    [Fact]
    public void Damage_that_renames_every_path_alike_is_refused_by_the_gzip_checksum()
    {
        // What the property found: one damaged byte of the compressed stream turned every "demo" of rig.json and of
        // the tar headers into "d5mo" (all are back-references to the first), a package consistent in itself that
        // was accepted because reading stopped at the tar's end marker, before the gzip trailer. The same package,
        // made here without depending on where deflate puts its bytes: the "d5mo" archive with the "demo" trailer.
        var original = Sample("demo");
        var renamed = Sample("d5mo");
        Assert.Equal(3, RigArchive.Inspect(new MemoryStream(renamed), Limits).Entries.Count(e => e.Kind == ArchiveEntryKind.File && e.Path.Contains("d5mo", StringComparison.Ordinal)));
        byte[] damaged = [.. renamed[..^8], .. original[^8..]];

        var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(damaged), Limits));

        Assert.Equal("bad-format", e.Code);
    }

    [Fact]
    public void A_pax_header_declaring_more_than_any_array_holds_is_refused()
    {
        // TarReader throws InvalidOperationException for this header; it used to escape Inspect.
        var tar = Header("PaxHeaders/rig.json", 'x', Encoding.ASCII.GetBytes("77777777777\0"));

        var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(Gzip(tar)), Limits));

        Assert.Equal("bad-format", e.Code);
    }

    [Fact]
    public void A_base_256_size_too_large_for_a_long_is_refused()
    {
        // TarReader throws OverflowException for this header; it used to escape Inspect.
        byte[] size = [0x80, .. Enumerable.Repeat((byte)0xFF, 11)];
        var tar = Header("rig.json", '0', size);

        var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(Gzip(tar)), Limits));

        Assert.Equal("bad-format", e.Code);
    }

    // Found by Whatever_links_an_archive_holds_nothing_is_written_or_resolves_outside_the_stage: Inspect accepted these
    // and ExtractTo then failed half-way with an IOException ("already exists").

    [Fact]
    public void A_file_where_an_earlier_entry_made_a_directory_is_refused_by_Inspect()
    {
        var bytes = new TarBuilder().Manifest(TarBuilder.ManifestFor()).Symlink("files/b/a", "././etc").File("files/b", [1]).Build();

        var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(bytes), Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("'files/b'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_entry_beneath_a_file_is_refused_by_Inspect()
    {
        byte[] content = [1, 2];
        var bytes = new TarBuilder().Manifest(TarBuilder.ManifestFor(("/etc", content))).File("files/etc", content).Directory("files/etc/conf.d").Build();

        var e = Assert.Throws<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(bytes), Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("which is not a directory", e.Message, StringComparison.Ordinal);
    }

    /// <summary>One ustar header block with the given name, type flag and 12-byte size field, then two zero blocks.</summary>
    private static byte[] Header(string name, char type, byte[] sizeField)
    {
        var block = new byte[512];
        Encoding.ASCII.GetBytes(name).CopyTo(block, 0);
        Encoding.ASCII.GetBytes("0000644\0").CopyTo(block, 100);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(block, 108);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(block, 116);
        sizeField.CopyTo(block, 124);
        Encoding.ASCII.GetBytes("00000000000\0").CopyTo(block, 136);
        block[156] = (byte)type;
        Encoding.ASCII.GetBytes("ustar\000").CopyTo(block, 257);
        Encoding.ASCII.GetBytes("        ").CopyTo(block, 148);
        var sum = block.Sum(b => (int)b);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(block, 148);
        return [.. block, .. new byte[1024]];
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(data);
        return output.ToArray();
    }
}
