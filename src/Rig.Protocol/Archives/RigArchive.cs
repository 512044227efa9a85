using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;

namespace Rig.Protocol.Archives;

/// <summary>Kinds of entries a Rig archive may contain.</summary>
public enum ArchiveEntryKind
{
    /// <summary>A regular file.</summary>
    File,
    /// <summary>A directory.</summary>
    Directory,
    /// <summary>A symbolic link staying inside the root.</summary>
    SymbolicLink,
    /// <summary>A hard link to an earlier file of the same archive.</summary>
    HardLink,
}

/// <summary>One checked payload entry. <see cref="Path"/> is the device path without the leading '/'.</summary>
public sealed record ArchiveEntry(string Path, ArchiveEntryKind Kind, long Length, int Mode, string? LinkTarget, string? Sha256);

/// <summary>A Rig archive (<c>.rig.tar.gz</c>): gzip'd tar with <c>rig.json</c> and a <c>files/</c> tree.
/// <see cref="Inspect"/> reads the whole archive once and refuses it if any entry breaks a rule, so that an
/// installer can check first and write second.</summary>
public sealed class RigArchive
{
    /// <summary>File name suffix of Rig archives.</summary>
    public const string Extension = ".rig.tar.gz";

    private const string ManifestName = "rig.json";
    private const string PayloadRoot = "files";

    private RigArchive(RigArchiveManifest manifest, IReadOnlyList<ArchiveEntry> entries)
    {
        Manifest = manifest;
        Entries = entries;
    }

    /// <summary>The checked manifest.</summary>
    public RigArchiveManifest Manifest { get; }

    /// <summary>Every payload entry in archive order.</summary>
    public IReadOnlyList<ArchiveEntry> Entries { get; }

    /// <summary>Read and check a whole archive: paths, entry types, modes, links, sizes, compression ratio,
    /// the manifest and every payload digest against it. Throws <see cref="ArchiveRejectedException"/>.</summary>
    public static RigArchive Inspect(Stream gzipped, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(gzipped);
        ArgumentNullException.ThrowIfNull(limits);
        RigArchiveManifest? manifest = null;
        var entries = new List<ArchiveEntry>();
        Walk(gzipped, limits, (entry, data) =>
        {
            if (entry is null)
            {
                manifest = ReadManifest(data!, limits);
                return;
            }
            if (entry.Kind == ArchiveEntryKind.File)
            {
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[81920];
                int n;
                while ((n = data!.Read(buffer, 0, buffer.Length)) > 0)
                    sha.AppendData(buffer, 0, n);
                entry = entry with { Sha256 = Convert.ToHexStringLower(sha.GetHashAndReset()) };
            }
            entries.Add(entry);
        });

        if (manifest is null)
            throw new ArchiveRejectedException("bad-manifest", $"The archive has no {ManifestName} at its root; build it with `rig package build`.");
        CheckPayloadAgainstManifest(manifest, entries);
        return new RigArchive(manifest, entries);
    }

    /// <summary>Write the payload of an archive already checked by <see cref="Inspect"/> into
    /// <paramref name="destination"/> (a fresh staging directory). Every rule is checked again as the entries
    /// are read, parents must be real directories (never links), and files are written with their modes.</summary>
    public void ExtractTo(Stream gzipped, string destination, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(gzipped);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(limits);
        var root = Path.GetFullPath(destination);
        Directory.CreateDirectory(root);
        var index = 0;
        Walk(gzipped, limits, (entry, data) =>
        {
            if (entry is null)
                return;
            if (index >= Entries.Count || Entries[index].Path != entry.Path || Entries[index].Kind != entry.Kind)
                throw new ArchiveRejectedException("bad-format", $"The archive changed between inspection and extraction at '{entry.Path}'.");
            var expected = Entries[index++];
            var target = Path.Combine(root, entry.Path);
            EnsureRealParents(root, target);
            switch (entry.Kind)
            {
                case ArchiveEntryKind.Directory:
                    Directory.CreateDirectory(target);
                    TrySetMode(target, entry.Mode);
                    break;
                case ArchiveEntryKind.File:
                    WriteFile(target, data!, entry.Mode, expected.Sha256!);
                    break;
                case ArchiveEntryKind.HardLink:
                    File.Copy(Path.Combine(root, entry.LinkTarget!), target, overwrite: false);
                    break;
                case ArchiveEntryKind.SymbolicLink:
                    File.CreateSymbolicLink(target, entry.LinkTarget!);
                    break;
            }
        });
    }

    private static void WriteFile(string target, Stream data, int mode, string expectedSha)
    {
        using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            var buffer = new byte[81920];
            int n;
            while ((n = data.Read(buffer, 0, buffer.Length)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                output.Write(buffer, 0, n);
            }
            var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            if (actual != expectedSha)
                throw new ArchiveRejectedException("bad-format", $"File '{target}' changed between inspection and extraction (sha256 {actual}, expected {expectedSha}).");
        }
        TrySetMode(target, mode);
    }

    private static void TrySetMode(string path, int mode)
    {
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, (UnixFileMode)(mode & 0x1FF));
    }

    private static void EnsureRealParents(string root, string target)
    {
        var dir = Path.GetDirectoryName(target)!;
        while (dir.Length > root.Length)
        {
            var info = new DirectoryInfo(dir);
            if (info.Exists && info.LinkTarget is not null)
                throw new ArchiveRejectedException("link-escape", $"Entry '{Path.GetRelativePath(root, target)}' would be written through the symbolic link '{Path.GetRelativePath(root, dir)}'.");
            dir = Path.GetDirectoryName(dir)!;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
    }

    /// <summary>Read the tar stream entry by entry; call <paramref name="onEntry"/> with (null, manifest stream)
    /// for rig.json and (entry, data) for each payload entry.</summary>
    private static void Walk(Stream gzipped, RigLimits limits, Action<ArchiveEntry?, Stream?> onEntry)
    {
        var counting = new CountingReadStream(gzipped);
        try
        {
            using var gzip = new GZipStream(counting, CompressionMode.Decompress, leaveOpen: true);
            // The ratio is checked on the bytes really decompressed, as they come: a declared size is not yet
            // compressed input, and checking it against the input read so far refused large honest files.
            var ratio = new RatioGuardStream(gzip, counting, limits);
            using var tar = new TarReader(ratio, leaveOpen: true);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var files = new HashSet<string>(StringComparer.Ordinal);
            var links = new HashSet<string>(StringComparer.Ordinal);
            var directories = new HashSet<string>(StringComparer.Ordinal); // every parent of an entry so far
            var nonDirectories = new HashSet<string>(StringComparer.Ordinal); // files and links so far
            long unpacked = 0;
            var count = 0;
            var sawManifest = false;
            TarEntry? entry;
            while ((entry = NextEntry(tar)) is not null)
            {
                if (entry.EntryType is TarEntryType.GlobalExtendedAttributes)
                    continue;
                if (++count > limits.MaxArchiveEntries)
                    throw new ArchiveRejectedException("too-large", $"The archive has more than {limits.MaxArchiveEntries} entries (limit reached at entry '{entry.Name}').");

                var name = ArchivePaths.NormalizeEntryName(entry.Name, limits.MaxPathLength);
                ratio.Entry = name;
                if (!seen.Add(name))
                    throw new ArchiveRejectedException("bad-format", $"Archive entry '{name}' appears twice.");
                // ExtractTo refuses to write through a link; refuse it here too, so that Inspect alone decides.
                for (var slash = name.LastIndexOf('/'); slash > 0; slash = name.LastIndexOf('/', slash - 1))
                {
                    if (links.Contains(name[..slash]))
                        throw new ArchiveRejectedException("link-escape", $"Archive entry '{name}' lies beneath the symbolic link '{name[..slash]}'; the whole package is refused.");
                }

                var kind = entry.EntryType switch
                {
                    TarEntryType.RegularFile or TarEntryType.V7RegularFile => ArchiveEntryKind.File,
                    TarEntryType.Directory => ArchiveEntryKind.Directory,
                    TarEntryType.SymbolicLink => ArchiveEntryKind.SymbolicLink,
                    TarEntryType.HardLink => ArchiveEntryKind.HardLink,
                    _ => throw new ArchiveRejectedException("special-file", $"Archive entry '{name}' is a {entry.EntryType}; Rig archives hold only files, directories and links."),
                };
                // An entry beneath a file, or a file or link where earlier entries made a directory, cannot be extracted
                // (ExtractTo would stop half-way with an I/O error): refuse it here too, so that Inspect alone decides.
                for (var slash = name.LastIndexOf('/'); slash > 0; slash = name.LastIndexOf('/', slash - 1))
                {
                    if (nonDirectories.Contains(name[..slash]))
                        throw new ArchiveRejectedException("bad-format", $"Archive entry '{name}' lies beneath '{name[..slash]}', which is not a directory; rebuild the archive.");
                    directories.Add(name[..slash]);
                }
                if (kind != ArchiveEntryKind.Directory)
                {
                    if (directories.Contains(name))
                        throw new ArchiveRejectedException("bad-format", $"Archive entry '{name}' is a {kind} but earlier entries lie beneath it as in a directory; rebuild the archive.");
                    nonDirectories.Add(name);
                }
                var mode = (int)entry.Mode;
                if ((mode & 0xC00) != 0) // 04000 setuid, 02000 setgid
                    throw new ArchiveRejectedException("setuid", $"Archive entry '{name}' has the setuid or setgid bit (mode {Convert.ToString(mode, 8)}); Rig refuses such files.");

                unpacked += Math.Max(0, entry.Length);
                if (unpacked > limits.MaxUnpackedBytes)
                    throw new ArchiveRejectedException("too-large", $"The archive unpacks to more than {limits.MaxUnpackedBytes} bytes (limit reached at entry '{name}').");

                if (name == ManifestName)
                {
                    if (kind != ArchiveEntryKind.File)
                        throw new ArchiveRejectedException("bad-manifest", $"{ManifestName} must be a regular file.");
                    sawManifest = true;
                    onEntry(null, DataOf(entry, name));
                    continue;
                }
                if (name == PayloadRoot && kind == ArchiveEntryKind.Directory)
                    continue;
                if (!name.StartsWith(PayloadRoot + "/", StringComparison.Ordinal))
                    throw new ArchiveRejectedException("bad-format", $"Archive entry '{name}' is outside '{PayloadRoot}/'; only {ManifestName} and {PayloadRoot}/ may be at the root.");

                var path = name[(PayloadRoot.Length + 1)..];
                string? linkTarget = null;
                if (kind == ArchiveEntryKind.SymbolicLink)
                {
                    links.Add(name);
                    linkTarget = entry.LinkName;
                    if (!ArchivePaths.LinkStaysInside(path, linkTarget))
                        throw new ArchiveRejectedException("link-escape", $"Symbolic link '/{path}' points to '{linkTarget}', outside the install root; the whole package is refused.");
                }
                else if (kind == ArchiveEntryKind.HardLink)
                {
                    var targetName = ArchivePaths.NormalizeEntryName(entry.LinkName, limits.MaxPathLength);
                    if (!files.Contains(targetName))
                        throw new ArchiveRejectedException("link-escape", $"Hard link '/{path}' points to '{entry.LinkName}', which is not an earlier file of this archive.");
                    linkTarget = targetName[(PayloadRoot.Length + 1)..]; // relative to the install root, like Path
                }
                if (kind == ArchiveEntryKind.File)
                    files.Add(name);

                onEntry(new ArchiveEntry(path, kind, kind == ArchiveEntryKind.File ? entry.Length : 0, mode, linkTarget, null), DataOf(entry, name));
            }
            if (!sawManifest && count == 0)
                throw new ArchiveRejectedException("bad-format", "The archive is empty.");
            // Read the gzip stream to its end (still under the ratio guard): only there are its CRC-32 and length
            // checked, and without them damage that deflate's back-references spread alike over rig.json and the tar
            // headers (every "demo" of the paths turned into "d5mo") reads as another, self-consistent package.
            ratio.CopyTo(Stream.Null);
        }
        catch (InvalidDataException e)
        {
            throw new ArchiveRejectedException("bad-format", $"The file is not a gzip-compressed tar archive or is truncated: {e.Message}");
        }
        catch (FormatException e)
        {
            throw new ArchiveRejectedException("bad-format", $"The tar stream is damaged: {e.Message}");
        }
        catch (EndOfStreamException e)
        {
            throw new ArchiveRejectedException("bad-format", $"The archive is truncated: {e.Message}");
        }
    }

    /// <summary>The next tar entry. Besides <see cref="FormatException"/> (caught in <see cref="Walk"/>), TarReader reports
    /// some damaged headers as <see cref="InvalidOperationException"/> (a PAX size field larger than its data),
    /// <see cref="OverflowException"/> (a base-256 number too large) or <see cref="ArgumentException"/>: all mean a
    /// damaged archive, never a fault of Rig's.</summary>
    private static TarEntry? NextEntry(TarReader tar)
    {
        try
        {
            return tar.GetNextEntry(copyData: false);
        }
        catch (Exception e) when (e is InvalidOperationException or OverflowException or ArgumentException)
        {
            throw new ArchiveRejectedException("bad-format", $"The tar stream is damaged: {e.Message}");
        }
    }

    private static void CheckRatio(long unpacked, long packed, RigLimits limits, string? entry)
    {
        if (unpacked > limits.CompressionRatioGraceBytes && unpacked > (long)limits.MaxCompressionRatio * Math.Max(packed, 1))
            throw new ArchiveRejectedException("compression-ratio", $"The archive expands more than {limits.MaxCompressionRatio}x ({unpacked} bytes from {packed}) at entry '{entry}'; it looks like a compression bomb.");
    }

    /// <summary>Counts decompressed bytes as they are read and refuses the archive as soon as they exceed
    /// <see cref="RigLimits.MaxCompressionRatio"/> times the compressed bytes read so far.</summary>
    private sealed class RatioGuardStream(Stream inner, CountingReadStream packed, RigLimits limits) : Stream
    {
        private long unpacked;

        /// <summary>The entry being read, for the error message.</summary>
        public string? Entry { get; set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => unpacked; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int n)
        {
            unpacked += n;
            CheckRatio(unpacked, packed.BytesRead, limits, Entry);
            return n;
        }
    }

    private static RigArchiveManifest ReadManifest(Stream data, RigLimits limits)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int n;
        while ((n = data.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limits.MaxManifestBytes)
                throw new ArchiveRejectedException("bad-manifest", $"{ManifestName} is larger than {limits.MaxManifestBytes} bytes.");
        }
        RigArchiveManifest manifest;
        try
        {
            manifest = RigJson.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), RigJson.Default.RigArchiveManifest, ManifestName);
        }
        catch (ProtocolException e)
        {
            throw new ArchiveRejectedException("bad-manifest", e.Message);
        }
        if (manifest.Files.Any(f => f is null)) // nullable annotations are not enforced on list elements
            throw new ArchiveRejectedException("bad-manifest", $"{ManifestName} has a null entry in 'files'; list each file as an object.");
        if (!Names.IsValidPackageName(manifest.Name))
            throw new ArchiveRejectedException("bad-manifest", $"Package name '{manifest.Name}' is not allowed: use {Names.PackageNameRule}.");
        if (!Names.IsValidVersion(manifest.Version))
            throw new ArchiveRejectedException("bad-manifest", $"Version '{manifest.Version}' of package '{manifest.Name}' is not allowed: use {Names.VersionRule}.");
        if (manifest.Service is { } service && !Names.IsValidServiceName(service.Name))
            throw new ArchiveRejectedException("bad-manifest", $"Service name '{service.Name}' is not allowed.");
        return manifest;
    }

    private static void CheckPayloadAgainstManifest(RigArchiveManifest manifest, List<ArchiveEntry> entries)
    {
        var listed = new Dictionary<string, RigArchiveFile>(StringComparer.Ordinal);
        foreach (var file in manifest.Files)
        {
            var path = file.Path.TrimStart('/');
            if (!listed.TryAdd(path, file))
                throw new ArchiveRejectedException("bad-manifest", $"{ManifestName} lists '{file.Path}' twice.");
        }
        foreach (var entry in entries.Where(e => e.Kind == ArchiveEntryKind.File))
        {
            if (!listed.Remove(entry.Path, out var file))
                throw new ArchiveRejectedException("bad-manifest", $"Payload file '/{entry.Path}' is not listed in {ManifestName}.");
            if (!string.Equals(file.Sha256, entry.Sha256, StringComparison.Ordinal))
                throw new ArchiveRejectedException("bad-manifest", $"Payload file '/{entry.Path}' has sha256 {entry.Sha256} but {ManifestName} says {file.Sha256}.");
        }
        if (listed.Count > 0)
            throw new ArchiveRejectedException("bad-manifest", $"{ManifestName} lists '/{listed.Keys.First()}' but the archive does not contain it.");
    }

    /// <summary>An entry's data, refusing the archive as truncated when it ends before the entry's length (the
    /// gzip and tar readers just return fewer bytes, which would show up later as a wrong digest or bad JSON).</summary>
    private static Stream DataOf(TarEntry entry, string name) =>
        entry.DataStream is { } data ? new ExactLengthStream(data, entry.Length, name) : Stream.Null;

    private sealed class ExactLengthStream(Stream inner, long length, string name) : Stream
    {
        private long read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n;
            try
            {
                n = inner.Read(buffer, offset, count);
            }
            catch (EndOfStreamException)
            {
                n = 0;
            }
            if (n == 0 && count > 0 && read < length)
                throw new ArchiveRejectedException("bad-format", $"Archive entry '{name}' is truncated: the archive ends after {read} of its {length} bytes; download it again.");
            read += n;
            return n;
        }
    }

    /// <summary>Counts compressed bytes read, for the compression-ratio check.</summary>
    private sealed class CountingReadStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }
        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            BytesRead += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

}
