using System.Buffers.Binary;
using System.Text;
using CsCheck;
using Rig.Protocol;
using Rig.Server.Packages;

namespace Rig.Server.Tests.Properties;

/// <summary>CHECKLIST 2 and 14, as properties over packages built by dpkg-deb and rpmbuild: damaged or truncated, a
/// .deb or .rpm is read (with a name and version Rig accepts) or refused with <see cref="PackageRejectedException"/>,
/// never another exception, within bounded memory and time, whether the stream can seek or not.</summary>
public sealed class NativePackageProperties(NativePackageFixture packages) : IClassFixture<NativePackageFixture>
{
    private static readonly RigLimits Limits = RigLimits.Default;

    /// <summary>Most a single read may allocate: the reader's bounds on what it holds (control member 16 MiB, RPM header
    /// store 64 MiB) are far above what these small packages need, so a read that allocates more than this followed a
    /// size the file declared instead of the bytes it has.</summary>
    private const long MaxAllocatedBytes = 96L * 1024 * 1024;

    /// <summary>A read that does not end in this time is stuck, whatever the machine: the inputs are a few KiB.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private enum Outcome { Read, Refused }

    /// <summary>Read <paramref name="bytes"/> with <paramref name="read"/> on its own thread and prove the outcome is one of
    /// the two allowed, within <see cref="MaxAllocatedBytes"/> and <see cref="Deadline"/>.</summary>
    private static Outcome ReadOrRefuse(byte[] bytes, bool seekable, Func<Stream, RigLimits, NativePackageMetadata> read)
    {
        var task = Task.Run(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            Outcome outcome;
            try
            {
                using var stream = seekable ? new MemoryStream(bytes, writable: false) : (Stream)new NonSeekableStream(bytes);
                var metadata = read(stream, Limits);
                Assert.True(Names.IsValidPackageName(metadata.Name), $"name '{metadata.Name}'");
                Assert.True(Names.IsValidVersion(metadata.Version), $"version '{metadata.Version}'");
                Assert.True(Names.IsValidPackageName(metadata.Architecture), $"architecture '{metadata.Architecture}'");
                Assert.DoesNotContain(metadata.Depends, d => d.Length == 0 || d.Any(c => char.IsControl(c) && c != '\t'));
                outcome = Outcome.Read;
            }
            catch (PackageRejectedException e)
            {
                Assert.Contains(e.Code, (string[])["bad-format", "bad-name", "bad-version"]);
                outcome = Outcome.Refused;
            }
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < MaxAllocatedBytes, $"the read allocated {allocated} bytes for a {bytes.Length}-byte file");
            return outcome;
        });
        Assert.True(task.Wait(Deadline), $"the read of a {bytes.Length}-byte file did not end within {Deadline}");
        return task.Result;
    }

    /// <summary>Generic damage: bytes overwritten, a range removed or repeated, random bytes inserted, truncation.</summary>
    private static Gen<(string How, byte[] Bytes)> Damaged(byte[] source) =>
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, source.Length - 1], Gen.Int[1, 64], Gen.Byte.Array[1, 8]).Select((how, at, length, some) =>
        {
            var end = Math.Min(source.Length, at + length);
            byte[] bytes = how switch
            {
                0 => [.. source[..at], .. some, .. source[Math.Min(source.Length, at + some.Length)..]],
                1 => [.. source[..at], .. source[end..]],
                2 => [.. source[..end], .. source[at..]],
                3 => [.. source[..at], .. some, .. source[at..]],
                _ => source[..at],
            };
            return ($"{(new[] { "overwrite", "remove", "repeat", "insert", "truncate" })[how]} at {at} length {length} bytes {Convert.ToHexString(some)}", bytes);
        });

    /// <summary>Damage aimed at what the .deb reader parses: an ar member's size field rewritten (digits, huge, negative,
    /// garbage), or a byte of the control member (its compressed stream or tar headers) overwritten.</summary>
    private static Gen<(string How, byte[] Bytes)> DamagedDeb(byte[] deb)
    {
        var members = HandBuiltDeb.Members(deb);
        var sizes = Gen.OneOf(Gen.Int[0, 4096].Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Const("9999999999"), Gen.Const("-1"), Gen.Const("2147483648"), Gen.Const("0x10"), Gen.Const(" 12"), Gen.Const(""));
        var sizeField = Gen.Select(Gen.Int[0, members.Count - 1], sizes).Select((m, size) =>
        {
            var copy = (byte[])deb.Clone();
            Encoding.ASCII.GetBytes(size.PadRight(10)).CopyTo(copy, members[m].HeaderOffset + 48);
            return ($"member {members[m].Name} size field '{size}'", copy);
        });
        var control = members.Single(m => m.Name.StartsWith("control.tar", StringComparison.Ordinal));
        var controlByte = Gen.Select(Gen.Int[0, control.Size - 1], Gen.Byte).Select((at, value) =>
        {
            var copy = (byte[])deb.Clone();
            copy[control.DataOffset + at] = value;
            return ($"{control.Name} byte {at} = {value:X2}", copy);
        });
        return Gen.Frequency((3, Damaged(deb)), (1, sizeField), (3, controlByte));
    }

    /// <summary>Damage aimed at what the RPM reader parses: a field of an index entry of the signature or main header
    /// (tag, type, offset, count) or a header's entry count or store size rewritten with an edge value.</summary>
    private static Gen<(string How, byte[] Bytes)> DamagedRpm(byte[] rpm)
    {
        var layout = RpmLayout.Of(rpm);
        var mainCount = (layout.MainStoreStart - layout.MainIndexStart) / 16;
        var signatureCount = (layout.SignatureStoreStart - layout.SignatureStart - 16) / 16;
        var values = Gen.OneOf(Gen.Int, Gen.Int[-2, 70], Gen.Const(int.MaxValue), Gen.Const(int.MinValue), Gen.Const(layout.MainStoreLength), Gen.Const(1000), Gen.Const(1049));
        var indexField = Gen.Select(Gen.Bool, Gen.Int[0, Math.Max(mainCount, signatureCount) - 1], Gen.Int[0, 3], values).Select((main, entry, field, value) =>
        {
            var count = main ? mainCount : signatureCount;
            var at = (main ? layout.MainIndexStart : layout.SignatureStart + 16) + (16 * (entry % count)) + (4 * field);
            var copy = (byte[])rpm.Clone();
            BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(at), value);
            return ($"{(main ? "main" : "signature")} index entry {entry % count} field {field} = {value}", copy);
        });
        var headerField = Gen.Select(Gen.Bool, Gen.Bool, values).Select((main, store, value) =>
        {
            var copy = (byte[])rpm.Clone();
            BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan((main ? layout.MainStart : layout.SignatureStart) + (store ? 12 : 8)), value);
            return ($"{(main ? "main" : "signature")} header {(store ? "store size" : "entry count")} = {value}", copy);
        });
        return Gen.Frequency((2, Damaged(rpm)), (3, indexField), (1, headerField));
    }

    [Fact]
    public void A_damaged_deb_is_read_or_refused_with_PackageRejectedException_within_bounded_memory()
    {
        var debs = packages.Debs.OrderBy(d => d.Key, StringComparer.Ordinal).ToArray();
        var outcomes = new int[2];
        Gen.Select(Gen.Int[0, debs.Length - 1].SelectMany(i => DamagedDeb(debs[i].Value).Select(d => (Compression: debs[i].Key, d.How, d.Bytes))), Gen.Bool)
            .Sample((damaged, seekable) => Interlocked.Increment(ref outcomes[(int)ReadOrRefuse(damaged.Bytes, seekable, NativePackageReader.ReadDeb)]),
                iter: 2000, print: t => $"{t.Item1.Compression}: {t.Item1.How} (seekable {t.Item2})");
        Assert.True(outcomes.All(n => n > 0), $"read {outcomes[0]}, refused {outcomes[1]}: both outcomes should occur");
    }

    [Fact]
    public void A_damaged_rpm_is_read_or_refused_with_PackageRejectedException_within_bounded_memory()
    {
        var outcomes = new int[2];
        Gen.Select(Gen.OneOf(DamagedRpm(packages.RpmWithEpoch), DamagedRpm(packages.RpmWithoutEpoch)), Gen.Bool)
            .Sample((damaged, seekable) => Interlocked.Increment(ref outcomes[(int)ReadOrRefuse(damaged.Bytes, seekable, NativePackageReader.ReadRpm)]),
                iter: 2000, print: t => $"{t.Item1.How} (seekable {t.Item2})");
        Assert.True(outcomes.All(n => n > 0), $"read {outcomes[0]}, refused {outcomes[1]}: both outcomes should occur");
    }

    [Fact]
    public void Every_strict_prefix_of_a_deb_is_refused()
    {
        var debs = packages.Debs.Values.ToArray();
        Gen.Select(Gen.Int[0, debs.Length - 1].SelectMany(i => Gen.Int[0, debs[i].Length - 1].Select(cut => debs[i][..cut])), Gen.Bool)
            .Sample((prefix, seekable) => Assert.Equal(Outcome.Refused, ReadOrRefuse(prefix, seekable, NativePackageReader.ReadDeb)), iter: 500,
                print: t => $"{t.Item1.Length} bytes (seekable {t.Item2})");
    }

    [Fact]
    public void Every_strict_prefix_of_an_rpm_read_from_a_seekable_stream_is_refused()
    {
        // Without seeking the payload is not read, so only a seekable stream shows a truncated payload.
        Gen.OneOf(Gen.Const(packages.RpmWithEpoch), Gen.Const(packages.RpmWithoutEpoch)).SelectMany(rpm => Gen.Int[0, rpm.Length - 1].Select(cut => rpm[..cut]))
            .Sample(prefix => Assert.Equal(Outcome.Refused, ReadOrRefuse(prefix, seekable: true, NativePackageReader.ReadRpm)), iter: 500,
                print: p => $"{p.Length} bytes");
    }
}
