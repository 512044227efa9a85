using System.Security.Cryptography;
using Rig.Agent.Platform;
using Rig.Protocol.Messages;

namespace Rig.Agent.Components;

/// <summary>What the device has: packages from the device's database, managed files with the digest of their
/// content as it is NOW on disk (so a changed or missing file shows), services, boots.</summary>
public static class Inventory
{
    /// <summary>Missing file marker digest.</summary>
    public const string Missing = "missing";

    /// <summary>Collect the inventory.</summary>
    public static async Task<InventoryReport> CollectAsync(IPlatform platform, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(platform);
        var state = platform.Database.Snapshot;
        return new InventoryReport
        {
            Hostname = platform.Hostname,
            Platform = platform.Name,
            BootCount = state.BootCount,
            Packages = [.. state.Packages.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new InstalledPackage(p.Name, p.Version, p.Format, p.Sha256))],
            Files = [.. state.Files.OrderBy(f => f.Path, StringComparer.Ordinal).Select(f => new ManagedFile(f.Path, DigestOf(platform, f.Path), f.Mode, f.Owner, f.Group))],
            Services = await platform.Services.ListAsync(ct).ConfigureAwait(false),
            FreeBytes = FreeBytes(platform.Files.Root),
        };
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
