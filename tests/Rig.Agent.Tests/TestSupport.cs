using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Rig.Agent.Platform;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;

// The agent's file-system rules (modes, symbolic links, chroot semantics) are tested on Unix, where devices run.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Rig.Agent.Tests;

/// <summary>A real temporary directory, removed at dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rig-agent-tests-").FullName;

    /// <summary>A sub-directory (created).</summary>
    public string Sub(string name) => Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Helpers shared by the agent tests.</summary>
internal static class TestFiles
{
    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Sha256(string content) => Sha256(Encoding.UTF8.GetBytes(content));

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Host path of a device path under a root, built by hand (not through the code under test).</summary>
    public static string Host(string root, string devicePath) => Path.Combine(root, devicePath.TrimStart('/'));

    /// <summary>Create a symbolic link at device path <paramref name="devicePath"/> under <paramref name="root"/>.</summary>
    public static void Link(string root, string devicePath, string target)
    {
        var host = Host(root, devicePath);
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        File.CreateSymbolicLink(host, target);
    }

    /// <summary>Write a file at device path <paramref name="devicePath"/> under <paramref name="root"/>.</summary>
    public static void Put(string root, string devicePath, string content)
    {
        var host = Host(root, devicePath);
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        File.WriteAllText(host, content);
    }

    /// <summary>A Rig archive built with the production writer.</summary>
    public static byte[] Archive(string name, string version, params ArchiveInput[] files)
    {
        using var output = new MemoryStream();
        RigArchiveWriter.Write(output, new RigArchiveManifest { Name = name, Version = version }, files);
        return output.ToArray();
    }

    /// <summary>Write <paramref name="blob"/> into <paramref name="directory"/> and describe it as a command would.</summary>
    public static (PackageRef Package, string Path) Store(string directory, string name, string version, byte[] blob)
    {
        var sha = Sha256(blob);
        var path = Path.Combine(directory, sha);
        File.WriteAllBytes(path, blob);
        return (new PackageRef(name, version, PackageFormats.RigArchive, sha, blob.Length), path);
    }

    /// <summary>Every file, directory and link under <paramref name="directory"/> (links are not followed), with
    /// content digests, link targets and modes: two snapshots are equal only if nothing changed.</summary>
    public static SortedDictionary<string, string> Snapshot(string directory)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Walk(string dir)
        {
            foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos())
            {
                var relative = Path.GetRelativePath(directory, info.FullName);
                if (info.LinkTarget is { } target)
                    result[relative] = "link -> " + target;
                else if (info is DirectoryInfo)
                {
                    result[relative] = "dir " + info.UnixFileMode;
                    Walk(info.FullName);
                }
                else
                    result[relative] = $"file {info.UnixFileMode} {Sha256(File.ReadAllBytes(info.FullName))}";
            }
        }
        Walk(directory);
        return result;
    }

    /// <summary>Assert two <see cref="Snapshot"/>s are equal, naming every entry that was added, removed or changed.</summary>
    public static void AssertUnchanged(SortedDictionary<string, string> before, SortedDictionary<string, string> after)
    {
        var differences = before.Keys.Union(after.Keys).Order(StringComparer.Ordinal)
            .Where(k => !before.TryGetValue(k, out var b) || !after.TryGetValue(k, out var a) || a != b)
            .Select(k => $"{k}: {(before.TryGetValue(k, out var b) ? b : "(absent)")} -> {(after.TryGetValue(k, out var a) ? a : "(absent)")}")
            .ToList();
        Assert.True(differences.Count == 0, "the tree changed:\n" + string.Join('\n', differences));
    }

    /// <summary>Assert that <paramref name="action"/> fails with a <see cref="CommandFailedException"/> of <paramref name="code"/>.</summary>
    public static CommandFailedException AssertFails(string code, Action action)
    {
        var e = Assert.Throws<CommandFailedException>(action);
        Assert.Equal(code, e.Code);
        return e;
    }

    /// <summary>Async form of <see cref="AssertFails(string, Action)"/>.</summary>
    public static async Task<CommandFailedException> AssertFailsAsync(string code, Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<CommandFailedException>(action);
        Assert.Equal(code, e.Code);
        return e;
    }
}

/// <summary>Builds tar.gz archives entry by entry, for archives <see cref="RigArchiveWriter"/> would never write.</summary>
internal sealed class HandMadeArchive
{
    private readonly List<(PaxTarEntry Entry, byte[]? Content)> _entries = [];
    private readonly List<RigArchiveFile> _manifestFiles = [];

    /// <summary>A regular file listed in the manifest (under <c>files/</c>).</summary>
    public HandMadeArchive File(string entryName, string content, int mode = 0x1A4)
    {
        var bytes = TestFiles.Utf8(content);
        _entries.Add((new PaxTarEntry(TarEntryType.RegularFile, entryName) { Mode = (UnixFileMode)mode }, bytes));
        _manifestFiles.Add(new RigArchiveFile("/" + entryName["files/".Length..], TestFiles.Sha256(bytes)));
        return this;
    }

    /// <summary>Any entry, not listed in the manifest.</summary>
    public HandMadeArchive Entry(TarEntryType type, string entryName, string? linkName = null, int mode = 0x1A4, string? content = null)
    {
        var entry = new PaxTarEntry(type, entryName) { Mode = (UnixFileMode)mode };
        if (linkName is not null)
            entry.LinkName = linkName;
        _entries.Add((entry, content is null ? null : TestFiles.Utf8(content)));
        return this;
    }

    public byte[] Build(string name, string version)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            var manifest = new RigArchiveManifest { Name = name, Version = version, Files = _manifestFiles };
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "rig.json")
            {
                DataStream = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, RigJson.Default.RigArchiveManifest)),
                Mode = (UnixFileMode)0x1A4,
            });
            foreach (var (entry, content) in _entries)
            {
                if (content is not null)
                    entry.DataStream = new MemoryStream(content);
                tar.WriteEntry(entry);
            }
        }
        return output.ToArray();
    }
}
