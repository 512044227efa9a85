using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Rig.Protocol;
using Rig.Server.Packages;

namespace Rig.Server.Tests;

/// <summary>CHECKLIST 2 (bounded memory on hostile sizes) and 14 (names and versions that could reach a shell)
/// for the native package readers, against packages built by dpkg-deb and rpmbuild and one from the Debian archive.</summary>
public sealed class NativePackageReaderTests(NativePackageFixture packages) : IClassFixture<NativePackageFixture>
{
    private static readonly RigLimits Limits = RigLimits.Default;

    private static readonly string[] ExpectedDebDepends = ["dpkg (>= 1.19)", "bash (>= 5)", "coreutils | busybox", "libc6"];

    // ---- Debian ------------------------------------------------------------------------------

    [Theory]
    [InlineData("xz", "control.tar.xz")]
    [InlineData("gzip", "control.tar.gz")]
    [InlineData("zstd", "control.tar.zst")]
    [InlineData("none", "control.tar")]
    public async Task Deb_built_by_dpkg_deb_is_read_for_every_control_compression(string compression, string controlMember)
    {
        var deb = packages.Debs[compression];
        Assert.Contains(HandBuiltDeb.Members(deb), m => m.Name == controlMember);

        var metadata = NativePackageReader.ReadDeb(new MemoryStream(deb), Limits);

        Assert.Equal("rig-test", metadata.Name);
        Assert.Equal("1:2.3~rc1-4", metadata.Version);
        Assert.Equal("deb", metadata.Format);
        Assert.Equal("debian", metadata.OsFamily);
        Assert.Equal("all", metadata.Architecture);
        Assert.Equal("Rig test package", metadata.Description);
        Assert.Equal(ExpectedDebDepends, metadata.Depends);
        await AssertMatchesDpkgDebAsync(packages.Paths["deb-" + compression], metadata);
    }

    [Fact]
    public void Deb_is_read_from_a_stream_that_cannot_seek()
    {
        var deb = packages.Debs["xz"];
        using var stream = new NonSeekableStream(deb);

        var metadata = NativePackageReader.ReadDeb(stream, Limits);

        Assert.Equal("rig-test", metadata.Name);
        Assert.Equal(deb.Length, stream.BytesRead); // Read to the end of data.tar, so truncation would have shown.
    }

    [Fact]
    public async Task Deb_from_the_Debian_archive_hello_is_read()
    {
        using var dir = new TempDirectory();
        var (exitCode, stdout, stderr) = await Tools.TryRunAsync("apt-get", ["download", "hello"], dir.Path);
        if (exitCode != 0 && Environment.UserName == "root")
        {
            // A fresh container has no package lists yet.
            await Tools.RunAsync("apt-get", ["update"], timeout: TimeSpan.FromMinutes(5));
            (exitCode, stdout, stderr) = await Tools.TryRunAsync("apt-get", ["download", "hello"], dir.Path);
        }
        Assert.True(exitCode == 0, $"apt-get download hello failed ({exitCode}); the test needs the Debian mirror.\n{stdout}\n{stderr}");
        var path = Directory.GetFiles(dir.Path, "hello_*.deb").Single();

        NativePackageMetadata metadata;
        await using (var file = File.OpenRead(path))
            metadata = NativePackageReader.ReadDeb(file, Limits);

        Assert.Equal("hello", metadata.Name);
        Assert.Contains(metadata.Depends, d => d.StartsWith("libc6 (>= ", StringComparison.Ordinal));
        Assert.Equal(Path.GetFileName(path), $"hello_{metadata.Version.Replace(":", "%3a", StringComparison.Ordinal)}_{metadata.Architecture}.deb");
        await AssertMatchesDpkgDebAsync(path, metadata);
    }

    [Fact]
    public void Deb_without_epoch_keeps_the_version_as_written()
    {
        var deb = HandBuiltDeb.WithControl("Package: plain\nVersion: 2.10-3\nArchitecture: amd64\nDescription: plain\n");

        var metadata = NativePackageReader.ReadDeb(new MemoryStream(deb), Limits);

        Assert.Equal(("plain", "2.10-3", "amd64"), (metadata.Name, metadata.Version, metadata.Architecture));
        Assert.Empty(metadata.Depends);
    }

    [Theory]
    [InlineData("evil;rm")]
    [InlineData("-rf")]
    [InlineData("$(reboot)")]
    [InlineData("a`id`")]
    [InlineData("name with spaces")]
    public void Deb_with_shell_syntax_in_Package_is_refused_as_bad_name(string name)
    {
        var deb = HandBuiltDeb.WithControl($"Package: {name}\nVersion: 1.0\nArchitecture: all\n");

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));

        Assert.Equal("bad-name", e.Code);
        Assert.Contains($"'{name}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(Names.PackageNameRule, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1;reboot")]
    [InlineData("$(id)")]
    [InlineData("1.0 -rf")]
    public void Deb_with_bad_Version_is_refused_as_bad_version(string version)
    {
        var deb = HandBuiltDeb.WithControl($"Package: good\nVersion: {version}\nArchitecture: all\n");

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));

        Assert.Equal("bad-version", e.Code);
        Assert.Contains($"'{version}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(Names.VersionRule, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deb_without_Package_field_is_refused_as_bad_name()
    {
        var deb = HandBuiltDeb.WithControl("Version: 1.0\nArchitecture: all\n");

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));

        Assert.Equal("bad-name", e.Code);
        Assert.Contains("(missing)", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Package: a\nPackage: b\nVersion: 1\nArchitecture: all\n", "twice")]
    [InlineData("Package: a\nVersion: 1\nArchitecture: all\nDescription: \u001b[31mred\n", "control character")]
    [InlineData(" continued\nPackage: a\nVersion: 1\nArchitecture: all\n", "no field precedes")]
    [InlineData("Package: a\nVersion: 1\nno colon here\n", "not a 'Field: value' line")]
    [InlineData("Package: a\nVersion: 1\nArchitecture: amd64;reboot\n", "architecture")]
    public void Deb_with_malformed_control_file_is_refused_as_bad_format(string control, string expected)
    {
        var deb = HandBuiltDeb.WithControl(control);

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_deb_is_refused_as_bad_format_at_every_structural_offset()
    {
        foreach (var (compression, deb) in packages.Debs)
        {
            var cuts = new SortedSet<int> { 0, 1, 7, 8, 9, deb.Length - 1 };
            foreach (var m in HandBuiltDeb.Members(deb))
            {
                foreach (var cut in (int[])[m.HeaderOffset, m.HeaderOffset + 30, m.HeaderOffset + 59, m.DataOffset, m.DataOffset + (m.Size / 2), m.DataOffset + m.Size - 1, m.DataOffset + m.Size])
                {
                    if (cut < deb.Length)
                        cuts.Add(cut);
                }
            }
            foreach (var cut in cuts)
            {
                var truncated = deb[..cut];
                foreach (var stream in (Stream[])[new MemoryStream(truncated), new NonSeekableStream(truncated)])
                {
                    var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(stream, Limits));
                    Assert.True(e.Code == "bad-format", $"{compression} cut at {cut}: {e.Code} {e.Message}");
                }
            }
        }
    }

    [Fact]
    public void Deb_with_absurd_control_member_size_is_refused_before_allocating()
    {
        var deb = HandBuiltDeb.ArRaw(("debian-binary", "4", "2.0\n"u8.ToArray()), ("control.tar.gz", "9999999999", new byte[100]));

        var e = AssertRefusedCheaply(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));

        Assert.Contains("9999999999", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deb_with_a_compression_bomb_in_control_tar_is_refused()
    {
        var limits = Limits with { MaxManifestBytes = 64 * 1024 }; // control.tar may unpack to at most 1 MiB
        var bomb = HandBuiltDeb.Gzip(HandBuiltDeb.Tar(("./md5sums", new byte[8 * 1024 * 1024]), ("./control", "Package: a\nVersion: 1\nArchitecture: all\n"u8.ToArray())));
        Assert.True(bomb.Length < 64 * 1024);
        var deb = HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), ("control.tar.gz", bomb), ("data.tar.gz", HandBuiltDeb.Gzip(HandBuiltDeb.Tar())));

        var e = AssertRefusedCheaply(() => NativePackageReader.ReadDeb(new MemoryStream(deb), limits), maxAllocatedBytes: 4 * 1024 * 1024);

        Assert.Contains("compression bomb", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deb_with_zstd_control_declaring_a_huge_window_is_refused_before_reserving_it()
    {
        var tar = HandBuiltDeb.Tar(("./control", "Package: a\nVersion: 1\nArchitecture: all\n"u8.ToArray()));
        var zst = HandBuiltDeb.Zstd(tar);
        var deb = HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), ("control.tar.zst", zst), ("data.tar.gz", HandBuiltDeb.Gzip(HandBuiltDeb.Tar())));
        Assert.Equal("a", NativePackageReader.ReadDeb(new MemoryStream(deb), Limits).Name);

        // Frame header: magic (4), descriptor (1), window descriptor (1) when not single-segment.
        Assert.Equal(0, zst[4] & 0x23);
        zst[5] = 0x88; // window 2^27 = 128 MiB: legal zstd, but the control member may unpack to 16 MiB at most.
        deb = HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), ("control.tar.zst", zst), ("data.tar.gz", HandBuiltDeb.Gzip(HandBuiltDeb.Tar())));

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("control.tar.zst", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deb_with_xz_control_declaring_a_1_GiB_dictionary_is_read_without_allocating_it()
    {
        var deb = (byte[])packages.Debs["xz"].Clone();
        var control = HandBuiltDeb.Members(deb)[1];
        var block = control.DataOffset + 12; // after the 12-byte xz stream header
        var blockHeaderLength = (deb[block] + 1) * 4;
        var filter = deb.AsSpan(block, blockHeaderLength).IndexOf((ReadOnlySpan<byte>)[0x21, 0x01]); // LZMA2, 1 property byte
        Assert.True(filter > 0, "no LZMA2 filter in the xz block header");
        deb[block + filter + 2] = 36; // dictionary 1 GiB
        BinaryPrimitives.WriteUInt32LittleEndian(deb.AsSpan(block + blockHeaderLength - 4), HandBuiltDeb.Crc32(deb.AsSpan(block, blockHeaderLength - 4)));

        var before = GC.GetAllocatedBytesForCurrentThread();
        var metadata = NativePackageReader.ReadDeb(new MemoryStream(deb), Limits);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal("rig-test", metadata.Name);
        Assert.True(allocated < 16 * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Deb_with_wrong_structure_is_refused_as_bad_format()
    {
        var control = HandBuiltDeb.Gzip(HandBuiltDeb.Tar(("./control", "Package: a\nVersion: 1\nArchitecture: all\n"u8.ToArray())));
        var data = HandBuiltDeb.Gzip(HandBuiltDeb.Tar());
        byte[][] cases =
        [
            HandBuiltDeb.Ar(("control.tar.gz", control), ("debian-binary", "2.0\n"u8.ToArray()), ("data.tar.gz", data)),
            HandBuiltDeb.Ar(("debian-binary", "3.0\n"u8.ToArray()), ("control.tar.gz", control), ("data.tar.gz", data)),
            HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), ("data.tar.gz", data), ("control.tar.gz", control)),
            HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), ("control.tar.gz", HandBuiltDeb.Gzip(HandBuiltDeb.Tar(("./md5sums", [1])))), ("data.tar.gz", data)),
            HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), ("control.tar.gz", control)),
            HandBuiltDeb.ArRaw(("debian-binary", "4", "2.0\n"u8.ToArray()), ("control.tar.gz", "-5", control)),
        ];
        foreach (var deb in cases)
        {
            var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));
            Assert.Equal("bad-format", e.Code);
        }

        // Members starting with '_' are extensions that dpkg skips; so do we.
        var withExtra = HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), ("_extra", [1, 2, 3]), ("control.tar.gz", control), ("data.tar.gz", data));
        Assert.Equal("a", NativePackageReader.ReadDeb(new MemoryStream(withExtra), Limits).Name);
    }

    // ---- RPM ---------------------------------------------------------------------------------

    [Fact]
    public async Task Rpm_built_by_rpmbuild_is_read_with_its_epoch()
    {
        var metadata = NativePackageReader.ReadRpm(new MemoryStream(packages.RpmWithEpoch), Limits);

        Assert.Equal("rigtest", metadata.Name);
        Assert.Equal("2:1.2.3-4", metadata.Version);
        Assert.Equal("rpm", metadata.Format);
        Assert.Equal("rhel", metadata.OsFamily);
        Assert.Equal("noarch", metadata.Architecture);
        Assert.Equal("Rig test package", metadata.Description);
        Assert.Equal(["bash", "coreutils (>= 8.0)"], metadata.Depends);
        Assert.Equal(["rigtest (= 2:1.2.3-4)", "rigtest-virtual (= 1.0)", "/usr/bin/rigtest"], metadata.Provides);
        Assert.Equal(["oldrig (<< 1.0)", "rigtest-legacy"], metadata.Conflicts);
        await AssertMatchesRpmQueryAsync(packages.Paths["rpm-epoch"], metadata);
    }

    [Fact]
    public void Deb_relations_are_kept_canonical_with_Breaks_as_conflicts()
    {
        var metadata = NativePackageReader.ReadDeb(new MemoryStream(packages.Debs["xz"]), Limits);

        Assert.Equal(["rig-virtual (= 1.0)", "other-virtual"], metadata.Provides);
        Assert.Equal(["old-rig", "rig-legacy (<< 1:2)"], metadata.Conflicts);
        Assert.False(metadata.Essential);
        var essential = NativePackageReader.ReadDeb(new MemoryStream(HandBuiltDeb.WithControl(
            "Package: base\nVersion: 1\nArchitecture: amd64\nEssential: yes\nDepends: libc6:any (> 2.3), perl:native\nDescription: d\n")), Limits);
        Assert.True(essential.Essential);
        Assert.Equal(["libc6 (>= 2.3)", "perl"], essential.Depends); // arch qualifiers dropped, the obsolete '>' is '>='
    }

    [Fact]
    public void Deb_with_a_relation_dpkg_would_refuse_is_refused_with_the_field()
    {
        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(HandBuiltDeb.WithControl(
            "Package: bad\nVersion: 1\nArchitecture: amd64\nDepends: libc6 (>= 2.3\nDescription: d\n")), Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("Depends field of .deb package 'bad'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rpm_without_epoch_has_no_epoch_in_its_version()
    {
        var metadata = NativePackageReader.ReadRpm(new MemoryStream(packages.RpmWithoutEpoch), Limits);

        Assert.Equal("1.2.3-4", metadata.Version);
        await AssertMatchesRpmQueryAsync(packages.Paths["rpm-noepoch"], metadata);
    }

    [Fact]
    public void Rpm_is_read_from_a_stream_that_cannot_seek_without_reading_the_payload()
    {
        var rpm = packages.RpmWithEpoch;
        using var stream = new NonSeekableStream(rpm);

        var metadata = NativePackageReader.ReadRpm(stream, Limits);

        Assert.Equal("2:1.2.3-4", metadata.Version);
        Assert.Equal(RpmLayout.Of(rpm).PayloadStart, stream.BytesRead);
    }

    [Fact]
    public void Truncated_rpm_is_refused_as_bad_format_at_every_structural_offset()
    {
        var rpm = packages.RpmWithEpoch;
        var layout = RpmLayout.Of(rpm);
        int[] headerCuts =
        [
            0, 1, 4, 50, 95, 96, 100, 111, layout.SignatureStoreStart - 1, layout.SignatureStoreStart,
            layout.SignatureStoreStart + (layout.SignatureStoreLength / 2), layout.MainStart - 1, layout.MainStart, layout.MainStart + 8,
            layout.MainIndexStart + 20, layout.MainStoreStart, layout.MainStoreStart + (layout.MainStoreLength / 2), layout.PayloadStart - 1,
        ];
        foreach (var cut in headerCuts)
        {
            foreach (var stream in (Stream[])[new MemoryStream(rpm[..cut]), new NonSeekableStream(rpm[..cut])])
            {
                var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(stream, Limits));
                Assert.True(e.Code == "bad-format", $"cut at {cut}: {e.Code} {e.Message}");
            }
        }

        // In the payload, a seekable file is checked against the size the signature declares.
        foreach (var cut in (int[])[layout.PayloadStart, layout.PayloadStart + ((rpm.Length - layout.PayloadStart) / 2), rpm.Length - 1])
        {
            var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(rpm[..cut]), Limits));
            Assert.Equal("bad-format", e.Code);
            Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("signature", 8)]
    [InlineData("main", 8)]
    [InlineData("signature", 12)]
    [InlineData("main", 12)]
    public void Rpm_with_absurd_index_count_or_store_size_is_refused_before_allocating(string header, int field)
    {
        var layout = RpmLayout.Of(packages.RpmWithEpoch);
        foreach (var value in (uint[])[0x7FFF_FFFF, 0xFFFF_FFFF, 100_001 * (field == 8 ? 1u : 1024)])
        {
            var rpm = (byte[])packages.RpmWithEpoch.Clone();
            BinaryPrimitives.WriteUInt32BigEndian(rpm.AsSpan((header == "main" ? layout.MainStart : layout.SignatureStart) + field), value);

            var e = AssertRefusedCheaply(() => NativePackageReader.ReadRpm(new MemoryStream(rpm), Limits));

            Assert.Contains(value.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Rpm_declaring_a_large_store_then_ending_costs_only_what_it_sent()
    {
        // 60 MiB is under the bound, so the reader starts reading; the file ends after a few bytes.
        var layout = RpmLayout.Of(packages.RpmWithEpoch);
        var rpm = packages.RpmWithEpoch[..(layout.MainStoreStart + 10)];
        BinaryPrimitives.WriteUInt32BigEndian(rpm.AsSpan(layout.MainStart + 12), 60 * 1024 * 1024);

        var e = AssertRefusedCheaply(() => NativePackageReader.ReadRpm(new NonSeekableStream(rpm), Limits), maxAllocatedBytes: 4 * 1024 * 1024);

        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rpm_with_shell_syntax_in_name_is_refused_as_bad_name()
    {
        var rpm = PatchMainStore(packages.RpmWithEpoch, "rigtest\0", "rig;est\0");

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(rpm), Limits));

        Assert.Equal("bad-name", e.Code);
        Assert.Contains("'rig;est'", e.Message, StringComparison.Ordinal);
        Assert.Contains(Names.PackageNameRule, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-.2.3")]
    [InlineData("1;2.3")]
    [InlineData("1-2.3")]
    public void Rpm_with_bad_version_is_refused_as_bad_version(string version)
    {
        var rpm = PatchMainStore(packages.RpmWithEpoch, "1.2.3\0", version + "\0");

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(rpm), Limits));

        Assert.Equal("bad-version", e.Code);
        Assert.Contains($"'{version}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rpm_with_negative_epoch_is_refused_as_bad_version()
    {
        var rpm = (byte[])packages.RpmWithEpoch.Clone();
        var layout = RpmLayout.Of(rpm);
        var epochOffset = MainIndexEntryOffset(rpm, layout, tag: 1003);
        BinaryPrimitives.WriteInt32BigEndian(rpm.AsSpan(layout.MainStoreStart + epochOffset), -1);

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(rpm), Limits));

        Assert.Equal("bad-version", e.Code);
    }

    [Fact]
    public void Rpm_index_entry_pointing_outside_its_store_is_refused_as_bad_format()
    {
        var rpm = (byte[])packages.RpmWithEpoch.Clone();
        var layout = RpmLayout.Of(rpm);
        var entry = MainIndexEntry(rpm, layout, tag: 1000);
        BinaryPrimitives.WriteInt32BigEndian(rpm.AsSpan(entry + 8), layout.MainStoreLength + 1);

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(rpm), Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("outside", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rpm_string_array_with_absurd_count_is_refused_before_looping()
    {
        var rpm = (byte[])packages.RpmWithEpoch.Clone();
        var layout = RpmLayout.Of(rpm);
        var entry = MainIndexEntry(rpm, layout, tag: 1049);
        BinaryPrimitives.WriteInt32BigEndian(rpm.AsSpan(entry + 12), int.MaxValue);

        var e = AssertRefusedCheaply(() => NativePackageReader.ReadRpm(new MemoryStream(rpm), Limits));

        Assert.Contains("1049", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Source_rpm_is_refused_as_bad_format()
    {
        var rpm = (byte[])packages.RpmWithEpoch.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(rpm.AsSpan(6), 1);

        var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(rpm), Limits));

        Assert.Equal("bad-format", e.Code);
        Assert.Contains("source RPM", e.Message, StringComparison.Ordinal);
    }

    // ---- Both --------------------------------------------------------------------------------

    [Fact]
    public void Garbage_is_refused_as_bad_format_by_both_readers()
    {
        var random = new Random(20261124);
        var noise = new byte[4096];
        random.NextBytes(noise);
        byte[][] inputs =
        [
            [],
            new byte[1000],
            noise,
            Encoding.UTF8.GetBytes("Package: hello\nVersion: 1.0\n"),
            packages.RpmWithEpoch,
            packages.Debs["xz"],
            [.. "!<arch>\n"u8, .. noise],
            [.. "!<arch>\ndebian-binary   "u8, .. noise],
            [.. packages.RpmWithEpoch.AsSpan(0, 96), .. noise],
            [.. packages.RpmWithEpoch.AsSpan(0, 112), .. noise],
        ];
        for (var i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] != packages.Debs["xz"])
            {
                var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(inputs[i]), Limits));
                Assert.True(e.Code == "bad-format", $"deb input {i}: {e.Code} {e.Message}");
            }
            if (inputs[i] != packages.RpmWithEpoch)
            {
                var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(inputs[i]), Limits));
                Assert.True(e.Code == "bad-format", $"rpm input {i}: {e.Code} {e.Message}");
            }
        }
    }

    [Theory]
    [InlineData("control.tar.gz")]
    [InlineData("control.tar.xz")]
    [InlineData("control.tar.zst")]
    [InlineData("control.tar")]
    public void Deb_with_garbage_control_member_is_refused_as_bad_format(string memberName)
    {
        var random = new Random(memberName.Length);
        foreach (var length in (int[])[0, 1, 6, 100, 5000])
        {
            var noise = new byte[length];
            random.NextBytes(noise);
            var deb = HandBuiltDeb.Ar(("debian-binary", "2.0\n"u8.ToArray()), (memberName, noise), ("data.tar.gz", HandBuiltDeb.Gzip(HandBuiltDeb.Tar())));

            var e = Assert.Throws<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(deb), Limits));

            Assert.True(e.Code == "bad-format", $"{memberName} of {length} random bytes: {e.Code} {e.Message}");
        }
    }

    [Fact]
    public void Deb_with_damaged_compressed_control_is_refused_as_bad_format()
    {
        foreach (var (compression, original) in packages.Debs.Where(d => d.Key != "none"))
        {
            var control = HandBuiltDeb.Members(original)[1];
            for (var at = 0; at < control.Size; at += Math.Max(1, control.Size / 16))
            {
                var deb = (byte[])original.Clone();
                deb[control.DataOffset + at] ^= 0xFF;
                try
                {
                    NativePackageReader.ReadDeb(new MemoryStream(deb), Limits);
                }
                catch (PackageRejectedException e)
                {
                    // Some flipped bytes still decode (e.g. in the gzip header's mtime); anything refused must be bad-format.
                    Assert.True(e.Code == "bad-format", $"{compression} flipped at {at}: {e.Code} {e.Message}");
                }
            }
        }
    }

    [Fact]
    public void DetectFormat_recognises_each_format_from_its_first_bytes()
    {
        Assert.Equal("deb", NativePackageReader.DetectFormat(packages.Debs["xz"]));
        Assert.Equal("deb", NativePackageReader.DetectFormat(packages.Debs["xz"].AsSpan(0, 21)));
        Assert.Equal("rpm", NativePackageReader.DetectFormat(packages.RpmWithEpoch));
        Assert.Equal("rpm", NativePackageReader.DetectFormat(packages.RpmWithEpoch.AsSpan(0, 4)));
        Assert.Equal("rig", NativePackageReader.DetectFormat(HandBuiltDeb.Gzip(HandBuiltDeb.Tar())));

        Assert.Null(NativePackageReader.DetectFormat([]));
        Assert.Null(NativePackageReader.DetectFormat("!<arch>\n"u8));
        Assert.Null(NativePackageReader.DetectFormat(packages.Debs["xz"].AsSpan(0, 20)));
        Assert.Null(NativePackageReader.DetectFormat(HandBuiltDeb.Ar(("other", [1]))));
        Assert.Null(NativePackageReader.DetectFormat("PK\u0003\u0004"u8));
        Assert.Null(NativePackageReader.DetectFormat([0x1F]));
        Assert.Null(NativePackageReader.DetectFormat([0xED, 0xAB, 0xEE]));
    }

    // ---- Helpers -----------------------------------------------------------------------------

    /// <summary>The call throws bad-format quickly and allocates little on this thread: the bound was checked
    /// before any buffer of the declared size was made.</summary>
    private static PackageRejectedException AssertRefusedCheaply(Action read, long maxAllocatedBytes = 256 * 1024)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<PackageRejectedException>(read);
        watch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal("bad-format", e.Code);
        Assert.True(allocated < maxAllocatedBytes, $"allocated {allocated} bytes before refusing: {e.Message}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed} to refuse: {e.Message}");
        return e;
    }

    private static async Task AssertMatchesDpkgDebAsync(string path, NativePackageMetadata metadata)
    {
        var fields = (await Tools.RunAsync("dpkg-deb", ["--showformat=${Package}\n${Version}\n${Architecture}\n${binary:Summary}\n", "--show", path])).Split('\n');
        string[] actual = [metadata.Name, metadata.Version, metadata.Architecture, metadata.Description ?? ""];
        Assert.Equal(fields[..4], actual);
    }

    private static async Task AssertMatchesRpmQueryAsync(string path, NativePackageMetadata metadata)
    {
        var output = await Tools.RunAsync("rpm", ["-qp", "--queryformat", "%{NAME}\n%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n%{ARCH}\n%{SUMMARY}\n[%{REQUIRENAME}\t%{REQUIREFLAGS:depflags}\t%{REQUIREVERSION}\n]", path]);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] actual = [metadata.Name, metadata.Version, metadata.Architecture, metadata.Description ?? ""];
        Assert.Equal(lines[..4], actual);
        // rpm's own view of the requirements, written canonically (its '<' and '>' are strict).
        var requires = lines[4..].Select(l => l.Split('\t')).Where(r => !r[0].StartsWith("rpmlib(", StringComparison.Ordinal))
            .Select(r => r[1].Trim().Length == 0 ? r[0] : $"{r[0]} ({r[1].Trim() switch { "<" => "<<", ">" => ">>", var op => op }} {r[2]})").Distinct();
        Assert.Equal(requires, metadata.Depends);
    }

    /// <summary>A copy of the RPM with the first occurrence of <paramref name="from"/> in the main header's store
    /// replaced by <paramref name="to"/> (same length). Signatures no longer match; the reader does not check them.</summary>
    private static byte[] PatchMainStore(byte[] original, string from, string to)
    {
        Assert.Equal(from.Length, to.Length);
        var rpm = (byte[])original.Clone();
        var layout = RpmLayout.Of(rpm);
        var store = rpm.AsSpan(layout.MainStoreStart, layout.MainStoreLength);
        var at = store.IndexOf(Encoding.ASCII.GetBytes(from));
        Assert.True(at >= 0, $"'{from}' not found in the main header");
        Encoding.ASCII.GetBytes(to).CopyTo(store[at..]);
        return rpm;
    }

    /// <summary>Position in the file of the main-header index entry for <paramref name="tag"/>.</summary>
    private static int MainIndexEntry(byte[] rpm, RpmLayout layout, int tag)
    {
        for (var entry = layout.MainIndexStart; entry < layout.MainStoreStart; entry += 16)
        {
            if (BinaryPrimitives.ReadInt32BigEndian(rpm.AsSpan(entry)) == tag)
                return entry;
        }
        throw new InvalidOperationException($"tag {tag} not in the main header");
    }

    private static int MainIndexEntryOffset(byte[] rpm, RpmLayout layout, int tag) =>
        BinaryPrimitives.ReadInt32BigEndian(rpm.AsSpan(MainIndexEntry(rpm, layout, tag) + 8));
}
