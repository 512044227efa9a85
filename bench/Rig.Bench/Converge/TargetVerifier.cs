using System.Security.Cryptography;

namespace Rig.Bench.Converge;

/// <summary>Identity of a file on disk: a rewrite (new inode by rename, or new data) changes it.</summary>
internal readonly record struct FileStamp(long Inode, DateTime Modified, long Length);

/// <summary>Checks target directories against the workload: every device has every expected file with the expected
/// SHA-256 (rendered configuration byte for byte, archive payloads), whatever tool wrote it.</summary>
internal static class TargetVerifier
{
    /// <summary>Throw with the first problems when any device's target differs from <paramref name="expected"/>.</summary>
    /// <param name="tool">Tool name for the message.</param>
    /// <param name="phase">Phase for the message.</param>
    /// <param name="rootOf">Target directory of a device.</param>
    /// <param name="expected">Device -> relative path -> SHA-256.</param>
    /// <returns>Files checked.</returns>
    public static int Verify(string tool, string phase, Func<string, string> rootOf, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> expected)
    {
        ArgumentNullException.ThrowIfNull(rootOf);
        ArgumentNullException.ThrowIfNull(expected);
        var problems = new List<string>();
        var checkedFiles = 0;
        foreach (var (device, files) in expected)
        {
            var root = rootOf(device);
            foreach (var (relative, sha256) in files)
            {
                checkedFiles++;
                var path = Path.Combine(root, relative);
                if (!File.Exists(path))
                {
                    problems.Add($"{device}: {relative} is missing");
                    continue;
                }
                using var stream = File.OpenRead(path);
                var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
                if (actual != sha256)
                    problems.Add($"{device}: {relative} has sha256 {actual[..12]}, expected {sha256[..12]} (Rig's rendering)");
            }
        }
        if (problems.Count > 0)
            throw new InvalidOperationException($"{tool}, {phase}: {problems.Count} of {checkedFiles} files are wrong:\n  " + string.Join("\n  ", problems.Take(10)) + (problems.Count > 10 ? "\n  ..." : ""));
        return checkedFiles;
    }

    /// <summary>Stamps of every expected file (to tell afterwards whether a re-run rewrote any).</summary>
    public static Dictionary<string, FileStamp> Stamps(Func<string, string> rootOf, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> expected)
    {
        ArgumentNullException.ThrowIfNull(rootOf);
        ArgumentNullException.ThrowIfNull(expected);
        var stamps = new Dictionary<string, FileStamp>(StringComparer.Ordinal);
        foreach (var (device, files) in expected)
        {
            foreach (var relative in files.Keys)
            {
                var path = Path.Combine(rootOf(device), relative);
                var info = new FileInfo(path);
                stamps[path] = new FileStamp(Inode(path), info.LastWriteTimeUtc, info.Length);
            }
        }
        return stamps;
    }

    /// <summary>How many files differ between two sets of stamps.</summary>
    public static int Rewritten(IReadOnlyDictionary<string, FileStamp> before, IReadOnlyDictionary<string, FileStamp> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        return before.Count(kv => !after.TryGetValue(kv.Key, out var now) || now != kv.Value);
    }

    private static long Inode(string path) => NativeStat.Inode(path);
}

/// <summary>st_ino of a file (stat(2); .NET has no API for it). x86_64 and arm64 Linux both keep st_ino at
/// offset 8 of struct stat; elsewhere 0 (the modification time and length still tell a rewrite).</summary>
internal static partial class NativeStat
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "stat", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);

    public static unsafe long Inode(string path)
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is not (System.Runtime.InteropServices.Architecture.X64 or System.Runtime.InteropServices.Architecture.Arm64))
            return 0;
        var buffer = stackalloc byte[256];
        return Stat(path, buffer) == 0 ? *(long*)(buffer + 8) : -1;
    }
}
