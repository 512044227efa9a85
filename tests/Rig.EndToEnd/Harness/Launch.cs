using System.Diagnostics;
using Rig.Cli.Demo;

namespace Rig.EndToEnd.Harness;

/// <summary>Starts the real <c>rig</c> program (built next to the tests) as child processes.</summary>
public static class Launch
{
    /// <summary>How to run rig: <c>dotnet rig.dll</c> from the test output directory.</summary>
    public static RigLauncher Rig { get; } = new(DotnetHost(), [Path.Combine(AppContext.BaseDirectory, "rig.dll")]);

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Run <c>rig ARGS</c> to completion; returns exit code, stdout and stderr.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, params string[] args) => RunAsync(Rig, timeout, args);

    /// <summary>Run <c>rig ARGS</c> through <paramref name="launcher"/> (e.g. inside a network namespace) to completion.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(RigLauncher launcher, TimeSpan timeout, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        return RunAsync(launcher.StartInfo(args), timeout);
    }

    /// <summary>Run a prepared <c>rig</c> start-info (a working directory, an environment) to completion; killed with its
    /// children after <paramref name="timeout"/>.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo info, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(info);
        using var process = Process.Start(info)!;
        using var cts = new CancellationTokenSource(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`rig {string.Join(' ', info.ArgumentList)}` did not finish within {timeout}.");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
