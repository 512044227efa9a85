using System.Security.Cryptography;
using System.Text;
using Rig.Model.Domain;
using Rig.Model.Planning;

namespace Rig.Model.Tests;

/// <summary>From the model to one device's desired state: roles in kind order, bundles flattened with their
/// scope, files rendered with their digest, errors the validator leaves to rendering.</summary>
public class DesiredStateBuilderTests
{
    [Fact]
    public void Roles_come_in_kind_order_whatever_the_assignment_order()
    {
        var model = SampleModel.Build();
        model = model with { Assignments = [.. model.Assignments.Reverse()] };

        var desired = model.Desired("web-1");

        Assert.Empty(desired.Errors);
        Assert.Equal(["linux-base", "web", "shop-content"], desired.Roles.Select(r => r.Name));
        Assert.Equal(["os", "app", "content"], desired.Roles.Select(r => r.Kind));
        Assert.Equal(["1", "1", "2026.1"], desired.Roles.Select(r => r.Version));
    }

    [Fact]
    public void Declared_role_kinds_come_after_the_built_in_ones_in_declaration_order()
    {
        var model = SampleModel.Build();
        model = model with
        {
            RoleKinds = ["monitoring", "firewall"],
            Roles = [.. model.Roles, new Role { Name = "fw", Kind = "firewall" }, new Role { Name = "mon", Kind = "monitoring" }],
            Assignments = [new RoleAssignment("lb-1", "fw"), new RoleAssignment("lb-1", "mon"), .. model.Assignments],
        };

        Assert.Equal(["linux-base", "lb", "mon", "fw"], model.Desired("lb-1").Roles.Select(r => r.Name));
    }

    [Fact]
    public void Nested_bundles_are_flattened_in_item_order_under_the_top_level_bundles_scope()
    {
        var model = SampleModel.Build();
        model = model with { Bundles = [.. model.Bundles, new Bundle { Name = "web-stack", Items = [new BundleItem("nginx"), new FileItem("/etc/logrotate.d/nginx", "motd")] }] };
        model = model.WithRole("web", r => r with { Items = [new BundleItem("web-stack"), new ServiceItem("cron")] });

        var web = model.Desired("web-1").Roles.Single(r => r.Name == "web");

        Assert.Collection(web.Steps,
            s => Assert.Equal(("bundle:web-stack", "nginx"), (s.Scope, Assert.IsType<DesiredPackage>(s).Package.Name)),
            s => Assert.Equal(("bundle:web-stack", "/etc/nginx/nginx.conf"), (s.Scope, Assert.IsType<DesiredFile>(s).Path)),
            s => Assert.Equal(("bundle:web-stack", "nginx"), (s.Scope, Assert.IsType<DesiredService>(s).Name)),
            s => Assert.Equal(("bundle:web-stack", "/etc/logrotate.d/nginx"), (s.Scope, Assert.IsType<DesiredFile>(s).Path)),
            s => Assert.Equal(("role:web", "cron"), (s.Scope, Assert.IsType<DesiredService>(s).Name)));
    }

    [Fact]
    public void Items_directly_in_a_role_share_the_roles_scope()
    {
        var content = SampleModel.Build().Desired("web-1").Roles.Single(r => r.Kind == "content");

        Assert.All(content.Steps, s => Assert.Equal("role:shop-content", s.Scope));
        Assert.Equal(2, content.Steps.Count);
    }

    [Fact]
    public void Rendered_file_carries_its_content_digest_mode_and_owner()
    {
        var desired = SampleModel.Build().Desired("app-2");

        var file = desired.Roles.SelectMany(r => r.Steps).OfType<DesiredFile>().Single(f => f.Path == "/etc/appserver/app.conf");

        Assert.Equal("port=9000\ndb=db-1:5432/shop\n", file.Content);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(file.Content))), file.Sha256);
        Assert.Equal(("0640", "root", "appserver", "app-conf"), (file.Mode, file.Owner, file.Group, file.Template));
    }

    [Fact]
    public void Reboot_point_and_service_state_are_carried_as_declared()
    {
        var model = SampleModel.Build().WithBundle("nginx", b => b with { Items = [.. b.Items.Take(2), new ServiceItem("nginx", Running: false, Enabled: false)] });

        var steps = model.Desired("web-1").Roles.SelectMany(r => r.Steps).ToList();

        Assert.Equal(new DesiredReboot("role:linux-base", "base system installed"), Assert.Single(steps.OfType<DesiredReboot>()));
        Assert.Equal(new DesiredService("bundle:nginx", "nginx", Running: false, Enabled: false), Assert.Single(steps.OfType<DesiredService>()));
    }

    [Fact]
    public void Unknown_device_is_an_error()
    {
        var desired = SampleModel.Build().Desired("web-9");

        var error = Assert.Single(desired.Errors);
        Assert.Equal(("device.unknown", "devices/web-9"), (error.Code, error.Where));
        Assert.Contains("'web-9'", error.Message, StringComparison.Ordinal);
        Assert.Empty(desired.Roles);
    }

    [Fact]
    public void Device_without_roles_wants_nothing()
    {
        var model = SampleModel.Build();
        model = model with { Assignments = [.. model.Assignments.Where(a => a.Device != "db-1")] };

        var desired = model.Desired("db-1");

        Assert.Empty(desired.Roles);
        Assert.Empty(desired.Errors);
    }

    [Fact]
    public void Bundle_cycle_is_not_followed_when_building_an_unvalidated_model()
    {
        var model = SampleModel.Build();
        model = model with
        {
            Bundles = [.. model.Bundles, new Bundle { Name = "loop-a", Items = [new BundleItem("nginx"), new BundleItem("loop-b")] }, new Bundle { Name = "loop-b", Items = [new BundleItem("loop-a")] }],
        };
        model = model.WithRole("web", r => r with { Items = [new BundleItem("loop-a")] });

        var web = model.Desired("web-1").Roles.Single(r => r.Name == "web");

        Assert.Equal(3, web.Steps.Count); // nginx's package, file and service, once
    }

    [Fact]
    public void Package_pinned_to_another_digest_is_refused_without_a_step()
    {
        var pinned = SampleModel.Digest("older build");
        var model = SampleModel.Build().WithRole("web", r => r with { Version = "4", Pins = new Dictionary<string, string> { ["nginx@1.24.0"] = pinned } });

        var desired = model.Desired("web-1");

        var error = Assert.Single(desired.Errors);
        Assert.Equal(("role.pin-mismatch", "bundles/nginx"), (error.Code, error.Where));
        Assert.Contains(pinned, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(desired.Roles.SelectMany(r => r.Steps), s => s is DesiredPackage { Package.Name: "nginx" });
    }

    [Fact]
    public void A_roles_pins_stay_with_its_devices_and_never_reach_a_device_or_model_without_pins()
    {
        var pinned = SampleModel.Digest("nginx@1.24.0");
        var model = SampleModel.Build().WithRole("web", r => r with { Pins = new Dictionary<string, string> { ["nginx@1.24.0"] = pinned } });

        Assert.Equal(pinned, model.Desired("web-1").Pins["nginx@1.24.0"]);

        // The shared empty set of pins must not have been filled by web-1's: neither db-1 (no pinned role) nor a device
        // of a model without any pins gets them.
        Assert.Empty(model.Desired("db-1").Pins);
        Assert.Empty(SampleModel.Build().Desired("web-1").Pins);
    }

    [Fact]
    public void Package_for_another_architecture_is_refused_without_a_step()
    {
        var model = SampleModel.Build().WithDevice("web-2", d => d with { Architecture = "arm64" });
        model = model with { Packages = [.. model.Packages.Select(p => p.Name == "nginx" ? p with { Architecture = "amd64" } : p)] };

        Assert.Empty(model.Desired("web-1").Errors);
        var desired = model.Desired("web-2");
        var error = Assert.Single(desired.Errors);
        Assert.Equal("package.incompatible", error.Code);
        Assert.Contains("device 'web-2' is debian/arm64", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(desired.Roles.SelectMany(r => r.Steps), s => s is DesiredPackage { Package.Name: "nginx" });
    }

    [Theory]
    [InlineData("any", "all", "rhel", "arm64", true)]
    [InlineData("linux", "noarch", "ubuntu", "amd64", true)]
    [InlineData("debian", "aarch64", "debian", "arm64", true)]
    [InlineData("debian", "x86_64", "debian", "arm64", false)]
    [InlineData("rhel", "all", "debian", "amd64", false)]
    [InlineData("linux", "all", "windows", "amd64", false)]
    [InlineData("any", "arm64", "debian", "amd64", false)]
    public void Package_fits_a_device_only_for_a_matching_os_family_and_architecture(string packageFamily, string packageArch, string deviceFamily, string deviceArch, bool fits)
    {
        Assert.Equal(fits, Compatibility.OsFamilyFits(packageFamily, deviceFamily) && Compatibility.ArchitectureFits(packageArch, deviceArch));
    }

    [Fact]
    public void Template_error_names_the_file_the_template_and_the_device()
    {
        var model = SampleModel.Build().WithTemplate("nginx-conf", "listen {{ params.listen_address }}:{{ params.http_port }};");

        var error = Assert.Single(model.Desired("web-2").Errors);

        Assert.Equal(("template.error", "bundles/nginx/file /etc/nginx/nginx.conf"), (error.Code, error.Where));
        Assert.Contains("'nginx-conf'", error.Message, StringComparison.Ordinal);
        Assert.Contains("device 'web-2'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'listen_address'", error.Message, StringComparison.Ordinal);
    }
}
