namespace Rig.Agent.Runtime;

/// <summary>Tells whether the agent's own program was replaced on disk since it started: a package manager
/// upgrading the agent (<c>dpkg</c>, <c>rpm</c>, a Rig archive) renames the new file over the old one. The
/// Native AOT binary shows it in <c>/proc/self/exe</c> (the link then ends in <c>(deleted)</c>); an agent run
/// by <c>dotnet rig-agent.dll</c> shows it in the assembly's size and time.</summary>
public sealed class SelfImage
{
    private const string DeletedSuffix = " (deleted)";
    private readonly string? _assembly;
    private readonly (long Length, DateTime Written)? _assemblyAtStart;

    private SelfImage(string? assembly)
    {
        _assembly = assembly;
        _assemblyAtStart = assembly is null ? null : Stamp(assembly);
    }

    /// <summary>The program as it is now, at start-up.</summary>
    public static SelfImage Capture()
    {
        var processPath = Environment.ProcessPath;
        var hostedByDotnet = processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet";
        var assembly = hostedByDotnet ? Path.Combine(AppContext.BaseDirectory, "rig-agent.dll") : null;
        return new SelfImage(assembly is not null && File.Exists(assembly) ? assembly : null);
    }

    /// <summary>True once the running program's file was replaced or removed.</summary>
    public bool Replaced
    {
        get
        {
            if (_assembly is not null)
                return Stamp(_assembly) != _assemblyAtStart;
            try
            {
                return new FileInfo("/proc/self/exe").LinkTarget?.EndsWith(DeletedSuffix, StringComparison.Ordinal) == true;
            }
            catch (IOException)
            {
                return false;
            }
        }
    }

    /// <summary>Which file, for the log.</summary>
    public string Describe() => _assembly ?? Environment.ProcessPath ?? "/proc/self/exe";

    private static (long, DateTime)? Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (info.Length, info.LastWriteTimeUtc) : null;
    }
}
