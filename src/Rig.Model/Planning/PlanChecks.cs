using Rig.Model.Domain;
using Rig.Protocol.Messages;

namespace Rig.Model.Planning;

/// <summary>Checks of a device's plan against the device's facts, beyond what desired-state building checks
/// (OS family and architecture of packages, template errors, parameters).</summary>
public static class PlanChecks
{
    /// <summary>Room a package needs while it is installed: the verified blob in the cache, the staging copy
    /// and the installed files; compressed size is a lower bound of unpacked size, so three times it is a floor.</summary>
    public const int DiskFactor = 3;

    /// <summary>Bytes the plan downloads.</summary>
    public static long DownloadBytes(DevicePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.Commands.Select(c => c.Spec).OfType<InstallCommand>().Sum(i => i.Package.Size);
    }

    /// <summary>Errors of <paramref name="plan"/> against the device: not enough free disk (from the device's last
    /// inventory when known, else its disks in the model).</summary>
    public static IReadOnlyList<ModelError> Check(DevicePlan plan, Device device, long? freeBytes)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(device);
        var errors = new List<ModelError>();
        var need = DownloadBytes(plan) * DiskFactor;
        if (need == 0)
            return errors;
        if (freeBytes is { } free)
        {
            if (need > free)
                errors.Add(new ModelError("disk.insufficient", $"devices/{device.Name}", $"Device '{device.Name}' has {Mib(free)} MiB free (last inventory) but the plan needs about {Mib(need)} MiB ({DiskFactor}x the {Mib(need / DiskFactor)} MiB of packages); free space or give the device a bigger disk, then refresh its inventory (a stored script with an inventory command, or its next check-in) and plan again."));
        }
        else if (device.Hardware.Disks.Count > 0)
        {
            var capacity = device.Hardware.Disks.Sum(d => d.SizeGiB) * 1024L * 1024 * 1024;
            if (need > capacity)
                errors.Add(new ModelError("disk.insufficient", $"devices/{device.Name}/hardware/disks", $"Device '{device.Name}' has {Mib(capacity)} MiB of disk in the model but the plan needs about {Mib(need)} MiB; fix the device's disks or the roles."));
        }
        return errors;
    }

    private static long Mib(long bytes) => bytes / (1024 * 1024);
}

/// <summary>The exact package digests a role version installs (its lock file).</summary>
public static class RolePins
{
    /// <summary>Pins of <paramref name="role"/>: every package it reaches directly or through bundles, by <c>name@version</c>.</summary>
    public static IReadOnlyDictionary<string, string> Compute(ModelIndex index, Role role)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(role);
        var pins = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Walk(IEnumerable<Item> items)
        {
            foreach (var item in items)
            {
                switch (item)
                {
                    case PackageItem p when index.Packages.TryGetValue(p.Key, out var package):
                        pins[p.Key] = package.Sha256;
                        break;
                    case BundleItem b when seen.Add(b.Name) && index.Bundles.TryGetValue(b.Name, out var bundle):
                        Walk(bundle.Items);
                        break;
                }
            }
        }
        Walk(role.Items);
        return pins;
    }
}
