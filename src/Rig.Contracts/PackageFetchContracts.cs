namespace Rig.Contracts;

/// <summary>Request of <c>POST /api/v1/packages/fetch</c>: Debian packages to fetch with the dependencies the devices lack.</summary>
/// <param name="Packages"><c>NAME</c> or <c>NAME=VERSION</c> (a pinned version).</param>
/// <param name="Distro">Debian suite codename or alias (<c>bookworm</c>).</param>
/// <param name="Architecture">dpkg architecture of the devices (<c>amd64</c>).</param>
/// <param name="Devices">Devices whose common packages (latest inventories) are not fetched; none: the full closure.</param>
/// <param name="Mirror">Debian archive URL; default: the gateway's <c>fetchMirror</c>, else the host's apt sources, else deb.debian.org.</param>
/// <param name="SecurityMirror">Security archive URL; default likewise.</param>
/// <param name="Components">Archive areas (default <c>main</c>).</param>
/// <param name="Format"><c>deb</c> (default); <c>rpm</c> is refused with the reason.</param>
/// <param name="Refresh">Refresh the package lists even when they are under an hour old.</param>
public sealed record PackageFetchRequest(IReadOnlyList<string>? Packages, string? Distro, string? Architecture, IReadOnlyList<string>? Devices = null,
    string? Mirror = null, string? SecurityMirror = null, IReadOnlyList<string>? Components = null, string? Format = null, bool Refresh = false);

/// <summary>One package of a fetch.</summary>
/// <param name="Name">Package name.</param>
/// <param name="Version">Version fetched.</param>
/// <param name="Architecture"><c>amd64</c>, <c>all</c>, ...</param>
/// <param name="Sha256">Digest, as the distribution's signed lists give it and as stored.</param>
/// <param name="Size">Bytes.</param>
/// <param name="Outcome"><c>added</c>, <c>already-present</c>, <c>conflict</c> (the store has this name and version with another
/// digest), <c>rejected</c> (the importer refused it).</param>
/// <param name="Reason">Why it is needed: <c>requested</c>, or apt's reason (<c>Depends of nginx</c>).</param>
/// <param name="DeviceVersion">The older version the devices have, when this is an upgrade for them.</param>
/// <param name="Error">Why it was not imported, or null.</param>
public sealed record FetchedPackageView(string Name, string Version, string Architecture, string Sha256, long Size, string Outcome, string Reason, string? DeviceVersion, string? Error);

/// <summary>Result of a fetch. Packages are in apt's install order (dependencies first).</summary>
/// <param name="Distro">Distribution fetched from.</param>
/// <param name="Architecture">Architecture fetched.</param>
/// <param name="Mirror">Debian archive used.</param>
/// <param name="SecurityMirror">Security archive used.</param>
/// <param name="Devices">Devices whose common packages were the base (empty: an empty base, the full closure).</param>
/// <param name="BasePackages">Packages in that common base.</param>
/// <param name="ListsRefreshed">True when the package lists were downloaded again for this fetch.</param>
/// <param name="Packages">Every package fetched or found already present.</param>
/// <param name="Removals">Packages apt would remove from the devices (Conflicts/Breaks) to install these.</param>
/// <param name="Notes">Remarks for the operator.</param>
public sealed record PackageFetchResponse(string Distro, string Architecture, string Mirror, string SecurityMirror, IReadOnlyList<string> Devices, int BasePackages,
    bool ListsRefreshed, IReadOnlyList<FetchedPackageView> Packages, IReadOnlyList<string> Removals, IReadOnlyList<string> Notes)
{
    /// <summary>Packages not imported (conflicts, rejections).</summary>
    public int Failed => Packages.Count(p => p.Error is not null);
}
