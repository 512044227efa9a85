using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;

namespace Rig.Protocol.Archives;

/// <summary>A file to put in a Rig archive: its device path (e.g. <c>/etc/app.conf</c>), content and mode; or, with
/// <see cref="LinkTarget"/>, a symbolic link (relative, staying inside the install root; content and mode unused).</summary>
public sealed record ArchiveInput(string Path, byte[] Content, string Mode = "0644", string? LinkTarget = null);

/// <summary>Builds Rig archives deterministically (sorted entries, fixed times and owners, GNU tar headers): the same
/// inputs give the same digest, in any process. (PAX headers would not: .NET names each extended header
/// <c>PaxHeaders.PID/NAME</c>, after the writing process.)</summary>
public static class RigArchiveWriter
{
    private static readonly DateTimeOffset FixedTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Write a <c>.rig.tar.gz</c> with a manifest built from <paramref name="manifest"/> (its file list is
    /// computed from <paramref name="files"/>) to <paramref name="output"/>.</summary>
    public static RigArchiveManifest Write(Stream output, RigArchiveManifest manifest, IEnumerable<ArchiveInput> files)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(files);
        var inputs = files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
        var complete = manifest with
        {
            Files = inputs.Where(f => f.LinkTarget is null).Select(f => new RigArchiveFile(f.Path, Convert.ToHexStringLower(SHA256.HashData(f.Content)), f.Mode)).ToList(),
        };
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Gnu, leaveOpen: true))
        {
            var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(complete, RigJson.Default.RigArchiveManifest);
            tar.WriteEntry(FileEntry("rig.json", manifestBytes, "0644"));
            var dirs = new SortedSet<string>(StringComparer.Ordinal) { "files" };
            foreach (var input in inputs)
            {
                var segments = ArchivePaths.SplitDevicePath(input.Path, 1024);
                for (var i = 1; i < segments.Length; i++)
                    dirs.Add("files/" + string.Join('/', segments.Take(i)));
            }
            foreach (var dir in dirs)
                tar.WriteEntry(Fixed(new GnuTarEntry(TarEntryType.Directory, dir + "/") { Mode = (UnixFileMode)0x1ED }));
            foreach (var input in inputs)
            {
                if (input.LinkTarget is { } target)
                    tar.WriteEntry(Fixed(new GnuTarEntry(TarEntryType.SymbolicLink, "files" + input.Path) { LinkName = target, Mode = (UnixFileMode)0x1FF }));
                else
                    tar.WriteEntry(FileEntry("files" + input.Path, input.Content, input.Mode));
            }
        }
        return complete;
    }

    private static GnuTarEntry FileEntry(string name, byte[] content, string mode) => Fixed(new GnuTarEntry(TarEntryType.RegularFile, name)
    {
        DataStream = new MemoryStream(content, writable: false),
        Mode = (UnixFileMode)Convert.ToInt32(mode, 8),
    });

    /// <summary>Every time field fixed, owner root, no user or group names: nothing of the building machine or moment.</summary>
    private static GnuTarEntry Fixed(GnuTarEntry entry)
    {
        entry.ModificationTime = FixedTime;
        entry.AccessTime = FixedTime;
        entry.ChangeTime = FixedTime;
        entry.Uid = 0;
        entry.Gid = 0;
        entry.UserName = "";
        entry.GroupName = "";
        return entry;
    }
}
