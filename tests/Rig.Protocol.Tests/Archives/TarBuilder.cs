using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Rig.Protocol.Archives;

namespace Rig.Protocol.Tests.Archives;

/// <summary>Builds <c>.rig.tar.gz</c> bytes entry by entry with <see cref="TarWriter"/>, without
/// <see cref="RigArchiveWriter"/>, so that tests can make archives the writer would never produce.</summary>
internal sealed class TarBuilder
{
    private static readonly DateTimeOffset Time = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const UnixFileMode FileMode644 = (UnixFileMode)0x1A4; // 0644
    private const UnixFileMode DirMode755 = (UnixFileMode)0x1ED;  // 0755

    private readonly List<Func<TarEntry>> entries = [];

    /// <summary>rig.json listing exactly <paramref name="files"/> (device path, content) with correct digests.</summary>
    public static RigArchiveManifest ManifestFor(params (string DevicePath, byte[] Content)[] files) =>
        ManifestFor("demo", "1.0.0", files);

    /// <summary>rig.json with the given name and version, listing <paramref name="files"/> with correct digests.</summary>
    public static RigArchiveManifest ManifestFor(string name, string version, params (string DevicePath, byte[] Content)[] files) => new()
    {
        Name = name,
        Version = version,
        Files = files.Select(f => new RigArchiveFile(f.DevicePath, Sha256(f.Content))).ToList(),
    };

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static byte[] Text(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Adds rig.json serialized from <paramref name="manifest"/>.</summary>
    public TarBuilder Manifest(RigArchiveManifest manifest) =>
        File("rig.json", JsonSerializer.SerializeToUtf8Bytes(manifest, RigJson.Default.RigArchiveManifest));

    /// <summary>Adds rig.json with exactly these bytes.</summary>
    public TarBuilder RawManifest(string json) => File("rig.json", Text(json));

    public TarBuilder File(string name, byte[] content, UnixFileMode mode = FileMode644) => Add(() =>
        new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(content, writable: false),
            Mode = mode,
            ModificationTime = Time,
        });

    public TarBuilder Directory(string name) => Add(() =>
        new PaxTarEntry(TarEntryType.Directory, name) { Mode = DirMode755, ModificationTime = Time });

    public TarBuilder Symlink(string name, string target) => Add(() =>
        new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target, Mode = (UnixFileMode)0x1FF, ModificationTime = Time });

    public TarBuilder HardLink(string name, string target) => Add(() =>
        new PaxTarEntry(TarEntryType.HardLink, name) { LinkName = target, Mode = FileMode644, ModificationTime = Time });

    /// <summary>A device node or FIFO entry.</summary>
    public TarBuilder Special(TarEntryType type, string name) => Add(() =>
    {
        var entry = new PaxTarEntry(type, name) { Mode = FileMode644, ModificationTime = Time };
        if (type is TarEntryType.CharacterDevice or TarEntryType.BlockDevice)
        {
            entry.DeviceMajor = 1;
            entry.DeviceMinor = 3;
        }
        return entry;
    });

    /// <summary>Adds an entry made by the caller (for odd types or formats).</summary>
    public TarBuilder Add(Func<TarEntry> entry)
    {
        entries.Add(entry);
        return this;
    }

    /// <summary>The gzip-compressed tar.</summary>
    public byte[] Build()
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in entries)
                tar.WriteEntry(entry());
        }
        return output.ToArray();
    }
}
