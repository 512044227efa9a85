using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using Rig.Protocol;
using Rig.Protocol.Packaging;
using System.Numerics;
using SharpCompress.Compressors.Xz;
using SharpCompress.Compressors.ZStandard;
using SharpCompress.Compressors.ZStandard.Unsafe;
using ZstdDecompressionStream = SharpCompress.Compressors.ZStandard.DecompressionStream;

namespace Rig.Server.Packages;

internal static partial class NativePackageReader
{
    private static ReadOnlySpan<byte> ArMagic => "!<arch>\n"u8;
    private static ReadOnlySpan<byte> DebianBinaryMember => "debian-binary"u8;

    /// <summary>An ar member header is fixed at 60 bytes: name 16, mtime 12, uid 6, gid 6, mode 8, size 10, magic 2.</summary>
    private const int ArHeaderBytes = 60;

    /// <summary>The <c>debian-binary</c> member holds "2.0\n"; anything much longer is not a .deb.</summary>
    private const int MaxDebianBinaryBytes = 64;

    /// <summary>The control.tar member is compressed metadata and maintainer scripts: kilobytes in real packages.
    /// It is read into memory, so its size (and its decompressed size) is bounded relative to the manifest limit.</summary>
    private static long MaxControlMemberBytes(RigLimits limits) => Math.Min((long)limits.MaxManifestBytes * 16, Array.MaxLength);

    private const string DebHint = "Upload a Debian binary package as built by dpkg-deb (check it with 'dpkg-deb --info FILE').";

    /// <summary>Read the metadata of a Debian binary package (.deb) from <paramref name="stream"/>, which is read
    /// front to back (it need not be seekable) up to the end of the data member, so a truncated file is refused.</summary>
    /// <exception cref="PackageRejectedException">The file is not a valid .deb (<c>bad-format</c>) or its name or
    /// version is not acceptable (<c>bad-name</c>, <c>bad-version</c>).</exception>
    public static NativePackageMetadata ReadDeb(Stream stream, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(limits);
        var file = new PackageStream(stream, "deb");

        var magic = file.ReadExactly(ArMagic.Length, "the ar archive signature");
        if (!magic.AsSpan().SequenceEqual(ArMagic))
            throw BadFormat($"The file is not a .deb: it does not start with the ar signature '!<arch>' (found {Quote(Encoding.Latin1.GetString(magic))}). {DebHint}");

        var first = NextArMember(file) ?? throw BadFormat($"The .deb file holds no members after the ar signature. {DebHint}");
        if (first.Name != "debian-binary")
            throw BadFormat($"The first member of the .deb is {Quote(first.Name)}; it must be 'debian-binary'. {DebHint}");
        if (first.Size > MaxDebianBinaryBytes)
            throw BadFormat($"The 'debian-binary' member of the .deb is {first.Size} bytes; it must hold only the format version '2.0'. {DebHint}");
        var formatVersion = Encoding.Latin1.GetString(file.ReadExactly((int)first.Size, "the 'debian-binary' member")).TrimEnd('\n');
        SkipArPadding(file, first);
        if (formatVersion != "2.0")
            throw BadFormat($"The .deb has format version {Quote(formatVersion)}; only '2.0' is supported. {DebHint}");

        var control = NextArMemberAfterExtras(file)
            ?? throw BadFormat($"The .deb file ends after 'debian-binary': it has no control.tar member. {DebHint}");
        if (!IsControlMemberName(control.Name))
            throw BadFormat($"The second member of the .deb is {Quote(control.Name)}; it must be control.tar, control.tar.gz, control.tar.xz or control.tar.zst. {DebHint}");
        var maxControl = MaxControlMemberBytes(limits);
        if (control.Size > maxControl)
            throw BadFormat($"The .deb member {Quote(control.Name)} declares {control.Size} bytes; at most {maxControl} are accepted for package metadata. " +
                "This is not a normal package; rebuild it with dpkg-deb.");
        var controlBytes = file.ReadExactly((int)control.Size, $"the member '{control.Name}'");
        SkipArPadding(file, control);
        var fields = ReadControlFields(controlBytes, control.Name, limits);

        // The data member is not read, only passed over, so that a truncated upload is refused here.
        var data = NextArMemberAfterExtras(file)
            ?? throw BadFormat($"The .deb file ends after {Quote(control.Name)}: it has no data.tar member (truncated?). Upload the complete file.");
        if (!data.Name.StartsWith("data.tar", StringComparison.Ordinal))
            throw BadFormat($"The third member of the .deb is {Quote(data.Name)}; it must be data.tar with an optional compression suffix. {DebHint}");
        file.Skip(data.Size + (data.Size & 1), $"the member '{data.Name}'");

        return ToDebMetadata(fields);
    }

    private sealed record ArMember(string Name, long Size, long Offset);

    private static bool IsControlMemberName(string name) =>
        name is "control.tar" or "control.tar.gz" or "control.tar.xz" or "control.tar.zst";

    /// <summary>The next member header, skipping members whose names start with '_' (dpkg reserves them for
    /// additions that readers ignore), or null at the end of the archive.</summary>
    private static ArMember? NextArMemberAfterExtras(PackageStream file)
    {
        while (true)
        {
            var member = NextArMember(file);
            if (member is null || !member.Name.StartsWith('_'))
                return member;
            file.Skip(member.Size + (member.Size & 1), $"the member '{member.Name}'");
        }
    }

    /// <summary>The next ar member header, or null when the archive ends cleanly.</summary>
    private static ArMember? NextArMember(PackageStream file)
    {
        var offset = file.Offset;
        var header = file.ReadExactlyOrEnd(ArHeaderBytes, "an ar member header");
        if (header is null)
            return null;
        if (header[58] != (byte)'`' || header[59] != (byte)'\n')
            throw BadFormat($"The .deb has a damaged ar member header at offset {offset} (it does not end with '`\\n'). Upload an undamaged file.");
        var name = Encoding.Latin1.GetString(header, 0, 16).TrimEnd(' ');
        if (name.EndsWith('/'))
            name = name[..^1]; // GNU ar terminates names with '/'.
        var sizeText = Encoding.Latin1.GetString(header, 48, 10).TrimEnd(' ');
        if (sizeText.Length == 0 || !sizeText.All(char.IsAsciiDigit)
            || !long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            throw BadFormat($"The .deb member {Quote(name)} at offset {offset} has size {Quote(sizeText)}, which is not a decimal number. Upload an undamaged file.");
        return new ArMember(name, size, offset);
    }

    private static void SkipArPadding(PackageStream file, ArMember member)
    {
        if ((member.Size & 1) != 0)
            file.Skip(1, $"the padding after member '{member.Name}'");
    }

    /// <summary>Decompress the control.tar member and return the fields of its <c>./control</c> file.</summary>
    private static Dictionary<string, string> ReadControlFields(byte[] member, string memberName, RigLimits limits)
    {
        var maxUnpacked = MaxControlMemberBytes(limits);
        byte[]? controlFile = null;
        try
        {
            using var compressed = new MemoryStream(member, writable: false);
            using var zstd = memberName == "control.tar.zst" ? ZstdDecompressorFor(maxUnpacked) : null;
            Stream decompressed = memberName switch
            {
                "control.tar.gz" => new GZipStream(compressed, CompressionMode.Decompress),
                "control.tar.xz" => new XZStream(compressed),
                "control.tar.zst" => new ZstdDecompressionStream(compressed, zstd!),
                _ => compressed,
            };
            using var bounded = new BoundedReadStream(decompressed, maxUnpacked, () => BadFormat(
                $"The .deb member {Quote(memberName)} unpacks to more than {maxUnpacked} bytes; package metadata is far smaller. " +
                "This looks like a compression bomb; the package is refused."));
            using var tar = new TarReader(bounded);
            var entries = 0;
            while (tar.GetNextEntry() is { } entry)
            {
                if (++entries > limits.MaxArchiveEntries)
                    throw BadFormat($"The .deb member {Quote(memberName)} holds more than {limits.MaxArchiveEntries} entries. Rebuild the package with dpkg-deb.");
                if (entry.Name is not ("./control" or "control"))
                    continue;
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    throw BadFormat($"In the .deb member {Quote(memberName)}, './control' is a {entry.EntryType}, not a regular file. {DebHint}");
                if (entry.Length > limits.MaxManifestBytes)
                    throw BadFormat($"The control file in the .deb is {entry.Length} bytes; at most {limits.MaxManifestBytes} are accepted. {DebHint}");
                controlFile = new byte[entry.Length];
                if (entry.DataStream is { } data)
                    data.ReadExactly(controlFile);
                break;
            }
            // Unpack to the end (still bounded) so the compressor's checksum is verified: a damaged member must not
            // yield a control file that merely looks plausible.
            bounded.CopyTo(Stream.Null);
        }
        catch (Exception e) when (e is not PackageRejectedException and not OutOfMemoryException and not OperationCanceledException)
        {
            // Decompressors and the tar reader report damage with many exception types; all mean a bad file.
            throw BadFormat($"The .deb member {Quote(memberName)} cannot be unpacked ({e.GetType().Name}: {e.Message}). " +
                "The file is damaged or truncated; upload an undamaged file.");
        }
        if (controlFile is null)
            throw BadFormat($"The .deb member {Quote(memberName)} holds no './control' file. {DebHint}");
        return ParseControlFile(LenientUtf8.GetString(controlFile));
    }

    /// <summary>A zstd decoder whose window may not exceed what the member may unpack to. zstd reserves the window
    /// the frame header declares (up to 128 MiB by default) before decoding; output beyond the bound is refused anyway,
    /// so a larger window is never needed. dpkg-deb declares the content size, which keeps its windows small.</summary>
    private static Decompressor ZstdDecompressorFor(long maxUnpacked)
    {
        var decompressor = new Decompressor();
        var windowLog = Math.Clamp(BitOperations.Log2((ulong)Math.Max(maxUnpacked - 1, 1)) + 1, ZstdMinWindowLog, ZstdDefaultMaxWindowLog);
        decompressor.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, windowLog);
        return decompressor;
    }

    /// <summary>zstd's smallest window (1 KiB) and its default largest for decoding (128 MiB).</summary>
    private const int ZstdMinWindowLog = 10;
    private const int ZstdDefaultMaxWindowLog = 27;

    /// <summary>The fields of the first paragraph of a Debian control file (deb-control(5)): "Name: value" lines,
    /// continuation lines starting with a space or tab. Field names are case-insensitive.</summary>
    private static Dictionary<string, string> ParseControlFile(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? current = null;
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                if (fields.Count > 0)
                    break; // End of the first paragraph; a binary package has only one.
                continue;
            }
            if (HasControlCharacter(line))
                throw BadFormat($"Line {lineNumber} of the .deb control file holds a control character: {Quote(line)}. Remove it and rebuild the package.");
            if (line[0] is ' ' or '\t')
            {
                if (current is null)
                    throw BadFormat($"Line {lineNumber} of the .deb control file continues a field, but no field precedes it: {Quote(line)}. {DebHint}");
                fields[current] = fields[current] + "\n" + line.Trim();
                continue;
            }
            if (line[0] == '#')
                continue;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                throw BadFormat($"Line {lineNumber} of the .deb control file is not a 'Field: value' line: {Quote(line)}. {DebHint}");
            var name = line[..colon];
            if (name.Any(c => c <= ' ' || c > '~'))
                throw BadFormat($"Line {lineNumber} of the .deb control file has an invalid field name {Quote(name)}. {DebHint}");
            if (!fields.TryAdd(name, line[(colon + 1)..].Trim()))
                throw BadFormat($"The .deb control file has the field {Quote(name)} twice (line {lineNumber}). Keep one and rebuild the package.");
            current = name;
        }
        return fields;
    }

    private static NativePackageMetadata ToDebMetadata(Dictionary<string, string> fields)
    {
        var name = fields.GetValueOrDefault("Package");
        if (!Names.IsValidPackageName(name))
            throw new PackageRejectedException("bad-name",
                $"The .deb package name (control field Package) is {Quote(name)}, which is not allowed: a package name is {Names.PackageNameRule}. " +
                "Fix the Package field and rebuild the package.");
        var version = fields.GetValueOrDefault("Version");
        if (!Names.IsValidVersion(version))
            throw new PackageRejectedException("bad-version",
                $"The version of .deb package '{name}' (control field Version) is {Quote(version)}, which is not allowed: a version is {Names.VersionRule}. " +
                "Fix the Version field and rebuild the package.");
        var architecture = fields.GetValueOrDefault("Architecture");
        if (!Names.IsValidPackageName(architecture))
            throw BadFormat($"The architecture of .deb package '{name}' (control field Architecture) is {Quote(architecture)}; " +
                $"it must be a Debian architecture such as 'amd64' or 'all' ({Names.PackageNameRule}). Fix the field and rebuild the package.");
        var description = fields.GetValueOrDefault("Description") is { } d ? d.Split('\n')[0] : null;
        var depends = Relations(name!, fields, "Pre-Depends", "Depends").Select(PackageRelations.Format).ToList();
        var provides = Relations(name!, fields, "Provides").SelectMany(g => g).Select(r => r.ToString()).ToList();
        var conflicts = Relations(name!, fields, "Conflicts", "Breaks").SelectMany(g => g).Select(r => r.ToString()).ToList();
        return new NativePackageMetadata(name!, version!, "deb", "debian", architecture!, string.IsNullOrEmpty(description) ? null : description, depends)
        {
            Provides = provides,
            Conflicts = conflicts,
            Essential = string.Equals(fields.GetValueOrDefault("Essential"), "yes", StringComparison.OrdinalIgnoreCase),
        };
    }

    /// <summary>The groups of the named relationship fields in order; a field dpkg itself would not accept is refused.</summary>
    private static IEnumerable<IReadOnlyList<PackageRelation>> Relations(string name, Dictionary<string, string> fields, params string[] names)
    {
        var groups = new List<IReadOnlyList<PackageRelation>>();
        foreach (var field in names)
        {
            try
            {
                groups.AddRange(PackageRelations.ParseDebianField(fields.GetValueOrDefault(field)));
            }
            catch (FormatException e)
            {
                throw BadFormat($"The {field} field of .deb package '{name}' cannot be read: {e.Message}. Fix the field and rebuild the package.");
            }
        }
        return groups;
    }
}
