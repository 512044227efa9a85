using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;

namespace Rig.Agent.Runtime;

/// <summary><c>rig-agent install</c>: makes the agent a systemd service on a real host (or in a system image
/// mounted at <see cref="Root"/>): enrolls it when its state directory has no identity yet, writes the unit
/// <c>/etc/systemd/system/rig-agent.service</c> (unless the rig-agent package already ships the same one), and
/// enables it (and starts it, when systemd runs and the root is the running system).</summary>
internal sealed class ServiceInstall
{
    /// <summary>The unit's name.</summary>
    public const string UnitName = "rig-agent.service";

    /// <summary>Where the rig-agent package puts the agent.</summary>
    public const string PackagedBinary = "/usr/lib/rig-agent/rig-agent";

    /// <summary>The agent's state directory on a real host.</summary>
    public const string DefaultState = "/var/lib/rig-agent";

    private DeviceFileSystem? _image;

    /// <summary>The system to install into: <c>/</c>, or an image's root directory.</summary>
    public required string Root { get; init; }

    /// <summary>The state directory as the device sees it (e.g. <c>/var/lib/rig-agent</c>).</summary>
    public string State { get; init; } = DefaultState;

    /// <summary>The program and leading arguments that run the agent, as the device sees them; null: the
    /// packaged binary when it is installed, else this program.</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>Enable only; do not start now.</summary>
    public bool NoStart { get; init; }

    /// <summary>Host path of a device path, resolved inside <see cref="Root"/> with chroot semantics: an image's
    /// absolute links (<c>/usr/sbin -> /usr/bin</c>) stay in the image, never reach the host's files.</summary>
    public string Host(string devicePath, FinalLink final = FinalLink.Follow)
    {
        try
        {
            return (_image ??= new DeviceFileSystem(Root, ["/"], Rig.Protocol.RigLimits.Default)).Resolve(devicePath, final, allowedRootsOnly: false);
        }
        catch (CommandFailedException e)
        {
            throw new AgentException($"'{devicePath}' in '{Root}': {e.Message}");
        }
    }

    /// <summary>The unit text for <paramref name="command"/>.</summary>
    public static string UnitText(IReadOnlyList<string> command, string state)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var word in command.Append(state))
        {
            // systemd would expand '%' and '$', split on blanks and unquote: only plain paths are written.
            if (word.Length == 0 || word.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+')))
                throw new AgentException($"'{word}' cannot go into a systemd unit: use a path of letters, digits and / . _ - + only (move the agent or the state directory).");
        }
        using var stream = typeof(ServiceInstall).Assembly.GetManifestResourceStream(UnitName)
            ?? throw new InvalidOperationException("The unit template is missing from the agent build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("@EXEC@", string.Join(' ', command), StringComparison.Ordinal).Replace("@STATE@", state, StringComparison.Ordinal);
    }

    /// <summary>The command that runs this very program as the agent (<paramref name="prefix"/>: leading
    /// arguments such as <c>agent</c> for <c>rig agent</c>).</summary>
    public static IReadOnlyList<string> CurrentProgram(IReadOnlyList<string> prefix)
    {
        var process = Environment.ProcessPath ?? throw new AgentException("Cannot tell where this program is; give --exec PATH.");
        if (Path.GetFileNameWithoutExtension(process) != "dotnet")
            return [process, .. prefix];
        // Run by `dotnet program.dll`: the first command-line argument is the assembly's path.
        return [process, Path.GetFullPath(Environment.GetCommandLineArgs()[0]), .. prefix];
    }

    /// <summary>Write the unit and enable it. Returns what was done, one line each.</summary>
    public async Task<IReadOnlyList<string>> InstallUnitAsync(IReadOnlyList<string> prefix, CancellationToken ct)
    {
        var done = new List<string>();
        var command = Command ?? (File.Exists(Host(PackagedBinary)) ? [PackagedBinary] : CurrentProgram(prefix));
        var text = UnitText(command, State);
        if (!File.Exists(Host(command[0])))
            throw new AgentException($"'{command[0]}' is not {(Root == "/" ? "a file" : $"in the image at '{Root}'")}: install the rig-agent package first, or give --exec with the agent's path{(Root == "/" ? "" : " inside the image")}.");
        var packaged = new[] { "/lib/systemd/system/" + UnitName, "/usr/lib/systemd/system/" + UnitName }
            .FirstOrDefault(path => File.Exists(Host(path)) && File.ReadAllText(Host(path)) == text);
        var local = Host("/etc/systemd/system/" + UnitName, FinalLink.Refuse);
        if (packaged is not null)
        {
            if (File.Exists(local) && File.ReadAllText(local) != text)
                done.Add($"note: {local} overrides the packaged {packaged}; remove it to use the package's unit");
            else
                done.Add($"unit {packaged} (from the rig-agent package)");
        }
        else if (File.Exists(local) && File.ReadAllText(local) == text)
        {
            done.Add($"unit {local} unchanged");
        }
        else
        {
            DeviceFileSystem.WriteAtomically(local, System.Text.Encoding.UTF8.GetBytes(text),
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            done.Add($"wrote {local}");
        }

        var live = Root == "/" && Directory.Exists("/run/systemd/system");
        if (live)
        {
            await SystemctlAsync(["daemon-reload"], ct).ConfigureAwait(false);
            await SystemctlAsync(NoStart ? ["enable", UnitName] : ["enable", "--now", UnitName], ct).ConfigureAwait(false);
            done.Add(NoStart ? $"enabled {UnitName} (start it with: systemctl start {UnitName})" : $"enabled and started {UnitName}");
        }
        else
        {
            // Offline (an image, or a host where systemd is not PID 1): systemctl --root makes the same links.
            await SystemctlAsync(["--root=" + Root, "enable", UnitName], ct).ConfigureAwait(false);
            done.Add(Root == "/"
                ? $"enabled {UnitName}; systemd is not running here, so nothing was started (start the agent with: {string.Join(' ', command)} run --state {State})"
                : $"enabled {UnitName} in the image at {Root}; it starts when that system boots");
        }
        return done;
    }

    private static async Task SystemctlAsync(string[] arguments, CancellationToken ct)
    {
        ProcessOutcome outcome;
        try
        {
            outcome = await ProcessRunner.RunAsync("systemctl", arguments, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
        }
        catch (CommandFailedException e)
        {
            throw new AgentException(e.Message);
        }
        if (outcome.ExitCode != 0)
            throw new AgentException($"systemctl {string.Join(' ', arguments)} failed ({outcome.ExitCode}): {outcome.Message}");
    }
}
