using Rig.Model.Domain;
using Rig.Protocol.Packaging;

namespace Rig.Model.Planning;

/// <summary>A package on the device now: from the native package manager's database (the last inventory), or
/// recorded by Rig (then <see cref="Managed"/>), or both.</summary>
/// <param name="Sha256">The digest Rig installed, for a managed package; null for one Rig did not install.</param>
/// <param name="Auto">Rig installed it as a dependency no role lists (removed again when nothing needs it).</param>
public sealed record PresentPackage(string Name, string Version, string Format, IReadOnlyList<string>? Depends, IReadOnlyList<string>? Provides,
    IReadOnlyList<string>? Conflicts, bool Essential, bool Managed, string? Sha256 = null, bool Auto = false);

/// <summary>A package a role lists, in install order (roles in kind order, items in order).</summary>
public sealed record PackageRequest(PackageInfo Package, string Role, string Kind);

/// <summary>Packages to install in one step: one package, or the members of a dependency cycle (installed in one run
/// of the package manager). <see cref="Root"/> is the role-listed package whose needs brought them in (itself for a
/// listed package); <see cref="Reason"/> says why, e.g. <c>needed by nginx-light 1.22.1-9: nginx-common (= 1.22.1-9)</c>.</summary>
public sealed record ResolvedInstall(IReadOnlyList<PackageInfo> Packages, string Root, string Role, string Kind, bool Dependency, string Reason);

/// <summary>What a device's roles need: what to install in which order, every package name the roles need (listed or
/// depended upon, installed or present: what a plan must not remove), and the problems.</summary>
public sealed record DependencyResolution(IReadOnlyList<ResolvedInstall> Installs, IReadOnlySet<string> Needed, IReadOnlyList<ModelError> Errors)
{
    /// <summary>The packages on the device after the installs and before removals, by name (for removal checks; built
    /// only when a plan removes something).</summary>
    internal IReadOnlyDictionary<string, ResolverPackage> Final => LazyFinal.Value;

    internal Lazy<IReadOnlyDictionary<string, ResolverPackage>> LazyFinal { get; init; } = NoFinal;

    private static readonly Lazy<IReadOnlyDictionary<string, ResolverPackage>> NoFinal = new(() => new Dictionary<string, ResolverPackage>());
}

/// <summary>A package with its relations parsed: a catalog entry or a package on the device.</summary>
internal sealed class ResolverPackage
{
    public required string Name { get; init; }
    public required string Version { get; init; }
    public required string Format { get; init; }
    public PackageInfo? Catalog { get; init; }
    public PresentPackage? Present { get; init; }
    public IReadOnlyList<IReadOnlyList<PackageRelation>> Depends { get; init; } = [];
    public IReadOnlyList<PackageRelation> Provides { get; init; } = [];
    public IReadOnlyList<PackageRelation> Conflicts { get; init; } = [];
    public bool Essential { get; init; }

    /// <summary>Relations were reported (a native package from an older agent has none: nothing is checked for it).</summary>
    public bool Known { get; init; } = true;

    public string Key => PackageInfo.PackageKey(Name, Version);

    public override string ToString() => $"{Name} {Version}";

    /// <summary>True when this package meets <paramref name="relation"/>: by its own name and version, or by what it
    /// provides (an unversioned Provides meets only an unversioned relation; RPM also matches its own name).</summary>
    public bool Meets(PackageRelation relation)
    {
        if (relation.Name == Name && relation.Allows(Version, Format))
            return true;
        foreach (var provided in Provides)
        {
            if (provided.Name != relation.Name)
                continue;
            if (relation.Operator is null)
                return true;
            if (provided is { Operator: "=", Version: { } version } && relation.Allows(version, Format))
                return true;
        }
        return false;
    }

    public static ResolverPackage From(PackageInfo package) => new()
    {
        Name = package.Name,
        Version = package.Version,
        Format = package.Format,
        Catalog = package,
        Depends = ParseGroups(package.Depends) ?? [],
        Provides = ParseList(package.Provides) ?? [],
        Conflicts = ParseList(package.Conflicts) ?? [],
        Essential = package.Essential,
    };

    public static ResolverPackage From(PresentPackage package, ResolverPackage? catalog)
    {
        if (catalog is not null && (package.Depends is null || package.Managed))
        {
            return new ResolverPackage
            {
                Name = catalog.Name, Version = catalog.Version, Format = catalog.Format, Catalog = catalog.Catalog, Present = package,
                Depends = catalog.Depends, Provides = catalog.Provides, Conflicts = catalog.Conflicts, Essential = catalog.Essential || package.Essential,
            };
        }
        var depends = ParseGroups(package.Depends);
        return new ResolverPackage
        {
            Name = package.Name,
            Version = package.Version,
            Format = package.Format,
            Present = package,
            Depends = depends ?? [],
            Provides = ParseList(package.Provides) ?? [],
            Conflicts = ParseList(package.Conflicts) ?? [],
            Essential = package.Essential,
            Known = depends is not null,
        };
    }

    // Relations come canonical from the catalog (written at import) and from agents; one that does not parse is left
    // out rather than failing a plan over a device's report.
    private static List<IReadOnlyList<PackageRelation>>? ParseGroups(IReadOnlyList<string>? groups)
    {
        if (groups is null)
            return null;
        var parsed = new List<IReadOnlyList<PackageRelation>>(groups.Count);
        foreach (var group in groups)
        {
            try
            {
                parsed.Add(PackageRelations.ParseGroup(group));
            }
            catch (FormatException)
            {
            }
        }
        return parsed;
    }

    private static List<PackageRelation>? ParseList(IReadOnlyList<string>? relations)
    {
        if (relations is null)
            return null;
        var parsed = new List<PackageRelation>(relations.Count);
        foreach (var relation in relations)
        {
            try
            {
                parsed.Add(PackageRelations.Parse(relation));
            }
            catch (FormatException)
            {
            }
        }
        return parsed;
    }
}

/// <summary>The package catalog as one device can use it (its format, OS family and architecture), indexed by name
/// and by what packages provide. Built once per model and device kind.</summary>
public sealed class PackageUniverse
{
    private readonly Dictionary<string, List<ResolverPackage>> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ResolverPackage>> _byProvided = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ResolverPackage> _byKey = new(StringComparer.Ordinal);

    /// <summary>An empty catalog.</summary>
    public static PackageUniverse Empty { get; } = new([]);

    /// <summary>Index <paramref name="packages"/> (already those the device can install).</summary>
    public PackageUniverse(IEnumerable<PackageInfo> packages)
    {
        ArgumentNullException.ThrowIfNull(packages);
        foreach (var package in packages)
        {
            var parsed = ResolverPackage.From(package);
            if (!_byKey.TryAdd(parsed.Key, parsed))
                continue;
            Add(_byName, parsed.Name, parsed);
            foreach (var provided in parsed.Provides.Select(p => p.Name).Distinct(StringComparer.Ordinal))
                Add(_byProvided, provided, parsed);
        }
        foreach (var list in _byName.Values.Concat(_byProvided.Values))
            list.Sort((a, b) => a.Name == b.Name ? -VersionOrder.Compare(a.Format, a.Version, b.Version) : string.CompareOrdinal(a.Name, b.Name));
        HasRelations = _byKey.Values.Any(p => p.Depends.Count > 0 || p.Conflicts.Count > 0);
    }

    /// <summary>The catalog of <paramref name="model"/> as <paramref name="device"/> can use it.</summary>
    public static PackageUniverse For(IEnumerable<PackageInfo> catalog, string osFamily, string architecture) =>
        new(catalog.Where(p => Compatibility.OsFamilyFits(p.OsFamily, osFamily) && Compatibility.ArchitectureFits(p.Architecture, architecture)));

    /// <summary>True when some package has dependencies or conflicts (else resolution has nothing to add).</summary>
    public bool HasRelations { get; }

    internal IReadOnlyList<ResolverPackage> Named(string name) => _byName.TryGetValue(name, out var list) ? list : [];

    internal IReadOnlyList<ResolverPackage> Providing(string name) => _byProvided.TryGetValue(name, out var list) ? list : [];

    internal ResolverPackage? Get(string key) => _byKey.GetValueOrDefault(key);

    internal ResolverPackage Parsed(PackageInfo package) => _byKey.TryGetValue(package.Key, out var parsed) && ReferenceEquals(parsed.Catalog, package) ? parsed : ResolverPackage.From(package);

    private static void Add(Dictionary<string, List<ResolverPackage>> map, string key, ResolverPackage package)
    {
        if (!map.TryGetValue(key, out var list))
            map[key] = list = [];
        list.Add(package);
    }
}

/// <summary>Resolves the packages a device's roles list against the catalog and what the device has: adds the
/// dependencies the device lacks (Debian Depends and Pre-Depends with alternatives, version constraints and virtual
/// packages; RPM Requires and Provides, files included), honours Conflicts and Breaks (RPM Conflicts and Obsoletes),
/// and orders the installs so a package's dependencies come first (a cycle is installed in one step). Pure and
/// deterministic: the same roles, catalog, pins and device packages give the same answer on every device.</summary>
/// <remarks>
/// <para>Choices: a dependency the device (or an earlier choice) already meets adds nothing; otherwise the first
/// alternative of a group that the catalog can meet wins, a package of that name before a package providing it, the
/// highest version first, providers by name. A version a role version pins is the only version considered for that
/// name. When a later constraint rules out an earlier choice, or a chosen dependency conflicts, resolution starts
/// again with that constraint or without that choice (bounded), so a version meeting every constraint is found when
/// the catalog has one.</para>
/// </remarks>
public static class DependencyResolver
{
    /// <summary>Restarts with a new constraint or exclusion before the resolver gives up and reports what it has.</summary>
    private const int MaxAttempts = 64;

    /// <summary>Resolve <paramref name="requests"/> for one device.</summary>
    /// <param name="requests">The packages the roles list, in install order.</param>
    /// <param name="universe">The catalog the device can use.</param>
    /// <param name="pins">Pins of the device's roles (<c>name@version</c> to digest): a pinned name is resolved only to a pinned version.</param>
    /// <param name="present">What the device has now (native and recorded packages).</param>
    public static DependencyResolution Resolve(IReadOnlyList<PackageRequest> requests, PackageUniverse universe, IReadOnlyDictionary<string, string> pins, IReadOnlyList<PresentPackage> present)
    {
        ArgumentNullException.ThrowIfNull(present);
        ArgumentNullException.ThrowIfNull(universe);
        var native = NativeIndex.Of(present.Where(p => !p.Managed).Select(p => ResolverPackage.From(p, p.Depends is null ? universe.Get(PackageInfo.PackageKey(p.Name, p.Version)) : null)));
        return Resolve(requests, universe, pins, new PresentPackages(native, present.Where(p => p.Managed), universe));
    }

    /// <summary>Resolve for one device whose native packages are <paramref name="native"/> (indexed once per list and
    /// shared by devices that report the same list) and whose Rig-installed packages are <paramref name="managed"/>.</summary>
    public static DependencyResolution Resolve(IReadOnlyList<PackageRequest> requests, PackageUniverse universe, IReadOnlyDictionary<string, string> pins,
        IReadOnlyList<Protocol.Messages.NativePackage>? native, IEnumerable<PresentPackage> managed)
    {
        ArgumentNullException.ThrowIfNull(universe);
        ArgumentNullException.ThrowIfNull(managed);
        return Resolve(requests, universe, pins, new PresentPackages(NativeIndex.For(native), managed, universe));
    }

    private static DependencyResolution Resolve(IReadOnlyList<PackageRequest> requests, PackageUniverse universe, IReadOnlyDictionary<string, string> pins, PresentPackages present)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(pins);
        var context = new Context(universe, pins, present);
        for (var i = 0; i < MaxAttempts; i++)
        {
            var attempt = new Attempt(context, requests);
            attempt.Run();
            if (attempt.Retry is null)
                return attempt.Result();
            attempt.Retry(context);
        }
        // Every attempt learned something new and none finished: a catalog this tangled is refused, never half-planned.
        var names = string.Join(", ", requests.Select(r => r.Package.Key));
        return new DependencyResolution([], new HashSet<string>(requests.Select(r => r.Package.Name), StringComparer.Ordinal),
        [
            new ModelError("package.unresolvable", requests.Count > 0 ? $"roles/{requests[0].Role}" : "roles",
                $"The dependencies of {names} could not be resolved within {MaxAttempts} attempts (each found a version or conflict that ruled out an earlier choice). " +
                "List the versions you want of the packages named in the plan's other errors in the roles, or remove conflicting versions from the catalog."),
        ]);
    }

    /// <summary>What stays the same across attempts, and what attempts learned.</summary>
    private sealed class Context
    {
        public Context(PackageUniverse universe, IReadOnlyDictionary<string, string> pins, PresentPackages present)
        {
            Universe = universe;
            Present = present;
            foreach (var key in pins.Keys)
            {
                var at = key.IndexOf('@', StringComparison.Ordinal);
                if (at <= 0)
                    continue;
                if (!PinnedVersions.TryGetValue(key[..at], out var versions))
                    PinnedVersions[key[..at]] = versions = new HashSet<string>(StringComparer.Ordinal);
                versions.Add(key[(at + 1)..]);
            }
        }

        public PresentPackages Present { get; }

        public PackageUniverse Universe { get; }
        public Dictionary<string, HashSet<string>> PinnedVersions { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Avoid { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, List<PackageRelation>> Forced { get; } = new(StringComparer.Ordinal);

        /// <summary>Dependency groups (package key, group index) that may not count on what the device has.</summary>
        public HashSet<(string Key, int Group)> NoPresent { get; } = [];

        /// <summary>A package meets every constraint learned so far for its name.</summary>
        public bool Fits(ResolverPackage package) =>
            !Forced.TryGetValue(package.Name, out var constraints) || constraints.All(c => c.Allows(package.Version, package.Format));

        public bool Allowed(ResolverPackage candidate) =>
            !Avoid.Contains(candidate.Key)
            && (!PinnedVersions.TryGetValue(candidate.Name, out var versions) || versions.Contains(candidate.Version))
            && (!Forced.TryGetValue(candidate.Name, out var constraints) || constraints.All(c => c.Allows(candidate.Version, candidate.Format)));
    }

    private sealed class Node(ResolverPackage package, bool install, string role, string kind, string root, bool dependency, string reason)
    {
        public ResolverPackage Package { get; } = package;
        public bool Install { get; set; } = install;
        public string Role { get; } = role;
        public string Kind { get; } = kind;
        public string Root { get; } = root;
        public bool Dependency { get; } = dependency;
        public string Reason { get; } = reason;
        public List<Node> Needs { get; } = [];
    }

    private sealed class Attempt(Context context, IReadOnlyList<PackageRequest> requests)
    {
        private readonly Dictionary<string, Node> _selected = new(StringComparer.Ordinal);
        private readonly List<Node> _roots = [];
        private readonly List<ModelError> _errors = [];

        /// <summary>Set when the attempt learned a constraint or an exclusion and must start again.</summary>
        public Action<Context>? Retry { get; private set; }

        public void Run()
        {
            foreach (var request in requests)
            {
                var package = context.Universe.Parsed(request.Package);
                if (_selected.ContainsKey(package.Name))
                    continue; // listed twice (or in two roles): the planner reports a version clash
                var have = context.Present.Get(package.Name);
                var install = have?.Present is not { Managed: true, Sha256: var sha } || sha != request.Package.Sha256;
                var node = new Node(package, install, request.Role, request.Kind, package.Name, dependency: false, $"listed by role {request.Role}");
                _selected[package.Name] = node;
                _roots.Add(node);
            }
            var work = new Queue<Node>(_roots);
            while (work.Count > 0 && Retry is null)
            {
                var node = work.Dequeue();
                for (var g = 0; g < node.Package.Depends.Count; g++)
                {
                    var group = node.Package.Depends[g];
                    var met = Satisfy(node, group, g);
                    if (met is null)
                        continue;
                    node.Needs.Add(met.Value.Node);
                    if (met.Value.New)
                        work.Enqueue(met.Value.Node);
                    if (Retry is not null)
                        return;
                }
            }
            if (Retry is null)
                CheckKeptStillMeet();
            if (Retry is null)
                CheckConflicts();
            if (Retry is null)
                CheckStaying();
        }

        /// <summary>Groups met by a package the device has, checked again now that every choice is made: a later choice may
        /// have replaced that package with a version that no longer meets them. Then that group may not count on what the
        /// device has (its other alternatives or another version are chosen), and resolution starts again.</summary>
        private void CheckKeptStillMeet()
        {
            foreach (var (node, g) in _metByPresent)
            {
                var group = node.Package.Depends[g];
                if (group.Any(r => FinalMeeting(r.Name).Any(p => p.Meets(r))))
                    continue;
                var key = (node.Package.Key, g);
                if (context.NoPresent.Contains(key))
                {
                    _errors.Add(new ModelError("package.unresolvable", $"roles/{node.Role}",
                        $"{Describe(node)} needs {PackageRelations.Format(group)}, which the device has, but other packages need another version of it; " +
                        "list the versions you want in the roles."));
                    continue;
                }
                Retry = c => c.NoPresent.Add(key);
                return;
            }
        }

        private readonly List<(Node Node, int Group)> _metByPresent = [];

        /// <summary>The node meeting <paramref name="group"/> of <paramref name="node"/>: one already selected, a
        /// managed package the device has (kept, and its own needs followed), or a new choice from the catalog.
        /// Null when only a native package meets it, or when nothing does (an error is recorded).</summary>
        private (Node Node, bool New)? Satisfy(Node node, IReadOnlyList<PackageRelation> group, int groupIndex)
        {
            foreach (var relation in group)
            {
                foreach (var selected in Candidates(relation))
                {
                    if (selected.Package.Meets(relation))
                        return (selected, false);
                }
            }
            foreach (var relation in context.NoPresent.Contains((node.Package.Key, groupIndex)) ? [] : group)
            {
                // Pins choose what the plan installs, not what the device may keep: a device that meets a dependency keeps it.
                var present = context.Present.Meeting(relation.Name).Where(p => !_selected.ContainsKey(p.Name) && context.Fits(p) && p.Meets(relation))
                    .OrderBy(p => p.Name == relation.Name ? 0 : 1).ThenBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault();
                if (present is null)
                    continue;
                if (present.Present is not { Managed: true })
                {
                    _metByPresent.Add((node, groupIndex));
                    return null; // the base system has it: nothing to do, nothing to keep (checked again at the end)
                }
                var kept = new Node(present, install: false, node.Role, node.Kind, node.Root, dependency: true, Why(node, group));
                _selected[present.Name] = kept;
                return (kept, true);
            }
            foreach (var relation in group)
            {
                var choice = context.Universe.Named(relation.Name).Where(p => relation.Allows(p.Version, p.Format))
                    .Concat(context.Universe.Providing(relation.Name).Where(p => p.Name != relation.Name && p.Meets(relation)))
                    .FirstOrDefault(p => context.Allowed(p) && !_selected.ContainsKey(p.Name));
                if (choice is null)
                    continue;
                var added = new Node(choice, install: true, node.Role, node.Kind, node.Root, dependency: true, Why(node, group));
                _selected[choice.Name] = added;
                return (added, true);
            }

            // Nothing new can meet it. A selected package of a named version that does not fit: learn the constraint
            // and start again (another version of that name may meet everything), unless a role lists that version.
            foreach (var relation in group)
            {
                if (_selected.TryGetValue(relation.Name, out var clash) && !clash.Package.Meets(relation))
                {
                    if (!clash.Dependency)
                    {
                        if (group.Count == 1)
                        {
                            _errors.Add(new ModelError("package.dependency-version", $"roles/{node.Role}",
                                $"{Describe(node)} needs {relation}, but role '{clash.Role}' lists {clash.Package}; list a version that fits both in the roles (or import one)."));
                            return null;
                        }
                        continue;
                    }
                    var known = context.Forced.TryGetValue(relation.Name, out var learnedBefore) && learnedBefore.Contains(relation);
                    if (!known && (context.Universe.Named(relation.Name).Any(p => relation.Allows(p.Version, p.Format) && context.Allowed(p))
                        || (context.Present.Get(relation.Name) is { } have && relation.Allows(have.Version, have.Format) && context.Fits(have))))
                    {
                        var name = relation.Name;
                        var learned = relation;
                        Retry = c =>
                        {
                            if (!c.Forced.TryGetValue(name, out var list))
                                c.Forced[name] = list = [];
                            list.Add(learned);
                        };
                        return null;
                    }
                }
            }
            // Groups of one package naming the same packages (a version range is two groups) make one error.
            var names = string.Join(" ", group.Select(r => r.Name).Distinct(StringComparer.Ordinal));
            if (!_missing.TryGetValue((node, names), out var groups))
                _missing[(node, names)] = groups = [];
            groups.Add(group);
            return null;
        }

        private readonly Dictionary<(Node Node, string Names), List<IReadOnlyList<PackageRelation>>> _missing = [];

        private IEnumerable<Node> Candidates(PackageRelation relation)
        {
            if (_selected.TryGetValue(relation.Name, out var byName))
                yield return byName;
            foreach (var node in _selected.Values)
            {
                if (node.Package.Name != relation.Name && node.Package.Provides.Any(p => p.Name == relation.Name))
                    yield return node;
            }
        }

        private static string Why(Node node, IReadOnlyList<PackageRelation> group) => $"needed by {node.Package}: {PackageRelations.Format(group)}";

        private static string Describe(Node node) => node.Dependency
            ? $"{node.Package} (a dependency of {node.Root}, role {node.Role})"
            : $"{node.Package} (role {node.Role})";

        private ModelError Unsatisfiable(Node node, IReadOnlyList<IReadOnlyList<PackageRelation>> groups)
        {
            var notes = new List<string>();
            var group = groups[0];
            foreach (var relation in group.DistinctBy(r => r.Name))
            {
                var versions = context.Universe.Named(relation.Name).Select(p => p.Version).ToList();
                if (versions.Count > 0)
                    notes.Add($"the catalog has {relation.Name} {string.Join(", ", versions)}");
                if (context.PinnedVersions.TryGetValue(relation.Name, out var pinned))
                    notes.Add($"the role versions pin {relation.Name} to {string.Join(", ", pinned.Order(StringComparer.Ordinal))}");
                if (context.Present.Get(relation.Name) is { } have)
                    notes.Add($"the device has {have}");
                if (context.Forced.TryGetValue(relation.Name, out var forced))
                    notes.Add($"other packages need {string.Join(" and ", forced)}");
            }
            var names = string.Join(" ", group.Select(r => r.Name).Distinct(StringComparer.Ordinal));
            var fetch = node.Package.Format == Protocol.Messages.PackageFormats.Deb ? $"`rig package fetch {names}`" : $"`rig package add` with the .{node.Package.Format} file of {names}";
            return new ModelError("package.missing-dependency", $"roles/{node.Role}",
                $"{Describe(node)} needs {string.Join(" and ", groups.Select(PackageRelations.Format))}, which neither the device nor the package catalog has" +
                (notes.Count > 0 ? $" ({string.Join("; ", notes)})" : "") + $"; import it with {fetch}, then plan again.");
        }

        /// <summary>Conflicts and Breaks between what the plan installs and everything the device keeps. A dependency
        /// the resolver chose is dropped and resolution starts again; between packages the roles list, or with a
        /// package installed outside Rig, it is an error.</summary>
        private void CheckConflicts()
        {
            foreach (var node in _selected.Values.Where(n => n.Install).OrderBy(n => n.Package.Name, StringComparer.Ordinal))
            {
                // What it conflicts with, and what conflicts with it (by its name or anything it provides).
                var against = node.Package.Conflicts
                    .SelectMany(c => FinalMeeting(c.Name).Where(other => other.Name != node.Package.Name && other.Meets(c)).Select(other => (By: node.Package, Other: other, Relation: c)))
                    .Concat(node.Package.Provides.Select(p => p.Name).Append(node.Package.Name).Distinct(StringComparer.Ordinal)
                        .SelectMany(FinalConflictMentioning)
                        .Where(other => other.Name != node.Package.Name)
                        .SelectMany(other => other.Conflicts.Where(node.Package.Meets).Select(c => (By: other, Other: other, Relation: c))));
                foreach (var (by, other, relation) in against)
                {
                    var otherNode = _selected.GetValueOrDefault(other.Name);
                    var drop = node.Dependency ? node : otherNode is { Dependency: true, Install: true } ? otherNode : null;
                    if (drop is not null)
                    {
                        var key = drop.Package.Key;
                        Retry = c => c.Avoid.Add(key);
                        return;
                    }
                    var where = $"roles/{node.Role}";
                    var message = otherNode is null
                        ? $"{Describe(node)} cannot be installed beside {other}, which the device has from outside Rig: {by.Name} conflicts with {relation}. Remove {other.Name} from the device (or take {node.Package.Name} out of the role)."
                        : $"{Describe(node)} cannot be installed beside {Describe(otherNode)}: {by.Name} conflicts with {relation}. A device can have only one of them: change one of the roles.";
                    _errors.Add(new ModelError("package.conflict", where, message));
                    return;
                }
            }
        }

        /// <summary>Packages the device will have (selected, or present and neither replaced nor removed) meeting <paramref name="name"/>.</summary>
        private IEnumerable<ResolverPackage> FinalMeeting(string name) =>
            _selected.Values.Select(n => n.Package).Where(p => p.Name == name || p.Provides.Any(x => x.Name == name))
                .Concat(context.Present.Meeting(name).Where(Stays));

        private IEnumerable<ResolverPackage> FinalConflictMentioning(string name) =>
            _selected.Values.Select(n => n.Package).Where(p => p.Conflicts.Any(c => c.Name == name))
                .Concat(context.Present.ConflictMentioning(name).Where(Stays));

        /// <summary>A present package stays: not replaced by a selected version, not a managed package nothing needs.</summary>
        private bool Stays(ResolverPackage present) => !_selected.ContainsKey(present.Name) && present.Present is not { Managed: true };

        /// <summary>An upgrade must not break a package the device keeps from outside Rig (one that needs the old version).</summary>
        private void CheckStaying()
        {
            foreach (var upgrade in _selected.Values.Where(n => n.Install).OrderBy(n => n.Package.Name, StringComparer.Ordinal))
            {
                // New packages add what they provide and take nothing away: only a version replacing another can break.
                if (context.Present.Get(upgrade.Package.Name) is not { } old || old.Version == upgrade.Package.Version)
                    continue;
                var dependents = old.Provides.Select(p => p.Name).Append(old.Name).Distinct(StringComparer.Ordinal)
                    .SelectMany(context.Present.DependsMentioning)
                    .Where(p => p.Present is { Managed: false } && p.Known && !_selected.ContainsKey(p.Name))
                    .DistinctBy(p => p.Name).OrderBy(p => p.Name, StringComparer.Ordinal);
                foreach (var staying in dependents)
                {
                    foreach (var group in staying.Depends.Where(g => g.Any(old.Meets)))
                    {
                        if (group.Any(r => r.Name == staying.Name || FinalMeeting(r.Name).Any(p => p.Meets(r))))
                            continue;
                        _errors.Add(new ModelError("package.breaks-installed", $"roles/{upgrade.Role}",
                            $"Installing {Describe(upgrade)} in place of {old} would break {staying}, which the device has from outside Rig and which needs {PackageRelations.Format(group)}. " +
                            $"Upgrade or remove {staying.Name} on the device first, or list a version of {upgrade.Package.Name} that fits it."));
                    }
                }
            }
        }

        /// <summary>The device after the installs, before removals: what it has, with the selected versions in place.</summary>
        private Dictionary<string, ResolverPackage> Final()
        {
            var final = new Dictionary<string, ResolverPackage>(StringComparer.Ordinal);
            foreach (var package in context.Present.All)
                final[package.Name] = package;
            foreach (var node in _selected.Values)
                final[node.Package.Name] = node.Package;
            return final;
        }

        public DependencyResolution Result()
        {
            foreach (var ((node, _), groups) in _missing)
                _errors.Add(Unsatisfiable(node, groups));
            var installs = new List<ResolvedInstall>();
            var index = new Dictionary<Node, int>();
            var low = new Dictionary<Node, int>();
            var stack = new Stack<Node>();
            var onStack = new HashSet<Node>();
            var counter = 0;

            // Tarjan's strongly connected components over the packages to install, from each listed package in order:
            // components come out dependencies first; a component of several packages is a cycle, installed in one step.
            void Visit(Node node)
            {
                index[node] = low[node] = counter++;
                stack.Push(node);
                onStack.Add(node);
                foreach (var next in node.Needs.Where(n => n.Install))
                {
                    if (!index.ContainsKey(next))
                    {
                        Visit(next);
                        low[node] = Math.Min(low[node], low[next]);
                    }
                    else if (onStack.Contains(next))
                    {
                        low[node] = Math.Min(low[node], index[next]);
                    }
                }
                if (low[node] != index[node])
                    return;
                var members = new List<Node>();
                Node member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    members.Add(member);
                }
                while (member != node);
                // The listed package leads its cycle; else the first by name.
                members.Sort((a, b) => a.Dependency != b.Dependency ? (a.Dependency ? 1 : -1) : string.CompareOrdinal(a.Package.Name, b.Package.Name));
                var lead = members[0];
                var reason = members.Count == 1 ? lead.Reason : $"{lead.Reason}; {string.Join(", ", members.Select(m => m.Package.Name))} depend on each other: installed together";
                installs.Add(new ResolvedInstall([.. members.Select(m => m.Package.Catalog!)], lead.Root, lead.Role, lead.Kind, members.All(m => m.Dependency), reason));
            }

            foreach (var root in _roots.Where(r => r.Install))
            {
                if (!index.ContainsKey(root))
                    Visit(root);
            }
            foreach (var node in _selected.Values.Where(n => n.Install && !index.ContainsKey(n)))
                Visit(node); // needed by a kept package only

            return new DependencyResolution(installs, new HashSet<string>(_selected.Keys, StringComparer.Ordinal), _errors) { LazyFinal = new Lazy<IReadOnlyDictionary<string, ResolverPackage>>(Final) };
        }
    }
}
