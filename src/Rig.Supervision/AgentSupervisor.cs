using System.Diagnostics;
using System.Text.Json;
using Rig.Protocol;

namespace Rig.Supervision;

/// <summary>Supervises one agent process like a device's init system (the shipped unit has <c>Restart=always</c>): a
/// process that exits with <see cref="ProtocolInfo.RebootExitCode"/> rebooted, one that exits with
/// <see cref="ProtocolInfo.RestartExitCode"/> upgraded itself; both are started again at once. Any other exit is a crash:
/// it is counted and the agent is started again after a growing pause (200 ms doubling up to 5 s; a run of a minute
/// resets it), so a crash-looping agent does not spin. The agent's output is appended to <c>agent.log</c> in its state
/// directory. Stopping or killing ends supervision; no process is started after either began.</summary>
internal sealed class AgentSupervisor : IAsyncDisposable
{
    /// <summary>Crashes after which a caller gives up on an agent (it would keep crashing).</summary>
    public const int CrashLoop = 3;

    private static readonly TimeSpan FirstCrashPause = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LongestCrashPause = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SteadyRun = TimeSpan.FromMinutes(1);

    private readonly RigLauncher _agent;
    private readonly CancellationTokenSource _ending = new();
    private readonly Lock _gate = new();
    private Process? _current;
    private bool _ended;
    private Task? _loop;
    private int _reboots;
    private int _restarts;
    private int _crashes;

    /// <summary>An agent for <paramref name="device"/> with its state in <paramref name="stateDirectory"/>, run as
    /// <paramref name="agent"/> <c>run --state DIR --verbose</c> (<c>rig agent</c>, see <see cref="RigLauncher.Agent"/>,
    /// or a <c>rig-agent</c> binary).</summary>
    public AgentSupervisor(string device, string stateDirectory, RigLauncher agent)
    {
        Device = device;
        StateDirectory = stateDirectory;
        _agent = agent;
    }

    /// <summary>The device.</summary>
    public string Device { get; }

    /// <summary>The agent's state directory (enrollment, journal, <c>agent.log</c>).</summary>
    public string StateDirectory { get; }

    /// <summary>Environment variables added to the agent's.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Called with every line the agent prints, after it is in the log (one line at a time).</summary>
    public Action<string>? OnLine { get; init; }

    /// <summary>Called with each started process's id; the handle returned is disposed when that process ended. A
    /// benchmark uses it to kill the agent should a signal end the benchmark itself.</summary>
    public Func<int, IDisposable?>? WhileRunning { get; init; }

    /// <summary>Reboots performed (restarts after exit code 75).</summary>
    public int Reboots => Volatile.Read(ref _reboots);

    /// <summary>Restarts after the agent upgraded itself (exit code 76).</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>Crashes so far; the agent was started again after each.</summary>
    public int Crashes => Volatile.Read(ref _crashes);

    /// <summary>The exit code of the last crash (any exit but a reboot, a restart or a stop), or null.</summary>
    public int? UnexpectedExit { get; private set; }

    /// <summary>The running agent's process id, or null (not started, between two runs, or ended).</summary>
    public int? Pid
    {
        get
        {
            lock (_gate)
                return _current?.Id;
        }
    }

    /// <summary>Path of the agent's log.</summary>
    public string LogPath => LogPathOf(StateDirectory);

    /// <summary>Path of the agent's log in <paramref name="stateDirectory"/>.</summary>
    public static string LogPathOf(string stateDirectory) => Path.Combine(stateDirectory, "agent.log");

    /// <summary>Start supervising.</summary>
    public void Start() => _loop = SuperviseAsync();

    private async Task SuperviseAsync()
    {
        var pause = FirstCrashPause;
        while (true)
        {
            var started = Stopwatch.StartNew();
            var info = _agent.StartInfo("run", "--state", StateDirectory, "--verbose");
            foreach (var (name, value) in Environment)
                info.Environment[name] = value;
            Process process;
            lock (_gate)
            {
                if (_ended)
                    return; // a stop or a kill came between two runs: start nothing more on this state
                process = Process.Start(info)!;
                _current = process;
            }
            using (process)
            using (WhileRunning?.Invoke(process.Id))
            {
                await CopyOutputAsync(process).ConfigureAwait(false);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                lock (_gate)
                {
                    _current = null;
                    if (_ended)
                        return;
                }
                if (process.ExitCode == ProtocolInfo.RebootExitCode)
                {
                    Interlocked.Increment(ref _reboots);
                    continue;
                }
                if (process.ExitCode == ProtocolInfo.RestartExitCode)
                {
                    Interlocked.Increment(ref _restarts);
                    continue;
                }
                UnexpectedExit = process.ExitCode;
                Interlocked.Increment(ref _crashes);
            }
            if (started.Elapsed > SteadyRun)
                pause = FirstCrashPause;
            try
            {
                await Task.Delay(pause, _ending.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestCrashPause.Ticks));
        }
    }

    private async Task CopyOutputAsync(Process process)
    {
        await using var writer = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        await Task.WhenAll(PumpAsync(process.StandardError, writer), PumpAsync(process.StandardOutput, writer)).ConfigureAwait(false);
    }

    private async Task PumpAsync(StreamReader reader, StreamWriter writer)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (writer)
            {
                writer.WriteLine(line);
                OnLine?.Invoke(line);
            }
        }
    }

    /// <summary>The running agent's id, and from now on no new run.</summary>
    private int? End()
    {
        lock (_gate)
        {
            _ended = true;
            return _current?.Id;
        }
    }

    /// <summary>Stop the agent: SIGTERM (and SIGCONT, should it be frozen), then SIGKILL after <paramref name="grace"/>;
    /// ends supervision.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        var pid = End();
        await _ending.CancelAsync().ConfigureAwait(false);
        if (pid is { } id)
        {
            Signals.Send(id, Signals.Terminate);
            Signals.Send(id, Signals.Continue);
        }
        if (_loop is null)
            return;
        try
        {
            await _loop.WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            if (pid is { } id2)
                KillTree(id2);
            await _loop.ConfigureAwait(false);
        }
    }

    /// <summary>Kill the agent with SIGKILL (a crash or a power cut), ending supervision.</summary>
    public async Task KillAsync()
    {
        if (End() is { } pid)
            KillTree(pid);
        await _ending.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
    }

    /// <summary>Send <paramref name="signal"/> (see <see cref="Signals"/>) to the running agent; false when none runs.</summary>
    public bool Signal(int signal) => Pid is { } pid && Signals.Send(pid, signal);

    private static void KillTree(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
    }

    /// <summary>The agent's log as it is now (the agent may still be writing it).</summary>
    public string ReadLog() => ReadLog(StateDirectory);

    /// <summary>The log of the agent with state <paramref name="stateDirectory"/>, or "(no agent log)".</summary>
    public static string ReadLog(string stateDirectory)
    {
        var path = LogPathOf(stateDirectory);
        if (!File.Exists(path))
            return "(no agent log)";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The agent's journal entries (<c>journal.jsonl</c>: finished command ids and results), skipping a torn
    /// last line.</summary>
    public IReadOnlyList<JsonElement> ReadJournal() => ReadJournal(StateDirectory);

    /// <summary>The journal entries of the agent with state <paramref name="stateDirectory"/>.</summary>
    public static IReadOnlyList<JsonElement> ReadJournal(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, "journal.jsonl");
        if (!File.Exists(path))
            return [];
        var entries = new List<JsonElement>();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            try
            {
                using var document = JsonDocument.Parse(line);
                entries.Add(document.RootElement.Clone());
            }
            catch (JsonException)
            {
                // a line the agent is still writing
            }
        }
        return entries;
    }

    /// <summary>Run <paramref name="agent"/> <c>enroll ...</c> to its end; its output goes to <c>enroll.log</c> in the state
    /// directory.</summary>
    /// <exception cref="AgentEnrollmentException">The enrollment failed: the message holds the child's own error line
    /// (never its whole output) and where the rest is.</exception>
    public static async Task EnrollAsync(RigLauncher agent, AgentEnrollment enrollment, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(enrollment);
        var (code, stdout, stderr) = await RigLauncher.RunAsync(agent.StartInfo([.. enrollment.Arguments()]), enrollment.Timeout, ct).ConfigureAwait(false);
        var output = stderr + stdout;
        var log = Path.Combine(enrollment.StateDirectory, "enroll.log");
        Directory.CreateDirectory(enrollment.StateDirectory);
        await File.WriteAllTextAsync(log, output, CancellationToken.None).ConfigureAwait(false);
        if (code != 0)
        {
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var error = lines.FirstOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal)) ?? lines.LastOrDefault() ?? "no output";
            throw new AgentEnrollmentException(enrollment.Device, code, error, log);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _ending.Dispose();
    }
}

/// <summary>What <c>agent enroll</c> is given: the device, its state directory, the gateway and the one-time token with
/// the CA pin; the agent listens for pokes on loopback (a free port) and runs on <see cref="Platform"/>.</summary>
internal sealed record AgentEnrollment(string Device, string StateDirectory, Uri Gateway, string Token, string CaPin)
{
    /// <summary>The platform arguments: the sandbox under a root (<see cref="Sandbox"/>), or e.g.
    /// <c>--platform linux --root DIR</c>.</summary>
    public required IReadOnlyList<string> Platform { get; init; }

    /// <summary>More <c>agent enroll</c> options (e.g. <c>--poll 1</c>, <c>--batch N</c>).</summary>
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>How long the enrollment may take (a .NET start-up and one round trip; long on a busy machine);
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>: only the cancellation token bounds it.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The sandbox platform, confined under <paramref name="root"/>.</summary>
    public static IReadOnlyList<string> Sandbox(string root) => ["--sandbox-root", root];

    /// <summary>The arguments after the agent program.</summary>
    public IReadOnlyList<string> Arguments() =>
        ["enroll", "--state", StateDirectory, "--gateway", Gateway.ToString(), "--device", Device, "--token", Token, "--ca-pin", CaPin,
            .. Platform, "--poke-address", "127.0.0.1", "--poke-port", "0", .. Options];
}

/// <summary><c>agent enroll</c> failed.</summary>
internal sealed class AgentEnrollmentException(string device, int exitCode, string error, string logPath)
    : Exception($"`agent enroll` for {device} failed (exit code {exitCode}): {error}")
{
    /// <summary>The enrollment's exit code.</summary>
    public int ExitCode { get; } = exitCode;

    /// <summary>Where all its output is.</summary>
    public string LogPath { get; } = logPath;
}
