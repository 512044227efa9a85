using System.Diagnostics;

namespace Rig.EndToEnd.Harness;

/// <summary>Starts the real <c>rig</c> program (built next to the tests) as child processes.</summary>
internal static class Launch
{
    /// <summary>How to run rig: <c>dotnet rig.dll</c> from the test output directory.</summary>
    public static RigLauncher Rig { get; } = RigLauncher.BuiltAlongside();

    /// <summary>Run <c>rig ARGS</c> to completion; returns exit code, stdout and stderr.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, params string[] args) => Rig.RunAsync(timeout, CancellationToken.None, args);

    /// <summary>Run <c>rig ARGS</c> through <paramref name="launcher"/> (e.g. inside a network namespace) to completion.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(RigLauncher launcher, TimeSpan timeout, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(launcher);
        return launcher.RunAsync(timeout, CancellationToken.None, args);
    }

    /// <summary>Run a prepared <c>rig</c> start-info (a working directory, an environment) to completion; killed with its
    /// children after <paramref name="timeout"/>.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo info, TimeSpan timeout) => RigLauncher.RunAsync(info, timeout);
}
