namespace Rig.Agent.Runtime;

/// <summary>The agent's log: one line per event on standard error with a timestamp and a stable event name
/// (operators grep them). Kept dependency-free for Native AOT.</summary>
public sealed class AgentLog(string device, bool verbose)
{
    private readonly Lock _gate = new();

    /// <summary>Something worth knowing.</summary>
    public void Info(string evt, string message) => Write("info", evt, message);

    /// <summary>Something went wrong but the agent carries on.</summary>
    public void Warn(string evt, string message) => Write("warn", evt, message);

    /// <summary>Detail, shown with --verbose.</summary>
    public void Debug(string evt, string message)
    {
        if (verbose)
            Write("debug", evt, message);
    }

    private void Write(string level, string evt, string message)
    {
        var line = $"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {level} {device} {evt}: {message}";
        lock (_gate)
            Console.Error.WriteLine(line);
    }
}
