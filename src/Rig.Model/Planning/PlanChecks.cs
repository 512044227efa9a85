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

/// <summary>The exact package digests a role version installs (its lock file): the packages it lists and the
/// dependencies they need that the catalog has, resolved as for a device that has nothing yet.</summary>
public static class RolePins
{
    /// <summary>Pins of <paramref name="role"/> by <c>name@version</c>: every package it reaches directly or through
    /// bundles, and their dependency closure from the catalog. With <paramref name="previous"/> (the pins this role
    /// version was applied with), dependencies resolve to the versions pinned then, so importing a newer dependency
    /// does not change what an applied role version installs.</summary>
    public static IReadOnlyDictionary<string, string> Compute(ModelIndex index, Role role, IReadOnlyDictionary<string, string>? previous = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(role);
        var pins = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var listed = new List<PackageInfo>();
        void Walk(IEnumerable<Item> items)
        {
            foreach (var item in items)
            {
                switch (item)
                {
                    case PackageItem p when index.Packages.TryGetValue(p.Key, out var package):
                        pins[p.Key] = package.Sha256;
                        listed.Add(package);
                        break;
                    case BundleItem b when seen.Add(b.Name) && index.Bundles.TryGetValue(b.Name, out var bundle):
                        Walk(bundle.Items);
                        break;
                }
            }
        }
        Walk(role.Items);

        // The closure, per package format the role lists (a role of .deb files resolves against the .deb catalog).
        foreach (var format in listed.Where(p => p.Depends.Count > 0).Select(p => p.Format).Distinct(StringComparer.Ordinal))
        {
            var roots = listed.Where(p => p.Format == format).ToList();
            var family = roots[0].OsFamily;
            var architecture = roots.Select(p => p.Architecture).FirstOrDefault(a => a is not ("all" or "noarch" or "any"))
                ?? index.Model.Packages.Where(p => p.Format == format).Select(p => p.Architecture).FirstOrDefault(a => a is not ("all" or "noarch" or "any"))
                ?? "amd64";
            var resolution = DependencyResolver.Resolve([.. roots.Select(p => new PackageRequest(p, role.Name, role.Kind))],
                index.UniverseFor(family, architecture), previous ?? new Dictionary<string, string>(), []);
            foreach (var package in resolution.Installs.SelectMany(i => i.Packages))
                pins[package.Key] = package.Sha256;
        }
        return pins;
    }
}
