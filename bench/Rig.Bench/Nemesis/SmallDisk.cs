using System.Diagnostics;
using System.Globalization;
using Rig.Bench.Common;

namespace Rig.Bench.Nemesis;

/// <summary>A small disk of its own for one device: a tmpfs of a few MiB holding the device's sandbox root and its
/// agent's state directory, which the nemesis fills to the last byte with a filler file and frees again. Mounting
/// needs root; unmounted (lazily if still busy) on dispose and when a signal stops the benchmark.</summary>
internal sealed class SmallDisk : IAsyncDisposable
{
    private readonly IDisposable _cleanup;
    private bool _mounted;

    private SmallDisk(string path, long sizeBytes)
    {
        Path = path;
        SizeBytes = sizeBytes;
        _mounted = true;
        _cleanup = ExitCleanup.Add(() => Run("umount", "-l", Path));
    }

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>Its size.</summary>
    public long SizeBytes { get; }

    private string Filler => System.IO.Path.Combine(Path, "filler");

    /// <summary>Mount a tmpfs of <paramref name="sizeBytes"/> at <paramref name="path"/>; null (and why) when that fails.</summary>
    public static (SmallDisk? Disk, string? Failure) Mount(string path, long sizeBytes)
    {
        Directory.CreateDirectory(path);
        var size = (sizeBytes / 1024).ToString(CultureInfo.InvariantCulture) + "k";
        var failure = Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755", "nemesis-disk", path);
        return failure is null ? (new SmallDisk(path, sizeBytes), null) : (null, failure);
    }

    /// <summary>Fill the disk to the last byte (until ENOSPC); returns the bytes written.</summary>
    public long Fill()
    {
        long written = 0;
        var chunk = new byte[256 * 1024];
        Random.Shared.NextBytes(chunk);
        try
        {
            using var stream = new FileStream(Filler, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
            var size = chunk.Length;
            while (size >= 512)
            {
                try
                {
                    stream.Write(chunk, 0, size);
                    written += size;
                }
                catch (IOException)
                {
                    size /= 2; // nearly full: finer steps take the last free blocks too
                }
            }
        }
        catch (IOException)
        {
            // full before the file could even be opened
        }
        return written;
    }

    /// <summary>Free what <see cref="Fill"/> took.</summary>
    public void Free()
    {
        try
        {
            File.Delete(Filler);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Bytes free now.</summary>
    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    private static string? Run(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            var output = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"{tool} exited with {process.ExitCode.ToString(CultureInfo.InvariantCulture)}: {output.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{tool} could not be started: {e.Message}";
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _cleanup.Dispose();
        Free();
        for (var attempt = 0; attempt < 20 && _mounted; attempt++)
        {
            if (Run("umount", Path) is null)
                _mounted = false;
            else
                await Task.Delay(250).ConfigureAwait(false);
        }
        if (_mounted && Run("umount", "-l", Path) is { } failure)
            Console.Error.WriteLine($"[nemesis] could not unmount {Path}: {failure}");
        _mounted = false;
    }
}
