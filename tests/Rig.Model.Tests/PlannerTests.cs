using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;

namespace Rig.Model.Tests;

/// <summary>Desired state vs recorded state -> ordered commands. Plans are compared as the commands'
/// one-line descriptions (<c>install nginx 1.24.0</c>, <c>service nginx restart</c>...), in order.</summary>
public class PlannerTests
{
    private static string[] Steps(DevicePlan plan)
    {
        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        return [.. plan.Commands.Select(c => c.Spec.Describe())];
    }

    private static RecordedState WithService(RecordedState recorded, RecordedService service) =>
        recorded with { Services = new Dictionary<string, RecordedService>(recorded.Services) { [service.Name] = service } };

    private static RigModel WithChrony(RigModel model, params string[] versions) =>
        model with { Packages = [.. model.Packages, .. versions.Select(v => SampleModel.Package("chrony", v, service: "chronyd"))] };

    // ---- order -------------------------------------------------------------------------------------

    [Fact]
    public void First_provisioning_runs_roles_os_then_app_then_content_whatever_the_assignment_order()
    {
        var model = SampleModel.Build();
        model = model with { Assignments = [.. model.Assignments.Reverse()] };

        var plan = model.Plan("web-1", RecordedState.Empty);

        Assert.Equal(
            [
                "install base-tools 1.0", "write /etc/motd", "reboot (base system installed)",
                "install nginx 1.24.0", "write /etc/nginx/nginx.conf", "service nginx enable", "service nginx start",
                "install shop-content 2026.1", "write /var/www/index.html",
                "inventory",
            ],
            Steps(plan));
        Assert.Equal(
            ["linux-base", "linux-base", "linux-base", "web", "web", "web", "web", "shop-content", "shop-content", ""],
            plan.Commands.Select(c => c.Role));
    }

    [Fact]
    public void Install_and_write_commands_carry_what_the_agent_needs()
    {
        var plan = SampleModel.Build().Plan("db-1", RecordedState.Empty);

        var install = plan.Commands.Select(c => c.Spec).OfType<InstallCommand>().Single(i => i.Package.Name == "postgresql");
        Assert.Equal(new PackageRef("postgresql", "16.2", "deb", SampleModel.Digest("postgresql@16.2"), 1024), install.Package);
        Assert.Equal("db", install.Role);
        var write = plan.Commands.Select(c => c.Spec).OfType<WriteFileCommand>().Single(w => w.Path == "/etc/postgresql/pg_hba.conf");
        var desired = SampleModel.Build().Desired("db-1").Roles.SelectMany(r => r.Steps).OfType<DesiredFile>().Single(f => f.Path == write.Path);
        Assert.Equal(new WriteFileCommand(desired.Path, desired.Content, desired.Sha256, "0600", "postgres", "postgres"), write);
    }

    [Theory]
    [InlineData("lb-1")]
    [InlineData("web-1")]
    [InlineData("web-2")]
    [InlineData("app-1")]
    [InlineData("app-2")]
    [InlineData("db-1")]
    public void Inventory_closes_the_first_provisioning_plan_of_every_device(string device)
    {
        var plan = SampleModel.Build().Plan(device, RecordedState.Empty);

        Assert.IsType<InventoryCommand>(plan.Commands[^1].Spec);
        Assert.Single(plan.Commands, c => c.Spec is InventoryCommand);
        Assert.True(plan.Commands.Count > 1);
    }

    // ---- unchanged, changed ------------------------------------------------------------------------

    [Theory]
    [InlineData("lb-1")]
    [InlineData("web-1")]
    [InlineData("web-2")]
    [InlineData("app-1")]
    [InlineData("app-2")]
    [InlineData("db-1")]
    public void Recorded_state_equal_to_the_desired_state_plans_nothing_not_even_inventory(string device)
    {
        var model = SampleModel.Build();

        var plan = model.Plan(device, model.RecordedAfter(device));

        Assert.True(plan.IsValid);
        Assert.True(plan.IsEmpty);
        Assert.Empty(plan.Commands);
    }

    [Fact]
    public void Changed_file_rewrites_only_that_file_and_restarts_the_service_of_its_bundle()
    {
        var before = SampleModel.Build();
        var after = before.WithTemplate("nginx-conf", "listen {{ params.http_port }};\nworker_processes 4;\n");

        var plan = after.Plan("web-1", before.RecordedAfter("web-1"));

        Assert.Equal(["write /etc/nginx/nginx.conf", "service nginx restart", "inventory"], Steps(plan));
        Assert.Equal("content changed", plan.Commands[0].Reason);
        Assert.Equal("listen 80;\nworker_processes 4;\n", Assert.IsType<WriteFileCommand>(plan.Commands[0].Spec).Content);
    }

    [Fact]
    public void New_web_server_linked_to_the_load_balancer_rewrites_the_load_balancer_config()
    {
        var before = SampleModel.Build();
        var after = before with
        {
            Devices = [.. before.Devices, SampleModel.Device("web-3", "web", "10.0.1.13", "52:54:00:00:01:13")],
            Links = [.. before.Links, SampleModel.Link("lb-1", "web-3", "http", 8080)],
            Assignments = [.. before.Assignments, new RoleAssignment("web-3", "linux-base"), new RoleAssignment("web-3", "web")],
        };

        Assert.Equal(["write /etc/haproxy/haproxy.cfg", "service haproxy restart", "inventory"], Steps(after.Plan("lb-1", before.RecordedAfter("lb-1"))));
        Assert.Empty(after.Plan("web-1", before.RecordedAfter("web-1")).Commands);
    }

    [Fact]
    public void File_with_only_a_different_owner_is_rewritten()
    {
        var model = SampleModel.Build();
        var recorded = model.RecordedAfter("web-1");
        recorded = recorded with
        {
            Files = new Dictionary<string, RecordedFile>(recorded.Files) { ["/etc/nginx/nginx.conf"] = recorded.Files["/etc/nginx/nginx.conf"] with { Owner = "www-data" } },
        };

        var plan = model.Plan("web-1", recorded);

        Assert.Equal(["write /etc/nginx/nginx.conf", "service nginx restart", "inventory"], Steps(plan));
        Assert.Equal("mode or owner changed", plan.Commands[0].Reason);
    }

    [Fact]
    public void Package_of_a_new_version_is_upgraded_by_installing_it_and_its_service_restarts()
    {
        var before = SampleModel.Build();
        var after = before.WithPackage(SampleModel.Package("nginx", "1.26.0", service: "nginx", format: "deb"))
            .WithBundle("nginx", b => b with { Items = [new PackageItem("nginx", "1.26.0"), .. b.Items.Skip(1)] });

        var plan = after.Plan("web-1", before.RecordedAfter("web-1"));

        Assert.Equal(["install nginx 1.26.0", "service nginx restart", "inventory"], Steps(plan));
        Assert.Equal("upgrade from 1.24.0", plan.Commands[0].Reason);
        Assert.Equal(SampleModel.Digest("nginx@1.26.0"), Assert.IsType<InstallCommand>(plan.Commands[0].Spec).Package.Sha256);
    }

    [Fact]
    public void Rebuilt_package_with_the_same_version_but_another_digest_is_installed_again()
    {
        var model = SampleModel.Build();
        var recorded = model.RecordedAfter("app-1");
        recorded = recorded with
        {
            Packages = new Dictionary<string, RecordedPackage>(recorded.Packages) { ["appserver"] = recorded.Packages["appserver"] with { Sha256 = SampleModel.Digest("old build") } },
        };

        var plan = model.Plan("app-1", recorded);

        Assert.Equal(["install appserver 3.1", "service appserver restart", "inventory"], Steps(plan));
        Assert.Equal("content differs from 3.1", plan.Commands[0].Reason);
    }

    // ---- removals ----------------------------------------------------------------------------------

    [Fact]
    public void What_the_model_no_longer_wants_is_removed_first_in_reverse_role_order()
    {
        var before = SampleModel.Build();
        var after = WithChrony(before, "4.5").WithBundle("base", b => b with { Items = [new PackageItem("chrony", "4.5")] });
        after = after with { Assignments = [.. after.Assignments.Where(a => a.Device != "web-1" || a.Role == "linux-base")] };

        var plan = after.Plan("web-1", before.RecordedAfter("web-1"));

        Assert.Equal(
            [
                "delete /var/www/index.html", "remove shop-content",                                         // content
                "service nginx stop", "service nginx disable", "delete /etc/nginx/nginx.conf", "remove nginx", // app
                "delete /etc/motd", "remove base-tools",                                                     // os
                "install chrony 4.5", "service chronyd enable", "service chronyd start", "reboot (base system installed)",
                "inventory",
            ],
            Steps(plan));
        Assert.Equal(new RemoveCommand("nginx", "deb"), plan.Commands.Single(c => c.Spec is RemoveCommand { Name: "nginx" }).Spec);
    }

    [Fact]
    public void Content_role_removed_alone_removes_only_its_package_and_file()
    {
        var before = SampleModel.Build();
        var after = before with { Assignments = [.. before.Assignments.Where(a => a.Role != "shop-content")] };

        var plan = after.Plan("web-2", before.RecordedAfter("web-2"));

        Assert.Equal(["delete /var/www/index.html", "remove shop-content", "inventory"], Steps(plan));
    }

    [Fact]
    public void Service_no_longer_in_the_model_is_stopped_when_it_runs_and_disabled_when_it_starts_at_boot()
    {
        var model = SampleModel.Build();
        var recorded = WithService(model.RecordedAfter("web-1"), new RecordedService("apache2", Running: true, Enabled: true, "app"));
        recorded = WithService(recorded, new RecordedService("old-cron", Running: false, Enabled: false, "os"));
        recorded = WithService(recorded, new RecordedService("old-timer", Running: false, Enabled: true, "os"));

        var plan = model.Plan("web-1", recorded);

        Assert.Equal(["service apache2 stop", "service apache2 disable", "service old-timer disable", "inventory"], Steps(plan));
        Assert.All(plan.Commands.SkipLast(1), c => Assert.StartsWith("no longer in the model", c.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public void Decommissioned_device_loses_each_role_whole_in_reverse_role_order_content_then_app_then_os()
    {
        var before = SampleModel.Build();
        var after = before with { Assignments = [.. before.Assignments.Where(a => a.Device != "web-1")], Links = [.. before.Links.Where(l => l.From != "web-1" && l.To != "web-1")] };

        var plan = after.Plan("web-1", before.RecordedAfter("web-1"));

        Assert.Equal(
            [
                "delete /var/www/index.html", "remove shop-content",
                "service nginx stop", "service nginx disable", "delete /etc/nginx/nginx.conf", "remove nginx",
                "delete /etc/motd", "remove base-tools",
                "inventory",
            ],
            Steps(plan));
        // Each command says which kind of role it undoes, in that order.
        Assert.Equal(["content", "content", "app", "app", "app", "app", "os", "os"],
            plan.Commands.SkipLast(1).Select(c => System.Text.RegularExpressions.Regex.Match(c.Reason, @"\((\w+) role\)$").Groups[1].Value));
    }

    [Fact]
    public void Gone_device_is_emptied_in_reverse_role_order_too()
    {
        var model = SampleModel.Build();
        var recorded = model.RecordedAfter("web-1");

        var plan = Planner.Plan(new DesiredState("web-1", [], []), recorded, model.KindOrder());

        Assert.Equal(
            [
                "delete /var/www/index.html", "remove shop-content",
                "service nginx stop", "service nginx disable", "delete /etc/nginx/nginx.conf", "remove nginx",
                "delete /etc/motd", "remove base-tools",
                "inventory",
            ],
            Steps(plan));
    }

    // ---- reboot ------------------------------------------------------------------------------------

    [Fact]
    public void Reboot_point_fires_on_first_provisioning_before_the_next_role_starts()
    {
        var plan = SampleModel.Build().Plan("db-1", RecordedState.Empty);

        var reboot = Assert.Single(plan.Commands, c => c.Spec is RebootCommand);
        var rebootAt = plan.Commands.ToList().IndexOf(reboot);
        Assert.Equal("linux-base", reboot.Role);
        Assert.All(plan.Commands.Take(rebootAt), c => Assert.Equal("linux-base", c.Role));
        Assert.All(plan.Commands.Skip(rebootAt + 1).SkipLast(1), c => Assert.Equal("db", c.Role));
    }

    [Fact]
    public void Reboot_point_does_not_fire_when_only_content_changed()
    {
        var before = SampleModel.Build();
        var after = before.WithTemplate("index", "<h1>{{ params.site_title }} - new season</h1>\n");

        var plan = after.Plan("web-1", before.RecordedAfter("web-1"));

        Assert.Equal(["write /var/www/index.html", "inventory"], Steps(plan));
    }

    [Fact]
    public void Reboot_point_fires_when_its_own_role_changed()
    {
        var before = SampleModel.Build();
        var after = before.WithTemplate("motd", "{{ device.hostname }}: authorised use only\n");

        var plan = after.Plan("web-1", before.RecordedAfter("web-1"));

        Assert.Equal(["write /etc/motd", "reboot (base system installed)", "inventory"], Steps(plan));
    }

    [Fact]
    public void Reboot_point_ignores_changes_that_come_after_it()
    {
        var model = SampleModel.Build().WithRole("linux-base", r => r with { Items = [new RebootItem("too early"), new BundleItem("base")] });

        var plan = model.Plan("db-1", RecordedState.Empty);

        Assert.DoesNotContain(plan.Commands, c => c.Spec is RebootCommand);
        Assert.Equal("install base-tools 1.0", Steps(plan)[0]);
    }

    [Fact]
    public void Second_reboot_point_fires_only_for_changes_after_the_first()
    {
        static RigModel Model(string chrony) => WithChrony(SampleModel.Build(), "4.5", "4.6").WithRole("linux-base", r => r with
        {
            Items = [new BundleItem("base"), new RebootItem("after base"), new PackageItem("chrony", chrony), new ServiceItem("chronyd"), new RebootItem("after chrony")],
        });

        var first = Model("4.5").Plan("db-1", RecordedState.Empty);
        var upgrade = Model("4.6").Plan("db-1", Model("4.5").RecordedAfter("db-1"));

        Assert.Equal(
            ["install base-tools 1.0", "write /etc/motd", "reboot (after base)", "install chrony 4.5", "service chronyd enable", "service chronyd start", "reboot (after chrony)"],
            Steps(first).Take(7));
        Assert.Equal(["install chrony 4.6", "service chronyd restart", "reboot (after chrony)", "inventory"], Steps(upgrade));
    }

    [Fact]
    public void Package_that_requires_a_reboot_reboots_at_the_end_of_its_role()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("linux-image", "6.12", reboot: true))
            .WithRole("db", r => r with { Items = [.. r.Items, new PackageItem("linux-image", "6.12")] });

        var plan = model.Plan("db-1", RecordedState.Empty);

        Assert.Equal(
            [
                "install base-tools 1.0", "write /etc/motd", "reboot (base system installed)",
                "install postgresql 16.2", "write /etc/postgresql/pg_hba.conf", "service postgresql enable", "service postgresql start",
                "install linux-image 6.12", "reboot (linux-image 6.12 requires a reboot)",
                "inventory",
            ],
            Steps(plan));
    }

    [Fact]
    public void Package_that_requires_a_reboot_does_not_reboot_when_it_is_unchanged()
    {
        var before = SampleModel.Build().WithPackage(SampleModel.Package("linux-image", "6.12", reboot: true))
            .WithRole("db", r => r with { Items = [.. r.Items, new PackageItem("linux-image", "6.12")] });
        var after = before.WithTemplate("pg-hba", "local all postgres peer\n");

        var plan = after.Plan("db-1", before.RecordedAfter("db-1"));

        Assert.Equal(["write /etc/postgresql/pg_hba.conf", "service postgresql restart", "inventory"], Steps(plan));
    }

    [Fact]
    public void Package_reboot_and_a_later_reboot_point_in_the_same_role_reboot_once()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("linux-image", "6.12", reboot: true))
            .WithRole("linux-base", r => r with { Items = [new PackageItem("linux-image", "6.12"), .. r.Items] });

        var plan = model.Plan("lb-1", RecordedState.Empty);

        Assert.Equal("reboot (base system installed)", Assert.Single(plan.Commands, c => c.Spec is RebootCommand).Spec.Describe());
    }

    // ---- conflicts and errors ------------------------------------------------------------------------

    [Fact]
    public void Two_roles_wanting_different_versions_of_a_package_is_an_error_and_plans_nothing()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("nginx", "1.26.0", service: "nginx", format: "deb"))
            .WithRole("linux-base", r => r with { Items = [.. r.Items, new PackageItem("nginx", "1.26.0")] });

        var plan = model.Plan("web-1", RecordedState.Empty);

        Assert.False(plan.IsValid);
        Assert.Empty(plan.Commands);
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("package.conflict", "roles/web"), (error.Code, error.Where));
        foreach (var part in new[] { "'nginx'", "1.24.0", "1.26.0", "'web'", "'linux-base'" })
            Assert.Contains(part, error.Message, StringComparison.Ordinal);

        // lb-1 has no web role: no conflict there.
        Assert.True(model.Plan("lb-1", RecordedState.Empty).IsValid);
    }

    [Fact]
    public void Two_roles_writing_one_file_is_an_error_and_plans_nothing()
    {
        var model = SampleModel.Build().WithRole("shop-content", r => r with { Items = [.. r.Items, new FileItem("/etc/nginx/nginx.conf", "index")] });

        var plan = model.Plan("web-2", RecordedState.Empty);

        Assert.Empty(plan.Commands);
        var error = Assert.Single(plan.Errors);
        Assert.Equal(("file.conflict", "roles/shop-content"), (error.Code, error.Where));
        Assert.Contains("'/etc/nginx/nginx.conf' is written by role 'web' and again by role 'shop-content'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Desired_state_errors_prevent_every_command()
    {
        var model = SampleModel.Build().WithTemplate("index", "{{ params.missing_title }}");

        var plan = model.Plan("web-1", RecordedState.Empty);

        Assert.Empty(plan.Commands);
        Assert.Equal("template.error", Assert.Single(plan.Errors).Code);
    }

    // ---- services ----------------------------------------------------------------------------------

    [Fact]
    public void Stopped_service_is_started_not_restarted()
    {
        var model = SampleModel.Build();
        var recorded = WithService(model.RecordedAfter("web-1"), new RecordedService("nginx", Running: false, Enabled: true, "app"));

        var plan = model.Plan("web-1", recorded);

        Assert.Equal(["service nginx start", "inventory"], Steps(plan));
    }

    [Fact]
    public void Stopped_service_whose_bundle_changed_is_started_once()
    {
        var before = SampleModel.Build();
        var after = before.WithTemplate("nginx-conf", "listen 8080;\n");
        var recorded = WithService(before.RecordedAfter("web-1"), new RecordedService("nginx", Running: false, Enabled: true, "app"));

        Assert.Equal(["write /etc/nginx/nginx.conf", "service nginx start", "inventory"], Steps(after.Plan("web-1", recorded)));
    }

    [Fact]
    public void Running_service_that_is_not_enabled_is_only_enabled()
    {
        var model = SampleModel.Build();
        var recorded = WithService(model.RecordedAfter("web-1"), new RecordedService("nginx", Running: true, Enabled: false, "app"));

        Assert.Equal(["service nginx enable", "inventory"], Steps(model.Plan("web-1", recorded)));
    }

    [Fact]
    public void Service_wanted_stopped_and_disabled_is_disabled_and_stopped()
    {
        var model = SampleModel.Build().WithBundle("nginx", b => b with { Items = [.. b.Items.Take(2), new ServiceItem("nginx", Running: false, Enabled: false)] });
        var recorded = SampleModel.Build().RecordedAfter("web-1");

        var plan = model.Plan("web-1", recorded);

        Assert.Equal(["service nginx disable", "service nginx stop", "inventory"], Steps(plan));
    }

    [Fact]
    public void Service_wanted_stopped_is_not_started_when_its_bundle_changed()
    {
        var before = SampleModel.Build().WithBundle("nginx", b => b with { Items = [.. b.Items.Take(2), new ServiceItem("nginx", Running: false, Enabled: false)] });
        var after = before.WithTemplate("nginx-conf", "listen 8080;\n");

        Assert.Equal(["write /etc/nginx/nginx.conf", "inventory"], Steps(after.Plan("web-1", before.RecordedAfter("web-1"))));
    }

    [Fact]
    public void Only_the_service_of_the_changed_bundle_restarts()
    {
        var before = SampleModel.Build().WithPackage(SampleModel.Package("node-exporter", "1.8"));
        before = before with { Bundles = [.. before.Bundles, new Bundle { Name = "exporter", Items = [new PackageItem("node-exporter", "1.8"), new ServiceItem("node-exporter")] }] };
        before = before.WithRole("web", r => r with { Items = [new BundleItem("nginx"), new BundleItem("exporter")] });
        var after = before.WithTemplate("nginx-conf", "listen 8080;\n");

        Assert.Equal(["write /etc/nginx/nginx.conf", "service nginx restart", "inventory"], Steps(after.Plan("web-1", before.RecordedAfter("web-1"))));
    }

    [Fact]
    public void Service_named_by_a_package_is_started_with_it_on_first_install()
    {
        var model = WithChrony(SampleModel.Build(), "4.5");
        model = model with { Bundles = [.. model.Bundles, new Bundle { Name = "ntp", Items = [new PackageItem("chrony", "4.5")] }] };
        model = model.WithRole("lb", r => r with { Items = [.. r.Items, new BundleItem("ntp")] });

        var lbRole = model.Plan("lb-1", RecordedState.Empty).Commands.Where(c => c.Role == "lb").Select(c => c.Spec.Describe());

        Assert.Equal(
            [
                "install haproxy 2.8.3", "write /etc/haproxy/haproxy.cfg", "service haproxy enable", "service haproxy start",
                "install chrony 4.5", "service chronyd enable", "service chronyd start",
            ],
            lbRole);
    }

    [Fact]
    public void Service_named_by_a_package_restarts_when_the_package_is_upgraded()
    {
        RigModel Model(string version)
        {
            var model = WithChrony(SampleModel.Build(), "4.5", "4.6");
            model = model with { Bundles = [.. model.Bundles, new Bundle { Name = "ntp", Items = [new PackageItem("chrony", version)] }] };
            return model.WithRole("lb", r => r with { Items = [.. r.Items, new BundleItem("ntp")] });
        }

        var plan = Model("4.6").Plan("lb-1", Model("4.5").RecordedAfter("lb-1"));

        Assert.Equal(["install chrony 4.6", "service chronyd restart", "inventory"], Steps(plan));
    }

    [Fact]
    public void Running_service_named_by_a_package_is_left_alone_when_nothing_changed()
    {
        var model = WithChrony(SampleModel.Build(), "4.5");
        model = model with { Bundles = [.. model.Bundles, new Bundle { Name = "ntp", Items = [new PackageItem("chrony", "4.5")] }] };
        model = model.WithRole("lb", r => r with { Items = [.. r.Items, new BundleItem("ntp")] });

        var plan = model.Plan("lb-1", model.RecordedAfter("lb-1"));

        Assert.Empty(plan.Commands);
    }

    [Fact]
    public void Service_listed_before_its_configuration_restarts_after_the_file_is_written()
    {
        var model = SampleModel.Build().WithBundle("haproxy", b => b with
        {
            Items = [new ServiceItem("haproxy"), new PackageItem("haproxy", "2.8.3"), new FileItem("/etc/haproxy/haproxy.cfg", "lb-conf")],
        });
        var recorded = model.RecordedAfter("lb-1");
        var changed = model.WithTemplate("lb-conf", "maxconn 1\n");

        Assert.Equal(["write /etc/haproxy/haproxy.cfg", "service haproxy restart", "inventory"], Steps(changed.Plan("lb-1", recorded)));
    }

    [Fact]
    public void Bundle_included_twice_is_planned_once_without_a_conflict()
    {
        var once = SampleModel.Build();
        var twice = once.WithRole("web", r => r with { Items = [new BundleItem("nginx"), new BundleItem("nginx")] });

        Assert.Equal(Steps(once.Plan("web-1", RecordedState.Empty)), Steps(twice.Plan("web-1", RecordedState.Empty)));
    }

    [Fact]
    public void Same_package_in_two_roles_is_installed_once()
    {
        var model = SampleModel.Build().WithRole("web", r => r with { Items = [.. r.Items, new BundleItem("base")] });

        var steps = Steps(model.Plan("web-1", RecordedState.Empty));

        Assert.Single(steps, s => s.StartsWith("install base-tools", StringComparison.Ordinal));
        Assert.Single(steps, s => s == "write /etc/motd");
    }
}
