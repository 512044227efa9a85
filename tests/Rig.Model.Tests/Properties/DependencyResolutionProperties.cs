using CsCheck;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Packaging;

namespace Rig.Model.Tests.Properties;

/// <summary>Dependency resolution over random catalogs (random names, versions, dependencies with alternatives,
/// versions and virtual packages, cycles, conflicts) and random devices: whenever the resolver answers without
/// errors, the install order is one dpkg accepts one command at a time (each package's dependencies met by what the
/// device has and what came before or in the same command), what the device ends with has no conflict the plan
/// brought, every listed package is there, and the answer is the same when asked again.</summary>
public sealed class DependencyResolutionProperties
{
    private static readonly string[] Names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    private static readonly string[] Virtuals = ["v1", "v2"];
    private static readonly string[] Versions = ["1.0", "1.5", "2.0", "2:0.1", "1.0~rc1"];

    private static readonly Gen<string> Relation =
        Gen.Select(Gen.Int[0, Names.Length + Virtuals.Length - 1], Gen.Int[0, 5], Gen.Int[0, Versions.Length - 1]).Select((n, op, v) =>
        {
            var name = n < Names.Length ? Names[n] : Virtuals[n - Names.Length];
            return op >= PackageRelation.Operators.Count || n >= Names.Length ? name : $"{name} ({PackageRelation.Operators[op]} {Versions[v]})";
        });

    private static readonly Gen<string> Group = Relation.Array[1, 2].Select(r => string.Join(" | ", r.Distinct()));

    private static readonly Gen<PackageInfo> Package =
        Gen.Select(Gen.Int[0, Names.Length - 1], Gen.Int[0, Versions.Length - 1], Group.Array[0, 3], Gen.Int[0, Virtuals.Length], Relation.Array[0, 1])
            .Select((n, v, depends, provides, conflicts) => new PackageInfo
            {
                Name = Names[n],
                Version = Versions[v],
                Format = "deb",
                OsFamily = "debian",
                Architecture = "amd64",
                Sha256 = $"{Names[n]}@{Versions[v]}".PadRight(64, '0'),
                Depends = [.. depends.Where(g => !g.Split(" | ").Any(r => r.Split(' ')[0] == Names[n]))],
                Provides = provides < Virtuals.Length ? [Virtuals[provides]] : [],
                Conflicts = [.. conflicts.Where(c => c.Split(' ')[0] != Names[n])],
            });

    private static readonly Gen<(PackageInfo[] Catalog, int[] Listed, int[] Present)> Case =
        Gen.Select(Package.Array[1, 14], Gen.Int[0, 20].Array[1, 3], Gen.Int[0, 20].Array[0, 3]).Select((catalog, listed, present) =>
        {
            var unique = catalog.DistinctBy(p => p.Key).ToArray();
            return (unique, listed, present);
        });

    [Fact]
    public void Every_answer_without_errors_installs_in_an_order_dpkg_accepts_with_no_new_conflict_and_is_the_same_twice()
    {
        Case.Sample(c =>
        {
            var universe = new PackageUniverse(c.Catalog);
            var requests = c.Listed.Select(i => c.Catalog[i % c.Catalog.Length]).DistinctBy(p => p.Name)
                .Select(p => new PackageRequest(p, "r", "app")).ToList();
            var present = c.Present.Select(i => c.Catalog[i % c.Catalog.Length]).DistinctBy(p => p.Name)
                .Select(p => new PresentPackage(p.Name, p.Version, "deb", p.Depends, p.Provides, p.Conflicts, false, Managed: false)).ToList();
            var pins = new Dictionary<string, string>();

            var first = DependencyResolver.Resolve(requests, universe, pins, present);
            var second = DependencyResolver.Resolve(requests, universe, pins, present);
            Assert.Equal(Describe(first), Describe(second));
            if (first.Errors.Count > 0)
                return;

            // Replay the installs on the device, one command at a time.
            var device = present.ToDictionary(p => p.Name, p => (p.Version, Provides: p.Provides ?? [], Conflicts: p.Conflicts ?? []));
            foreach (var install in first.Installs)
            {
                foreach (var p in install.Packages)
                    device[p.Name] = (p.Version, p.Provides, p.Conflicts);
                foreach (var p in install.Packages)
                {
                    foreach (var group in p.Depends)
                    {
                        Assert.True(PackageRelations.ParseGroup(group).Any(r => Meets(device, r)),
                            $"{p.Name} {p.Version} installed before its dependency {group} is met\n{Describe(first)}");
                    }
                }
            }
            foreach (var request in requests)
                Assert.True(device.TryGetValue(request.Package.Name, out var have) && have.Version == request.Package.Version, $"{request.Package.Key} is not installed\n{Describe(first)}");
            var installed = first.Installs.SelectMany(i => i.Packages).Select(p => p.Name).ToHashSet();
            foreach (var (name, package) in device.Where(d => installed.Contains(d.Key)))
            {
                foreach (var conflict in package.Conflicts.Select(PackageRelations.Parse))
                {
                    Assert.False(device.Any(other => other.Key != name && MeetsOne(other.Key, other.Value.Version, other.Value.Provides, conflict)),
                        $"{name} conflicts with {conflict}, which the device has after the plan\n{Describe(first)}");
                }
            }
        }, iter: 3000, seed: Environment.GetEnvironmentVariable("RIG_PROPERTY_SEED"));
    }

    private static bool Meets(Dictionary<string, (string Version, IReadOnlyList<string> Provides, IReadOnlyList<string> Conflicts)> device, PackageRelation relation) =>
        device.Any(d => MeetsOne(d.Key, d.Value.Version, d.Value.Provides, relation));

    private static bool MeetsOne(string name, string version, IReadOnlyList<string> provides, PackageRelation relation) =>
        (name == relation.Name && relation.Allows(version, "deb"))
        || provides.Select(PackageRelations.Parse).Any(p => p.Name == relation.Name && (relation.Operator is null || (p.Operator == "=" && relation.Allows(p.Version, "deb"))));

    private static string Describe(DependencyResolution resolution) =>
        string.Join("; ", resolution.Installs.Select(i => string.Join("+", i.Packages.Select(p => p.Key)))) + " | errors: " + string.Join("; ", resolution.Errors);
}
