namespace Rig.Agent.Runtime;

/// <summary>Tells whether the agent's own program was replaced on disk since it started: a package manager
/// upgrading the agent (<c>dpkg</c>, <c>rpm</c>, a Rig archive) renames the new file over the old one. The
/// Native AOT binary shows it in <c>/proc/self/exe</c> (the link then ends in <c>(deleted)</c>) while a new file
/// stands at the program's path; an agent run by <c>dotnet rig-agent.dll</c> shows it in the assembly's size and
/// time. A program that was already gone at start, or that was removed without a successor (the agent's package
/// purged), is not "replaced": exiting to be restarted would start nothing.</summary>
internal sealed class SelfImage
{
    private const string DeletedSuffix = " (deleted)";
    private readonly string? _assembly;
    private readonly (long Length, DateTime Written)? _assemblyAtStart;
    private readonly string? _program;

    private SelfImage(string? assembly, string? program)
    {
        _assembly = assembly;
        _assemblyAtStart = assembly is null ? null : Stamp(assembly);
        _program = program;
    }

    /// <summary>The program as it is now, at start-up.</summary>
    public static SelfImage Capture()
    {
        var processPath = Environment.ProcessPath;
        if (processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet")
        {
            var assembly = Path.Combine(AppContext.BaseDirectory, "rig-agent.dll");
            return new SelfImage(File.Exists(assembly) ? assembly : null, null);
        }
        // Watched only when the program's file is there now: one already deleted is never taken for an upgrade.
        var exe = ExeLink();
        return new SelfImage(null, exe is not null && !exe.EndsWith(DeletedSuffix, StringComparison.Ordinal) && File.Exists(exe) ? exe : null);
    }

    /// <summary>True once the running program's file was replaced by another one at the same path.</summary>
    public bool Replaced
    {
        get
        {
            if (_assembly is not null)
                return Stamp(_assembly) is { } now && now != _assemblyAtStart;
            if (_program is null)
                return false;
            return !OperatingSystem.IsWindows() && ExeLink() == _program + DeletedSuffix && File.Exists(_program)
                && (File.GetUnixFileMode(_program) & UnixFileMode.UserExecute) != 0;
        }
    }

    /// <summary>Which file, for the log.</summary>
    public string Describe() => _assembly ?? _program ?? Environment.ProcessPath ?? "/proc/self/exe";

    private static string? ExeLink()
    {
        try
        {
            return new FileInfo("/proc/self/exe").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static (long, DateTime)? Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (info.Length, info.LastWriteTimeUtc) : null;
    }
}
