using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Rig.Agent.Platform.Linux;

/// <summary>How a program ended: its exit code and the tails of what it printed.</summary>
internal sealed record ProcessOutcome(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Standard error, else standard output: what to show when the program failed.</summary>
    public string Message => (string.IsNullOrWhiteSpace(StandardError) ? StandardOutput : StandardError).Trim();
}

/// <summary>Runs the device's own tools (dpkg, rpm, systemctl, ip). Arguments are passed as a list, never
/// through a shell (no interpolation of package names or paths); output is kept to its last
/// <see cref="MaxCapturedChars"/> characters; <c>RIG_AGENT=1</c> is in its environment.</summary>
/// <remarks>The run ends when the program itself exits, not when its output pipes close: a maintainer script
/// that starts a daemon hands it the pipes, and the daemon may hold them for ever. After the exit the output
/// still in the pipes is read for at most <see cref="OutputDrainWait"/>. A program that outlives its timeout is
/// asked to stop (SIGTERM to it and its children), given a grace period, then killed with its children.</remarks>
internal static partial class ProcessRunner
{
    /// <summary>Most characters kept of each stream.</summary>
    public const int MaxCapturedChars = 64 * 1024;

    /// <summary>How long output is still read after the program exited. Its own output is already in the pipe
    /// then, so this is only the time to read it; a child that inherited the pipe (a daemon started by a
    /// maintainer script) would otherwise keep the command waiting until the timeout.</summary>
    public static readonly TimeSpan OutputDrainWait = TimeSpan.FromSeconds(2);

    /// <summary>Between SIGTERM and SIGKILL after a timeout: dpkg and rpm get to finish writing their
    /// database and scripts get to clean up; short next to any timeout of a change (minutes).</summary>
    public static readonly TimeSpan DefaultStopGrace = TimeSpan.FromSeconds(10);

    private const int SigTerm = 15;
    private const int SigKill = 9;

    /// <summary>Run <paramref name="program"/> (a name looked up in PATH, or an absolute path) with
    /// <paramref name="arguments"/>. The environment is the agent's with <c>LC_ALL=C</c> (messages parsed in
    /// English) plus <paramref name="environment"/> (a null value removes a variable). A program still running
    /// after <paramref name="timeout"/> gets SIGTERM, then after <paramref name="stopGrace"/> (default
    /// <see cref="DefaultStopGrace"/>) SIGKILL, with its children.</summary>
    /// <remarks>With <paramref name="outputLines"/>, every line of standard output goes to it as it arrives (in order,
    /// one at a time) instead of being kept: for output of any size (<c>rpm -qa</c> with every package's relations).
    /// An exception it throws ends nothing early; the first one is thrown again once the program has exited.</remarks>
    /// <exception cref="CommandFailedException"><c>tool-missing</c> when the program is not installed,
    /// <c>timeout</c> when it ran longer than <paramref name="timeout"/> (it was stopped), <c>incomplete-output</c>
    /// when <paramref name="outputLines"/> did not see the end of the output (a child of the program holds it open).</exception>
    public static async Task<ProcessOutcome> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken ct,
        IReadOnlyDictionary<string, string?>? environment = null, string? standardInput = null, TimeSpan? stopGrace = null, Action<string>? outputLines = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var path = Find(program) ?? throw new CommandFailedException("tool-missing",
            $"'{program}' is not installed on this device (not found in PATH {Environment.GetEnvironmentVariable("PATH")}); install it or use a platform that does not need it.");
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        info.Environment["LC_ALL"] = "C";
        // Tells package scripts (the rig-agent package's own among them) that the agent runs them: no restarting
        // the agent's service from inside its own command.
        info.Environment["RIG_AGENT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
                info.Environment.Remove(name);
            else
                info.Environment[name] = value;
        }

        using var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var output = new Tail();
        var error = new Tail();
        // Process.WaitForExitAsync also waits for the end of redirected output: the exit is watched on its own.
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        Exception? lineFailure = null;
        process.OutputDataReceived += (_, e) =>
        {
            if (outputLines is null || e.Data is null)
            {
                output.Add(e.Data);
                return;
            }
            if (lineFailure is not null)
                return;
            try
            {
                outputLines(e.Data);
            }
            catch (Exception failure)
            {
                lineFailure = failure; // thrown on the event's thread it would end the agent
            }
        };
        process.ErrorDataReceived += (_, e) => error.Add(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new CommandFailedException("tool-missing", $"'{path}' could not be started: {e.Message}.");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            if (standardInput is not null)
                await process.StandardInput.WriteAsync(standardInput).ConfigureAwait(false);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program did not read its input; its exit code tells what happened.
        }

        try
        {
            await exited.Task.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process); // the agent is shutting down: no grace period
            throw;
        }
        catch (TimeoutException)
        {
            await StopAsync(process, exited.Task, stopGrace ?? DefaultStopGrace).ConfigureAwait(false);
            await DrainAsync(output, error).ConfigureAwait(false);
            throw new CommandFailedException("timeout",
                $"'{program} {string.Join(' ', info.ArgumentList)}' did not finish within {Seconds(timeout)} and was stopped (SIGTERM, then SIGKILL to what was " +
                $"still running after {Seconds(stopGrace ?? DefaultStopGrace)}). Last output: {Last(error, output)}");
        }
        await DrainAsync(output, error).ConfigureAwait(false);
        if (lineFailure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(lineFailure);
        if (outputLines is not null && !output.Closed.IsCompleted)
        {
            throw new CommandFailedException("incomplete-output",
                $"'{program}' exited but its output did not end within {Seconds(OutputDrainWait)} (a process it started holds it open); what it printed is incomplete.");
        }
        return new ProcessOutcome(process.ExitCode, output.ToString(), error.ToString());
    }

    /// <summary>The full path of <paramref name="program"/>, or null when it is not installed.</summary>
    public static string? Find(string program)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        if (program.Contains('/', StringComparison.Ordinal))
            return File.Exists(program) ? program : null;
        var search = Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } value ? value : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        // Root's tools live in sbin, which a service's PATH may lack.
        foreach (var directory in search.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    private static string Last(Tail error, Tail output)
    {
        var text = error.ToString().Trim() is { Length: > 0 } e ? e : output.ToString().Trim();
        return text.Length <= 500 ? text : text[^500..];
    }

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.#} s";

    /// <summary>Wait, at most <see cref="OutputDrainWait"/>, until both streams reached their end; what was read
    /// by then is kept.</summary>
    private static async Task DrainAsync(Tail output, Tail error)
    {
        try
        {
            await Task.WhenAll(output.Closed, error.Closed).WaitAsync(OutputDrainWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Another process (a daemon the program started) still holds a pipe open.
        }
    }

    /// <summary>SIGTERM to the program and its descendants, then SIGKILL to those still running after
    /// <paramref name="grace"/>. The descendants are taken at the timeout (with their start times, so a pid
    /// reused meanwhile is never hit): a child the program leaves behind when it dies is still stopped.</summary>
    private static async Task StopAsync(Process process, Task exited, TimeSpan grace)
    {
        var tree = ProcessTree.Of(process.Id);
        foreach (var member in tree)
            member.Signal(SigTerm);
        try
        {
            await exited.WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill(process);
        }
        foreach (var member in tree)
            member.Signal(SigKill); // no-op for those gone (or whose pid now belongs to another process)
        try
        {
            await exited.WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Unkillable (uninterruptible I/O); the timeout error says it was stopped, the kernel finishes it.
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    /// <summary>A process and its descendants as <c>/proc</c> lists them now, each with its start time.</summary>
    private readonly record struct ProcessTree(int Pid, long StartTime)
    {
        public static List<ProcessTree> Of(int root)
        {
            var parents = new Dictionary<int, (int Parent, long Start)>();
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(directory), out var pid) && Stat(pid) is { } stat)
                    parents[pid] = stat;
            }
            var tree = new List<ProcessTree>();
            if (parents.TryGetValue(root, out var self))
                tree.Add(new ProcessTree(root, self.Start));
            for (var i = 0; i < tree.Count; i++)
            {
                foreach (var (pid, (parent, start)) in parents)
                {
                    if (parent == tree[i].Pid)
                        tree.Add(new ProcessTree(pid, start));
                }
            }
            return tree;
        }

        /// <summary>Send <paramref name="signal"/> if the pid still belongs to the same process.</summary>
        public void Signal(int signal)
        {
            if (Stat(Pid) is { } now && now.Start == StartTime)
                _ = SendSignal(Pid, signal);
        }

        /// <summary>Parent pid and start time (fields 4 and 22 of <c>/proc/PID/stat</c>; the name in field 2 may
        /// hold spaces and parentheses, so fields are counted after its last ')').</summary>
        private static (int Parent, long Start)? Stat(int pid)
        {
            string text;
            try
            {
                text = File.ReadAllText($"/proc/{pid}/stat");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null; // ended meanwhile
            }
            var fields = text[(text.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // fields[0] is field 3 (state), so field N is fields[N - 3].
            return fields.Length > 19 && int.TryParse(fields[1], out var parent) && long.TryParse(fields[19], out var start) ? (parent, start) : null;
        }
    }

    /// <summary>The last <see cref="MaxCapturedChars"/> characters of a stream, line by line.</summary>
    private sealed class Tail
    {
        private readonly StringBuilder _text = new();
        private readonly Lock _gate = new();
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes at the end of the stream.</summary>
        public Task Closed => _closed.Task;

        public void Add(string? line)
        {
            if (line is null)
            {
                _closed.TrySetResult();
                return;
            }
            lock (_gate)
            {
                _text.Append(line).Append('\n');
                if (_text.Length > MaxCapturedChars * 2)
                    _text.Remove(0, _text.Length - MaxCapturedChars);
            }
        }

        public override string ToString()
        {
            lock (_gate)
                return _text.Length <= MaxCapturedChars ? _text.ToString() : _text.ToString(_text.Length - MaxCapturedChars, MaxCapturedChars);
        }
    }
}
