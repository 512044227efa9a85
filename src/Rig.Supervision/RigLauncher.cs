using System.Diagnostics;
using System.Reflection;

namespace Rig.Supervision;

/// <summary>How to start a rig program as a child process: <c>rig</c> (its apphost, or <c>dotnet rig.dll</c>), the agent
/// inside it (<c>rig agent</c>, see <see cref="Agent"/>), or a <c>rig-agent</c> binary. Arguments always go as a vector,
/// never through a shell.</summary>
internal sealed record RigLauncher(string FileName, IReadOnlyList<string> BaseArguments)
{
    /// <summary>The running <c>rig</c> (what <c>rig demo</c> starts its agents with).</summary>
    public static RigLauncher Current()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which program is running.");
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
        {
            var entry = Assembly.GetEntryAssembly()?.Location;
            if (string.IsNullOrEmpty(entry))
                throw new InvalidOperationException("Cannot find rig.dll to start agents with.");
            return new RigLauncher(process, [entry]);
        }
        return new RigLauncher(process, []);
    }

    /// <summary><c>dotnet rig.dll</c> for the rig.dll built next to the running program (tests and benchmarks, which
    /// reference Rig.Cli); the host is <c>DOTNET_HOST_PATH</c> when the SDK set it, else <c>dotnet</c> from the path.</summary>
    public static RigLauncher BuiltAlongside() =>
        new(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet",
            [Path.Combine(AppContext.BaseDirectory, "rig.dll")]);

    /// <summary>The agent inside this rig: <c>rig agent ARGS</c>.</summary>
    public RigLauncher Agent() => this with { BaseArguments = [.. BaseArguments, "agent"] };

    /// <summary>A start-info for <c>rig ARGS</c>, standard output and error redirected.</summary>
    public ProcessStartInfo StartInfo(params string[] arguments)
    {
        var info = new ProcessStartInfo(FileName) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in BaseArguments.Concat(arguments))
            info.ArgumentList.Add(a);
        return info;
    }

    /// <summary>Run <c>rig ARGS</c> to its end; see <see cref="RunAsync(ProcessStartInfo, TimeSpan, CancellationToken)"/>.</summary>
    public Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, CancellationToken ct, params string[] arguments) =>
        RunAsync(StartInfo(arguments), timeout, ct);

    /// <summary>Run a prepared start-info (a working directory, an environment) to its end; returns the exit code and
    /// everything it printed. Killed with its children when <paramref name="timeout"/> passes (a
    /// <see cref="TimeoutException"/>) or <paramref name="ct"/> is cancelled: nothing is left running behind.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo info, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(info);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}.");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
        var stderr = process.StandardError.ReadToEndAsync(limit.Token);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            ct.ThrowIfCancellationRequested();
            throw new TimeoutException($"`{Path.GetFileName(info.FileName)} {string.Join(' ', info.ArgumentList)}` did not finish within {timeout}.");
        }
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
