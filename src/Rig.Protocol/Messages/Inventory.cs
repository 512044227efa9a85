namespace Rig.Protocol.Messages;

/// <summary>What a device has: sent with the start-up and check-in inquiries, after every queue, and as the result
/// of the inventory command; the gateway stores it as the device's actual state. Fields added after the first
/// version are null when the agent does not know them (an older agent, or a sandbox device whose hardware is
/// simulated): null means "unknown", never "none", so drift does not call everything missing.</summary>
public sealed record InventoryReport
{
    /// <summary>Host name the device reports.</summary>
    public string? Hostname { get; init; }

    /// <summary>The OS plug-in in use (e.g. <c>sandbox</c>, <c>linux</c>).</summary>
    public string? Platform { get; init; }

    /// <summary>The agent's version.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>When the agent collected the report (its clock), or null when unknown.</summary>
    public DateTimeOffset? CollectedAt { get; init; }

    /// <summary>Packages installed through Rig. A deb/rpm package whose native record is gone is left out; one whose
    /// native version differs, or a Rig archive with files missing, carries a <see cref="InstalledPackage.Problem"/>.</summary>
    // `set`, not `init`: for init-only members the JSON source generator passes default(T) when the member is
    // absent, which would overwrite the default below (absent must mean the default, not null/false).
    public IReadOnlyList<InstalledPackage> Packages { get; set; } = [];

    /// <summary>Files Rig manages (written by write-file), with the digest of their content as it is now.</summary>
    public IReadOnlyList<ManagedFile> Files { get; set; } = [];

    /// <summary>Services and their recorded state.</summary>
    public IReadOnlyList<ServiceState> Services { get; set; } = [];

    /// <summary>Free bytes on the file system holding the device root (null when unknown).</summary>
    public long? FreeBytes { get; set; }

    /// <summary>How many times the device has booted (sandbox: agent restarts after a reboot).</summary>
    public int BootCount { get; init; }

    /// <summary>Hardware as the kernel sees it, or null when unknown (the sandbox: its device is simulated).</summary>
    public HardwareReport? Hardware { get; init; }

    /// <summary>The operating system of the device root, or null when unknown.</summary>
    public OsReport? Os { get; init; }

    /// <summary>Every package the device's own package managers know (dpkg, rpm), or null when unknown (no native
    /// package manager, or the sandbox). Not hashed: names and versions only.</summary>
    public IReadOnlyList<NativePackage>? NativePackages { get; init; }

    /// <summary>Null when the report is whole; else what the agent left out to stay within <see cref="InventoryLimits"/>
    /// (<c>nativePackages: 20000 of 25000; hardware.nics: 1024 of 1500</c>). Drift then compares what is there.</summary>
    public string? Truncated { get; init; }
}

/// <summary>How much one inventory may hold. The gateway drops an inventory over these limits (the rest of the
/// exchange is still processed); the agent trims its report to them (<see cref="Trim"/>) and says so in
/// <see cref="InventoryReport.Truncated"/>, so a device with more than this is still inventoried.</summary>
public static class InventoryLimits
{
    /// <summary>A server has ~200-3,000 native packages; 20,000 leaves room for the largest installs and still fits
    /// the request body limit (<see cref="RigLimits.MaxRequestBodyBytes"/>, 4 MiB, at ~100 bytes a package).</summary>
    public const int MaxNativePackages = 20_000;

    /// <summary>Most entries of one native package's Depends, Provides or Conflicts list: real packages have a few
    /// dozen (perl-base provides a few hundred modules in RPM form); a longer list is not a package manager's.</summary>
    public const int MaxRelations = 4_096;

    /// <summary>Most bytes the Depends, Provides and Conflicts of all native packages may take in one inventory's JSON
    /// (escapes counted: the wire escapes <c>&lt; &gt; +</c>). A Debian server's 800 packages take ~0.1 MiB, 3,000 about
    /// 0.4 MiB; an RPM system reports more (every Requires, file provides). 1 MiB keeps an exchange carrying two
    /// inventories (a check-in's and an inventory command's result) within <see cref="RigLimits.MaxRequestBodyBytes"/>,
    /// 4 MiB, beside their package lists. Beyond it the relations of the packages that do not fit are left out (null:
    /// unknown), never cut within a list.</summary>
    public const int MaxRelationBytes = 1024 * 1024;

    /// <summary>Packages, files and services Rig manages on one device: far more than any role set installs.</summary>
    public const int MaxManagedItems = 10_000;

    /// <summary>Disks and NICs: a container host can have thousands of veth interfaces; the first 1,024 (by name) are
    /// reported, enough for every physical and modelled one.</summary>
    public const int MaxHardwareItems = 1_024;

    /// <summary>Addresses of one NIC.</summary>
    public const int MaxAddressesPerNic = 256;

    /// <summary><paramref name="report"/> cut to the limits, with <see cref="InventoryReport.Truncated"/> saying what was
    /// left out; the report itself when it fits.</summary>
    public static InventoryReport Trim(InventoryReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var cut = new List<string>();
        var packages = Cut(report.Packages, MaxManagedItems, "packages", cut);
        var files = Cut(report.Files, MaxManagedItems, "files", cut);
        var services = Cut(report.Services, MaxManagedItems, "services", cut);
        var native = report.NativePackages is null ? null : CutRelations(Cut(report.NativePackages, MaxNativePackages, "nativePackages", cut), cut);
        var hardware = report.Hardware;
        if (hardware is not null)
        {
            var nics = Cut(hardware.Nics, MaxHardwareItems, "hardware.nics", cut);
            if (nics.Any(n => n.Addresses.Count > MaxAddressesPerNic))
            {
                cut.Add($"addresses beyond {MaxAddressesPerNic} per NIC");
                nics = [.. nics.Select(n => n.Addresses.Count > MaxAddressesPerNic ? n with { Addresses = [.. n.Addresses.Take(MaxAddressesPerNic)] } : n)];
            }
            hardware = hardware with { Disks = Cut(hardware.Disks, MaxHardwareItems, "hardware.disks", cut), Nics = nics };
        }
        if (cut.Count == 0)
            return report;
        return report with { Packages = packages, Files = files, Services = services, NativePackages = native, Hardware = hardware, Truncated = string.Join("; ", cut) };
    }

    /// <summary>Relation lists that the gateway would refuse (over <see cref="MaxRelations"/> entries, an entry over 4 KiB
    /// or holding a control character) are left out, and so are the relations of every package that no longer fits in
    /// <see cref="MaxRelationBytes"/>; a list is never shortened, since a partial Depends or Conflicts would be read
    /// as the whole truth.</summary>
    private static IReadOnlyList<NativePackage> CutRelations(IReadOnlyList<NativePackage> packages, List<string> cut)
    {
        if (packages.All(p => p.Depends is null && p.Provides is null && p.Conflicts is null))
            return packages;
        var result = new List<NativePackage>(packages.Count);
        long budget = MaxRelationBytes;
        int refused = 0, over = 0;
        foreach (var package in packages)
        {
            var p = package;
            if (!Acceptable(p.Depends) || !Acceptable(p.Provides) || !Acceptable(p.Conflicts))
            {
                refused++;
                p = p with { Depends = Acceptable(p.Depends) ? p.Depends : null, Provides = Acceptable(p.Provides) ? p.Provides : null, Conflicts = Acceptable(p.Conflicts) ? p.Conflicts : null };
            }
            var size = JsonBytes(p.Depends) + JsonBytes(p.Provides) + JsonBytes(p.Conflicts);
            if (size > budget)
            {
                over++;
                p = p with { Depends = null, Provides = null, Conflicts = null };
            }
            else
            {
                budget -= size;
            }
            result.Add(p);
        }
        if (refused > 0)
            cut.Add($"nativePackages relations: lists over {MaxRelations} entries or with unusable entries left out for {refused} packages");
        if (over > 0)
            cut.Add($"nativePackages relations: left out for {over} of {packages.Count} packages (over {MaxRelationBytes / 1024} KiB)");
        return refused == 0 && over == 0 ? packages : result;
    }

    private static bool Acceptable(IReadOnlyList<string>? list) =>
        list is null || (list.Count <= MaxRelations && list.All(r => r is { Length: <= 4096 } && ContractChecks.ControlCharacterAt(r) < 0));

    /// <summary>The bytes <paramref name="list"/> takes as a JSON array, with the wire's escaping.</summary>
    private static long JsonBytes(IReadOnlyList<string>? list)
    {
        if (list is null)
            return 0;
        long bytes = 16; // the member name and brackets
        foreach (var relation in list)
            bytes += System.Text.Json.JsonEncodedText.Encode(relation).EncodedUtf8Bytes.Length + 3;
        return bytes;
    }

    private static IReadOnlyList<T> Cut<T>(IReadOnlyList<T> list, int max, string what, List<string> cut)
    {
        if (list.Count <= max)
            return list;
        cut.Add($"{what}: {max} of {list.Count}");
        return [.. list.Take(max)];
    }
}

/// <summary>An installed package.</summary>
/// <param name="Name">Package name.</param>
/// <param name="Version">Installed version (for deb/rpm: the version the native package manager has).</param>
/// <param name="Format"><c>rig</c>, <c>deb</c> or <c>rpm</c>.</param>
/// <param name="Sha256">Digest of the package file Rig installed.</param>
/// <param name="Problem">Null when the package is intact; else what is wrong (<c>files-missing: /usr/bin/x</c>,
/// <c>native-version: dpkg has 2.0, Rig installed 1.0</c>): the gateway records it as damaged, so a plan reinstalls it.</param>
public sealed record InstalledPackage(string Name, string Version, string Format, string Sha256, string? Problem = null);

/// <summary>A managed file with the digest of its current content (<c>missing</c> when it is gone).</summary>
public sealed record ManagedFile(string Path, string Sha256, string Mode, string Owner, string Group);

/// <summary>A service and its state.</summary>
public sealed record ServiceState(string Name, bool Running, bool Enabled);

// Nullable members of the records below are optional parameters (default null): the wire format leaves nulls out,
// and a required constructor parameter that is absent is refused (RespectRequiredConstructorParameters).

/// <summary>Hardware facts read from /proc and /sys.</summary>
/// <param name="CpuCount">Logical CPUs.</param>
/// <param name="MemoryMiB">Memory the kernel manages (MemTotal), a little below the installed memory.</param>
/// <param name="Disks">Block devices (loop, ram and zram devices left out).</param>
/// <param name="Nics">Network interfaces (loopback left out).</param>
/// <param name="CpuModel">The first CPU's model name, or null when the kernel does not say.</param>
public sealed record HardwareReport(int CpuCount, long MemoryMiB, IReadOnlyList<DiskReport> Disks, IReadOnlyList<NicReport> Nics, string? CpuModel = null);

/// <summary>A disk.</summary>
/// <param name="Name">Kernel name (<c>sda</c>, <c>nvme0n1</c>, <c>vda</c>).</param>
/// <param name="SizeBytes">Size in bytes.</param>
/// <param name="Rotational">True for spinning disks, null when unknown.</param>
public sealed record DiskReport(string Name, long SizeBytes, bool? Rotational = null);

/// <summary>A network interface.</summary>
/// <param name="Name">Interface name.</param>
/// <param name="State">Operational state (<c>up</c>, <c>down</c>, <c>unknown</c>...).</param>
/// <param name="Addresses">IP addresses with prefix length (<c>10.0.0.5/24</c>).</param>
/// <param name="Mac">MAC address (lower case, colons), null when it has none.</param>
public sealed record NicReport(string Name, string State, IReadOnlyList<string> Addresses, string? Mac = null);

/// <summary>The operating system, from the root's <c>/etc/os-release</c> (or <c>/usr/lib/os-release</c>).</summary>
/// <param name="Id"><c>ID</c> (e.g. <c>debian</c>).</param>
/// <param name="IdLike"><c>ID_LIKE</c> (e.g. <c>rhel fedora</c>), null when absent.</param>
/// <param name="VersionId"><c>VERSION_ID</c> (e.g. <c>12</c>).</param>
/// <param name="PrettyName"><c>PRETTY_NAME</c>.</param>
/// <param name="KernelRelease">The running kernel (<c>uname -r</c>); null for a root prepared offline.</param>
/// <param name="Architecture">CPU architecture in Rig's spelling (<c>amd64</c>, <c>arm64</c>).</param>
public sealed record OsReport(string? Id = null, string? IdLike = null, string? VersionId = null, string? PrettyName = null, string? KernelRelease = null, string? Architecture = null);

/// <summary>A package the device's own package manager has installed.</summary>
/// <param name="Name">Package name.</param>
/// <param name="Version">Full version (deb: with epoch and revision; rpm: [epoch:]version-release).</param>
/// <param name="Architecture">Package architecture (<c>amd64</c>, <c>all</c>, <c>x86_64</c>, <c>noarch</c>).</param>
/// <param name="Format"><c>deb</c> or <c>rpm</c>.</param>
public sealed record NativePackage(string Name, string Version, string Architecture, string Format)
{
    /// <summary>What the package needs (Debian Pre-Depends and Depends, RPM Requires) as canonical groups
    /// (<see cref="Packaging.PackageRelations"/>); null when the agent did not report it (older agents).</summary>
    public IReadOnlyList<string>? Depends { get; init; }

    /// <summary>Virtual packages and capabilities it provides (canonical relations).</summary>
    public IReadOnlyList<string>? Provides { get; init; }

    /// <summary>What it cannot be installed beside (Debian Conflicts and Breaks, RPM Conflicts and Obsoletes).</summary>
    public IReadOnlyList<string>? Conflicts { get; init; }

    /// <summary>Debian's <c>Essential: yes</c>: the package manager refuses to remove it. Left out of the JSON when false
    /// (nearly every package; an inventory lists thousands).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool Essential { get; init; }

    /// <summary>Equal when every member is, the relation lists compared entry by entry (a record alone would compare
    /// the lists by reference, so a package read back from JSON would differ from itself).</summary>
    public bool Equals(NativePackage? other) =>
        other is not null && Name == other.Name && Version == other.Version && Architecture == other.Architecture && Format == other.Format
        && Essential == other.Essential && SameList(Depends, other.Depends) && SameList(Provides, other.Provides) && SameList(Conflicts, other.Conflicts);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Version, Architecture, Format, Essential, Depends?.Count, Provides?.Count, Conflicts?.Count);

    private static bool SameList(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null ? b is null : b is not null && a.SequenceEqual(b, StringComparer.Ordinal);
}
