using System.Runtime.InteropServices;

namespace Rig.Supervision;

/// <summary>POSIX signals (Linux numbers) to processes the supervisors started: .NET's <c>Process.Kill</c> only sends
/// SIGKILL, and a graceful stop (SIGTERM) or a freeze (SIGSTOP, SIGCONT) needs kill(2).</summary>
internal static partial class Signals
{
    /// <summary>SIGINT: what Ctrl+C sends; `rig demo --ui` stops its agents and gateway and removes its directory.</summary>
    public const int Interrupt = 2;
    /// <summary>SIGKILL.</summary>
    public const int Kill = 9;
    /// <summary>SIGTERM: the agent finishes the command it runs and exits; the gateway shuts down.</summary>
    public const int Terminate = 15;
    /// <summary>SIGCONT.</summary>
    public const int Continue = 18;
    /// <summary>SIGSTOP.</summary>
    public const int Stop = 19;

    /// <summary>Send <paramref name="signal"/> to <paramref name="pid"/>; false when the process is gone.</summary>
    public static bool Send(int pid, int signal) => SysKill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
