namespace Rig.Server.Packages;

/// <summary>Metadata read from a native package file (.deb or .rpm) without installing it.</summary>
/// <param name="Name">Package name.</param>
/// <param name="Version">Full version (Debian: [epoch:]upstream[-revision]; RPM: [epoch:]version-release).</param>
/// <param name="Format"><c>deb</c> or <c>rpm</c>.</param>
/// <param name="OsFamily"><c>debian</c> or <c>rhel</c>.</param>
/// <param name="Architecture">As the package says (<c>amd64</c>, <c>all</c>, <c>x86_64</c>, <c>noarch</c>...).</param>
/// <param name="Description">One-line summary.</param>
/// <param name="Depends">Dependencies as written by the package (Debian Depends / RPM Requires), for display and later checks.</param>
public sealed record NativePackageMetadata(string Name, string Version, string Format, string OsFamily, string Architecture, string? Description, IReadOnlyList<string> Depends);
