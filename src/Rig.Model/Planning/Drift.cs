using Rig.Model.Domain;
using Rig.Protocol.Messages;

namespace Rig.Model.Planning;

/// <summary>What kind of thing drifted.</summary>
public static class DriftKinds
{
    /// <summary>A package Rig installs (from the device's Rig package list).</summary>
    public const string Package = "package";
    /// <summary>A package the native package manager has that the model's catalog knows but this device's roles do not want.</summary>
    public const string NativePackage = "native-package";
    /// <summary>A managed configuration file.</summary>
    public const string File = "file";
    /// <summary>A service's running or enabled state.</summary>
    public const string Service = "service";
    /// <summary>A hardware fact the model sets (CPUs, memory, disks, NICs).</summary>
    public const string Hardware = "hardware";
    /// <summary>The OS family or architecture.</summary>
    public const string Os = "os";
    /// <summary>A static address the model's <c>network</c> section gives an interface, not on that interface.</summary>
    public const string Network = "network";
}

/// <summary>How an item drifted.</summary>
public static class DriftChanges
{
    /// <summary>The model has it; the device does not.</summary>
    public const string Missing = "missing";
    /// <summary>The device has it; the model does not want it.</summary>
    public const string Extra = "extra";
    /// <summary>Both have it, differently.</summary>
    public const string Changed = "changed";
}

/// <summary>One difference between the model and the device.</summary>
/// <param name="Kind">One of <see cref="DriftKinds"/>.</param>
/// <param name="Item">The package name, file path, service name, or fact (<c>cpuCount</c>, <c>disk sda</c>, <c>nic eth0</c>).</param>
/// <param name="Change">One of <see cref="DriftChanges"/>.</param>
/// <param name="Model">What the model wants (null when it wants nothing).</param>
/// <param name="Actual">What the device has (null when it has nothing).</param>
public sealed record DriftItem(string Kind, string Item, string Change, string? Model, string? Actual);

/// <summary>Model vs reality for one device: the device's desired state and model facts against the inventory its
/// agent last reported. Pure.
/// <list type="bullet">
/// <item>Packages: Rig's package list against the desired packages (missing, extra, changed version or content, or
/// damaged: files missing, native version changed). Native packages are reported only when the model's catalog has
/// a package of that name that this device's roles do not want: the base system's hundreds of packages stay out.</item>
/// <item>Files: managed files against the rendered ones (missing or deleted, extra, content or mode/owner changed).</item>
/// <item>Services: desired services not running/enabled as wanted, and running services nobody wants.</item>
/// <item>Hardware and OS: only facts the model sets, and only when the device reported them (the sandbox does not):
/// CPU count exactly, memory within <see cref="MemoryTolerance"/>, disks by name and size within
/// <see cref="DiskTolerance"/>, NICs by name, MAC and address; OS family and architecture.</item>
/// <item>Network: each static address of the device's <c>network</c> section against the addresses the kernel reports
/// for that interface (only when the device reported its NICs; the sandbox does not).</item>
/// </list></summary>
public static class Drift
{
    /// <summary>Memory may differ from the model by 5% or 128 MiB, whichever is larger: the kernel reports the memory
    /// it manages (MemTotal), a little below what is installed.</summary>
    public const double MemoryTolerance = 0.05;

    /// <summary>Disk sizes may differ by 2% or 1 GiB, whichever is larger (partition tables, rounding).</summary>
    public const double DiskTolerance = 0.02;

    /// <summary>The differences, ordered by kind then item. <paramref name="catalog"/> is the model's package catalog
    /// (for native extras); <paramref name="device"/> is null for a device no longer in the model.</summary>
    public static IReadOnlyList<DriftItem> Compare(DesiredState desired, Device? device, InventoryReport inventory, IReadOnlyList<PackageInfo> catalog)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(inventory);
        ArgumentNullException.ThrowIfNull(catalog);
        var items = new List<DriftItem>();
        var steps = desired.Roles.SelectMany(r => r.Steps).ToList();
        var packages = new Dictionary<string, PackageInfo>(StringComparer.Ordinal);
        foreach (var p in steps.OfType<DesiredPackage>())
            packages.TryAdd(p.Package.Name, p.Package);
        var files = new Dictionary<string, DesiredFile>(StringComparer.Ordinal);
        foreach (var f in steps.OfType<DesiredFile>())
            files.TryAdd(f.Path, f);
        var services = new Dictionary<string, (bool Running, bool Enabled)>(StringComparer.Ordinal);
        foreach (var p in packages.Values.Where(p => p.Service is not null))
            services[p.Service!] = (true, true);
        foreach (var s in steps.OfType<DesiredService>())
            services[s.Name] = (s.Running, s.Enabled);

        ComparePackages(packages, inventory, catalog, items);
        CompareFiles(files, inventory, items);
        CompareServices(services, inventory, items);
        if (device is not null)
            items.AddRange(CompareFacts(device, inventory));
        return [.. items.OrderBy(i => KindRank(i.Kind)).ThenBy(i => i.Item, StringComparer.Ordinal)];
    }

    /// <summary>The hardware, network and OS differences alone (what <c>rig device show</c> highlights): only facts the
    /// model sets and the device reported.</summary>
    public static IReadOnlyList<DriftItem> CompareFacts(Device device, InventoryReport inventory)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(inventory);
        var items = new List<DriftItem>();
        if (inventory.Hardware is { } hardware)
        {
            CompareHardware(device.Hardware, hardware, items);
            if (device.Network is { } network)
                CompareNetwork(network, hardware, items);
        }
        if (inventory.Os is { } os)
            CompareOs(device, os, items);
        return items;
    }

    private static void ComparePackages(Dictionary<string, PackageInfo> wanted, InventoryReport inventory, IReadOnlyList<PackageInfo> catalog, List<DriftItem> items)
    {
        var have = new Dictionary<string, InstalledPackage>(StringComparer.Ordinal);
        foreach (var p in inventory.Packages)
            have[p.Name] = p;
        var native = inventory.NativePackages?.GroupBy(n => n.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var (name, want) in wanted)
        {
            var model = $"{want.Version} ({want.Format})";
            if (!have.TryGetValue(name, out var actual))
            {
                var outside = native?.GetValueOrDefault(name) is { } n ? $"{n.Version} (installed outside Rig)" : null;
                items.Add(new DriftItem(DriftKinds.Package, name, DriftChanges.Missing, model, outside));
            }
            else if (actual.Problem is not null)
                items.Add(new DriftItem(DriftKinds.Package, name, DriftChanges.Changed, model, $"{actual.Version}: {actual.Problem}"));
            else if (actual.Version != want.Version)
                items.Add(new DriftItem(DriftKinds.Package, name, DriftChanges.Changed, model, $"{actual.Version} ({actual.Format})"));
            else if (actual.Sha256 != want.Sha256)
                items.Add(new DriftItem(DriftKinds.Package, name, DriftChanges.Changed, $"{model} sha256 {Short(want.Sha256)}", $"{actual.Version} sha256 {Short(actual.Sha256)}"));
        }
        foreach (var (name, actual) in have)
        {
            if (!wanted.ContainsKey(name))
                items.Add(new DriftItem(DriftKinds.Package, name, DriftChanges.Extra, null, actual.Problem is null ? $"{actual.Version} ({actual.Format})" : $"{actual.Version}: {actual.Problem}"));
        }
        if (native is null)
            return;
        var known = catalog.Where(p => p.Format is PackageFormats.Deb or PackageFormats.Rpm).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, n) in native)
        {
            if (known.Contains(name) && !wanted.ContainsKey(name) && !have.ContainsKey(name))
                items.Add(new DriftItem(DriftKinds.NativePackage, name, DriftChanges.Extra, null, $"{n.Version} ({n.Format}, installed outside Rig)"));
        }
    }

    private static void CompareFiles(Dictionary<string, DesiredFile> wanted, InventoryReport inventory, List<DriftItem> items)
    {
        var have = new Dictionary<string, ManagedFile>(StringComparer.Ordinal);
        foreach (var f in inventory.Files)
            have[f.Path] = f;
        foreach (var (path, want) in wanted)
        {
            if (!have.TryGetValue(path, out var actual))
                items.Add(new DriftItem(DriftKinds.File, path, DriftChanges.Missing, $"sha256 {Short(want.Sha256)}", null));
            else if (actual.Sha256 == "missing")
                items.Add(new DriftItem(DriftKinds.File, path, DriftChanges.Missing, $"sha256 {Short(want.Sha256)}", "deleted on the device"));
            else if (actual.Sha256 != want.Sha256)
                items.Add(new DriftItem(DriftKinds.File, path, DriftChanges.Changed, $"sha256 {Short(want.Sha256)}", $"sha256 {Short(actual.Sha256)}"));
            else if (actual.Mode != want.Mode || actual.Owner != want.Owner || actual.Group != want.Group)
                items.Add(new DriftItem(DriftKinds.File, path, DriftChanges.Changed, $"{want.Mode} {want.Owner}:{want.Group}", $"{actual.Mode} {actual.Owner}:{actual.Group}"));
        }
        foreach (var (path, actual) in have)
        {
            if (!wanted.ContainsKey(path))
                items.Add(new DriftItem(DriftKinds.File, path, DriftChanges.Extra, null, actual.Sha256 == "missing" ? "deleted on the device" : $"sha256 {Short(actual.Sha256)}"));
        }
    }

    private static void CompareServices(Dictionary<string, (bool Running, bool Enabled)> wanted, InventoryReport inventory, List<DriftItem> items)
    {
        var have = new Dictionary<string, ServiceState>(StringComparer.Ordinal);
        foreach (var s in inventory.Services)
            have[s.Name] = s;
        foreach (var (name, want) in wanted)
        {
            if (!have.TryGetValue(name, out var actual))
            {
                if (want.Running || want.Enabled)
                    items.Add(new DriftItem(DriftKinds.Service, name, DriftChanges.Missing, State(want.Running, want.Enabled), null));
            }
            else if (actual.Running != want.Running || actual.Enabled != want.Enabled)
                items.Add(new DriftItem(DriftKinds.Service, name, DriftChanges.Changed, State(want.Running, want.Enabled), State(actual.Running, actual.Enabled)));
        }
        foreach (var (name, actual) in have)
        {
            if (!wanted.ContainsKey(name) && actual.Running)
                items.Add(new DriftItem(DriftKinds.Service, name, DriftChanges.Extra, null, State(actual.Running, actual.Enabled)));
        }
    }

    private static void CompareHardware(HardwareFacts model, HardwareReport actual, List<DriftItem> items)
    {
        if (model.CpuCount > 0 && model.CpuCount != actual.CpuCount)
            items.Add(new DriftItem(DriftKinds.Hardware, "cpuCount", DriftChanges.Changed, $"{model.CpuCount}", $"{actual.CpuCount}"));
        if (model.MemoryMiB > 0 && Math.Abs(actual.MemoryMiB - model.MemoryMiB) > Math.Max(model.MemoryMiB * MemoryTolerance, 128))
            items.Add(new DriftItem(DriftKinds.Hardware, "memoryMiB", DriftChanges.Changed, $"{model.MemoryMiB} MiB", $"{actual.MemoryMiB} MiB"));
        foreach (var disk in model.Disks)
        {
            var found = actual.Disks.FirstOrDefault(d => d.Name == disk.Name);
            var actualGiB = found is null ? 0 : found.SizeBytes / (double)(1L << 30);
            if (found is null)
                items.Add(new DriftItem(DriftKinds.Hardware, $"disk {disk.Name}", DriftChanges.Missing, $"{disk.SizeGiB} GiB", null));
            else if (disk.SizeGiB > 0 && Math.Abs(actualGiB - disk.SizeGiB) > Math.Max(disk.SizeGiB * DiskTolerance, 1))
                items.Add(new DriftItem(DriftKinds.Hardware, $"disk {disk.Name}", DriftChanges.Changed, $"{disk.SizeGiB} GiB", $"{actualGiB:0.#} GiB"));
        }
        foreach (var nic in model.Nics)
        {
            var found = actual.Nics.FirstOrDefault(n => n.Name == nic.Name);
            if (found is null)
            {
                items.Add(new DriftItem(DriftKinds.Hardware, $"nic {nic.Name}", DriftChanges.Missing, $"mac {nic.Mac}", null));
                continue;
            }
            if (!string.IsNullOrEmpty(nic.Mac) && NormalizeMac(nic.Mac) != NormalizeMac(found.Mac ?? ""))
                items.Add(new DriftItem(DriftKinds.Hardware, $"nic {nic.Name}", DriftChanges.Changed, $"mac {nic.Mac}", $"mac {found.Mac ?? "none"}"));
            if (!string.IsNullOrEmpty(nic.Address) && !found.Addresses.Any(a => a.Split('/')[0] == nic.Address.Split('/')[0]))
                items.Add(new DriftItem(DriftKinds.Hardware, $"nic {nic.Name} address", DriftChanges.Changed, nic.Address, found.Addresses.Count == 0 ? "none" : string.Join(", ", found.Addresses)));
        }
    }

    private static void CompareNetwork(DeviceNetwork network, HardwareReport actual, List<DriftItem> items)
    {
        foreach (var wanted in network.Interfaces)
        {
            if (wanted.Dhcp || string.IsNullOrEmpty(wanted.Address))
                continue; // a DHCP address is whatever the server gives
            var nic = actual.Nics.FirstOrDefault(n => n.Name == wanted.Name);
            if (nic is null)
                items.Add(new DriftItem(DriftKinds.Network, $"{wanted.Name} address", DriftChanges.Missing, wanted.Address, $"no interface {wanted.Name}"));
            else if (!nic.Addresses.Any(a => SameAddress(a, wanted.Address)))
                items.Add(new DriftItem(DriftKinds.Network, $"{wanted.Name} address", DriftChanges.Missing, wanted.Address, nic.Addresses.Count == 0 ? "none" : string.Join(", ", nic.Addresses)));
        }
    }

    /// <summary>Same address and, when both say it, same prefix length (<c>10.0.0.5/24</c> is not <c>10.0.0.5/16</c>).</summary>
    private static bool SameAddress(string actual, string wanted)
    {
        var a = actual.Split('/');
        var w = wanted.Split('/');
        if (!System.Net.IPAddress.TryParse(a[0], out var ip) || !System.Net.IPAddress.TryParse(w[0], out var want) || !ip.Equals(want))
            return false;
        return a.Length < 2 || w.Length < 2 || a[1] == w[1];
    }

    private static void CompareOs(Device device, OsReport os, List<DriftItem> items)
    {
        if (os.Id is not null && !OsFamilyMatches(device.OsFamily, os))
            items.Add(new DriftItem(DriftKinds.Os, "osFamily", DriftChanges.Changed, device.OsFamily, $"{os.Id}{(os.IdLike is null ? "" : $" (like {os.IdLike})")}"));
        if (os.Architecture is not null && !Compatibility.ArchitectureFits(device.Architecture, os.Architecture))
            items.Add(new DriftItem(DriftKinds.Os, "architecture", DriftChanges.Changed, device.Architecture, os.Architecture));
    }

    /// <summary>The model's OS family fits the os-release: <c>linux</c> fits every Linux; otherwise the family is the
    /// <c>ID</c> or one of <c>ID_LIKE</c> (so <c>debian</c> fits Ubuntu, <c>rhel</c> fits Rocky).</summary>
    public static bool OsFamilyMatches(string family, OsReport os)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentNullException.ThrowIfNull(os);
        if (family is "linux" or "any")
            return true;
        var names = new List<string>();
        if (os.Id is not null)
            names.Add(os.Id);
        names.AddRange((os.IdLike ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return names.Any(n => n == family || (family == "alma" && n == "almalinux") || (family == "suse" && n.StartsWith("opensuse", StringComparison.Ordinal)));
    }

    private static string NormalizeMac(string mac) => mac.Trim().Replace('-', ':').ToLowerInvariant();

    private static string State(bool running, bool enabled) => $"{(running ? "running" : "stopped")}, {(enabled ? "enabled" : "disabled")}";

    private static string Short(string sha256) => sha256.Length > 12 ? sha256[..12] : sha256;

    private static int KindRank(string kind) => kind switch
    {
        DriftKinds.Os => 0,
        DriftKinds.Hardware => 1,
        DriftKinds.Network => 2,
        DriftKinds.Package => 3,
        DriftKinds.NativePackage => 4,
        DriftKinds.File => 5,
        _ => 6,
    };
}
