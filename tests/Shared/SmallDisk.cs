using System.Diagnostics;

namespace Rig.Testing;

/// <summary>A real small file system (tmpfs of a fixed size, mounted for the test; needs root, as the tests do) that a
/// test fills to the last byte and frees again: a full disk is an ENOSPC from the kernel, not a simulated exception.</summary>
public sealed class SmallDisk : IDisposable
{
    private readonly string _filler;

    private SmallDisk(string path)
    {
        Path = path;
        _filler = System.IO.Path.Combine(path, ".filler");
    }

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>Mount a tmpfs of <paramref name="bytes"/> bytes on a new temporary directory.</summary>
    public static SmallDisk Mount(long bytes)
    {
        var path = Directory.CreateTempSubdirectory("rig-small-disk-").FullName;
        Run("mount", "-t", "tmpfs", "-o", $"size={bytes},mode=0755", "tmpfs", path);
        return new SmallDisk(path);
    }

    /// <summary>Fill every free byte (the filler file grows until the kernel says ENOSPC).</summary>
    public void Fill()
    {
        var chunk = new byte[4096];
        using var stream = new FileStream(_filler, FileMode.Append, FileAccess.Write, FileShare.None, 0);
        try
        {
            while (true)
                stream.Write(chunk);
        }
        catch (IOException)
        {
            // full
        }
        // Byte-sized writes take what a 4 KiB chunk could not.
        try
        {
            while (true)
                stream.Write(chunk, 0, 1);
        }
        catch (IOException)
        {
            // full to the last byte
        }
    }

    /// <summary>Free what <see cref="Fill"/> took.</summary>
    public void Free() => File.Delete(_filler);

    /// <inheritdoc />
    public void Dispose()
    {
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"`{program} {string.Join(' ', arguments)}` failed ({process.ExitCode}): {error.Trim()} (the tests run as root)");
    }
}
