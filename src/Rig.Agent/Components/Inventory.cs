using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Components;

/// <summary>What the device has: packages from the device's database (checked against the native package manager
/// and the files on disk), managed files with the digest of their content as it is NOW on disk (so a changed or
/// missing file shows), services, boots; on the linux platform also hardware, OS release and every native package
/// (<see cref="Discovery"/>). The sandbox reports no hardware, OS or native packages (null: unknown): its device is
/// simulated, and the host's facts are not the device's. Cheap by design: managed files are hashed, native
/// packages are only listed.</summary>
internal static class Inventory
{
    /// <summary>Missing file marker digest.</summary>
    public const string Missing = "missing";

    private static readonly ConditionalWeakTable<IPlatform, Discovery> Discoveries = [];

    /// <summary>Collect the inventory.</summary>
    public static async Task<InventoryReport> CollectAsync(IPlatform platform, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(platform);
        var state = platform.Database.Snapshot;
        var attributes = platform is LinuxPlatform && state.Files.Count > 0 ? new OnDiskAttributes(platform.Files.Root) : null;
        HardwareReport? hardware = null;
        OsReport? os = null;
        IReadOnlyList<NativePackage>? native = null;
        if (platform is LinuxPlatform linux)
        {
            var discovery = Discoveries.GetValue(platform, _ => new Discovery(linux.Files.Root, linux.IsRunningSystem));
            hardware = discovery.Hardware();
            os = discovery.Os();
            native = await discovery.NativePackagesAsync(ct).ConfigureAwait(false);
        }
        // Cut to the limits the gateway enforces (a container host may have thousands of NICs), saying so in the report:
        // an inventory over them would be dropped whole.
        return InventoryLimits.Trim(new InventoryReport
        {
            Hostname = platform.Hostname,
            Platform = platform.Name,
            AgentVersion = AgentInfo.Version,
            CollectedAt = DateTimeOffset.UtcNow,
            BootCount = state.BootCount,
            Packages = [.. state.Packages.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => Checked(platform, p, native)).OfType<InstalledPackage>()],
            Files = [.. state.Files.OrderBy(f => f.Path, StringComparer.Ordinal).Select(f => Actual(platform, f, attributes))],
            Services = await platform.Services.ListAsync(ct).ConfigureAwait(false),
            FreeBytes = FreeBytes(platform.Files.Root),
            Hardware = hardware,
            Os = os,
            NativePackages = native,
        });
    }

    /// <summary>A Rig package as it really is: a deb/rpm package the native package manager no longer has is left
    /// out (it was removed behind Rig's back: a plan installs it again); one with another native version, or a
    /// Rig archive with files missing, carries a problem (a plan reinstalls it).</summary>
    internal static InstalledPackage? Checked(IPlatform platform, InstalledPackageRecord record, IReadOnlyList<NativePackage>? native)
    {
        var package = new InstalledPackage(record.Name, record.Version, record.Format, record.Sha256);
        if (record.Format is PackageFormats.Deb or PackageFormats.Rpm)
        {
            if (native is null)
                return package; // native database unknown: trust Rig's record
            var versions = native.Where(n => n.Name == record.Name && n.Format == record.Format).Select(n => n.Version).ToList();
            if (versions.Count == 0)
                return null;
            return versions.Contains(record.Version, StringComparer.Ordinal)
                ? package
                : package with { Version = versions[0], Problem = $"native-version: {record.Format} has {record.Name} {versions[0]}, Rig installed {record.Version}" };
        }
        var missing = record.Files.Where(f => !Exists(platform, f)).ToList();
        return missing.Count == 0 ? package : package with { Problem = $"files-missing: {missing[0]}" + (missing.Count > 1 ? $" and {missing.Count - 1} more" : "") };
    }

    private static bool Exists(IPlatform platform, string devicePath)
    {
        try
        {
            var host = platform.Files.Resolve(devicePath, FinalLink.Keep, allowedRootsOnly: false);
            return Path.Exists(host) || new FileInfo(host).LinkTarget is not null;
        }
        catch (CommandFailedException)
        {
            return false;
        }
    }

    private static long? FreeBytes(string root)
    {
        try
        {
            return new DriveInfo(root).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>A managed file as it is on disk: content digest and mode always; owner and group on the linux platform
    /// (read from disk, named from the root's passwd/group files). The sandbox's files belong to whoever runs it, so
    /// there the recorded owner and group stand.</summary>
    private static ManagedFile Actual(IPlatform platform, ManagedFileRecord record, OnDiskAttributes? attributes)
    {
        var digest = DigestOf(platform, record.Path);
        var file = new ManagedFile(record.Path, digest, record.Mode, record.Owner, record.Group);
        if (digest == Missing)
            return file;
        try
        {
            var host = platform.Files.Resolve(record.Path, FinalLink.Refuse, allowedRootsOnly: false);
            if (attributes is not null)
                return attributes.Read(host) is { } onDisk ? file with { Mode = onDisk.Mode, Owner = onDisk.Owner, Group = onDisk.Group } : file;
            return OperatingSystem.IsWindows() ? file : file with { Mode = OnDiskAttributes.ModeText((int)File.GetUnixFileMode(host)) };
        }
        catch (Exception e) when (e is CommandFailedException or IOException or UnauthorizedAccessException)
        {
            return file; // vanished since it was hashed: the next inventory says so
        }
    }

    private static string DigestOf(IPlatform platform, string devicePath)
    {
        try
        {
            var host = platform.Files.Resolve(devicePath, FinalLink.Refuse, allowedRootsOnly: false);
            if (!File.Exists(host))
                return Missing;
            using var stream = File.OpenRead(host);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (CommandFailedException)
        {
            return Missing;
        }
    }
}
