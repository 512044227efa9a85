namespace Rig.Model.Planning;

/// <summary>What the gateway has recorded a device to have: from command results and inventories.</summary>
public sealed record RecordedState
{
    /// <summary>Nothing recorded: a new or wiped device.</summary>
    public static RecordedState Empty { get; } = new();

    /// <summary>Installed packages by name.</summary>
    public IReadOnlyDictionary<string, RecordedPackage> Packages { get; set; } = new Dictionary<string, RecordedPackage>();

    /// <summary>Managed files by path.</summary>
    public IReadOnlyDictionary<string, RecordedFile> Files { get; set; } = new Dictionary<string, RecordedFile>();

    /// <summary>Services by name.</summary>
    public IReadOnlyDictionary<string, RecordedService> Services { get; set; } = new Dictionary<string, RecordedService>();

    /// <summary>Network configuration applied by configure-network, by interface. Kept across inventories (the agent
    /// does not report it): a command that succeeded is what the device has.</summary>
    public IReadOnlyDictionary<string, RecordedNetwork> Network { get; set; } = new Dictionary<string, RecordedNetwork>();

    /// <summary>Every package of the device's native package manager at its last inventory, with their relations:
    /// what dependency resolution counts as present. Null when unknown (no inventory yet, or a platform without one);
    /// not part of the recorded items (it comes with the inventory).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<Rig.Protocol.Messages.NativePackage>? Native { get; init; }
}

/// <summary>The configuration a configure-network command applied to one interface.</summary>
public sealed record RecordedNetwork(string Interface, bool Dhcp, IReadOnlyList<string> Dns, string Renderer, string? Address = null, string? Gateway = null)
{
    /// <summary>What a succeeded command applied.</summary>
    public static RecordedNetwork From(Rig.Protocol.Messages.NetworkCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return new(command.Interface, command.Mode == Rig.Protocol.Messages.NetworkMode.Dhcp, [.. command.Dns], command.Renderer, command.Address, command.Gateway);
    }

    /// <summary>True when <paramref name="command"/> would apply this same configuration (the probe timeout aside).</summary>
    public bool Matches(Rig.Protocol.Messages.NetworkCommand command) =>
        command is not null && From(command) is var other && Interface == other.Interface && Dhcp == other.Dhcp && Address == other.Address
        && Gateway == other.Gateway && Renderer == other.Renderer && Dns.SequenceEqual(other.Dns, StringComparer.Ordinal);
}

/// <summary>An installed package and the role kind that installed it.</summary>
public sealed record RecordedPackage(string Name, string Version, string Format, string Sha256, string? Kind = null)
{
    /// <summary>Installed as a dependency no role lists: removed again when nothing needs it, and kept (not an error)
    /// when a package from outside Rig needs it.</summary>
    public bool Auto { get; init; }

    /// <summary>The device had this package from outside Rig before Rig installed another version over it: part of
    /// its base system, never removed by a plan.</summary>
    public bool Preinstalled { get; init; }
}

/// <summary>A written file and the role kind that wrote it.</summary>
public sealed record RecordedFile(string Path, string Sha256, string Mode, string Owner, string Group, string? Kind = null);

/// <summary>A service's recorded state.</summary>
public sealed record RecordedService(string Name, bool Running, bool Enabled, string? Kind = null);
