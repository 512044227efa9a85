using System.Security.Cryptography;
using System.Text;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;

namespace Rig.Model.Tests;

/// <summary>Plans of packages with dependencies (Debian-like catalog, pure): the planner adds what the device lacks,
/// installs dependencies first, honours alternatives, virtual packages, version constraints, conflicts and cycles,
/// and removes what nothing needs, dependents first. The device is simulated: applying a plan adds the installed
/// packages to its native package list (as dpkg would) and takes removed ones out.</summary>
public sealed class DependencyPlanningTests
{
    // A small Debian: nginx-light needs nginx-common (exact version), libc6 (the base system has it) and libpcre2;
    // nginx-common needs iproute2 and lsb-base or sysvinit-utils; iproute2 needs libbsd0 and libelf1 (which needs zlib1g).
    private static readonly PackageInfo[] Catalog =
    [
        Deb("nginx-light", "1.22.1-9", depends: ["nginx-common (= 1.22.1-9)", "libc6 (>= 2.34)", "libpcre2-8-0 (>= 10.22)"], provides: ["httpd"], conflicts: ["nginx-full"]),
        Deb("nginx-full", "1.22.1-9", depends: ["nginx-common (= 1.22.1-9)"], provides: ["httpd"], conflicts: ["nginx-light"]),
        Deb("nginx-common", "1.22.1-9", depends: ["lsb-base | sysvinit-utils (>= 3.05-4~)", "iproute2"]),
        Deb("iproute2", "6.1.0-3", depends: ["libbsd0 (>= 0.0)", "libelf1 (>= 0.131)"]),
        Deb("libbsd0", "0.11.7-2"),
        Deb("libelf1", "0.188-2.1", depends: ["zlib1g (>= 1:1.1.4)"]),
        Deb("libpcre2-8-0", "10.42-1"),
        Deb("zlib1g", "1:1.2.13.dfsg-1"),
        Deb("hello", "2.10-3", depends: ["libc6 (>= 2.34)"]),
    ];

    // What a debootstrap minbase root has (the part that matters here).
    private static readonly NativePackage[] BaseSystem =
    [
        Native("libc6", "2.36-9+deb12u7", depends: ["libgcc-s1"]),
        Native("libgcc-s1", "12.2.0-14", depends: ["libc6 (>= 2.35)"]),
        Native("zlib1g", "1:1.2.13.dfsg-1", depends: ["libc6 (>= 2.14)"]),
        Native("sysvinit-utils", "3.06-4", depends: ["libc6 (>= 2.34)"], essential: true),
        Native("dpkg", "1.21.22", depends: ["tar (>= 1.28-1)"], essential: true),
        Native("tar", "1.34+dfsg-1.2", essential: true),
    ];

    [Fact]
    public void A_role_listing_only_nginx_light_installs_what_the_device_lacks_dependencies_first_and_says_why()
    {
        var plan = Model(["nginx-light@1.22.1-9"]).Plan("deb-1", Device());

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Equal(
            ["install libbsd0 0.11.7-2", "install libelf1 0.188-2.1", "install iproute2 6.1.0-3", "install nginx-common 1.22.1-9",
             "install libpcre2-8-0 10.42-1", "install nginx-light 1.22.1-9", "inventory"],
            plan.Commands.Select(c => c.Spec.Describe()));
        var common = plan.Commands.Single(c => c.Spec is InstallCommand { Package.Name: "nginx-common" });
        Assert.Equal("not installed; needed by nginx-light 1.22.1-9: nginx-common (= 1.22.1-9)", common.Reason);
        Assert.Equal("web", common.Role);
        Assert.True(((InstallCommand)common.Spec).Dependency);
        Assert.Null(plan.Commands.Select(c => c.Spec).OfType<InstallCommand>().Single(i => i.Package.Name == "nginx-light").Dependency);
        Assert.DoesNotContain(plan.Commands, c => c.Spec is InstallCommand { Package.Name: "zlib1g" or "libc6" or "lsb-base" });
    }

    [Fact]
    public void The_same_roles_and_facts_give_the_same_plan_on_every_device_and_an_applied_plan_is_complete()
    {
        var model = Model(["nginx-light@1.22.1-9"]);
        var first = model.Plan("deb-1", Device());
        var second = model.Plan("deb-2", Device());

        Assert.Equal(first.Commands.Select(c => c.Spec), second.Commands.Select(c => c.Spec));
        var after = Apply(model, first, Device());
        Assert.True(model.Plan("deb-1", after).IsEmpty, string.Join(", ", model.Plan("deb-1", after).Commands.Select(c => c.Spec.Describe())));
    }

    [Fact]
    public void A_dependency_neither_the_device_nor_the_catalog_has_is_a_plan_error_naming_it_and_what_to_import()
    {
        var model = Model(["nginx-light@1.22.1-9"]) with { Packages = [.. Catalog.Where(p => p.Name != "nginx-common")] };

        var plan = model.Plan("deb-1", Device());

        Assert.Empty(plan.Commands);
        var error = Assert.Single(plan.Errors);
        Assert.Equal("package.missing-dependency", error.Code);
        Assert.Equal("roles/web", error.Where);
        Assert.Contains("nginx-light 1.22.1-9 (role web) needs nginx-common (= 1.22.1-9)", error.Message, StringComparison.Ordinal);
        Assert.Contains("rig package fetch nginx-common", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_the_catalog_lacks_is_an_error_that_says_which_versions_it_has()
    {
        var model = Model(["nginx-light@1.22.1-9"]) with
        {
            Packages = [.. Catalog.Where(p => p.Name != "nginx-common"), Deb("nginx-common", "1.22.1-8")],
        };

        var error = Assert.Single(model.Plan("deb-1", Device()).Errors);

        Assert.Equal("package.missing-dependency", error.Code);
        Assert.Contains("the catalog has nginx-common 1.22.1-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alternatives_take_the_first_one_the_catalog_has_and_nothing_when_the_device_meets_any()
    {
        var catalog = new[]
        {
            Deb("mailer", "1", depends: ["default-mta | mail-transport-agent"]),
            Deb("postfix", "3.7", provides: ["mail-transport-agent"]),
            Deb("exim4", "4.96", provides: ["mail-transport-agent"]),
        };
        var model = Model(["mailer@1"]) with { Packages = catalog };

        // No default-mta anywhere: a provider of the virtual package, the first by name.
        Assert.Equal(["install exim4 4.96", "install mailer 1", "inventory"], model.Plan("deb-1", Device()).Commands.Select(c => c.Spec.Describe()));

        // The device has postfix from outside Rig: the virtual package is met, nothing is added.
        var withPostfix = Device(extra: Native("postfix", "3.7", provides: ["mail-transport-agent"]));
        Assert.Equal(["install mailer 1", "inventory"], model.Plan("deb-1", withPostfix).Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void A_real_package_is_preferred_to_a_provider_and_an_unversioned_provide_does_not_meet_a_versioned_dependency()
    {
        var catalog = new[]
        {
            Deb("app", "1", depends: ["awk (>= 1.3)"]),
            Deb("mawk", "1.3.4", provides: ["awk"]),
            Deb("gawk", "5.2", provides: ["awk (= 5.2)"]),
            Deb("web", "1", depends: ["awk"]),
            Deb("awk", "0.9"),
        };
        var model = Model(["app@1"]) with { Packages = catalog };
        var plan = model.Plan("deb-1", Device());

        // awk 0.9 is too old, mawk's Provides has no version: only gawk's versioned Provides meets awk (>= 1.3).
        Assert.Equal(["install gawk 5.2", "install app 1", "inventory"], plan.Commands.Select(c => c.Spec.Describe()));

        // An unversioned dependency takes the package of that name first.
        Assert.Equal(["install awk 0.9", "install web 1", "inventory"], (Model(["web@1"]) with { Packages = catalog }).Plan("deb-1", Device()).Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void A_version_that_meets_every_constraint_is_chosen_even_when_the_highest_met_the_first()
    {
        var catalog = new[]
        {
            Deb("a", "1", depends: ["libfoo (>= 2)"]),
            Deb("b", "1", depends: ["libfoo (<< 3)"]),
            Deb("libfoo", "1.0"), Deb("libfoo", "2.0"), Deb("libfoo", "3.0"),
        };
        var model = Model(["a@1", "b@1"]) with { Packages = catalog };

        Assert.Equal(["install libfoo 2.0", "install a 1", "install b 1", "inventory"], model.Plan("deb-1", Device()).Commands.Select(c => c.Spec.Describe()));

        var impossible = model with { Packages = [.. catalog.Where(p => p.Key != "libfoo@2.0")] };
        var error = Assert.Single(impossible.Plan("deb-1", Device()).Errors);
        Assert.Equal("package.missing-dependency", error.Code);
        Assert.Contains("libfoo (<< 3)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dependency_on_a_version_of_a_package_a_role_lists_otherwise_is_an_error_naming_both()
    {
        var model = Model(["nginx-common@1.22.1-8", "nginx-light@1.22.1-9"]) with { Packages = [.. Catalog, Deb("nginx-common", "1.22.1-8", depends: ["iproute2"])] };

        var error = Assert.Single(model.Plan("deb-1", Device()).Errors);

        Assert.Equal("package.dependency-version", error.Code);
        Assert.Contains("needs nginx-common (= 1.22.1-9), but role 'web' lists nginx-common 1.22.1-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cycle_in_Depends_is_installed_in_one_command_and_removed_in_one()
    {
        var catalog = new[]
        {
            Deb("app", "1", depends: ["perl"]),
            Deb("perl", "5.36", depends: ["perl-modules (>= 5.36)"]),
            Deb("perl-modules", "5.36", depends: ["perl (>= 5.36)"]),
        };
        var model = Model(["app@1"]) with { Packages = catalog };
        var plan = model.Plan("deb-1", Device());

        Assert.Equal(["install perl 5.36 with perl-modules 5.36", "install app 1", "inventory"], plan.Commands.Select(c => c.Spec.Describe()));
        var cycle = plan.Commands.Select(c => c.Spec).OfType<InstallCommand>().First();
        Assert.Equal(["perl", "perl-modules"], cycle.All.Select(p => p.Name));
        Assert.Contains("depend on each other", plan.Commands[0].Reason, StringComparison.Ordinal);

        var removal = (model with { Assignments = [] }).Plan("deb-1", Apply(model, plan, Device()));
        Assert.Equal(["remove app", "remove perl with perl-modules", "inventory"], removal.Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void Packages_of_two_roles_that_conflict_are_a_plan_error()
    {
        var model = Model(["nginx-light@1.22.1-9"], content: ["nginx-full@1.22.1-9"]);

        var plan = model.Plan("deb-1", Device());

        Assert.Empty(plan.Commands);
        var error = Assert.Single(plan.Errors);
        Assert.Equal("package.conflict", error.Code);
        Assert.Contains("nginx-full 1.22.1-9 (role site)", error.Message, StringComparison.Ordinal);
        Assert.Contains("nginx-light 1.22.1-9 (role web)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_package_conflicting_with_one_installed_outside_Rig_is_an_error_and_a_conflicting_dependency_choice_is_replaced()
    {
        var outside = Device(extra: Native("nginx-full", "1.22.1-9"));
        var error = Assert.Single(Model(["nginx-light@1.22.1-9"]).Plan("deb-1", outside).Errors);
        Assert.Equal("package.conflict", error.Code);
        Assert.Contains("nginx-full 1.22.1-9, which the device has from outside Rig", error.Message, StringComparison.Ordinal);

        // Two providers of a virtual package: the first by name conflicts with what the device has, so the other is chosen.
        var catalog = new[]
        {
            Deb("mailer", "1", depends: ["mail-transport-agent"]),
            Deb("exim4", "4.96", provides: ["mail-transport-agent"], conflicts: ["sendmail-bin"]),
            Deb("postfix", "3.7", provides: ["mail-transport-agent"]),
        };
        var plan = (Model(["mailer@1"]) with { Packages = catalog }).Plan("deb-1", Device(extra: Native("sendmail-bin", "8.17")));
        Assert.Equal(["install postfix 3.7", "install mailer 1", "inventory"], plan.Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void Removing_the_role_removes_everything_it_added_dependents_first_and_leaves_the_base_system()
    {
        var model = Model(["nginx-light@1.22.1-9"]);
        var installed = Apply(model, model.Plan("deb-1", Device()), Device());

        var plan = (model with { Assignments = [] }).Plan("deb-1", installed);

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Equal(
            ["remove nginx-light", "remove nginx-common", "remove libpcre2-8-0", "remove iproute2", "remove libelf1", "remove libbsd0", "inventory"],
            plan.Commands.Select(c => c.Spec.Describe()));
        Assert.Contains("installed as a dependency and nothing needs it", plan.Commands[1].Reason, StringComparison.Ordinal);
        var after = Apply(model with { Assignments = [] }, plan, installed);
        Assert.Equal(BaseSystem.Select(p => p.Name).Order(StringComparer.Ordinal), after.Native!.Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_new_role_version_without_a_package_removes_only_what_nothing_else_needs()
    {
        var model = Model(["nginx-light@1.22.1-9", "hello@2.10-3"]);
        var installed = Apply(model, model.Plan("deb-1", Device()), Device());

        // iproute2 is now listed by the role itself: it stays, with what it needs.
        var next = Model(["iproute2@6.1.0-3", "hello@2.10-3"]);
        var plan = next.Plan("deb-1", installed);

        Assert.Equal(["remove nginx-light", "remove nginx-common", "remove libpcre2-8-0", "inventory"], plan.Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void A_dependency_Rig_added_that_a_package_from_outside_Rig_needs_is_kept_and_a_listed_one_is_an_error()
    {
        var model = Model(["nginx-light@1.22.1-9"]);
        var installed = Apply(model, model.Plan("deb-1", Device()), Device());
        // Someone installed a tool by hand that needs iproute2 (which Rig added as a dependency) and nginx-light (listed).
        var byHand = installed with { Native = [.. installed.Native!, Native("net-tool", "1", depends: ["iproute2"])] };

        var plan = (model with { Assignments = [] }).Plan("deb-1", byHand);
        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.DoesNotContain(plan.Commands, c => c.Spec is RemoveCommand { Name: "iproute2" or "libelf1" or "libbsd0" });
        Assert.Contains(plan.Commands, c => c.Spec is RemoveCommand { Name: "nginx-common" });

        var needsListed = installed with { Native = [.. installed.Native!, Native("nginx-extras-tool", "1", depends: ["nginx-light"])] };
        var error = Assert.Single((model with { Assignments = [] }).Plan("deb-1", needsListed).Errors);
        Assert.Equal("package.removal-breaks", error.Code);
        Assert.Contains("Removing nginx-light 1.22.1-9", error.Message, StringComparison.Ordinal);
        Assert.Contains("nginx-extras-tool 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_upgrade_that_breaks_a_package_from_outside_Rig_is_an_error()
    {
        var model = Model(["libfoo@2.0"]) with { Packages = [Deb("libfoo", "2.0")] };
        var device = Device(extra: [Native("libfoo", "1.0"), Native("tool", "1", depends: ["libfoo (<< 2)"])]);

        var error = Assert.Single(model.Plan("deb-1", device).Errors);

        Assert.Equal("package.breaks-installed", error.Code);
        Assert.Contains("would break tool 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pins_of_a_role_version_choose_the_dependency_versions_and_cover_the_resolved_set()
    {
        var catalog = new[] { Deb("app", "1", depends: ["libfoo (>= 1)"]), Deb("libfoo", "1.0"), Deb("libfoo", "2.0") };
        var model = Model(["app@1"]) with { Packages = catalog };
        var index = new ModelIndex(model);

        var pins = RolePins.Compute(index, index.Roles["web"]);
        Assert.Equal(["app@1", "libfoo@2.0"], pins.Keys);

        // A role version pinned when the catalog had only libfoo 1.0 keeps installing 1.0 after 2.0 is imported.
        var pinned = model.WithRole("web", r => r with { Pins = new Dictionary<string, string> { ["app@1"] = Digest("app@1"), ["libfoo@1.0"] = Digest("libfoo@1.0") } });
        Assert.Equal(["install libfoo 1.0", "install app 1", "inventory"], pinned.Plan("deb-1", Device()).Commands.Select(c => c.Spec.Describe()));
        Assert.Equal(["app@1", "libfoo@1.0"], RolePins.Compute(new ModelIndex(pinned), pinned.Roles[0], pinned.Roles[0].Pins).Keys);
    }

    [Fact]
    public void A_base_system_package_Rig_upgraded_for_a_dependency_is_never_removed()
    {
        var model = Model(["app@1"]) with { Packages = [Deb("app", "1", depends: ["zlib1g (>= 1:1.3)"]), Deb("zlib1g", "1:1.3.1-1")] };
        var plan = model.Plan("deb-1", Device());
        var upgrade = plan.Commands.Select(c => c.Spec).OfType<InstallCommand>().First();
        Assert.Equal("zlib1g", upgrade.Package.Name);
        Assert.Equal(["zlib1g"], upgrade.Replaces!);
        Assert.StartsWith("upgrade from 1:1.2.13.dfsg-1 (installed outside Rig)", plan.Commands[0].Reason, StringComparison.Ordinal);
        var installed = Apply(model, plan, Device());
        Assert.True(installed.Packages["zlib1g"].Preinstalled);

        // A later version installed over it keeps the mark.
        var upgraded = model with { Packages = [.. model.Packages, Deb("zlib1g", "1:1.3.2-1")] };
        upgraded = upgraded.WithRole("web", r => r with { Items = [new PackageItem("app", "1"), new PackageItem("zlib1g", "1:1.3.2-1")] });
        var again = upgraded.Plan("deb-1", installed);
        Assert.Equal(["zlib1g"], again.Commands.Select(c => c.Spec).OfType<InstallCommand>().Single().Replaces!);
        installed = Apply(upgraded, again, installed);
        Assert.True(installed.Packages["zlib1g"].Preinstalled);

        var removal = (model with { Assignments = [] }).Plan("deb-1", installed);

        Assert.Equal(["remove app", "inventory"], removal.Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void A_device_that_meets_a_dependency_keeps_its_version_even_when_the_role_version_pins_another()
    {
        var model = (Model(["app@1"]) with { Packages = [Deb("app", "1", depends: ["libfoo (>= 1)"]), Deb("libfoo", "1.0"), Deb("libfoo", "2.0")] })
            .WithRole("web", r => r with { Pins = new Dictionary<string, string> { ["app@1"] = Digest("app@1"), ["libfoo@2.0"] = Digest("libfoo@2.0") } });

        Assert.Equal(["install app 1", "inventory"], model.Plan("deb-1", Device(extra: Native("libfoo", "1.0"))).Commands.Select(c => c.Spec.Describe()));
        Assert.Equal(["install libfoo 2.0", "install app 1", "inventory"], model.Plan("deb-1", Device()).Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void A_dependency_met_by_the_device_is_met_again_when_another_dependency_replaces_that_package()
    {
        // The device's d 2:0.1 meets "d (>> 1.0) | e", but "d (<< 1.5)" replaces it with d 1.0: then e must come too.
        // Found by DependencyResolutionProperties (seed 0sWg1mlMxfC1): a was installed with neither d (>> 1.0) nor e.
        var model = Model(["a@1"]) with { Packages = [Deb("a", "1", depends: ["d (>> 1.0) | e", "d (<< 1.5)"]), Deb("d", "1.0"), Deb("e", "2.0")] };

        var plan = model.Plan("deb-1", Device(extra: Native("d", "2:0.1")));

        Assert.Equal(["install e 2.0", "install d 1.0", "install a 1", "inventory"], plan.Commands.Select(c => c.Spec.Describe()));
    }

    [Fact]
    public void Essential_packages_are_never_removed()
    {
        var model = Model(["dpkg@1.22.0"]) with { Packages = [Deb("dpkg", "1.22.0", essential: true)] };
        var installed = Apply(model, model.Plan("deb-1", Device()), Device());

        var plan = (model with { Assignments = [] }).Plan("deb-1", installed);

        Assert.True(plan.IsEmpty, string.Join(", ", plan.Commands.Select(c => c.Spec.Describe())));
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static string Digest(string label) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(label)));

    private static PackageInfo Deb(string name, string version, string[]? depends = null, string[]? provides = null, string[]? conflicts = null, bool essential = false) => new()
    {
        Name = name,
        Version = version,
        Format = "deb",
        OsFamily = "debian",
        Architecture = "amd64",
        Sha256 = Digest($"{name}@{version}"),
        Size = 1000,
        Depends = depends ?? [],
        Provides = provides ?? [],
        Conflicts = conflicts ?? [],
        Essential = essential,
    };

    private static NativePackage Native(string name, string version, string[]? depends = null, string[]? provides = null, bool essential = false) =>
        new(name, version, "amd64", "deb") { Depends = depends ?? [], Provides = provides ?? [], Conflicts = [], Essential = essential };

    private static RecordedState Device(params NativePackage[] extra) => RecordedState.Empty with { Native = [.. BaseSystem, .. extra] };

    private static RigModel Model(string[] web, string[]? content = null)
    {
        static IReadOnlyList<Item> Items(IEnumerable<string> keys) => [.. keys.Select(k => k.Split('@')).Select(p => new PackageItem(p[0], p[1]))];
        var roles = new List<Role> { new() { Name = "web", Kind = BuiltInRoleKinds.App, Items = Items(web) } };
        var assignments = new List<RoleAssignment> { new("deb-1", "web"), new("deb-2", "web") };
        if (content is not null)
        {
            roles.Add(new Role { Name = "site", Kind = BuiltInRoleKinds.Content, Items = Items(content) });
            assignments.AddRange([new RoleAssignment("deb-1", "site"), new RoleAssignment("deb-2", "site")]);
        }
        return new RigModel
        {
            Sites = [new Site { Name = "s" }],
            Devices = [new Device { Name = "deb-1", Site = "s", OsFamily = "debian" }, new Device { Name = "deb-2", Site = "s", OsFamily = "debian" }],
            Packages = Catalog,
            Roles = roles,
            Assignments = assignments,
        };
    }

    /// <summary>The device after every command of <paramref name="plan"/> succeeded: recorded state as the gateway
    /// records it, and the native list as dpkg would have it (installed packages with their catalog relations).</summary>
    private static RecordedState Apply(RigModel model, DevicePlan plan, RecordedState recorded)
    {
        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        var catalog = model.Packages.ToDictionary(p => p.Key);
        var native = recorded.Native!.ToDictionary(n => n.Name);
        var state = recorded;
        foreach (var command in plan.Commands)
        {
            state = RecordedStateUpdater.Apply(state, command.Spec, "app", new CommandResult { CommandId = "x", Outcome = CommandOutcome.Succeeded });
            switch (command.Spec)
            {
                case InstallCommand install:
                    foreach (var p in install.All)
                    {
                        var info = catalog[$"{p.Name}@{p.Version}"];
                        native[p.Name] = new NativePackage(p.Name, p.Version, "amd64", "deb") { Depends = info.Depends, Provides = info.Provides, Conflicts = info.Conflicts, Essential = info.Essential };
                    }
                    break;
                case RemoveCommand remove:
                    foreach (var name in remove.All)
                        native.Remove(name);
                    break;
            }
        }
        return state with { Native = [.. native.Values] };
    }
}
