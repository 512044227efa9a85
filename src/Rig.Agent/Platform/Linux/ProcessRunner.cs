using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Rig.Agent.Platform.Linux;

/// <summary>How a program ended: its exit code and the tails of what it printed.</summary>
public sealed record ProcessOutcome(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Standard error, else standard output: what to show when the program failed.</summary>
    public string Message => (string.IsNullOrWhiteSpace(StandardError) ? StandardOutput : StandardError).Trim();
}

/// <summary>Runs the device's own tools (dpkg, rpm, systemctl, ip). Arguments are passed as a list, never
/// through a shell (no interpolation of package names or paths); output is kept to its last
/// <see cref="MaxCapturedChars"/> characters; <c>RIG_AGENT=1</c> is in its environment; a program that outlives its timeout is killed with its children.</summary>
public static class ProcessRunner
{
    /// <summary>Most characters kept of each stream.</summary>
    public const int MaxCapturedChars = 64 * 1024;

    /// <summary>Run <paramref name="program"/> (a name looked up in PATH, or an absolute path) with
    /// <paramref name="arguments"/>. The environment is the agent's with <c>LC_ALL=C</c> (messages parsed in
    /// English) plus <paramref name="environment"/> (a null value removes a variable).</summary>
    /// <exception cref="CommandFailedException"><c>tool-missing</c> when the program is not installed,
    /// <c>timeout</c> when it ran longer than <paramref name="timeout"/>.</exception>
    public static async Task<ProcessOutcome> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken ct,
        IReadOnlyDictionary<string, string?>? environment = null, string? standardInput = null)
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

        using var process = new Process { StartInfo = info };
        var output = new Tail();
        var error = new Tail();
        process.OutputDataReceived += (_, e) => output.Add(e.Data);
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

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            ct.ThrowIfCancellationRequested();
            throw new CommandFailedException("timeout",
                $"'{program} {string.Join(' ', info.ArgumentList)}' did not finish within {timeout.TotalSeconds:0} s and was stopped. Last output: {Last(error, output)}");
        }
        process.WaitForExit(); // drains the asynchronous readers
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

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>The last <see cref="MaxCapturedChars"/> characters of a stream, line by line.</summary>
    private sealed class Tail
    {
        private readonly StringBuilder _text = new();
        private readonly Lock _gate = new();

        public void Add(string? line)
        {
            if (line is null)
                return;
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
