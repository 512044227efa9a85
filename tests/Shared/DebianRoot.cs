using System.Diagnostics;

namespace Rig.Testing;

/// <summary>Real Debian roots and packages for tests (tests share this file). A minimal Debian 12 root is made
/// once with <c>debootstrap --variant=minbase</c> and cached as a tar file under <see cref="CacheDirectory"/>
/// (<c>RIG_TEST_CACHE</c>, default <c>/var/cache/rig-tests</c>), so later runs, clean clones included, only
/// unpack it (a few seconds). Packages come from the Debian mirror with <c>apt-get download</c>, cached too.
/// Needs root (debootstrap, chroot, dpkg --root) and the mirror; anything missing is a failure with the fix,
/// never a skip.</summary>
public static class DebianRoot
{
    /// <summary>The Debian release of the cached root.</summary>
    public const string Suite = "bookworm";

    private static readonly SemaphoreSlim InProcess = new(1, 1);

    /// <summary>Where the root's tar file and downloaded packages are kept between runs.</summary>
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("RIG_TEST_CACHE") is { Length: > 0 } dir ? dir : "/var/cache/rig-tests";

    private static string Mirror =>
        Environment.GetEnvironmentVariable("RIG_DEBIAN_MIRROR") is { Length: > 0 } mirror ? mirror : "http://deb.debian.org/debian";

    private static string Tarball => Path.Combine(CacheDirectory, $"{Suite}-minbase.tar");

    /// <summary>Unpack a fresh copy of the cached root into <paramref name="target"/> (created; should be
    /// empty), building the cache first when it is missing. Returns <paramref name="target"/>.</summary>
    public static async Task<string> CreateAsync(string target)
    {
        RequireRoot("a Debian root for the tests (debootstrap, chroot, dpkg --root)");
        await EnsureTarballAsync();
        Directory.CreateDirectory(target);
        await RunAsync("tar", ["-C", target, "--numeric-owner", "-xpf", Tarball], TimeSpan.FromMinutes(5));
        return target;
    }

    /// <summary>The path of <paramref name="package"/>'s .deb from the Debian mirror (<c>apt-get download</c>),
    /// cached under <see cref="CacheDirectory"/>/debs.</summary>
    public static async Task<string> DownloadAsync(string package)
    {
        var dir = Path.Combine(CacheDirectory, "debs");
        Directory.CreateDirectory(dir);
        if (Directory.GetFiles(dir, package + "_*.deb") is [var cached, ..])
            return cached;
        var (code, output) = await TryRunAsync("apt-get", ["download", package], dir, TimeSpan.FromMinutes(5));
        if (code != 0)
        {
            await RunAsync("apt-get", ["update"], TimeSpan.FromMinutes(5));
            (code, output) = await TryRunAsync("apt-get", ["download", package], dir, TimeSpan.FromMinutes(5));
        }
        if (code != 0)
            throw new InvalidOperationException($"apt-get download {package} failed ({code}); the tests need the Debian mirror in the apt sources.\n{output}");
        return Directory.GetFiles(dir, package + "_*.deb").Single();
    }

    /// <summary>The .deb files of <paramref name="packages"/> downloaded together (<c>apt-get download</c>, one run, so
    /// their versions fit each other), cached under <see cref="CacheDirectory"/>/sets/<paramref name="set"/>; the whole
    /// set is downloaded again when any file is missing. Returns the paths by package name.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> DownloadSetAsync(string set, IReadOnlyList<string> packages)
    {
        var dir = Path.Combine(CacheDirectory, "sets", set);
        Dictionary<string, string>? Cached()
        {
            if (!Directory.Exists(dir))
                return null;
            var found = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var package in packages)
            {
                if (Directory.GetFiles(dir, package + "_*.deb") is not [var path])
                    return null;
                found[package] = path;
            }
            return found;
        }
        if (Cached() is { } cached)
            return cached;
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var (code, output) = await TryRunAsync("apt-get", ["download", .. packages], dir, TimeSpan.FromMinutes(10));
        if (code != 0)
        {
            await RunAsync("apt-get", ["update"], TimeSpan.FromMinutes(5));
            (code, output) = await TryRunAsync("apt-get", ["download", .. packages], dir, TimeSpan.FromMinutes(10));
        }
        if (code != 0 || Cached() is not { } downloaded)
            throw new InvalidOperationException($"apt-get download {string.Join(' ', packages)} failed ({code}); the tests need the Debian mirror in the apt sources.\n{output}");
        return downloaded;
    }

    /// <summary>Every package dpkg has installed in <paramref name="root"/>, as <c>name version</c> lines, sorted.</summary>
    public static async Task<IReadOnlyList<string>> InstalledAsync(string root)
    {
        var (code, output) = await TryRunAsync("dpkg-query", ["--root=" + root, "--show", "--showformat", "${db:Status-Status} ${Package} ${Version}\n"], null, TimeSpan.FromMinutes(1));
        if (code != 0)
            throw new InvalidOperationException($"dpkg-query in {root} failed ({code}): {output}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("installed ", StringComparison.Ordinal)).Select(l => l["installed ".Length..]).Order(StringComparer.Ordinal)];
    }

    /// <summary>Fail with the fix unless the tests run as root.</summary>
    public static void RequireRoot(string what)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new InvalidOperationException($"Building {what} needs root; run the tests as root (CI does).");
    }

    /// <summary>Run a tool (argument vector, <c>LC_ALL=C</c>, killed after two minutes); its exit code and output
    /// (standard output, then standard error).</summary>
    public static Task<(int ExitCode, string Output)> RunToolAsync(string program, params string[] arguments) =>
        TryRunAsync(program, arguments, null, TimeSpan.FromMinutes(2));

    /// <summary>Run a program inside <paramref name="root"/> with chroot; returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> ChrootAsync(string root, params string[] command) =>
        TryRunAsync("chroot", [root, .. command], null, TimeSpan.FromMinutes(2));

    private static async Task EnsureTarballAsync()
    {
        if (File.Exists(Tarball))
            return;
        await InProcess.WaitAsync();
        try
        {
            Directory.CreateDirectory(CacheDirectory);
            // Test projects run in parallel processes: one builds, the others wait on the lock file.
            using var gate = await LockAsync(Path.Combine(CacheDirectory, ".debootstrap.lock"), TimeSpan.FromMinutes(20));
            if (File.Exists(Tarball))
                return;
            if (!File.Exists("/usr/sbin/debootstrap"))
                throw new InvalidOperationException("debootstrap is not installed: apt-get install debootstrap (.ci/run does).");
            var build = Tarball + ".build";
            if (Directory.Exists(build))
                await RunAsync("rm", ["-rf", "--one-file-system", build], TimeSpan.FromMinutes(5));
            await RunAsync("/usr/sbin/debootstrap", ["--variant=minbase", Suite, build, Mirror], TimeSpan.FromMinutes(20));
            await RunAsync("tar", ["-C", build, "--numeric-owner", "-cf", Tarball + ".tmp", "."], TimeSpan.FromMinutes(5));
            File.Move(Tarball + ".tmp", Tarball, overwrite: true);
            await RunAsync("rm", ["-rf", "--one-file-system", build], TimeSpan.FromMinutes(5));
        }
        finally
        {
            InProcess.Release();
        }
    }

    private static async Task<FileStream> LockAsync(string path, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < timeout)
            {
                await Task.Delay(1000);
            }
        }
    }

    private static async Task RunAsync(string program, string[] arguments, TimeSpan timeout)
    {
        var (code, output) = await TryRunAsync(program, arguments, null, timeout);
        if (code != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({code}):\n{output}");
    }

    private static async Task<(int ExitCode, string Output)> TryRunAsync(string program, string[] arguments, string? workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
            info.WorkingDirectory = workingDirectory;
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        info.Environment["LC_ALL"] = "C";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
