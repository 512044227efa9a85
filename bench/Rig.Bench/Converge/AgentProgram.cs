using Rig.Bench.Common;

namespace Rig.Bench.Converge;

/// <summary>Which agent program a fleet runs: the Native AOT <c>rig-agent</c> binary (the agent as it ships) or
/// the JIT-compiled agent inside <c>rig</c> (<c>dotnet rig.dll agent ...</c>, as <c>rig demo</c> runs it).</summary>
internal sealed record AgentProgram(string Kind, RigLauncher Launcher)
{
    /// <summary>The JIT agent: <c>dotnet rig.dll agent ARGS</c>.</summary>
    public static AgentProgram Jit { get; } = new("JIT (dotnet rig.dll agent)", RigLauncher.BuiltAlongside().Agent());

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

/// <summary>One agent of a fleet under an <see cref="AgentSupervisor"/> (started again after a reboot; a crash shows in
/// <see cref="UnexpectedExit"/> and fails the benchmark), counting the queues it has seen to their end.</summary>
internal sealed class FleetAgent : IAsyncDisposable
{
    private readonly AgentSupervisor _supervisor;
    private int _finishedQueues;
    private bool _queueEnded;

    /// <summary>An agent for <paramref name="device"/> with its state in <paramref name="state"/>.</summary>
    public FleetAgent(string device, string state, AgentProgram program)
    {
        ArgumentNullException.ThrowIfNull(program);
        // Killed should a signal end the benchmark: no agent is left running behind it.
        _supervisor = new AgentSupervisor(device, state, program.Launcher) { OnLine = Observe, WhileRunning = ExitCleanup.KillOnExit };
    }

    /// <summary>The device.</summary>
    public string Device => _supervisor.Device;

    /// <summary>The exit code of the agent's last crash, if it crashed.</summary>
    public int? UnexpectedExit => _supervisor.UnexpectedExit;

    /// <summary>The agent's log.</summary>
    public string LogPath => _supervisor.LogPath;

    /// <summary>The running agent's process id, or null.</summary>
    public int? Pid => _supervisor.Pid;

    /// <summary>Queues this agent has seen to their end: a session that ran the last command of its queue (its log
    /// line "done: [N/N] ..." or "failed: [k/N] ...") and was then answered "no command" ("idle"). The gateway
    /// finishes a queue in the transaction that answers that inquiry, so the "idle" line comes after the queue
    /// is finished in the database: this tells completion without polling the gateway while it works.</summary>
    public int FinishedQueues => Volatile.Read(ref _finishedQueues);

    /// <summary>Signalled on every <see cref="FinishedQueues"/> increment (any agent of the fleet).</summary>
    public SemaphoreSlim? Finished { get; init; }

    /// <summary>Start supervising.</summary>
    public void Start() => _supervisor.Start();

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

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _supervisor.DisposeAsync();
}
