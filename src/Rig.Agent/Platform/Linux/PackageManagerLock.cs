using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Rig.Agent.Platform.Linux;

/// <summary>The lock files of the device's package managers (dpkg's <c>lock-frontend</c> and <c>lock</c>, rpm's
/// <c>.rpm.lock</c>), taken and probed the way those tools do: a write lock over the whole file with
/// <c>fcntl(2)</c>. Waiting is bounded and polls; a database still busy at the deadline is
/// <c>package-database-locked</c>, naming the lock file and the holder's pid.</summary>
/// <remarks>The lock is an open-file-description lock (<c>F_OFD_SETLK</c>), not a classic POSIX record lock
/// (<c>F_SETLK</c>). Both kinds conflict with each other across processes, so apt, dpkg and rpm (which use
/// F_SETLK) see it; unlike a POSIX lock it belongs to this open file, not to the whole agent process, so two
/// commands in one agent exclude each other too and closing some other descriptor of the file does not drop it.
/// .NET's <see cref="FileStream.Lock"/> also prefers OFD locks on Linux but cannot say who holds a lock, hence
/// <c>fcntl</c> directly (a source-generated import: Native-AOT safe). Linux on 64-bit targets only (the
/// <c>struct flock</c> layout below).</remarks>
internal sealed partial class PackageManagerLock : IDisposable
{
    private const int FOfdGetLk = 36;
    private const int FOfdSetLk = 37;
    private const short FWrLck = 1;
    private const short FUnLck = 2;
    private const int EAgain = 11;
    private const int EAccess = 13;
    private const int EInval = 22;
    private const int ENoLck = 37;

    private readonly FileStream _file;

    private PackageManagerLock(FileStream file, string path)
    {
        _file = file;
        Path = path;
    }

    /// <summary>The lock file held.</summary>
    public string Path { get; }

    /// <summary>Take the write lock on <paramref name="path"/> (created, mode 0640, when missing), polling
    /// every <paramref name="poll"/> until <paramref name="deadline"/> has no time left.</summary>
    /// <exception cref="CommandFailedException"><c>package-database-locked</c> when another process still holds it;
    /// <c>package-lock-failed</c> when the kernel or file system cannot lock it.</exception>
    public static async Task<PackageManagerLock> AcquireAsync(string path, LockDeadline deadline, TimeSpan poll, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(deadline);
        RequireSupportedProcess();
        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete, // FileShare.None would add a flock(2) lock nobody else uses
        };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead; // as dpkg creates it
        var file = new FileStream(path, options);
        try
        {
            while (true)
            {
                var request = new Flock { Type = FWrLck, Whence = 0, Start = 0, Length = 0 };
                if (Fcntl(file.SafeFileHandle, FOfdSetLk, ref request) == 0)
                    return new PackageManagerLock(file, path);
                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (EAgain or EAccess))
                    throw LockFailed(path, errno);
                await PauseAsync(path, Holder(file.SafeFileHandle, path), deadline, poll, ct).ConfigureAwait(false);
            }
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Wait until nobody holds a write lock on <paramref name="path"/> (a missing file is free), without
    /// taking it: for locks the tool run next takes itself (dpkg's <c>lock</c>, rpm's <c>.rpm.lock</c>).</summary>
    /// <exception cref="CommandFailedException"><c>package-database-locked</c> when it is still held at the deadline.</exception>
    public static async Task WaitUntilFreeAsync(string path, LockDeadline deadline, TimeSpan poll, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(deadline);
        RequireSupportedProcess();
        while (true)
        {
            int? holder;
            try
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                holder = Holder(file.SafeFileHandle, path);
            }
            catch (FileNotFoundException)
            {
                return;
            }
            if (holder is null)
                return;
            await PauseAsync(path, holder, deadline, poll, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Release the lock.</summary>
    public void Dispose() => _file.Dispose(); // closing the file releases an OFD lock

    /// <summary>The pid holding a conflicting lock (-1 when it is an OFD lock, whose owner has no pid), or null
    /// when the file is free.</summary>
    /// <exception cref="CommandFailedException">The kernel or file system cannot tell (never taken for "free").</exception>
    private static int? Holder(SafeFileHandle handle, string path)
    {
        var probe = new Flock { Type = FWrLck, Whence = 0, Start = 0, Length = 0 };
        if (Fcntl(handle, FOfdGetLk, ref probe) != 0)
            throw LockFailed(path, Marshal.GetLastPInvokeError());
        return probe.Type == FUnLck ? null : probe.Pid;
    }

    /// <summary>The <see cref="Flock"/> layout below is 64-bit Linux's; a 32-bit process would pass the kernel a
    /// wrongly laid out struct (and could take "free" for an answer), so it is refused up front.</summary>
    private static void RequireSupportedProcess()
    {
        if (IntPtr.Size != 8)
        {
            throw new CommandFailedException("unsupported-platform",
                $"The package-manager lock needs a 64-bit agent process (this one is {IntPtr.Size * 8}-bit, {RuntimeInformation.ProcessArchitecture}); " +
                "install the agent built for the device's 64-bit architecture (linux-x64 or linux-arm64).");
        }
    }

    /// <summary>fcntl failed for another reason than a conflicting lock: say which, and what to check.</summary>
    private static CommandFailedException LockFailed(string path, int errno)
    {
        var reason = errno switch
        {
            EInval => "the kernel does not support open-file-description locks (F_OFD_SETLK needs Linux 3.15 or later); run the agent on a newer kernel",
            ENoLck => "the file system holding it does not support locks (a network file system?); keep the device's package database on a local file system",
            _ => $"{Marshal.GetPInvokeErrorMessage(errno)}; check the file and its file system",
        };
        return new CommandFailedException("package-lock-failed", $"Could not lock '{path}' (errno {errno}): {reason}. Nothing was changed.");
    }

    private static async Task PauseAsync(string path, int? holder, LockDeadline deadline, TimeSpan poll, CancellationToken ct)
    {
        var left = deadline.Remaining;
        if (left <= TimeSpan.Zero)
        {
            var who = holder switch
            {
                > 0 and var pid => $"process {pid}{Describe(pid)}",
                not null => "another process (an open-file lock, no pid known)",
                null => "another process",
            };
            throw new CommandFailedException("package-database-locked",
                $"The package database is busy: '{path}' is still locked by {who} after waiting {deadline.Timeout.TotalSeconds:0.#} s. " +
                "Let that package manager run finish (or stop it) and run the command again; nothing was changed.");
        }
        await Task.Delay(left < poll ? left : poll, ct).ConfigureAwait(false);
    }

    private static string Describe(int pid)
    {
        try
        {
            return $" ({File.ReadAllText($"/proc/{pid}/comm").Trim()})";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ""; // another pid namespace, or it just ended
        }
    }

    /// <summary><c>struct flock</c> on 64-bit Linux: short, short, (pad), off_t, off_t, pid_t, (pad).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(SafeFileHandle fd, int command, ref Flock lockInfo);
}

/// <summary>One bounded wait shared by the steps of a command (the frontend lock, then the database lock).</summary>
internal sealed class LockDeadline
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    /// <summary>A deadline <paramref name="timeout"/> from now.</summary>
    public LockDeadline(TimeSpan timeout) => Timeout = timeout;

    /// <summary>The whole wait allowed.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Time left (zero or less when it has passed).</summary>
    public TimeSpan Remaining => Timeout - _watch.Elapsed;
}
