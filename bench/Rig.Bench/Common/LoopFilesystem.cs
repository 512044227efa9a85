using System.Diagnostics;
using System.Globalization;

namespace Rig.Bench.Common;

/// <summary>A journaled ext4 file system of its own for a benchmark: a sparse image file, <c>mkfs.ext4 -q -F</c>,
/// <c>mount -o loop</c> under a temporary directory. Results then do not depend on what the machine's own disk
/// is formatted with (tmpfs, overlay, ext4 without a journal). Unmounted and deleted on dispose.
/// Mounting needs root; when it fails the benchmark gets a plain temporary directory instead (said on standard
/// error and in <see cref="Note"/>; <see cref="Filesystems.Describe"/> of <see cref="Path"/> tells which).</summary>
internal sealed class LoopFilesystem : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string? _image;
    private readonly IDisposable _cleanup;
    private bool _mounted;

    private LoopFilesystem(string directory, string path, string? image, bool mounted, string? note)
    {
        _directory = directory;
        Path = path;
        _image = image;
        _mounted = mounted;
        Note = note;
        _cleanup = ExitCleanup.Add(OnSignal);
    }

    /// <summary>Where to put the benchmark's files: the mounted file system's root, or the fallback directory.</summary>
    public string Path { get; }

    /// <summary>Why this is not a loop-mounted ext4 file system (null when it is).</summary>
    public string? Note { get; }

    /// <summary>Make a <paramref name="sizeMiB"/> MiB ext4 image (sparse: only what is written uses disk), format
    /// and mount it; on failure fall back to a temporary directory on the machine's own file system.</summary>
    public static async Task<LoopFilesystem> CreateAsync(int sizeMiB)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sizeMiB, 16);
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rig-bench-fs-" + Guid.NewGuid().ToString("n")[..12]);
        var mountPoint = System.IO.Path.Combine(directory, "mnt");
        var image = System.IO.Path.Combine(directory, "ext4.img");
        Directory.CreateDirectory(mountPoint);
        string? failure;
        await using (var file = new FileStream(image, FileMode.CreateNew, FileAccess.Write))
            file.SetLength(sizeMiB * 1024L * 1024L); // sparse
        failure = await RunAsync("mkfs.ext4", "-q", "-F", image).ConfigureAwait(false);
        if (failure is null)
        {
            failure = await RunAsync("mount", "-o", "loop", image, mountPoint).ConfigureAwait(false);
            if (failure is null)
                return new LoopFilesystem(directory, mountPoint, image, mounted: true, note: null);
        }
        File.Delete(image);
        var root = Environment.UserName == "root" ? "" : " (not root)";
        var note = $"could not mount an ext4 loop image{root}: {failure}; using a plain directory on {Filesystems.Describe(mountPoint)}";
        Console.Error.WriteLine($"[loopfs] {note}");
        return new LoopFilesystem(directory, mountPoint, image: null, mounted: false, note);
    }

    /// <summary>Run a tool; null when it succeeded, else what went wrong.</summary>
    private static async Task<string?> RunAsync(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().ConfigureAwait(false);
            var output = ((await stderr.ConfigureAwait(false)) + (await stdout.ConfigureAwait(false))).Trim();
            return process.ExitCode == 0 ? null : $"{tool} exited with {process.ExitCode.ToString(CultureInfo.InvariantCulture)}: {output}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{tool} could not be started: {e.Message}";
        }
    }

    /// <summary>The benchmark was stopped by a signal before disposing: detach the file system now (lazily, in case
    /// a process still has files open on it) and delete the image, so no mount or large file is left behind.</summary>
    private void OnSignal()
    {
        try
        {
            if (_mounted)
            {
                using var umount = Process.Start(new ProcessStartInfo("umount", ["-l", Path]) { UseShellExecute = false, RedirectStandardError = true })!;
                umount.WaitForExit(5000);
            }
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            // best effort while exiting
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _cleanup.Dispose();
        if (_mounted)
        {
            // A file still open (a child process being killed) makes the file system busy for a moment.
            for (var attempt = 0; attempt < 20 && _mounted; attempt++)
            {
                if (await RunAsync("umount", Path).ConfigureAwait(false) is null)
                    _mounted = false;
                else
                    await Task.Delay(250).ConfigureAwait(false);
            }
            if (_mounted && await RunAsync("umount", "-l", Path).ConfigureAwait(false) is { } failure)
            {
                Console.Error.WriteLine($"[loopfs] could not unmount {Path}: {failure}; left {_image} in place");
                return;
            }
            _mounted = false;
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"[loopfs] could not delete {_directory}: {e.Message}");
        }
    }
}
