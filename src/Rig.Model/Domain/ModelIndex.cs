namespace Rig.Model.Domain;

/// <summary>Lookups over a model, built once (first definition wins; duplicates are validation errors).</summary>
public sealed class ModelIndex
{
    /// <summary>Index a model.</summary>
    public ModelIndex(RigModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Sites = First(model.Sites, s => s.Name);
        Devices = First(model.Devices, d => d.Name);
        Packages = First(model.Packages, p => p.Key);
        Bundles = First(model.Bundles, b => b.Name);
        Roles = First(model.Roles, r => r.Name);
        Templates = First(model.Templates, t => t.Name);
        KindOrder = model.KindOrder();
        LinksFrom = model.Links.GroupBy(l => l.From, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<Interconnection>)[.. g], StringComparer.Ordinal);
        LinksTo = model.Links.GroupBy(l => l.To, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<Interconnection>)[.. g], StringComparer.Ordinal);
        RolesOf = model.Assignments
            .GroupBy(a => a.Device, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<Role>)[.. g.Select(a => Roles.GetValueOrDefault(a.Role)).OfType<Role>().OrderBy(r => KindRank(r.Kind))], StringComparer.Ordinal);
    }

    /// <summary>The model indexed.</summary>
    public RigModel Model { get; }
    /// <summary>Sites by name.</summary>
    public IReadOnlyDictionary<string, Site> Sites { get; }
    /// <summary>Devices by name.</summary>
    public IReadOnlyDictionary<string, Device> Devices { get; }
    /// <summary>Packages by <c>name@version</c>.</summary>
    public IReadOnlyDictionary<string, PackageInfo> Packages { get; }
    /// <summary>Bundles by name.</summary>
    public IReadOnlyDictionary<string, Bundle> Bundles { get; }
    /// <summary>Roles by name.</summary>
    public IReadOnlyDictionary<string, Role> Roles { get; }
    /// <summary>Templates by name.</summary>
    public IReadOnlyDictionary<string, ConfigTemplate> Templates { get; }
    /// <summary>Role kinds in install order.</summary>
    public IReadOnlyList<string> KindOrder { get; }
    /// <summary>Outgoing links by device.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Interconnection>> LinksFrom { get; }
    /// <summary>Incoming links by device.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Interconnection>> LinksTo { get; }
    /// <summary>Assigned roles by device, in kind order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Role>> RolesOf { get; }

    /// <summary>Install rank of a kind (unknown kinds last).</summary>
    public int KindRank(string kind)
    {
        for (var i = 0; i < KindOrder.Count; i++)
        {
            if (KindOrder[i] == kind)
                return i;
        }
        return int.MaxValue;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string OsFamily, string Architecture), Planning.PackageUniverse> _universes = new();

    /// <summary>The package catalog as a device of <paramref name="osFamily"/> and <paramref name="architecture"/> can use
    /// it, indexed for dependency resolution; built once per kind of device.</summary>
    public Planning.PackageUniverse UniverseFor(string osFamily, string architecture) =>
        _universes.GetOrAdd((osFamily, architecture), key => Planning.PackageUniverse.For(Model.Packages, key.OsFamily, key.Architecture));

    /// <summary>Roles assigned to a device, in kind order.</summary>
    public IReadOnlyList<Role> RolesFor(string device) => RolesOf.GetValueOrDefault(device) ?? [];

    private static Dictionary<string, T> First<T>(IEnumerable<T> items, Func<T, string> key)
    {
        var map = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var item in items)
            map.TryAdd(key(item), item);
        return map;
    }
}
