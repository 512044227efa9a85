using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;

namespace Rig.Protocol.Archives;

/// <summary>A file to put in a Rig archive: its device path (e.g. <c>/etc/app.conf</c>), content and mode.</summary>
public sealed record ArchiveInput(string Path, byte[] Content, string Mode = "0644");

/// <summary>Builds Rig archives deterministically (fixed times and owners): the same inputs give the same digest.</summary>
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
            Files = inputs.Select(f => new RigArchiveFile(f.Path, Convert.ToHexStringLower(SHA256.HashData(f.Content)), f.Mode)).ToList(),
        };
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
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
                tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, dir + "/") { Mode = (UnixFileMode)0x1ED, ModificationTime = FixedTime, Uid = 0, Gid = 0 });
            foreach (var input in inputs)
                tar.WriteEntry(FileEntry("files" + input.Path, input.Content, input.Mode));
        }
        return complete;
    }

    private static PaxTarEntry FileEntry(string name, byte[] content, string mode) => new(TarEntryType.RegularFile, name)
    {
        DataStream = new MemoryStream(content, writable: false),
        Mode = (UnixFileMode)Convert.ToInt32(mode, 8),
        ModificationTime = FixedTime,
        Uid = 0,
        Gid = 0,
    };
}
