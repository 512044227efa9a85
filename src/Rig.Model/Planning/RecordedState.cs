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
}

/// <summary>An installed package and the role kind that installed it.</summary>
public sealed record RecordedPackage(string Name, string Version, string Format, string Sha256, string? Kind = null);

/// <summary>A written file and the role kind that wrote it.</summary>
public sealed record RecordedFile(string Path, string Sha256, string Mode, string Owner, string Group, string? Kind = null);

/// <summary>A service's recorded state.</summary>
public sealed record RecordedService(string Name, bool Running, bool Enabled, string? Kind = null);
