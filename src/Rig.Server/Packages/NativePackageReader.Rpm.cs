using System.Buffers.Binary;
using Rig.Protocol;
using Rig.Protocol.Packaging;

namespace Rig.Server.Packages;

internal static partial class NativePackageReader
{
    private static ReadOnlySpan<byte> RpmLeadMagic => [0xED, 0xAB, 0xEE, 0xDB];
    private static ReadOnlySpan<byte> RpmHeaderMagic => [0x8E, 0xAD, 0xE8, 0x01];

    /// <summary>The RPM lead is a fixed 96-byte block, kept only for compatibility.</summary>
    private const int RpmLeadBytes = 96;

    /// <summary>A header starts with magic (4), reserved (4), index entry count (4) and store size (4).</summary>
    private const int RpmHeaderIntroBytes = 16;

    /// <summary>Each index entry: tag, type, offset, count, all big-endian int32.</summary>
    private const int RpmIndexEntryBytes = 16;

    /// <summary>Index entries are one per tag (file lists are arrays inside one tag), so real headers have a few
    /// hundred; 100,000 is generous and bounds the index at 1.6 MB.</summary>
    private const int MaxRpmIndexEntries = 100_000;

    /// <summary>The header store holds the file lists and changelog; the largest real packages (kernel sources,
    /// TeX collections) stay in the low tens of MiB. It is read into memory, so it is bounded.</summary>
    private const int MaxRpmHeaderStoreBytes = 64 * 1024 * 1024;

    private const int RpmSignatureTypeHeaderSig = 5;
    private const int RpmLeadTypeSource = 1;

    // Header data types (rpm/rpmtag.h).
    private const int RpmTypeInt32 = 4;
    private const int RpmTypeInt64 = 5;
    private const int RpmTypeString = 6;
    private const int RpmTypeStringArray = 8;
    private const int RpmTypeI18nString = 9;

    // Tags of the main header.
    private const int RpmTagName = 1000;
    private const int RpmTagVersion = 1001;
    private const int RpmTagRelease = 1002;
    private const int RpmTagEpoch = 1003;
    private const int RpmTagSummary = 1004;
    private const int RpmTagArch = 1022;
    private const int RpmTagRequireName = 1049;
    private const int RpmTagRequireFlags = 1048;
    private const int RpmTagRequireVersion = 1050;
    private const int RpmTagProvideName = 1047;
    private const int RpmTagProvideFlags = 1112;
    private const int RpmTagProvideVersion = 1113;
    private const int RpmTagConflictName = 1054;
    private const int RpmTagConflictFlags = 1053;
    private const int RpmTagConflictVersion = 1055;
    private const int RpmTagObsoleteName = 1090;
    private const int RpmTagObsoleteFlags = 1114;
    private const int RpmTagObsoleteVersion = 1115;
    private const int RpmTagOldFileNames = 1027;
    private const int RpmTagDirIndexes = 1116;
    private const int RpmTagBaseNames = 1117;
    private const int RpmTagDirNames = 1118;

    /// <summary>Most files of one package listed as capabilities (those in bin directories and /etc, which other
    /// packages require by path, as a repository's primary metadata lists them).</summary>
    private const int MaxRpmFileProvides = 4_096;

    // Tags of the signature header: size of main header plus payload.
    private const int RpmSigTagSize = 1000;
    private const int RpmSigTagLongSize = 270;

    private const string RpmHint = "Upload a binary RPM as built by rpmbuild (check it with 'rpm -qip FILE').";

    /// <summary>Read the metadata of a binary RPM from <paramref name="stream"/>: the lead, the signature header and
    /// the main header; the payload is not read. When the stream is seekable its length is checked against the size
    /// the signature declares, so a truncated file is refused.</summary>
    /// <exception cref="PackageRejectedException">The file is not a valid binary RPM (<c>bad-format</c>) or its name
    /// or version is not acceptable (<c>bad-name</c>, <c>bad-version</c>).</exception>
    public static NativePackageMetadata ReadRpm(Stream stream, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(limits);
        var file = new PackageStream(stream, "rpm");

        var lead = file.ReadExactly(RpmLeadBytes, "the RPM lead");
        if (!lead.AsSpan(0, 4).SequenceEqual(RpmLeadMagic))
            throw BadFormat($"The file is not an RPM: it does not start with the RPM magic ED AB EE DB (found {Convert.ToHexString(lead, 0, 4)}). {RpmHint}");
        if (BinaryPrimitives.ReadUInt16BigEndian(lead.AsSpan(6)) == RpmLeadTypeSource)
            throw BadFormat($"The file is a source RPM, which cannot be installed. Upload the binary RPM built from it ('rpmbuild --rebuild').");
        var signatureType = BinaryPrimitives.ReadUInt16BigEndian(lead.AsSpan(78));
        if (signatureType != RpmSignatureTypeHeaderSig)
            throw BadFormat($"The RPM lead declares signature type {signatureType}; only type 5 (header signature, RPM 3 and later) is supported. {RpmHint}");

        var signature = RpmHeader.Read(file, "signature header");
        var padding = (8 - signature.StoreLength % 8) % 8;
        file.Skip(padding, "the padding after the signature header");
        long? declaredSize = signature.Int64(RpmSigTagLongSize) ?? (signature.Int32(RpmSigTagSize) is { } s ? (uint)s : null);

        var mainStart = file.Offset;
        var header = RpmHeader.Read(file, "main header");
        if (declaredSize is { } size && file.Remaining is { } remaining)
        {
            var payload = size - (file.Offset - mainStart);
            if (payload > remaining)
                throw file.Truncated("the header and payload", mainStart, size, file.Offset - mainStart + remaining);
        }

        var name = header.String(RpmTagName);
        if (!Names.IsValidPackageName(name))
            throw new PackageRejectedException("bad-name",
                $"The RPM package name (tag NAME) is {Quote(name)}, which is not allowed: a package name is {Names.PackageNameRule}. " +
                "Fix the Name in the spec file and rebuild the package.");

        var version = header.String(RpmTagVersion);
        var release = header.String(RpmTagRelease);
        var epoch = header.Int32(RpmTagEpoch);
        foreach (var (label, part) in (ReadOnlySpan<(string, string?)>)[("Version", version), ("Release", release)])
        {
            if (!Names.IsValidVersion(part) || part!.Contains('-', StringComparison.Ordinal))
                throw new PackageRejectedException("bad-version",
                    $"The {label} of RPM package '{name}' is {Quote(part)}, which is not allowed: it must be {Names.VersionRule}, without '-'. " +
                    $"Fix the {label} in the spec file and rebuild the package.");
        }
        if (epoch is < 0)
            throw new PackageRejectedException("bad-version",
                $"The Epoch of RPM package '{name}' is {epoch}, which is not allowed: an epoch is a non-negative number. Fix the Epoch in the spec file and rebuild the package.");
        var fullVersion = (epoch is { } e ? $"{e}:" : "") + $"{version}-{release}";
        if (!Names.IsValidVersion(fullVersion))
            throw new PackageRejectedException("bad-version",
                $"The version of RPM package '{name}' is {Quote(fullVersion)}, which is not allowed: a version is {Names.VersionRule}. " +
                "Shorten the Version or Release in the spec file and rebuild the package.");

        var architecture = header.String(RpmTagArch);
        if (!Names.IsValidPackageName(architecture))
            throw BadFormat($"The architecture of RPM package '{name}' (tag ARCH) is {Quote(architecture)}; it must be an RPM architecture such as " +
                $"'x86_64' or 'noarch' ({Names.PackageNameRule}). {RpmHint}");

        var summary = header.String(RpmTagSummary);
        if (summary is not null && HasControlCharacter(summary))
            throw BadFormat($"The Summary of RPM package '{name}' holds a control character: {Quote(summary)}. Remove it and rebuild the package.");

        var requires = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var require in RpmRelations(header, name!, RpmTagRequireName, RpmTagRequireFlags, RpmTagRequireVersion))
        {
            // rpmlib(...) entries are features of rpm itself that rpmbuild adds, not dependencies on packages; a rich
            // dependency ("(a or b)") is left to rpm on the device.
            if (require.Name.StartsWith("rpmlib(", StringComparison.Ordinal) || require.Name.StartsWith('(') || !seen.Add(require.ToString()))
                continue;
            requires.Add(require.ToString());
        }
        var provides = RpmRelations(header, name!, RpmTagProvideName, RpmTagProvideFlags, RpmTagProvideVersion).Select(r => r.ToString()).ToList();
        provides.AddRange(FileProvides(header).Except(provides, StringComparer.Ordinal).Take(MaxRpmFileProvides));
        var conflicts = RpmRelations(header, name!, RpmTagConflictName, RpmTagConflictFlags, RpmTagConflictVersion)
            .Concat(RpmRelations(header, name!, RpmTagObsoleteName, RpmTagObsoleteFlags, RpmTagObsoleteVersion))
            .Where(r => !r.Name.StartsWith('(')).Select(r => r.ToString()).Distinct(StringComparer.Ordinal).ToList();

        return new NativePackageMetadata(name!, fullVersion, "rpm", "rhel", architecture!, string.IsNullOrEmpty(summary) ? null : summary, requires)
        {
            Provides = provides,
            Conflicts = conflicts,
        };
    }

    /// <summary>One relation tag set (names, sense flags, versions) as canonical relations. Names with blanks or
    /// control characters are refused: rpm itself never writes them.</summary>
    private static IEnumerable<PackageRelation> RpmRelations(RpmHeader header, string package, int nameTag, int flagsTag, int versionTag)
    {
        var names = header.StringArray(nameTag);
        if (names.Count == 0)
            yield break;
        var flags = header.Int32Array(flagsTag);
        var versions = header.StringArray(versionTag);
        for (var i = 0; i < names.Count; i++)
        {
            var relationName = names[i];
            if (relationName.Length == 0 || HasControlCharacter(relationName) || (!relationName.StartsWith('(') && relationName.Any(char.IsWhiteSpace)))
                throw BadFormat($"RPM package '{package}' has the relation {Quote(relationName)} (tag {nameTag}), which is empty or holds a blank or control character. {RpmHint}");
            var op = i < flags.Count ? PackageRelations.RpmOperator(flags[i]) : null;
            var version = i < versions.Count && versions[i].Length > 0 ? versions[i] : null;
            if (op is null || version is null || version.Any(c => char.IsWhiteSpace(c) || c is '(' or ')' or '|' or ',') || HasControlCharacter(version))
                yield return new PackageRelation(relationName);
            else
                yield return new PackageRelation(relationName, op, version);
        }
    }

    /// <summary>The package's files that other packages may require by path: those in bin directories and /etc.</summary>
    private static IEnumerable<string> FileProvides(RpmHeader header)
    {
        IEnumerable<string> files;
        var baseNames = header.StringArray(RpmTagBaseNames);
        if (baseNames.Count > 0)
        {
            var dirNames = header.StringArray(RpmTagDirNames);
            var dirIndexes = header.Int32Array(RpmTagDirIndexes);
            files = baseNames.Select((b, i) => i < dirIndexes.Count && dirIndexes[i] >= 0 && dirIndexes[i] < dirNames.Count ? dirNames[dirIndexes[i]] + b : null).OfType<string>();
        }
        else
        {
            files = header.StringArray(RpmTagOldFileNames);
        }
        return files.Where(f => f.StartsWith('/') && (f.StartsWith("/etc/", StringComparison.Ordinal) || f.Contains("bin/", StringComparison.Ordinal))
            && !f.Any(c => char.IsWhiteSpace(c) || c is '|' or ',') && !HasControlCharacter(f));
    }

    /// <summary>One RPM header structure (signature or main): index entries and their data store.</summary>
    private sealed class RpmHeader
    {
        private readonly Dictionary<int, (int Type, int Offset, int Count)> _entries = [];
        private readonly byte[] _store;
        private readonly string _what;

        private RpmHeader(byte[] store, string what)
        {
            _store = store;
            _what = what;
        }

        public int StoreLength => _store.Length;

        /// <summary>Read a header, checking the declared counts against their bounds before allocating.</summary>
        public static RpmHeader Read(PackageStream file, string what)
        {
            var start = file.Offset;
            var intro = file.ReadExactly(RpmHeaderIntroBytes, $"the RPM {what}");
            if (!intro.AsSpan(0, 4).SequenceEqual(RpmHeaderMagic))
                throw BadFormat($"The RPM {what} at offset {start} does not start with the header magic 8E AD E8 01 (found {Convert.ToHexString(intro, 0, 4)}). " +
                    $"The file is damaged or not an RPM. {RpmHint}");
            var count = BinaryPrimitives.ReadUInt32BigEndian(intro.AsSpan(8));
            var storeLength = BinaryPrimitives.ReadUInt32BigEndian(intro.AsSpan(12));
            if (count > MaxRpmIndexEntries)
                throw BadFormat($"The RPM {what} at offset {start} declares {count} index entries; at most {MaxRpmIndexEntries} are accepted. " +
                    "The file is damaged or crafted; upload an RPM built by rpmbuild.");
            if (storeLength > MaxRpmHeaderStoreBytes)
                throw BadFormat($"The RPM {what} at offset {start} declares a data store of {storeLength} bytes; at most {MaxRpmHeaderStoreBytes} are accepted. " +
                    "The file is damaged or crafted; upload an RPM built by rpmbuild.");

            var index = file.ReadExactly((int)count * RpmIndexEntryBytes, $"the index of the RPM {what}");
            var store = file.ReadExactly((int)storeLength, $"the data store of the RPM {what}");
            var header = new RpmHeader(store, what);
            for (var i = 0; i < (int)count; i++)
            {
                var entry = index.AsSpan(i * RpmIndexEntryBytes, RpmIndexEntryBytes);
                var tag = BinaryPrimitives.ReadInt32BigEndian(entry);
                var type = BinaryPrimitives.ReadInt32BigEndian(entry[4..]);
                var offset = BinaryPrimitives.ReadInt32BigEndian(entry[8..]);
                var entryCount = BinaryPrimitives.ReadInt32BigEndian(entry[12..]);
                if (offset < 0 || offset > store.Length || entryCount < 0)
                    throw BadFormat($"The RPM {what} has an index entry for tag {tag} with offset {offset} and count {entryCount}, outside its " +
                        $"{store.Length}-byte data store. The file is damaged; upload an undamaged file.");
                header._entries.TryAdd(tag, (type, offset, entryCount));
            }
            return header;
        }

        /// <summary>The first string of a STRING, I18NSTRING or STRING_ARRAY tag, or null when absent.</summary>
        public string? String(int tag)
        {
            if (!_entries.TryGetValue(tag, out var e))
                return null;
            if (e.Type is not (RpmTypeString or RpmTypeI18nString or RpmTypeStringArray) || e.Count < 1)
                throw Damaged(tag, $"type {e.Type} with count {e.Count}, where a string was expected");
            return StringAt(tag, e.Offset, out _);
        }

        /// <summary>The strings of a STRING_ARRAY tag; empty when absent.</summary>
        public IReadOnlyList<string> StringArray(int tag)
        {
            if (!_entries.TryGetValue(tag, out var e))
                return [];
            // Each string takes at least its terminating NUL, so a count beyond the store is a lie: refuse it before looping.
            if (e.Type != RpmTypeStringArray || e.Count > _store.Length - e.Offset)
                throw Damaged(tag, $"type {e.Type} with count {e.Count}, where an array of at most {_store.Length - e.Offset} strings was expected");
            var values = new List<string>(e.Count);
            var offset = e.Offset;
            for (var i = 0; i < e.Count; i++)
            {
                values.Add(StringAt(tag, offset, out var next));
                offset = next;
            }
            return values;
        }

        /// <summary>The values of an INT32 tag; empty when absent.</summary>
        public IReadOnlyList<int> Int32Array(int tag)
        {
            if (!_entries.TryGetValue(tag, out var e))
                return [];
            if (e.Type != RpmTypeInt32 || e.Count > (_store.Length - e.Offset) / 4)
                throw Damaged(tag, $"type {e.Type} with count {e.Count} at offset {e.Offset}, where an array of 32-bit integers was expected");
            var values = new int[e.Count];
            for (var i = 0; i < e.Count; i++)
                values[i] = BinaryPrimitives.ReadInt32BigEndian(_store.AsSpan(e.Offset + (4 * i)));
            return values;
        }

        /// <summary>The first value of an INT32 tag, or null when absent.</summary>
        public int? Int32(int tag)
        {
            if (!_entries.TryGetValue(tag, out var e))
                return null;
            if (e.Type != RpmTypeInt32 || e.Count < 1 || e.Offset > _store.Length - 4)
                throw Damaged(tag, $"type {e.Type} with count {e.Count} at offset {e.Offset}, where a 32-bit integer was expected");
            return BinaryPrimitives.ReadInt32BigEndian(_store.AsSpan(e.Offset));
        }

        /// <summary>The first value of an INT64 tag, or null when absent.</summary>
        public long? Int64(int tag)
        {
            if (!_entries.TryGetValue(tag, out var e))
                return null;
            if (e.Type != RpmTypeInt64 || e.Count < 1 || e.Offset > _store.Length - 8)
                throw Damaged(tag, $"type {e.Type} with count {e.Count} at offset {e.Offset}, where a 64-bit integer was expected");
            return BinaryPrimitives.ReadInt64BigEndian(_store.AsSpan(e.Offset));
        }

        private string StringAt(int tag, int offset, out int next)
        {
            var end = offset < _store.Length ? _store.AsSpan(offset).IndexOf((byte)0) : -1;
            if (end < 0)
                throw Damaged(tag, $"a string at offset {offset} that is not terminated inside the data store");
            next = offset + end + 1;
            return LenientUtf8.GetString(_store, offset, end);
        }

        private PackageRejectedException Damaged(int tag, string detail) =>
            BadFormat($"The RPM {_what} has tag {tag} as {detail}. The file is damaged; upload an undamaged file built by rpmbuild.");
    }
}
