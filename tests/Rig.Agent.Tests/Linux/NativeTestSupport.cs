using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Rig.Agent.Components;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Testing;

namespace Rig.Agent.Tests.Linux;

/// <summary>One fresh Debian root (debootstrap minbase, from the shared cache) for the tests of a class; each
/// test uses its own package names, so they do not see each other's packages.</summary>
public sealed class DebianRootFixture : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();

    /// <summary>The root.</summary>
    public string Root { get; private set; } = "";

    /// <summary>A scratch directory for built packages and blobs (outside the root).</summary>
    public string Scratch => _dir.Sub("scratch");

    public async Task InitializeAsync() => Root = await DebianRoot.CreateAsync(Path.Combine(_dir.Path, "root"));

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Helpers for the dpkg and rpm installer tests: real tools, argument lists, no shell.</summary>
internal static class Native
{
    /// <summary>Short waits for the tests: a held lock fails after 3 s instead of 5 minutes.</summary>
    public static readonly NativePackageTimeouts Timeouts = NativePackageTimeouts.Default with
    {
        LockWait = TimeSpan.FromSeconds(3),
        LockPoll = TimeSpan.FromMilliseconds(100),
    };

    /// <summary>A linux platform rooted at <paramref name="root"/>.</summary>
    public static LinuxPlatform Platform(string root, NativePackageTimeouts? timeouts = null) =>
        new(root, "dev1", ["/etc", "/opt"], RigLimits.Default, packageTimeouts: timeouts ?? Timeouts);

    /// <summary>The command's view of a package file.</summary>
    public static PackageRef Ref(string name, string version, string format, string path) =>
        new(name, version, format, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), new FileInfo(path).Length);

    /// <summary>Run a tool; fail the test with its output when it fails.</summary>
    public static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var outcome = await ProcessRunner.RunAsync(program, arguments, TimeSpan.FromMinutes(2), CancellationToken.None);
        Assert.True(outcome.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited with {outcome.ExitCode}:\n{outcome.StandardOutput}\n{outcome.StandardError}");
        return outcome.StandardOutput;
    }

    /// <summary>Run a tool and return its outcome whatever it is.</summary>
    public static Task<ProcessOutcome> TryRunAsync(string program, params string[] arguments) =>
        ProcessRunner.RunAsync(program, arguments, TimeSpan.FromMinutes(2), CancellationToken.None);

    /// <summary>Build a .deb with dpkg-deb: the given control fields, an optional postinst script, and one file
    /// /usr/share/NAME/version.txt. Returns the .deb's path.</summary>
    public static async Task<string> BuildDebAsync(string scratch, string name, string version, string? depends = null, string? provides = null, string? postinst = null,
        string? preDepends = null)
    {
        var tree = Path.Combine(scratch, $"{name}-{version}-tree");
        var debian = Directory.CreateDirectory(Path.Combine(tree, "DEBIAN")).FullName;
        var share = Directory.CreateDirectory(Path.Combine(tree, "usr", "share", name)).FullName;
        var control = $"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Rig Tests <tests@example.invalid>\n" +
            (depends is null ? "" : $"Depends: {depends}\n") + (preDepends is null ? "" : $"Pre-Depends: {preDepends}\n") + (provides is null ? "" : $"Provides: {provides}\n") +
            "Description: Rig test package\n A package built by the Rig agent tests.\n";
        await File.WriteAllTextAsync(Path.Combine(debian, "control"), control);
        await File.WriteAllTextAsync(Path.Combine(share, "version.txt"), version + "\n");
        if (postinst is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(debian, "postinst"), postinst);
            File.SetUnixFileMode(Path.Combine(debian, "postinst"), (UnixFileMode)0b111_101_101);
        }
        foreach (var dir in Directory.GetDirectories(tree, "*", SearchOption.AllDirectories).Append(tree))
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101); // temp directories are 0700; dpkg-deb wants 0755
        var output = Path.Combine(scratch, $"{name}_{version}_all.deb");
        await RunAsync("dpkg-deb", "--root-owner-group", "--build", tree, output);
        return output;
    }

    /// <summary>dpkg's own view of a package in <paramref name="root"/>: its Status (e.g. "install ok installed")
    /// or null when dpkg does not know it.</summary>
    public static async Task<string?> DpkgStatusAsync(string root, string name)
    {
        var outcome = await TryRunAsync("dpkg-query", "--root=" + root, "--show", "--showformat", "${Status} ${Version}", name);
        if (outcome.ExitCode != 0)
            return null;
        var status = outcome.StandardOutput.Trim();
        return status.Split(' ') is [_, _, "not-installed", ..] ? null : status;
    }

    /// <summary><c>dpkg --audit</c> of <paramref name="root"/>: empty when the database is consistent.</summary>
    public static async Task<string> DpkgAuditAsync(string root)
    {
        var outcome = await TryRunAsync("dpkg", "--root=" + root, "--audit");
        return (outcome.StandardOutput + outcome.StandardError).Trim();
    }
}

/// <summary>The command executor over a platform, with blobs put in its cache (as a download would) and a gateway
/// that is never reached: a command that tried to download would wait for it until <c>stop</c>.</summary>
internal sealed class OfflineExecutor : IDisposable
{
    private readonly TempDirectory _state = new();
    private readonly X509Certificate2 _ca;
    private readonly GatewayClient _gateway;
    private readonly CommandExecutor _executor;
    private int _commands;

    public OfflineExecutor(IPlatform platform)
    {
        Paths = new AgentPaths(_state.Path);
        _executor = new CommandExecutor(platform, Paths, RigLimits.Default);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _ca = new CertificateRequest("CN=unused test CA", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        _gateway = new GatewayClient(new Uri($"https://127.0.0.1:{UnusedPort()}"), null, _ca, RigLimits.Default);
    }

    /// <summary>The agent's state directory (its blob cache is <see cref="AgentPaths.Cache"/>).</summary>
    public AgentPaths Paths { get; }

    /// <summary>A package file put in the cache under its digest; its reference.</summary>
    public PackageRef Cached(string name, string version, string format, string path)
    {
        var package = Native.Ref(name, version, format, path);
        Directory.CreateDirectory(Paths.Cache);
        File.Copy(path, System.IO.Path.Combine(Paths.Cache, package.Sha256), overwrite: true);
        return package;
    }

    /// <summary>Run one command; <paramref name="stop"/> ends a download that waits for the absent gateway.</summary>
    public Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken stop = default) =>
        _executor.ExecuteAsync(new Command { Id = $"cmd-{++_commands}", QueueId = "q1", Sequence = _commands - 1, QueueLength = 10, Spec = spec }, _gateway, stop);

    public void Dispose()
    {
        _gateway.Dispose();
        _ca.Dispose();
        _state.Dispose();
    }

    private static int UnusedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>Another process holding a write lock on a file with fcntl(F_SETLKW), as apt, dpkg and rpm do
/// (perl, a separate process: POSIX locks never conflict inside one process). Released at dispose.</summary>
internal sealed class ForeignLock : IAsyncDisposable
{
    // struct flock on x86-64/arm64 Linux: short l_type, short l_whence, 4 bytes padding, off_t l_start,
    // off_t l_len, pid_t l_pid, 4 bytes padding.
    private const string Script = """
        use Fcntl qw(F_SETLKW F_WRLCK SEEK_SET O_RDWR O_CREAT);
        sysopen(my $fh, $ARGV[0], O_RDWR | O_CREAT, 0640) or die "open $ARGV[0]: $!";
        my $request = pack('s s x4 q q l x4', F_WRLCK, SEEK_SET, 0, 0, 0);
        fcntl($fh, F_SETLKW, $request) or die "lock $ARGV[0]: $!";
        $| = 1;
        print "locked\n";
        my $ignored = <STDIN>;
        """;

    private readonly Process _process;

    private ForeignLock(Process process) => _process = process;

    /// <summary>The holder's pid.</summary>
    public int Pid => _process.Id;

    /// <summary>The holder still runs (so it still holds the lock).</summary>
    public bool IsAlive => !_process.HasExited;

    /// <summary>Start a process that takes the lock on <paramref name="path"/> and holds it until released.</summary>
    public static async Task<ForeignLock> TakeAsync(string path)
    {
        var info = new ProcessStartInfo("perl") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-e");
        info.ArgumentList.Add(Script);
        info.ArgumentList.Add(path);
        var process = Process.Start(info) ?? throw new InvalidOperationException("perl did not start (apt-get install perl-base).");
        var held = new ForeignLock(process);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line != "locked")
        {
            var error = await process.StandardError.ReadToEndAsync(timeout.Token);
            await held.DisposeAsync();
            throw new InvalidOperationException($"The lock holder did not take '{path}': {error}");
        }
        return held;
    }

    /// <summary>Release the lock (the holder exits).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }
        }
        _process.Dispose();
    }
}
