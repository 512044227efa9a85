namespace Rig.Agent.Runtime;

/// <summary>Crash points for fault tests and the nemesis harness: with <c>RIG_AGENT_FAILPOINT=NAME</c> in its environment
/// the agent kills itself with SIGKILL the first time it reaches the point NAME (once per state directory: a marker file
/// records it), as a kill -9 or a power cut at the worst moment would. Nothing else reads the variable; an agent started
/// without it never stops here.</summary>
internal static class Failpoint
{
    /// <summary>After an answer that ends in a reboot is journaled, before its results are reported.</summary>
    public const string RebootAnswerJournaled = "reboot-answer-journaled";

    /// <summary>Die here if <paramref name="name"/> is the failpoint this agent was started with and it has not fired yet.</summary>
    public static void Hit(string name, AgentPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (Environment.GetEnvironmentVariable("RIG_AGENT_FAILPOINT") != name)
            return;
        var marker = Path.Combine(paths.Root, $"failpoint-{name}.fired");
        if (File.Exists(marker))
            return;
        File.WriteAllText(marker, DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        System.Diagnostics.Process.GetCurrentProcess().Kill();
    }
}
