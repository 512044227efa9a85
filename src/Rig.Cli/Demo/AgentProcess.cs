using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using Rig.Protocol;

namespace Rig.Cli.Demo;

/// <summary>How to start <c>rig</c> itself as a child process (apphost, or <c>dotnet rig.dll</c>).</summary>
public sealed record RigLauncher(string FileName, IReadOnlyList<string> BaseArguments)
{
    /// <summary>The running <c>rig</c>.</summary>
    public static RigLauncher Current()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which program is running.");
        var name = Path.GetFileNameWithoutExtension(process);
        if (name == "dotnet")
        {
            var entry = Assembly.GetEntryAssembly()?.Location;
            if (string.IsNullOrEmpty(entry))
                throw new InvalidOperationException("Cannot find rig.dll to start agents with.");
            return new RigLauncher(process, [entry]);
        }
        return new RigLauncher(process, []);
    }

    /// <summary>A start-info for <c>rig ARGS</c>, arguments as a vector (never a shell string).</summary>
    public ProcessStartInfo StartInfo(params string[] arguments)
    {
        var info = new ProcessStartInfo(FileName) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in BaseArguments.Concat(arguments))
            info.ArgumentList.Add(a);
        return info;
    }
}

/// <summary>Supervises one agent process like a device's init system (the shipped unit has <c>Restart=always</c>): a
/// process that exits with <see cref="ProtocolInfo.RebootExitCode"/> rebooted, one that exits with
/// <see cref="ProtocolInfo.RestartExitCode"/> upgraded itself; both are started again at once. Any other exit is a crash:
/// it is counted and the agent is started again after a growing pause (200 ms doubling up to 5 s; a run of a minute
/// resets it), so a crash-looping agent does not spin. The agent's log goes to <c>agent.log</c> in its state directory.</summary>
public sealed partial class AgentProcess : IAsyncDisposable
{
    private readonly RigLauncher _launcher;
    private readonly IReadOnlyList<string> _agentCommand;
    private readonly string _stateDirectory;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Process? _current;
    private Task? _loop;

    /// <summary>An agent for <paramref name="device"/> with its state in <paramref name="stateDirectory"/>, run as
    /// <c>rig agent run</c>, or, with <paramref name="agentCommand"/> empty, as <paramref name="launcher"/> <c>run</c>
    /// (the <c>rig-agent</c> binary).</summary>
    public AgentProcess(string device, string stateDirectory, RigLauncher launcher, IReadOnlyList<string>? agentCommand = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        _environment = environment ?? new Dictionary<string, string>();
        Device = device;
        _stateDirectory = stateDirectory;
        _launcher = launcher;
        _agentCommand = agentCommand ?? ["agent"];
    }

    /// <summary>The device.</summary>
    public string Device { get; }

    /// <summary>Reboots performed (restarts after exit code 75).</summary>
    public int Reboots { get; private set; }

    /// <summary>Restarts after the agent upgraded itself (exit code 76).</summary>
    public int Restarts { get; private set; }

    /// <summary>The exit code of the last crash (any exit but a reboot, a restart or a stop), or null.</summary>
    public int? UnexpectedExit { get; private set; }

    /// <summary>Crashes after which the demo gives up on an agent (it would keep crashing).</summary>
    public const int CrashLoop = 3;

    /// <summary>Crashes so far; the agent was started again after each.</summary>
    public int Crashes { get; private set; }

    /// <summary>Path of the agent's log.</summary>
    public string LogPath => Path.Combine(_stateDirectory, "agent.log");

    /// <summary>Start supervising.</summary>
    public void Start() => _loop = SuperviseAsync(_stop.Token);

    private async Task SuperviseAsync(CancellationToken stop)
    {
        var pause = TimeSpan.FromMilliseconds(200);
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.StartNew();
            var info = _launcher.StartInfo([.. _agentCommand, "run", "--state", _stateDirectory, "--verbose"]);
            foreach (var (name, value) in _environment)
                info.Environment[name] = value;
            var process = Process.Start(info)!;
            lock (_gate)
                _current = process;
            var log = CopyOutputAsync(process);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            await log.ConfigureAwait(false);
            lock (_gate)
                _current = null;
            if (stop.IsCancellationRequested)
                return;
            if (process.ExitCode == ProtocolInfo.RebootExitCode)
            {
                Reboots++;
                continue;
            }
            if (process.ExitCode == ProtocolInfo.RestartExitCode)
            {
                Restarts++;
                continue;
            }
            UnexpectedExit = process.ExitCode;
            Crashes++;
            if (started.Elapsed > TimeSpan.FromMinutes(1))
                pause = TimeSpan.FromMilliseconds(200);
            try
            {
                await Task.Delay(pause, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    private async Task CopyOutputAsync(Process process)
    {
        await using var writer = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        var stderr = PumpAsync(process.StandardError, writer);
        var stdout = PumpAsync(process.StandardOutput, writer);
        await Task.WhenAll(stderr, stdout).ConfigureAwait(false);
    }

    private static async Task PumpAsync(StreamReader reader, StreamWriter writer)
    {
        string? line;
        while ((line = await reader.ReadLineAsync().ConfigureAwait(false)) is not null)
        {
            lock (writer)
                writer.WriteLine(line);
        }
    }

    /// <summary>Stop the agent: SIGTERM, then SIGKILL after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Process? current;
        lock (_gate)
            current = _current;
        if (current is not null && !current.HasExited)
        {
            _ = Kill(current.Id, 15);
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

    /// <summary>Kill the agent with SIGKILL (a crash or power cut), ending supervision.</summary>
    public async Task KillAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Process? current;
        lock (_gate)
            current = _current;
        if (current is not null && !current.HasExited)
        {
            current.Kill(entireProcessTree: true);
            await current.WaitForExitAsync().ConfigureAwait(false);
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

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
