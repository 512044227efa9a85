using Rig.Model.Domain;
using Rig.Server.Security;

namespace Rig.Server.Tests.Security;

/// <summary>The one predicate and where objects lie, without a gateway: the rules docs/SECURITY.md states.</summary>
public sealed class RightsTests
{
    /// <summary>A provider site, two customers, an os role on every device, a content role per customer site, a bundle
    /// shared by both content roles and one used only by acme's.</summary>
    private static RigModel Fleet() => new()
    {
        Customers = [new Customer { Name = "acme" }, new Customer { Name = "globex" }],
        Sites = [new Site { Name = "infra" }, new Site { Name = "shop", Customer = "acme" }, new Site { Name = "store", Customer = "globex" }],
        Devices =
        [
            new Device { Name = "mon-1", Site = "infra" },
            new Device { Name = "shop-web-1", Site = "shop", Tier = "web" },
            new Device { Name = "store-web-1", Site = "store", Tier = "web" },
        ],
        Links = [new Interconnection { From = "shop-web-1", To = "store-web-1", Purpose = "http" }],
        Bundles =
        [
            new Bundle { Name = "nginx", Items = [new PackageItem("nginx", "1")] },
            new Bundle { Name = "shop-files", Items = [new FileItem("/srv/index.html", "shop-index")] },
        ],
        Templates = [new ConfigTemplate("shop-index", "hello")],
        Roles =
        [
            new Role { Name = "base-os", Kind = "os" },
            new Role { Name = "shop-content", Kind = "content", Items = [new BundleItem("nginx"), new BundleItem("shop-files")] },
            new Role { Name = "store-content", Kind = "content", Items = [new BundleItem("nginx")] },
            new Role { Name = "spare", Kind = "content", Customer = "acme" },
        ],
        Assignments =
        [
            new RoleAssignment("mon-1", "base-os"), new RoleAssignment("shop-web-1", "base-os"), new RoleAssignment("store-web-1", "base-os"),
            new RoleAssignment("shop-web-1", "shop-content"), new RoleAssignment("store-web-1", "store-content"),
        ],
    };

    private static Grant Allow(string verbs, Scope scope) => new(1, "t", false, Verbs.ParseList(verbs.Split(',')).Verbs!, scope);

    private static Grant Deny(string verbs, Scope scope) => new(2, "t", true, Verbs.ParseList(verbs.Split(',')).Verbs!, scope);

    [Fact]
    public void Nothing_is_allowed_without_a_grant_and_a_deny_wins_over_every_allow()
    {
        var places = new ModelPlaces(Fleet());
        var device = places.Device("shop-web-1")!;
        Assert.False(Rights.Allows([], Verb.Read, device));
        Assert.True(Rights.Allows([Allow("*", Scope.Everything)], Verb.Read, device));
        Assert.False(Rights.Allows([Allow("*", Scope.Everything), Deny("read", new Scope(Customers: ["acme"]))], Verb.Read, device));
        Assert.True(Rights.Allows([Allow("*", Scope.Everything), Deny("read", new Scope(Customers: ["acme"]))], Verb.Read, places.Device("store-web-1")!));
        Assert.True(Rights.Allows([Allow("*", Scope.Everything), Deny("edit", new Scope(Customers: ["acme"]))], Verb.Read, device));
        // A place list is allowed only when every place is (and an empty one never).
        Assert.False(Rights.Allows([Allow("read", new Scope(Sites: ["shop"]))], Verb.Read, [device, places.Device("store-web-1")!]));
        Assert.False(Rights.Allows([Allow("read", Scope.Everything)], Verb.Read, Array.Empty<Place>()));
    }

    [Fact]
    public void A_kind_restricted_grant_reads_its_devices_but_edits_only_roles_of_its_kinds()
    {
        var places = new ModelPlaces(Fleet());
        var content = new[] { Allow("read,edit", new Scope(Sites: ["shop"], Kinds: ["content"])) };
        Assert.True(Rights.Allows(content, Verb.Read, places.Device("shop-web-1")!));
        Assert.False(Rights.Allows(content, Verb.Read, places.Device("store-web-1")!));
        Assert.False(Rights.Allows(content, Verb.Read, places.Device("mon-1")!));

        Assert.True(Rights.Allows(content, Verb.Edit, places.OfEntity("role", "shop-content")));
        Assert.True(Rights.Allows(content, Verb.Edit, places.OfEntity("assignment", "shop-web-1|shop-content")));
        Assert.True(Rights.Allows(content, Verb.Edit, places.OfEntity("template", "shop-index")));
        Assert.True(Rights.Allows(content, Verb.Edit, places.OfEntity("bundle", "shop-files")));
        Assert.False(Rights.Allows(content, Verb.Edit, places.OfEntity("role", "base-os")), "an os role on its device");
        Assert.False(Rights.Allows(content, Verb.Edit, places.OfEntity("bundle", "nginx")), "a bundle globex's role uses too");
        Assert.False(Rights.Allows(content, Verb.Edit, places.OfEntity("device", "shop-web-1")), "the device's own definition is not a content role");
        Assert.False(Rights.Allows(content, Verb.Edit, places.OfEntity("link", "shop-web-1|store-web-1|http")), "a link to globex's device");
        Assert.False(Rights.Allows(content, Verb.Edit, places.OfEntity("parameters", "*")), "global parameters are the provider's");
        Assert.False(Rights.Allows(content, Verb.Edit, places.OfEntity("role", "spare")), "an unassigned role lies with its customer, not a site");
        Assert.True(Rights.Allows([Allow("edit", new Scope(Customers: ["acme"], Kinds: ["content"]))], Verb.Edit, places.OfEntity("role", "spare")));
    }

    [Fact]
    public void A_deny_on_os_does_not_hide_the_devices_and_a_device_selector_needs_a_device()
    {
        var places = new ModelPlaces(Fleet());
        var grants = new[] { Allow("read,edit", Scope.Everything), Deny("edit", new Scope(Kinds: ["os"])) };
        Assert.True(Rights.Allows(grants, Verb.Read, places.Device("mon-1")!));
        Assert.False(Rights.Allows(grants, Verb.Edit, places.OfEntity("role", "base-os")));
        Assert.True(Rights.Allows(grants, Verb.Edit, places.OfEntity("role", "store-content")));

        var web = new[] { Allow("read", new Scope(Devices: "tier=web")) };
        Assert.True(Rights.Allows(web, Verb.Read, places.Device("shop-web-1")!));
        Assert.False(Rights.Allows(web, Verb.Read, places.Device("mon-1")!));
        Assert.False(Rights.Allows(web, Verb.Read, places.Site("shop")!));
    }

    [Fact]
    public void A_partial_reader_sees_their_part_and_their_edit_keeps_what_they_cannot_see()
    {
        var model = Fleet() with { Parameters = new Dictionary<string, string> { ["dns"] = "10.0.0.53" } };
        var places = new ModelPlaces(model);
        var acme = new[] { Allow("read,edit", new Scope(Customers: ["acme"])) };

        var part = ModelScoping.Project(model, acme, places);
        Assert.Equal(["acme"], part.Customers.Select(c => c.Name));
        Assert.Equal(["shop"], part.Sites.Select(s => s.Name));
        Assert.Equal(["shop-web-1"], part.Devices.Select(d => d.Name));
        Assert.Equal(["base-os", "shop-content", "spare"], part.Roles.Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.Empty(part.Links);
        Assert.Empty(part.Parameters);

        // Sending the part back unchanged changes nothing, even though it lacks globex and the provider's objects.
        var whole = ModelScoping.Merge(model, part, acme, places);
        Assert.Equal(ModelScoping.Keys(model).Order(), ModelScoping.Keys(whole).Order());
        Assert.Equal(model.Parameters, whole.Parameters);

        // A change to acme's content lies inside; one to the os role every device has lies outside, named.
        var after = new ModelPlaces(whole);
        Assert.Empty(ModelScoping.OutsideEditScope([("role", "shop-content"), ("device", "shop-web-1")], places, after, acme, ["acme-team"]));
        var outside = ModelScoping.OutsideEditScope([("role", "base-os"), ("device", "store-web-1")], places, after, acme, ["acme-team"]);
        Assert.Equal(["role base-os (kind os) is outside the edit scope of team acme-team", "device store-web-1 is outside the edit scope of team acme-team"], outside);
    }

    [Fact]
    public void Verb_names_parse_both_ways_and_unknown_ones_are_named()
    {
        foreach (var verb in Verbs.All)
            Assert.True(Verbs.TryParse(verb.Name(), out var parsed) && parsed == verb);
        Assert.Equal(Verbs.All, Verbs.ParseList(["*"]).Verbs);
        var (none, error) = Verbs.ParseList(["read", "deploy"]);
        Assert.Null(none);
        Assert.Contains("'deploy' is not a verb", error, StringComparison.Ordinal);
    }
}
