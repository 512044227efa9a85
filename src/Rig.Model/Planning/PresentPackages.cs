using System.Runtime.CompilerServices;
using Rig.Model.Domain;
using Rig.Protocol.Messages;
using Rig.Protocol.Packaging;

namespace Rig.Model.Planning;

/// <summary>A device's native packages parsed and indexed for resolution: by name, by what they provide, by the names
/// their dependencies and conflicts mention. Devices of one kind report the same list (the store hands them one list
/// object), so it is built once per list and shared by every plan that uses it.</summary>
internal sealed class NativeIndex
{
    private static readonly ConditionalWeakTable<IReadOnlyList<NativePackage>, NativeIndex> Cache = [];

    public static NativeIndex Empty { get; } = new([]);

    public Dictionary<string, ResolverPackage> ByName { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, List<ResolverPackage>> Meeting { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, List<ResolverPackage>> ConflictMentioning { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, List<ResolverPackage>> DependsMentioning { get; } = new(StringComparer.Ordinal);

    private NativeIndex(IEnumerable<ResolverPackage> packages)
    {
        foreach (var package in packages)
            ByName[package.Name] = package; // one version per name on a device; the last report wins
        foreach (var package in ByName.Values)
        {
            foreach (var name in package.Provides.Select(p => p.Name).Append(package.Name).Distinct(StringComparer.Ordinal))
                Add(Meeting, name, package);
            foreach (var name in package.Conflicts.Select(c => c.Name).Distinct(StringComparer.Ordinal))
                Add(ConflictMentioning, name, package);
            foreach (var name in package.Depends.SelectMany(g => g).Select(r => r.Name).Distinct(StringComparer.Ordinal))
                Add(DependsMentioning, name, package);
        }
    }

    /// <summary>The index of <paramref name="native"/> (built once per list object).</summary>
    public static NativeIndex For(IReadOnlyList<NativePackage>? native) =>
        native is null ? Empty : Cache.GetValue(native, list => new NativeIndex(list.Select(n => ResolverPackage.From(
            new PresentPackage(n.Name, n.Version, n.Format, n.Depends, n.Provides, n.Conflicts, n.Essential, Managed: false), null))));

    /// <summary>An index of packages given directly (not cached).</summary>
    public static NativeIndex Of(IEnumerable<ResolverPackage> packages) => new(packages);

    private static void Add(Dictionary<string, List<ResolverPackage>> map, string key, ResolverPackage package)
    {
        if (!map.TryGetValue(key, out var list))
            map[key] = list = [];
        list.Add(package);
    }
}

/// <summary>What one device has: its native packages (shared index) with what Rig recorded installing laid over them.</summary>
internal sealed class PresentPackages
{
    private readonly NativeIndex _native;
    private readonly Dictionary<string, ResolverPackage> _managed = new(StringComparer.Ordinal);

    public PresentPackages(NativeIndex native, IEnumerable<PresentPackage> managed, PackageUniverse universe)
    {
        _native = native;
        foreach (var m in managed)
        {
            var native1 = native.ByName.GetValueOrDefault(m.Name)?.Present;
            var present = native1 is not null ? native1 with { Version = m.Version, Managed = true, Sha256 = m.Sha256, Auto = m.Auto } : m;
            _managed[m.Name] = ResolverPackage.From(present, universe.Get(PackageInfo.PackageKey(m.Name, m.Version)));
        }
    }

    public ResolverPackage? Get(string name) => _managed.TryGetValue(name, out var m) ? m : _native.ByName.GetValueOrDefault(name);

    /// <summary>Packages whose name or provides is <paramref name="name"/>.</summary>
    public IEnumerable<ResolverPackage> Meeting(string name) => Lookup(_native.Meeting, name, p => p.Name == name || p.Provides.Any(x => x.Name == name));

    /// <summary>Packages with a Conflicts entry naming <paramref name="name"/>.</summary>
    public IEnumerable<ResolverPackage> ConflictMentioning(string name) => Lookup(_native.ConflictMentioning, name, p => p.Conflicts.Any(c => c.Name == name));

    /// <summary>Packages with a dependency naming <paramref name="name"/>.</summary>
    public IEnumerable<ResolverPackage> DependsMentioning(string name) => Lookup(_native.DependsMentioning, name, p => p.Depends.Any(g => g.Any(r => r.Name == name)));

    /// <summary>Every package, managed ones in place of the native entry of the same name.</summary>
    public IEnumerable<ResolverPackage> All => _managed.Values.Concat(_native.ByName.Values.Where(p => !_managed.ContainsKey(p.Name)));

    private IEnumerable<ResolverPackage> Lookup(Dictionary<string, List<ResolverPackage>> index, string name, Func<ResolverPackage, bool> managedMatch)
    {
        foreach (var m in _managed.Values)
        {
            if (managedMatch(m))
                yield return m;
        }
        if (index.TryGetValue(name, out var list))
        {
            foreach (var p in list)
            {
                if (!_managed.ContainsKey(p.Name))
                    yield return p;
            }
        }
    }
}
