using CsCheck;
using Rig.Model.Domain;
using Rig.Server.Security;
using Rig.Server.Services;

namespace Rig.Server.Tests.Authorization;

/// <summary>A random hosting world: customers, sites (the provider's or a customer's), devices with tiers, roles of
/// each kind (the provider's or a customer's), assignments (at most one role per kind per device), links; and a random
/// set of grants (allow or deny, verbs, scopes over customers, sites, kinds and device selectors). Built from a seed, so
/// a failing case prints as its seed and its grants.</summary>
internal sealed record World(int Seed, RigModel Model, IReadOnlyList<Grant> Grants)
{
    private static readonly string[] Kinds = [BuiltInRoleKinds.Os, BuiltInRoleKinds.App, BuiltInRoleKinds.Content];
    private static readonly string[] Tiers = ["web", "db", "lb"];

    public static Gen<World> Gen { get; } = CsCheck.Gen.Int[0, int.MaxValue].Select(From);

    public static World From(int seed)
    {
        var random = new Random(seed);
        T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
        IReadOnlyList<string>? SomeOf(IReadOnlyList<string> names, string extra) =>
            random.Next(3) == 0 ? null : [.. names.Append(extra).Where(_ => random.Next(2) == 0).DefaultIfEmpty(Pick(names.Count > 0 ? names : [extra]))];

        var customers = Enumerable.Range(0, random.Next(0, 4)).Select(i => new Customer { Name = $"c{i}" }).ToList();
        var sites = Enumerable.Range(0, random.Next(1, 5))
            .Select(i => new Site { Name = $"s{i}", Customer = customers.Count == 0 || random.Next(3) == 0 ? null : Pick(customers).Name }).ToList();
        var devices = Enumerable.Range(0, random.Next(0, 9)).Select(i => new Device { Name = $"d{i}", Site = Pick(sites).Name, Tier = Pick(Tiers) }).ToList();
        var roles = Enumerable.Range(0, random.Next(0, 6))
            .Select(i => new Role { Name = $"r{i}", Kind = Pick(Kinds), Customer = customers.Count == 0 || random.Next(2) == 0 ? null : Pick(customers).Name }).ToList();
        var customerOf = sites.ToDictionary(s => s.Name, s => s.Customer);
        var assignments = new List<RoleAssignment>();
        foreach (var device in devices)
        {
            foreach (var kind in Kinds)
            {
                // A customer's role only on that customer's devices; the provider's roles anywhere.
                var fits = roles.Where(r => r.Kind == kind && (r.Customer is null || r.Customer == customerOf[device.Site])).ToList();
                if (fits.Count > 0 && random.Next(3) != 0)
                    assignments.Add(new RoleAssignment(device.Name, Pick(fits).Name));
            }
        }
        var links = new List<Interconnection>();
        for (var i = 0; i < devices.Count / 2; i++)
        {
            var (from, to) = (Pick(devices), Pick(devices));
            if (from.Name != to.Name && !links.Any(l => l.From == from.Name && l.To == to.Name))
                links.Add(new Interconnection { From = from.Name, To = to.Name, Purpose = "net" });
        }
        var model = new RigModel { Customers = customers, Sites = sites, Devices = devices, Roles = roles, Assignments = assignments, Links = links };

        string[] selectors = ["all", "tier=web", "tier=db", $"site={Pick(sites).Name}", devices.Count > 0 ? Pick(devices).Name : "d0", "tier=lb,tier=web"];
        var grants = Enumerable.Range(0, random.Next(0, 5)).Select(i =>
        {
            var verbs = Verbs.All.Where(v => v == Verb.Read ? random.Next(4) != 0 : random.Next(4) == 0).DefaultIfEmpty(Verb.Read).ToList();
            // One grant in four on everything: the provider's staff, whose denies must still hold object by object.
            var scope = random.Next(4) == 0 ? Scope.Everything : new Scope(
                SomeOf([.. customers.Select(c => c.Name)], "nobody-inc"),
                SomeOf([.. sites.Select(s => s.Name)], "s9"),
                SomeOf(Kinds, "cache"),
                random.Next(3) == 0 ? Pick(selectors) : null);
            return new Grant(i + 1, "t", Deny: random.Next(3) == 0, verbs, scope);
        }).ToList();
        return new World(seed, model, grants);
    }

    public override string ToString() =>
        $"seed {Seed}: {Model.Devices.Count} devices, {Model.Roles.Count} roles; grants: {string.Join("; ", Grants.Select(g => $"{(g.Deny ? "deny" : "allow")} {string.Join(',', g.Verbs.Select(v => v.Name()))} on {g.Scope}"))}";
}

/// <summary>The reference reading of docs/SECURITY.md's predicate, written apart from <see cref="Rights"/>: an allow
/// that covers and no deny that covers; a restricted dimension needs the object's value in its list; an object read
/// without a kind (a device, a site) lies inside any kind list of an allow and outside every kind list of a deny.</summary>
internal static class Reference
{
    public static bool Reads(IReadOnlyList<Grant> grants, Verb verb, string? customer, string? site, string? kind, Device? device, IReadOnlyList<string> roles) =>
        grants.Any(g => !g.Deny && g.Verbs.Contains(verb) && Hits(g.Scope, customer, site, kind, device, roles, deny: false))
        && !grants.Any(g => g.Deny && g.Verbs.Contains(verb) && Hits(g.Scope, customer, site, kind, device, roles, deny: true));

    /// <summary>Read on everything: an unrestricted allow and no deny of reading at all.</summary>
    public static bool ReadsEverything(IReadOnlyList<Grant> grants) =>
        grants.Any(g => !g.Deny && g.Verbs.Contains(Verb.Read) && g.Scope.IsEverything) && !grants.Any(g => g.Deny && g.Verbs.Contains(Verb.Read));

    private static bool Hits(Scope scope, string? customer, string? site, string? kind, Device? device, IReadOnlyList<string> roles, bool deny) =>
        In(scope.Customers, customer) && In(scope.Sites, site)
        && (scope.Kinds is null || (kind is null ? !deny : scope.Kinds.Contains(kind)))
        && (scope.Devices is null || (device is not null && DeviceSelector.Parse(scope.Devices).Matches(device, roles)));

    private static bool In(IReadOnlyList<string>? list, string? value) => list is null || (value is not null && list.Contains(value));

    /// <summary>What a caller with <paramref name="grants"/> should read of <paramref name="model"/>, object by object.</summary>
    public sealed class Sight
    {
        public Sight(RigModel model, IReadOnlyList<Grant> grants)
        {
            var sites = model.Sites.ToDictionary(s => s.Name, StringComparer.Ordinal);
            var devices = model.Devices.ToDictionary(d => d.Name, StringComparer.Ordinal);
            var rolesOf = model.Assignments.ToLookup(a => a.Device, a => a.Role);
            var kindOf = model.Roles.ToDictionary(r => r.Name, r => r.Kind);
            var everything = ReadsEverything(grants);
            bool Sees(string name, string? kind = null) => devices.TryGetValue(name, out var d) && Reads(grants, Verb.Read, sites[d.Site].Customer, d.Site, kind, d, [.. rolesOf[name]]);
            Devices = [.. model.Devices.Where(d => everything || Sees(d.Name)).Select(d => d.Name)];
            Sites = [.. model.Sites.Where(s => everything || Reads(grants, Verb.Read, s.Customer, s.Name, null, null, [])).Select(s => s.Name)];
            Customers = [.. model.Customers.Where(c => everything || Reads(grants, Verb.Read, c.Name, null, null, null, [])).Select(c => c.Name)];
            Roles = [.. model.Roles.Where(r =>
            {
                if (everything)
                    return true;
                var assigned = model.Assignments.Where(a => a.Role == r.Name).ToList();
                return assigned.Count == 0 ? Reads(grants, Verb.Read, r.Customer, null, r.Kind, null, []) : assigned.Any(a => Sees(a.Device, r.Kind));
            }).Select(r => r.Name)];
            Assignments = [.. model.Assignments.Where(a => everything || Sees(a.Device, kindOf[a.Role])).Select(a => $"{a.Device}|{a.Role}")];
            Links = [.. model.Links.Where(l => everything || (Sees(l.From) && Sees(l.To))).Select(l => $"{l.From}|{l.To}")]; // a link names both ends
        }

        public IReadOnlyList<string> Devices { get; }
        public IReadOnlyList<string> Sites { get; }
        public IReadOnlyList<string> Customers { get; }
        public IReadOnlyList<string> Roles { get; }
        public IReadOnlyList<string> Assignments { get; }
        public IReadOnlyList<string> Links { get; }
    }
}

/// <summary>For random models and grants, every list the operator services return holds exactly the objects the
/// predicate lets the caller read (devices, the model's projection, rollouts); and the predicate's own laws hold.
/// Service level over one real gateway (SQLite): each case saves its model as a new revision and asks the services as a
/// caller holding the case's grants. Reproduce a failure with <c>CsCheck_Seed=...</c>.</summary>
public sealed class VisibilityProperties : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-visibility-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;
    private OperatorServices _services = null!;

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
        _services = new OperatorServices(_server.Gateway, _server.Importer, null, null, "https://localhost");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static void Same(IEnumerable<string> expected, IEnumerable<string> actual, string what, World world) =>
        Assert.True(expected.Order(StringComparer.Ordinal).SequenceEqual(actual.Order(StringComparer.Ordinal)),
            $"{what}: expected [{string.Join(", ", expected.Order(StringComparer.Ordinal))}], got [{string.Join(", ", actual.Order(StringComparer.Ordinal))}] ({world})");

    [Fact]
    public async Task Every_list_holds_exactly_the_objects_the_predicate_lets_the_caller_read()
    {
        var admin = new Caller("admin") { Grants = [new Grant(0, "admins", false, Verbs.All, Scope.Everything)] };
        await World.Gen.SampleAsync(async world =>
        {
            var applied = await _server.Gateway.ApplyAsync(world.Model, "admin", $"case {world.Seed}", CancellationToken.None);
            Assert.True(applied.Errors.Count == 0, $"the generated model is invalid: {string.Join("; ", applied.Errors.Select(e => e.Message))} ({world})");
            var (_, stored) = await _server.Store.LoadModelAsync();
            var places = new ModelPlaces(stored);
                        foreach (var selector in new[] { "all", "tier=web,tier=lb" })
            {
                try
                {
                    await _server.Gateway.StartRolloutAsync(new Rig.Server.Gateway.RolloutRequest(null, selector), "admin", null, CancellationToken.None);
                }
                catch (Rig.Server.Gateway.RolloutRefusedException)
                {
                    // no device matches, or they are still in the previous rollout
                }
            }
            var caller = new Caller("case") { Teams = ["t"], Grants = world.Grants, Places = places };
            var sight = new Reference.Sight(stored, world.Grants);
            var readsAnything = world.Grants.Any(g => !g.Deny && g.Verbs.Contains(Verb.Read));

            // GET /devices
            if (!readsAnything)
            {
                await Assert.ThrowsAsync<ForbiddenException>(() => _services.Devices.ListAsync(caller, CancellationToken.None));
                return;
            }
            var devices = await _services.Devices.ListAsync(caller, CancellationToken.None);
            Same(sight.Devices, devices.Select(d => d.Name), "devices", world);

            // GET /model: the projection
            var model = (await _services.Model.GetAsync(caller, null, CancellationToken.None))!;
            Same(sight.Devices, model.Devices.Select(d => d.Name), "model devices", world);
            Same(sight.Sites, model.Sites.Select(s => s.Name), "model sites", world);
            Same(sight.Customers, model.Customers.Select(c => c.Name), "model customers", world);
            Same(sight.Roles, model.Roles.Select(r => r.Name), "model roles", world);
            Same(sight.Assignments, model.Assignments.Select(a => $"{a.Device}|{a.Role}"), "model assignments", world);
            Same(sight.Links, model.Links.Select(l => $"{l.From}|{l.To}"), "model links", world);

            // GET /rollouts: every rollout with a device the caller reads, showing only those devices.
            var all = await _services.Rollouts.ListAsync(admin with { Places = places }, false, 10_000, CancellationToken.None);
            var mine = (await _services.Rollouts.ListAsync(caller, false, 10_000, CancellationToken.None)).ToDictionary(r => r.Id);
            // A device no longer in the model (an earlier case's) lies with the provider.
            var inModel = stored.Devices.Select(d => d.Name).ToHashSet();
            var readsProvider = Reference.Reads(world.Grants, Verb.Read, null, null, Place.NotARole, null, []);
            bool Readable(string device) => inModel.Contains(device) ? sight.Devices.Contains(device) : readsProvider;
            foreach (var rollout in all)
            {
                var visible = rollout.Devices.Select(d => d.Device).Where(Readable).ToList();
                if (visible.Count == 0)
                {
                    Assert.False(mine.ContainsKey(rollout.Id), $"rollout {rollout.Id} of [{string.Join(", ", rollout.Devices.Select(d => d.Device))}] is listed though none of its devices is readable ({world})");
                    continue;
                }
                Assert.True(mine.TryGetValue(rollout.Id, out var seen), $"rollout {rollout.Id} is missing ({world})");
                Same(visible, seen.Devices.Select(d => d.Device), $"rollout {rollout.Id} devices", world);
            }
            Assert.Equal(mine.Count, all.Count(r => r.Devices.Any(d => Readable(d.Device))));

            // GET /drift and GET /plan rows are devices too.
            var (drift, _) = await _services.Model.DriftAsync(caller, null, CancellationToken.None);
            Same(sight.Devices, drift!.Devices.Select(d => d.Device), "drift devices", world);
        }, iter: 80, threads: 1, print: w => w.ToString());
    }

    [Fact]
    public void The_predicates_laws_hold_deny_wins_nothing_by_default_allows_only_widen_denies_only_narrow()
    {
        var gen = World.Gen.SelectMany(w => World.Gen.Select(other => (World: w, Extra: other.Grants.FirstOrDefault())));
        gen.Sample(pair =>
        {
            var (world, extra) = pair;
            var places = new ModelPlaces(world.Model);
            var all = world.Model.Devices.Select(d => places.Device(d.Name)!)
                .Concat(world.Model.Sites.Select(s => places.Site(s.Name)!))
                .Concat(world.Model.Customers.Select(c => places.Customer(c.Name)!))
                .Concat(world.Model.Roles.SelectMany(r => places.OfRole(r.Name)))
                .Concat(world.Model.Assignments.SelectMany(a => places.OfEntity("assignment", $"{a.Device}|{a.Role}")))
                .Append(Place.Provider).ToList();
            foreach (var verb in Verbs.All)
            {
                foreach (var place in all)
                {
                    var allowed = Rights.Allows(world.Grants, verb, place);
                    Assert.False(Rights.Allows([], verb, place));
                    // Deny wins.
                    if (world.Grants.Any(g => g.Deny && g.Verbs.Contains(verb) && Rights.Covers(g.Scope, place, deny: true)))
                        Assert.False(allowed, $"{verb} on {place} allowed despite a deny ({world})");
                    // The reference reading agrees.
                    var roles = place.DeviceRoles ?? [];
                    Assert.True(allowed == Reference.Reads(world.Grants, verb, place.Customer, place.Site, place.Kind, place.Device, roles),
                        $"{verb} on {place}: the predicate says {allowed} ({world})");
                    if (extra is null)
                        continue;
                    var asAllow = extra with { Deny = false };
                    var asDeny = extra with { Deny = true };
                    if (allowed)
                        Assert.True(Rights.Allows([.. world.Grants, asAllow], verb, place), $"adding an allow removed {verb} on {place} ({world})");
                    if (Rights.Allows([.. world.Grants, asDeny], verb, place))
                        Assert.True(allowed, $"adding a deny gave {verb} on {place} ({world})");
                }
            }
            // The same at the level of a list.
            var caller = new Caller("case") { Grants = world.Grants, Places = places };
            var access = new OperatorAccess();
            var names = world.Model.Devices.Select(d => d.Name).ToList();
            var seen = access.Visible(caller, names, n => n).ToHashSet();
            if (extra is not null)
            {
                Assert.Subset(access.Visible(caller with { Grants = [.. world.Grants, extra with { Deny = false }] }, names, n => n).ToHashSet(), seen);
                Assert.Superset(access.Visible(caller with { Grants = [.. world.Grants, extra with { Deny = true }] }, names, n => n).ToHashSet(), seen);
            }
        }, iter: 2000, print: p => $"{p.World}; extra: {p.Extra}");
    }
}
