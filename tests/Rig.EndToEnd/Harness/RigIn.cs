using System.Diagnostics;

namespace Rig.EndToEnd.Harness;

/// <summary>Runs the real <c>rig</c> as an operator would in a shell: in a working directory, with environment
/// variables (<c>RIG_DATA</c>, <c>RIG_TOKEN</c>), to completion.</summary>
internal static class RigIn
{
    /// <summary>Run <c>rig ARGS</c> in <paramref name="workingDirectory"/> with <paramref name="environment"/> added.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, params string[] args) =>
        Launch.RunAsync(StartInfo(workingDirectory, environment, args), timeout);

    /// <summary>A start-info for <c>rig ARGS</c> in <paramref name="workingDirectory"/>; output redirected, lines
    /// never wrapped (COLUMNS=250).</summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = Launch.Rig.StartInfo(args);
        info.WorkingDirectory = workingDirectory;
        info.Environment["COLUMNS"] = "250";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        return info;
    }
}
