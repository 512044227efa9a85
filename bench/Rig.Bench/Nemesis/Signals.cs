using System.Globalization;
using System.Runtime.InteropServices;

namespace Rig.Bench.Nemesis;

/// <summary>Signals to processes the nemesis started, and finding an agent's process by its state directory (the
/// supervisor, <see cref="Rig.Cli.Demo.AgentProcess"/>, does not expose it): <c>/proc/PID/cmdline</c> holding
/// <c>run --state DIR</c>.</summary>
public static partial class Signals
{
    /// <summary>SIGKILL.</summary>
    public const int Kill = 9;
    /// <summary>SIGCONT.</summary>
    public const int Continue = 18;
    /// <summary>SIGSTOP.</summary>
    public const int Stop = 19;

    /// <summary>Send <paramref name="signal"/>; false when the process is gone.</summary>
    public static bool Send(int pid, int signal) => SysKill(pid, signal) == 0;

    /// <summary>Process ids of agents running with state directory <paramref name="state"/>.</summary>
    public static IReadOnlyList<int> AgentPids(string state)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
                continue;
            string[] args;
            try
            {
                args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            for (var i = 0; i + 2 < args.Length; i++)
            {
                if (args[i] == "run" && args[i + 1] == "--state" && args[i + 2] == state)
                {
                    found.Add(pid);
                    break;
                }
            }
        }
        return found;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
