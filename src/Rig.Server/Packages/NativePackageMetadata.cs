namespace Rig.Server.Packages;

/// <summary>Metadata read from a native package file (.deb or .rpm) without installing it.</summary>
/// <param name="Name">Package name.</param>
/// <param name="Version">Full version (Debian: [epoch:]upstream[-revision]; RPM: [epoch:]version-release).</param>
/// <param name="Format"><c>deb</c> or <c>rpm</c>.</param>
/// <param name="OsFamily"><c>debian</c> or <c>rhel</c>.</param>
/// <param name="Architecture">As the package says (<c>amd64</c>, <c>all</c>, <c>x86_64</c>, <c>noarch</c>...).</param>
/// <param name="Description">One-line summary.</param>
/// <param name="Depends">What it needs (Debian Pre-Depends then Depends, RPM Requires) as canonical groups of
/// alternatives (<see cref="Rig.Protocol.Packaging.PackageRelations"/>).</param>
internal sealed record NativePackageMetadata(string Name, string Version, string Format, string OsFamily, string Architecture, string? Description, IReadOnlyList<string> Depends)
{
    /// <summary>Virtual packages and capabilities it provides (Debian Provides; RPM Provides plus its files in bin
    /// directories and /etc), canonical relations.</summary>
    public IReadOnlyList<string> Provides { get; init; } = [];

    /// <summary>What it cannot be installed beside: Debian Conflicts and Breaks, RPM Conflicts and Obsoletes.</summary>
    public IReadOnlyList<string> Conflicts { get; init; } = [];

    /// <summary>Debian's <c>Essential: yes</c>.</summary>
    public bool Essential { get; init; }
}
