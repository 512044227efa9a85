namespace Rig.Protocol.Archives;

/// <summary>The manifest of a Rig archive, <c>rig.json</c> at the archive's root. Payload files live under
/// <c>files/</c> and are installed relative to the device's root (<c>files/etc/app.conf</c> -> <c>/etc/app.conf</c>).</summary>
public sealed record RigArchiveManifest
{
    /// <summary>Package name (<see cref="Names.IsValidPackageName"/>).</summary>
    public required string Name { get; init; }

    /// <summary>Package version (<see cref="Names.IsValidVersion"/>).</summary>
    public required string Version { get; init; }

    /// <summary>OS family the package is for: <c>any</c> (default), <c>linux</c>, <c>debian</c>, <c>rhel</c>...</summary>
    // `set`, not `init`: for init-only members the JSON source generator passes default(T) when the member is
    // absent, which would overwrite the default below (absent must mean the default, not null/false).
    public string OsFamily { get; set; } = "any";

    /// <summary>Architecture: <c>all</c> (default), <c>amd64</c>, <c>arm64</c>...</summary>
    public string Architecture { get; set; } = "all";

    /// <summary>One line for humans.</summary>
    public string? Description { get; init; }

    /// <summary>Every payload file with its digest; the archive must hold exactly these.</summary>
    public IReadOnlyList<RigArchiveFile> Files { get; set; } = [];

    /// <summary>The service this package provides, restarted when the package changes.</summary>
    public RigArchiveService? Service { get; init; }

    /// <summary>The device must reboot after this package is installed or upgraded.</summary>
    public bool Reboot { get; init; }
}

/// <summary>One payload file: device path (absolute, e.g. <c>/usr/share/app/index.html</c>), digest, mode.</summary>
public sealed record RigArchiveFile(string Path, string Sha256, string Mode = "0644");

/// <summary>Service hint of a package.</summary>
public sealed record RigArchiveService(string Name, bool Enable = true);
