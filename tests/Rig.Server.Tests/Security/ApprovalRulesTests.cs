using Rig.Model.Domain;
using Rig.Server.Security;

namespace Rig.Server.Tests.Security;

/// <summary>Which changes need approval: the default, the model's policies (last match wins) and the larger of the
/// answers before and after a revision.</summary>
public sealed class ApprovalRulesTests
{
    private static RigModel Site(IReadOnlyList<ApprovalPolicy>? policies = null, string osVersion = "1") => new()
    {
        Customers = [new Customer { Name = "acme" }],
        Sites = [new Site { Name = "shop", Customer = "acme" }, new Site { Name = "lab" }],
        Devices = [new Device { Name = "web-1", Site = "shop" }, new Device { Name = "lab-1", Site = "lab" }],
        Bundles = [new Bundle { Name = "kernel" }],
        Roles =
        [
            new Role { Name = "base", Kind = "os", Version = osVersion, Items = [new BundleItem("kernel")] },
            new Role { Name = "site", Kind = "content" },
        ],
        Assignments = [new RoleAssignment("web-1", "base"), new RoleAssignment("lab-1", "base"), new RoleAssignment("web-1", "site")],
        Approvals = policies ?? [],
    };

    private static IReadOnlyList<ApprovalNeed> Needs(RigModel before, RigModel after, params (string Kind, string Name)[] changes) =>
        ApprovalRules.Needs(changes, new ModelPlaces(before), new ModelPlaces(after));

    [Fact]
    public void By_default_an_os_role_its_assignments_and_its_bundles_need_one_approval_and_content_needs_none()
    {
        var model = Site();

        var needs = Needs(model, model, ("role", "base"), ("assignment", "web-1|base"), ("bundle", "kernel"), ("role", "site"), ("device", "web-1"), ("site", "shop"));

        Assert.Equal(["role base", "assignment web-1 -> base", "bundle kernel"], needs.Select(n => n.Label));
        Assert.All(needs, n => Assert.Equal(1, n.Approvals));
        Assert.All(needs.SelectMany(n => n.Places), p => Assert.Equal("os", p.Kind));
    }

    [Fact]
    public void The_last_matching_policy_decides_so_zero_turns_the_default_off_for_its_scope()
    {
        var model = Site([new ApprovalPolicy { Kinds = ["os"], Sites = ["lab"], Approvals = 0 }, new ApprovalPolicy { Customers = ["acme"], Approvals = 2 }]);
        var places = new ModelPlaces(model);

        var shop = places.OfRole("base").Single(p => p.Site == "shop");
        var lab = places.OfRole("base").Single(p => p.Site == "lab");

        Assert.Equal(2, ApprovalRules.Required(model.Approvals, shop));
        Assert.Equal(0, ApprovalRules.Required(model.Approvals, lab));
        Assert.Equal(2, Needs(model, model, ("role", "site")).Single().Approvals);
        Assert.Equal(2, Needs(model, model, ("site", "shop")).Single().Approvals);
        Assert.Empty(Needs(model, model, ("site", "lab")));
    }

    [Fact]
    public void A_revision_that_turns_a_policy_off_still_needs_the_approvals_it_asked_for_its_own_changes()
    {
        var before = Site();
        var after = Site([new ApprovalPolicy { Kinds = ["os"], Approvals = 0 }], osVersion: "2");

        var needs = Needs(before, after, ("role", "base"), ("approval-policies", "*"));
        var next = Needs(after, after with { Roles = [.. after.Roles.Select(r => r.Kind == "os" ? r with { Version = "3" } : r)] }, ("role", "base"));

        Assert.Equal(["role base"], needs.Select(n => n.Label));
        Assert.Empty(next);
    }

    [Fact]
    public void A_role_moved_out_of_an_os_device_is_judged_where_it_lay_before_too()
    {
        var before = Site([new ApprovalPolicy { Kinds = ["os"], Sites = ["lab"], Approvals = 0 }]);
        var after = before with { Assignments = [new RoleAssignment("lab-1", "base"), new RoleAssignment("web-1", "site")] };

        var need = Assert.Single(Needs(before, after, ("assignment", "web-1|base")));

        Assert.Equal(1, need.Approvals);
        Assert.All(need.Places, p => Assert.Equal(("shop", "os"), (p.Site, p.Kind)));
    }
}
