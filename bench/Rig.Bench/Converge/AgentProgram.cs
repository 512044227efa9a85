using System.Diagnostics;
using Rig.Bench.Common;
using Rig.Cli.Demo;

namespace Rig.Bench.Converge;

/// <summary>Which agent program a fleet runs: the Native AOT <c>rig-agent</c> binary (the agent as it ships) or
/// the JIT-compiled agent inside <c>rig</c> (<c>dotnet rig.dll agent ...</c>, as <c>rig demo</c> runs it).</summary>
public sealed record AgentProgram(string Kind, RigLauncher Launcher)
{
    /// <summary>The JIT agent: <c>dotnet rig.dll agent ARGS</c>.</summary>
    public static AgentProgram Jit { get; } = new("JIT (dotnet rig.dll agent)", GatewayUnderTest.Rig with { BaseArguments = [.. GatewayUnderTest.Rig.BaseArguments, "agent"] });

    /// <summary>A Native AOT <c>rig-agent</c> binary.</summary>
    public static AgentProgram Aot(string binary) => new($"Native AOT ({binary})", new RigLauncher(binary, []));

    /// <summary>Publish <c>src/Rig.Agent</c> with Native AOT into <paramref name="directory"/> (needs clang, lld and
    /// zlib1g-dev); returns the binary.</summary>
    public static async Task<string> PublishAotAsync(string directory, CancellationToken ct)
    {
        var project = FindProject() ?? throw new InvalidOperationException("Cannot find src/Rig.Agent/Rig.Agent.csproj above the benchmark's directory or the current directory; run rig-bench from the repository.");
        var output = Path.Combine(directory, "out");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var (code, stdout, stderr) = await ExternalTool.RunAsync(dotnet,
            ["publish", project, "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", output, "--artifacts-path", Path.Combine(directory, "artifacts"), "--disable-build-servers", "-nologo"],
            null, null, TimeSpan.FromMinutes(15), ct).ConfigureAwait(false);
        var binary = Path.Combine(output, "rig-agent");
        if (code != 0 || !File.Exists(binary))
        {
            var text = stdout + stderr;
            throw new InvalidOperationException($"Native AOT publish of the agent failed ({code}); it needs clang, lld and zlib1g-dev (apt-get install -y clang lld zlib1g-dev):\n{(text.Length > 3000 ? text[^3000..] : text)}");
        }
        return binary;
    }

    private static string? FindProject()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "src", "Rig.Agent", "Rig.Agent.csproj");
                if (File.Exists(candidate))
                    return candidate;
            }
        }
        return null;
    }
}

/// <summary>Supervises one agent process of a fleet like a device's init system (as <see cref="AgentProcess"/> does
/// for <c>rig demo</c>, for any <see cref="AgentProgram"/>): exit code 75 is a reboot and the agent is started
/// again; any other exit ends supervision. Output goes to <c>agent.log</c> in the state directory.</summary>
public sealed partial class FleetAgent : IAsyncDisposable
{
    private readonly AgentProgram _program;
    private readonly string _state;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Process? _current;
    private Task? _loop;

    /// <summary>An agent for <paramref name="device"/> with its state in <paramref name="state"/>.</summary>
    public FleetAgent(string device, string state, AgentProgram program)
    {
        Device = device;
        _state = state;
        _program = program;
    }

    /// <summary>The device.</summary>
    public string Device { get; }

    /// <summary>The exit code that ended supervision, if the agent stopped on its own.</summary>
    public int? UnexpectedExit { get; private set; }

    /// <summary>The agent's log.</summary>
    public string LogPath => Path.Combine(_state, "agent.log");

    /// <summary>Queues this agent has seen to their end: a session that ran the last command of its queue (its log
    /// line "done: [N/N] ..." or "failed: [k/N] ...") and was then answered "no command" ("idle"). The gateway
    /// finishes a queue in the transaction that answers that inquiry, so the "idle" line comes after the queue
    /// is finished in the database: this tells completion without polling the gateway while it works.</summary>
    public int FinishedQueues => Volatile.Read(ref _finishedQueues);

    private int _finishedQueues;
    private bool _queueEnded;

    /// <summary>Signalled on every <see cref="FinishedQueues"/> increment (any agent of the fleet).</summary>
    public SemaphoreSlim? Finished { get; init; }

    /// <summary>The running agent's process id, or null.</summary>
    public int? Pid
    {
        get
        {
            lock (_gate)
                return _current is { HasExited: false } p ? p.Id : null;
        }
    }

    /// <summary>Start supervising.</summary>
    public void Start() => _loop = SuperviseAsync(_stop.Token);

    private async Task SuperviseAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var info = _program.Launcher.StartInfo("run", "--state", _state, "--verbose");
            var process = Process.Start(info)!;
            lock (_gate)
                _current = process;
            using var cleanup = ExitCleanup.KillOnExit(process.Id);
            await using (var log = new StreamWriter(LogPath, append: true) { AutoFlush = true })
            {
                await Task.WhenAll(PumpAsync(process.StandardError, log, Observe), PumpAsync(process.StandardOutput, log, null), process.WaitForExitAsync(CancellationToken.None)).ConfigureAwait(false);
            }
            lock (_gate)
                _current = null;
            if (stop.IsCancellationRequested)
                return;
            if (process.ExitCode == Rig.Protocol.ProtocolInfo.RebootExitCode)
                continue;
            UnexpectedExit = process.ExitCode;
            return;
        }
    }

    private static async Task PumpAsync(StreamReader reader, StreamWriter writer, Action<string>? observe)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            observe?.Invoke(line);
            lock (writer)
                writer.WriteLine(line);
        }
    }

    /// <summary>Follow the agent's log (AgentLog: "HH:mm:ss.fff level device event: message").</summary>
    private void Observe(string line)
    {
        var done = line.IndexOf(" done: [", StringComparison.Ordinal);
        var failed = line.IndexOf(" failed: [", StringComparison.Ordinal);
        if (done >= 0 || failed >= 0)
        {
            var start = line.IndexOf('[', Math.Max(done, failed)) + 1;
            var end = line.IndexOf(']', start);
            var parts = end > start ? line[start..end].Split('/') : [];
            _queueEnded = failed >= 0 || (parts.Length == 2 && parts[0] == parts[1]);
        }
        else if (line.Contains(" idle: no command", StringComparison.Ordinal) && _queueEnded)
        {
            _queueEnded = false;
            Interlocked.Increment(ref _finishedQueues);
            Finished?.Release();
        }
    }

    /// <summary>Stop: SIGTERM, SIGKILL after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Process? current;
        lock (_gate)
            current = _current;
        if (current is { HasExited: false })
        {
            _ = Kill(current.Id, 15); // SIGTERM: the agent finishes the command it runs and exits
            using var wait = new CancellationTokenSource(grace);
            try
            {
                await current.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                current.Kill(entireProcessTree: true);
            }
        }
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
