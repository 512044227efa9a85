namespace Rig.Protocol.Messages;

/// <summary>What a device has: reported by the inventory command; the gateway stores it as the device's state.</summary>
public sealed record InventoryReport
{
    /// <summary>Host name the device reports.</summary>
    public string? Hostname { get; init; }

    /// <summary>The OS plug-in in use (e.g. <c>sandbox</c>).</summary>
    public string? Platform { get; init; }

    /// <summary>Packages installed through Rig.</summary>
    // `set`, not `init`: for init-only members the JSON source generator passes default(T) when the member is
    // absent, which would overwrite the default below (absent must mean the default, not null/false).
    public IReadOnlyList<InstalledPackage> Packages { get; set; } = [];

    /// <summary>Files Rig manages (written by write-file).</summary>
    public IReadOnlyList<ManagedFile> Files { get; set; } = [];

    /// <summary>Services and their recorded state.</summary>
    public IReadOnlyList<ServiceState> Services { get; set; } = [];

    /// <summary>Free bytes on the file system holding the device root (null when unknown).</summary>
    public long? FreeBytes { get; set; }

        /// <summary>How many times the device has booted (sandbox: agent restarts after a reboot).</summary>
    public int BootCount { get; init; }
}

/// <summary>An installed package.</summary>
public sealed record InstalledPackage(string Name, string Version, string Format, string Sha256);

/// <summary>A managed file with the digest of its current content.</summary>
public sealed record ManagedFile(string Path, string Sha256, string Mode, string Owner, string Group);

/// <summary>A service and its state.</summary>
public sealed record ServiceState(string Name, bool Running, bool Enabled);
