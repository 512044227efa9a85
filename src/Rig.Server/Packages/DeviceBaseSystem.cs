using System.Text;
using System.Text.RegularExpressions;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Protocol.Packaging;
using Rig.Server.Store;

namespace Rig.Server.Packages;

/// <summary>The Debian packages every one of a fetch's devices has (from their latest inventories), as a dpkg status
/// file apt resolves against: what is in it is not fetched.</summary>
internal sealed partial class DeviceBaseSystem
{
    /// <summary>The repository fields copied into the status file for a package the repository has in the same version.
    /// dpkg's status holds the package's control fields, which the repository's entry for that version repeats; apt
    /// recognises the installed version as the repository's only when these (its version hash: Installed-Size and the
    /// relations) agree, else it plans to "upgrade" a package to the version the device already has.</summary>
    private static readonly HashSet<string> CopiedFields = new(StringComparer.OrdinalIgnoreCase)
    {
        "Essential", "Protected", "Important", "Priority", "Section", "Installed-Size", "Architecture", "Multi-Arch", "Source", "Version",
        "Replaces", "Provides", "Depends", "Pre-Depends", "Recommends", "Suggests", "Conflicts", "Breaks", "Enhances",
    };

    internal DeviceBaseSystem(IReadOnlyList<string> devices, IReadOnlyList<NativePackage> packages, IReadOnlyList<string> notes)
    {
        Devices = devices;
        Packages = packages;
        Notes = notes;
    }

    /// <summary>The devices whose packages were intersected (none: an empty base, the full closure is fetched).</summary>
    public IReadOnlyList<string> Devices { get; }

    /// <summary>Debian packages of the fetch's architecture (or <c>all</c>) present, in the same version, on every device.</summary>
    public IReadOnlyList<NativePackage> Packages { get; }

    /// <summary>Remarks for the operator (truncated inventories, entries left out).</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The common base of <paramref name="devices"/> from their latest inventories.</summary>
    /// <exception cref="PackageFetchException">A device that is unknown, has no inventory yet, no dpkg packages, or
    /// packages of another architecture.</exception>
    public static async Task<DeviceBaseSystem> CollectAsync(RigStore store, IReadOnlyList<string> devices, string architecture, CancellationToken ct)
    {
        if (devices.Count == 0)
            return new DeviceBaseSystem([], [], []);
        var notes = new List<string>();
        Dictionary<(string Name, string Version, string Architecture), NativePackage>? common = null;
        foreach (var device in devices)
        {
            var runtime = await store.GetDeviceRuntimeAsync(device, ct).ConfigureAwait(false);
            if (runtime is null && await store.GetDeviceAsync(device, ct).ConfigureAwait(false) is null)
            {
                throw new PackageFetchException(PackageFetchErrorKind.UnknownDevice, "unknown-device",
                    $"Device '{device}' is neither in the model nor known to the gateway; check the name (`rig device list`), or leave --device out to fetch the full closure.");
            }
            var inventory = runtime?.Inventory ?? throw new PackageFetchException(PackageFetchErrorKind.DeviceNotUsable, "no-inventory",
                $"Device '{device}' has not reported an inventory yet, so the gateway does not know its packages; start its agent (it reports at start-up and every check-in), then fetch again.");
            if (inventory.NativePackages is not { } native)
            {
                throw new PackageFetchException(PackageFetchErrorKind.DeviceNotUsable, "no-native-packages",
                    $"Device '{device}' reports no native packages (a sandbox device, or a root without a dpkg database), so it cannot be the base of a Debian fetch; leave it out, or --device a Debian device.");
            }
            var debs = native.Where(p => p.Format == PackageFormats.Deb).ToList();
            if (debs.Count == 0)
            {
                throw new PackageFetchException(PackageFetchErrorKind.DeviceNotUsable, "no-dpkg-packages",
                    $"Device '{device}' has no dpkg packages in its inventory ({native.Count} other packages), so it is not a Debian system; leave it out of a Debian fetch.");
            }
            var architectures = debs.Select(p => p.Architecture).Where(a => a != "all").Distinct(StringComparer.Ordinal).ToList();
            if (architectures.Count > 0 && !architectures.Contains(architecture))
            {
                throw new PackageFetchException(PackageFetchErrorKind.DeviceNotUsable, "wrong-architecture",
                    $"Device '{device}' runs {string.Join(", ", architectures)} packages, not {architecture}; fetch with --arch {architectures[0]}, or leave the device out.");
            }
            if (inventory.Truncated is { } truncated && truncated.Contains("nativePackages", StringComparison.Ordinal))
                notes.Add($"The inventory of '{device}' was cut short ({truncated}): packages it left out count as missing and are fetched if needed.");
            var usable = new Dictionary<(string, string, string), NativePackage>();
            var invalid = 0;
            foreach (var p in debs.Where(p => p.Architecture == architecture || p.Architecture == "all"))
            {
                if (!Names.IsValidPackageName(p.Name) || !Names.IsValidVersion(p.Version) || !ArchitectureRegex().IsMatch(p.Architecture))
                    invalid++;
                else
                    usable.TryAdd((p.Name, p.Version, p.Architecture), p);
            }
            if (invalid > 0)
                notes.Add($"{invalid} package(s) in the inventory of '{device}' have names or versions Rig does not accept and count as missing.");
            if (common is null)
            {
                common = usable;
            }
            else
            {
                foreach (var key in common.Keys.Where(k => !usable.ContainsKey(k)).ToList())
                    common.Remove(key);
            }
        }
        var packages = common!.Values.OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Architecture, StringComparer.Ordinal).ToList();
        return new DeviceBaseSystem(devices, packages, notes);
    }

    /// <summary>The dpkg status file: each package installed (<c>install ok installed</c>) with its repository entry's
    /// control fields when the repository has that exact version (<paramref name="repository"/>), else with what the
    /// device reported (name, version, architecture, and its relations when the agent sends them).
    /// <paramref name="leaveOut"/> names packages not to write (those requested: they are always fetched).</summary>
    public string StatusFile(IReadOnlyDictionary<(string Name, string Version, string Architecture), IReadOnlyList<KeyValuePair<string, string>>> repository,
        IReadOnlySet<string> leaveOut)
    {
        var text = new StringBuilder();
        foreach (var p in Packages)
        {
            if (leaveOut.Contains(p.Name))
                continue;
            text.Append("Package: ").Append(p.Name).Append('\n');
            text.Append("Status: install ok installed\n");
            if (repository.TryGetValue((p.Name, p.Version, p.Architecture), out var fields))
            {
                foreach (var (key, value) in fields)
                {
                    if (CopiedFields.Contains(key) && !value.Contains('\n', StringComparison.Ordinal))
                        text.Append(key).Append(": ").Append(value).Append('\n');
                }
            }
            else
            {
                text.Append("Version: ").Append(p.Version).Append('\n');
                text.Append("Architecture: ").Append(p.Architecture).Append('\n');
                AppendRelations(text, "Depends", p.Depends, PackageRelations.IsValidGroup);
                AppendRelations(text, "Provides", p.Provides, PackageRelations.IsValid);
                AppendRelations(text, "Conflicts", p.Conflicts, PackageRelations.IsValid);
                if (p.Essential)
                    text.Append("Essential: yes\n");
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>A relation field from an inventory, written only when every entry is canonical and on one line (an entry
    /// from a device never adds a field or a line of its own to the status file).</summary>
    private static void AppendRelations(StringBuilder text, string field, IReadOnlyList<string>? relations, Func<string?, bool> isValid)
    {
        if (relations is not { Count: > 0 } || relations.Any(r => !isValid(r) || r.Any(char.IsControl)))
            return;
        text.Append(field).Append(": ").Append(string.Join(", ", relations)).Append('\n');
    }

    /// <summary>dpkg architecture names (<c>amd64</c>, <c>arm64</c>, <c>all</c>, <c>musl-linux-amd64</c>).</summary>
    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,31}\z", RegexOptions.CultureInvariant)]
    internal static partial Regex ArchitectureRegex();
}
