using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Validation;

namespace Rig.Model.Tests;

/// <summary>One test per rule of <see cref="ModelValidator"/>: each breaks the valid sample model in exactly one
/// place and checks the code, where, and that the message names the offending value.</summary>
public class ModelValidatorTests
{
    private static ModelError SingleError(RigModel model) => Assert.Single(ModelValidator.Validate(model));

    private static void AssertError(ModelError error, string code, string where, params string[] messageParts)
    {
        Assert.Equal(code, error.Code);
        Assert.Equal(where, error.Where);
        foreach (var part in messageParts)
            Assert.Contains(part, error.Message, StringComparison.Ordinal);
    }

    // ---- the whole model ---------------------------------------------------------------------------

    [Fact]
    public void Valid_three_tier_sample_has_no_errors()
    {
        Assert.Empty(ModelValidator.Validate(SampleModel.Build()));
    }

    [Fact]
    public void Every_error_of_a_model_with_several_problems_is_returned()
    {
        var model = SampleModel.Build()
            .WithDevice("web-1", d => d with { Site = "nowhere" })
            .WithDevice("web-2", d => d with { Hardware = d.Hardware with { Nics = [new Nic("eth0", "52-54-00-00-01-12")] } })
            .WithRole("web", r => r with { Items = [.. r.Items, new PackageItem("nginx", "9.9")] })
            .WithBundle("base", b => b with { Items = [.. b.Items, new RebootItem()] })
            .WithTemplate("index", "{% if %}");
        model = model with { Links = [.. model.Links, SampleModel.Link("db-1", "db-1", "sql")] };

        var errors = ModelValidator.Validate(model);

        Assert.Equal(
            ["device.mac-invalid", "item.reboot-in-bundle", "item.unknown-package", "link.self", "site.unknown", "template.syntax"],
            errors.Select(e => e.Code).Order(StringComparer.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains("'nowhere'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains("'52-54-00-00-01-12'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains("'nginx@9.9'", StringComparison.Ordinal));
    }

    [Fact]
    public void Sites_and_roles_name_known_customers_and_a_customers_package_stays_on_its_devices()
    {
        var model = SampleModel.Build();
        var owned = model with
        {
            Customers = [new Customer { Name = "acme" }],
            Sites = [model.Sites[0] with { Customer = "acme" }],
            Packages = [.. model.Packages.Select(p => p.Name == "nginx" ? p with { Customer = "acme" } : p)],
        };
        Assert.Empty(ModelValidator.Validate(owned));

        var unknown = owned with { Sites = [owned.Sites[0] with { Customer = "acne" }] };
        var errors = ModelValidator.Validate(unknown, renderTemplates: false);
        Assert.Contains(errors, e => e.Code == "customer.unknown" && e.Where == $"sites/{SampleModel.Site}/customer" && e.Message.Contains("'acne'", StringComparison.Ordinal));

        // The site moves to another customer: acme's nginx may no longer be installed on its web servers.
        var moved = owned with { Customers = [.. owned.Customers, new Customer { Name = "globex" }], Sites = [owned.Sites[0] with { Customer = "globex" }] };
        var foreign = Assert.Single(ModelValidator.Validate(moved, renderTemplates: false), e => e.Code == "package.foreign");
        Assert.Contains("nginx", foreign.Message, StringComparison.Ordinal);
        Assert.Contains("customer 'globex'", foreign.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("acme", foreign.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Structural_errors_come_back_without_rendering_templates()
    {
        // With a structural error the templates are not rendered: a missing parameter is not reported on top.
        var model = SampleModel.Build().WithDevice("db-1", d => d with { Site = "nowhere" }) with { Parameters = new Dictionary<string, string>() };

        var error = SingleError(model);

        Assert.Equal("site.unknown", error.Code);
    }

    [Fact]
    public void Templates_are_not_rendered_when_rendering_is_turned_off()
    {
        var model = SampleModel.Build() with { Parameters = new Dictionary<string, string>() };

        Assert.Empty(ModelValidator.Validate(model, renderTemplates: false));
        Assert.NotEmpty(ModelValidator.Validate(model, renderTemplates: true));
    }

    // ---- names ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData("sites")]
    [InlineData("devices")]
    [InlineData("bundles")]
    [InlineData("roles")]
    public void Object_name_that_breaks_the_naming_rule_is_reported(string collection)
    {
        var model = SampleModel.Build();
        model = collection switch
        {
            "sites" => model with { Sites = [.. model.Sites, new Site { Name = "Acme_Old" }] },
            "devices" => model with { Devices = [.. model.Devices, SampleModel.Device("Acme_Old", "web", "10.9.9.9", "52:54:00:09:09:09")] },
            "bundles" => model with { Bundles = [.. model.Bundles, new Bundle { Name = "Acme_Old" }] },
            _ => model with { Roles = [.. model.Roles, new Role { Name = "Acme_Old", Kind = "app" }] },
        };

        AssertError(SingleError(model), "name.invalid", $"{collection}/Acme_Old", "'Acme_Old'", "lower-case");
    }

    [Theory]
    [InlineData("sites", "acme")]
    [InlineData("devices", "web-1")]
    [InlineData("bundles", "nginx")]
    [InlineData("roles", "web")]
    public void Name_defined_twice_is_reported(string collection, string name)
    {
        var model = SampleModel.Build();
        model = collection switch
        {
            "sites" => model with { Sites = [.. model.Sites, new Site { Name = name }] },
            "devices" => model with { Devices = [.. model.Devices, SampleModel.Device(name, "web", "10.9.9.9", "52:54:00:09:09:09")] },
            "bundles" => model with { Bundles = [.. model.Bundles, new Bundle { Name = name }] },
            _ => model with { Roles = [.. model.Roles, new Role { Name = name, Kind = "app" }] },
        };

        AssertError(SingleError(model), "name.duplicate", $"{collection}/{name}", $"'{name}' is defined twice in {collection}");
    }

    [Fact]
    public void Template_defined_twice_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Templates = [.. model.Templates, new ConfigTemplate("motd", "again")] };

        AssertError(SingleError(model), "name.duplicate", "templates/motd", "'motd' is defined twice");
    }

    [Fact]
    public void Package_listed_twice_in_the_catalog_is_reported()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("nginx", "1.24.0"));

        AssertError(SingleError(model), "name.duplicate", "packages/nginx@1.24.0", "nginx@1.24.0 is listed twice");
    }

    [Fact]
    public void Role_kind_that_is_not_a_valid_name_is_reported()
    {
        var model = SampleModel.Build() with { RoleKinds = ["Fire Wall"] };

        AssertError(SingleError(model), "name.invalid", "roleKinds/Fire Wall", "'Fire Wall'");
    }

    [Theory]
    [InlineData("app")]
    [InlineData("firewall")]
    public void Role_kind_declared_twice_or_already_built_in_is_reported(string kind)
    {
        var model = SampleModel.Build() with { RoleKinds = kind == "app" ? [kind] : [kind, kind] };

        AssertError(SingleError(model), "name.duplicate", $"roleKinds/{kind}", $"'{kind}' is declared twice");
    }

    [Theory]
    [InlineData("global")]
    [InlineData("site")]
    [InlineData("role")]
    [InlineData("device")]
    public void Parameter_name_unusable_in_templates_is_reported_at_its_layer(string layer)
    {
        var bad = new Dictionary<string, string> { ["http-port"] = "80" };
        var model = SampleModel.Build();
        (model, var where) = layer switch
        {
            "global" => (model with { Parameters = bad }, "parameters/http-port"),
            "site" => (model with { Sites = [model.Sites[0] with { Parameters = bad }] }, "sites/acme/parameters/http-port"),
            "role" => (model.WithRole("web", r => r with { Parameters = bad }), "roles/web/parameters/http-port"),
            _ => (model.WithDevice("web-1", d => d with { Parameters = bad }), "devices/web-1/parameters/http-port"),
        };

        // Global parameters replaced: keep the ones the templates read, so that only the name error remains.
        if (layer == "global")
            model = model with { Parameters = new Dictionary<string, string>(SampleModel.Build().Parameters) { ["http-port"] = "80" } };

        AssertError(SingleError(model), "parameter.name-invalid", where, "'http-port'");
    }

    // ---- devices -------------------------------------------------------------------------------------

    [Fact]
    public void Device_in_a_site_that_does_not_exist_is_reported()
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with { Site = "acme-old" });

        AssertError(SingleError(model), "site.unknown", "devices/web-1/site", "'web-1'", "'acme-old'");
    }

    [Fact]
    public void Host_name_that_is_not_a_dns_name_is_reported()
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with { Hostname = "web_1.example.com" });

        AssertError(SingleError(model), "device.hostname-invalid", "devices/web-1/hostname", "'web_1.example.com'");
    }

    [Fact]
    public void Invalid_os_family_is_reported()
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with { OsFamily = "Debian 12" });

        AssertError(SingleError(model), "device.os-family-invalid", "devices/web-1/osFamily", "'Debian 12'");
    }

    [Fact]
    public void Invalid_architecture_is_reported()
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with { Architecture = "x86 64" });

        AssertError(SingleError(model), "device.architecture-invalid", "devices/web-1/architecture", "'x86 64'");
    }

    [Fact]
    public void Device_address_that_is_not_an_ip_address_is_reported()
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with { Addresses = ["10.0.1.11", "10.0.1.300"] });

        AssertError(SingleError(model), "device.address-invalid", "devices/web-1/addresses/1", "'10.0.1.300'");
    }

    [Fact]
    public void Nic_address_that_is_not_an_ip_address_is_reported()
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with { Hardware = d.Hardware with { Nics = [new Nic("eth0", "52:54:00:00:01:11", "web-1.local")] } });

        AssertError(SingleError(model), "device.address-invalid", "devices/web-1/hardware/nics/0/address", "'web-1.local'");
    }

    [Theory]
    [InlineData("cpu", "devices/web-1/hardware/cpuCount", "CPU count -1")]
    [InlineData("memory", "devices/web-1/hardware/memoryMiB", "Memory -512 MiB")]
    [InlineData("disk-size", "devices/web-1/hardware/disks/0", "got 0 GiB")]
    [InlineData("disk-name", "devices/web-1/hardware/disks/0", "Disk ' '")]
    public void Impossible_hardware_facts_are_reported(string fact, string where, string named)
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with
        {
            Hardware = fact switch
            {
                "cpu" => d.Hardware with { CpuCount = -1 },
                "memory" => d.Hardware with { MemoryMiB = -512 },
                "disk-size" => d.Hardware with { Disks = [new Disk("sda", 0)] },
                _ => d.Hardware with { Disks = [new Disk(" ", 100)] },
            },
        });

        AssertError(SingleError(model), "device.hardware-invalid", where, named);
    }

    [Theory]
    [InlineData("52:54:00:12:34")]
    [InlineData("52-54-00-12-34-56")]
    [InlineData("52:54:00:12:34:5g")]
    [InlineData("52:54:00:12:34:56:78")]
    public void Bad_mac_address_is_reported_with_its_nic(string mac)
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with { Hardware = d.Hardware with { Nics = [new Nic("eth1", mac)] } });

        AssertError(SingleError(model), "device.mac-invalid", "devices/web-1/hardware/nics/0/mac", $"'{mac}'", "eth1");
    }

    [Fact]
    public void Mac_address_on_two_devices_is_reported_whatever_its_case()
    {
        var model = SampleModel.Build().WithDevice("web-2", d => d with { Hardware = d.Hardware with { Nics = [new Nic("eth0", "52:54:00:00:01:AB")] } })
            .WithDevice("web-1", d => d with { Hardware = d.Hardware with { Nics = [new Nic("eth0", "52:54:00:00:01:ab")] } });

        AssertError(SingleError(model), "device.mac-duplicate", "devices/web-2/hardware/nics/0/mac", "'52:54:00:00:01:AB'", "'web-1'");
    }

    // ---- links ---------------------------------------------------------------------------------------

    [Fact]
    public void Link_to_or_from_an_unknown_device_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Links = [.. model.Links, SampleModel.Link("lb-9", "web-1", "http"), SampleModel.Link("lb-1", "web-9", "http")] };

        var errors = ModelValidator.Validate(model);

        Assert.Collection(errors,
            e => AssertError(e, "link.unknown-device", "links/8 (lb-9 -> web-1)", "starts at device 'lb-9'"),
            e => AssertError(e, "link.unknown-device", "links/9 (lb-1 -> web-9)", "points to device 'web-9'"));
    }

    [Fact]
    public void Device_linked_to_itself_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Links = [.. model.Links, SampleModel.Link("db-1", "db-1", "sql")] };

        AssertError(SingleError(model), "link.self", "links/8 (db-1 -> db-1)", "'db-1'");
    }

    [Fact]
    public void Link_purpose_that_is_not_a_name_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Links = [.. model.Links, SampleModel.Link("lb-1", "app-1", "Health Check")] };

        AssertError(SingleError(model), "link.purpose-invalid", "links/8 (lb-1 -> app-1)", "'Health Check'");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65536)]
    public void Link_port_outside_the_tcp_range_is_reported(int port)
    {
        var model = SampleModel.Build();
        model = model with { Links = [.. model.Links, SampleModel.Link("lb-1", "app-1", "monitor", port)] };

        AssertError(SingleError(model), "link.port-invalid", "links/8 (lb-1 -> app-1)", $"Port {port}");
    }

    [Fact]
    public void Same_link_declared_twice_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Links = [.. model.Links, SampleModel.Link("lb-1", "web-2", "http", 8081)] };

        AssertError(SingleError(model), "link.duplicate", "links/8 (lb-1 -> web-2)", "lb-1 -> web-2 purpose=http");
    }

    // ---- packages ------------------------------------------------------------------------------------

    [Fact]
    public void Package_name_that_could_look_like_an_option_is_reported()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("-rf", "1.0"));

        AssertError(SingleError(model), "package.name-invalid", "packages/-rf@1.0", "'-rf'");
    }

    [Fact]
    public void Package_version_with_forbidden_characters_is_reported()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("tool", "1.0;reboot"));

        AssertError(SingleError(model), "package.version-invalid", "packages/tool@1.0;reboot", "'1.0;reboot'");
    }

    [Fact]
    public void Unknown_package_format_is_reported()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("tool", "1.0", format: "zip"));

        AssertError(SingleError(model), "package.format-unknown", "packages/tool@1.0", "'zip'");
    }

    [Theory]
    [InlineData("ABCDEF")]
    [InlineData("not-a-digest")]
    public void Package_digest_that_is_not_lower_case_sha256_is_reported(string prefix)
    {
        var digest = prefix == "ABCDEF" ? SampleModel.Digest("tool").ToUpperInvariant() : prefix;
        var model = SampleModel.Build().WithPackage(SampleModel.Package("tool", "1.0") with { Sha256 = digest });

        AssertError(SingleError(model), "package.digest-invalid", "packages/tool@1.0", $"'{digest}'");
    }

    [Fact]
    public void Negative_package_size_is_reported()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("tool", "1.0") with { Size = -5 });

        AssertError(SingleError(model), "package.size-invalid", "packages/tool@1.0", "Size -5");
    }

    // ---- templates -----------------------------------------------------------------------------------

    [Fact]
    public void Template_syntax_error_names_the_template_and_the_line()
    {
        var model = SampleModel.Build().WithTemplate("index", "<html>\n<body>\n<h1>{{ params.site_title | }}</h1>\n</body>\n");

        var error = SingleError(model);

        AssertError(error, "template.syntax", "templates/index", "'index'");
        Assert.Matches(@"at \(3:\d+\)", error.Message);
    }

    [Fact]
    public void Unclosed_block_is_a_syntax_error_naming_the_missing_tag()
    {
        var model = SampleModel.Build().WithTemplate("index", "<html>\n{% if params.site_title %}\n<h1>{{ params.site_title }}</h1>");

        var error = SingleError(model);

        AssertError(error, "template.syntax", "templates/index", "'index'", "{% endif %}");
        Assert.Matches(@"at \(3:\d+\)", error.Message);
    }

    [Fact]
    public void Unknown_tag_is_a_syntax_error_on_its_line()
    {
        var model = SampleModel.Build().WithTemplate("motd", "one\ntwo\n{% bogus %}\n");

        var error = SingleError(model);

        AssertError(error, "template.syntax", "templates/motd", "'motd'", "bogus");
        Assert.Matches(@"\(3:\d+\)", error.Message);
    }

    [Fact]
    public void Missing_template_parameter_is_reported_for_each_device_naming_the_parameter()
    {
        var model = SampleModel.Build();
        model = model with { Parameters = model.Parameters.Where(p => p.Key != "motd_banner").ToDictionary() };

        var errors = ModelValidator.Validate(model);

        Assert.Equal(6, errors.Count);
        Assert.All(errors, e =>
        {
            Assert.Equal("template.error", e.Code);
            Assert.Equal("bundles/base/file /etc/motd", e.Where);
            Assert.Contains("'motd_banner'", e.Message, StringComparison.Ordinal);
            Assert.Contains("'motd'", e.Message, StringComparison.Ordinal);
        });
        Assert.Equal(
            model.Devices.Select(d => d.Name).Order(StringComparer.Ordinal),
            errors.Select(e => model.Devices.Single(d => e.Message.Contains($"device '{d.Name}'", StringComparison.Ordinal)).Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Missing_parameter_is_reported_only_for_the_device_that_lacks_it()
    {
        // db_name is a site parameter; moved to one device, the other devices reading it are reported.
        var model = SampleModel.Build();
        model = model with { Sites = [model.Sites[0] with { Parameters = new Dictionary<string, string> { ["site_title"] = "Acme shop" } }] };
        model = model.WithDevice("db-1", d => d with { Parameters = new Dictionary<string, string> { ["db_name"] = "shop" } })
            .WithDevice("app-1", d => d with { Parameters = new Dictionary<string, string> { ["db_name"] = "shop" } });

        var error = SingleError(model);

        AssertError(error, "template.error", "bundles/appserver/file /etc/appserver/app.conf", "'app-conf'", "device 'app-2'", "'db_name'");
    }

    [Fact]
    public void Runaway_template_is_stopped_and_reported()
    {
        var model = SampleModel.Build().WithTemplate("index", "{% for i in (1..5000000) %}x{% endfor %}");

        var errors = ModelValidator.Validate(model);

        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => AssertError(e, "template.error", "roles/shop-content/file /var/www/index.html", "'index'", "rendering failed"));
    }

    // ---- bundles -------------------------------------------------------------------------------------

    [Fact]
    public void Bundle_cycle_is_reported_once_with_its_path()
    {
        var model = SampleModel.Build();
        model = model with
        {
            Bundles =
            [
                .. model.Bundles,
                new Bundle { Name = "loop-a", Items = [new BundleItem("loop-b")] },
                new Bundle { Name = "loop-b", Items = [new BundleItem("base"), new BundleItem("loop-c")] },
                new Bundle { Name = "loop-c", Items = [new BundleItem("loop-a")] },
            ],
        };

        AssertError(SingleError(model), "bundle.cycle", "bundles/loop-a", "loop-a -> loop-b -> loop-c -> loop-a");
    }

    [Fact]
    public void Bundle_that_includes_itself_is_a_cycle()
    {
        var model = SampleModel.Build().WithBundle("nginx", b => b with { Items = [.. b.Items, new BundleItem("nginx")] });

        AssertError(SingleError(model), "bundle.cycle", "bundles/nginx", "nginx -> nginx");
    }

    [Fact]
    public void Reboot_point_in_a_bundle_is_reported()
    {
        var model = SampleModel.Build().WithBundle("base", b => b with { Items = [.. b.Items, new RebootItem("kernel")] });

        AssertError(SingleError(model), "item.reboot-in-bundle", "bundles/base/items/2", "belongs in a role");
    }

    [Fact]
    public void Reboot_point_in_a_role_is_allowed()
    {
        var model = SampleModel.Build().WithRole("web", r => r with { Items = [.. r.Items, new RebootItem("web role")] });

        Assert.Empty(ModelValidator.Validate(model));
    }

    // ---- roles ---------------------------------------------------------------------------------------

    [Fact]
    public void Role_of_an_undeclared_kind_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Roles = [.. model.Roles, new Role { Name = "fw", Kind = "firewall" }] };

        AssertError(SingleError(model), "role.kind-unknown", "roles/fw/kind", "'fw'", "'firewall'");
    }

    [Fact]
    public void Role_of_a_declared_kind_is_accepted()
    {
        var model = SampleModel.Build();
        model = model with { RoleKinds = ["firewall"], Roles = [.. model.Roles, new Role { Name = "fw", Kind = "firewall" }] };

        Assert.Empty(ModelValidator.Validate(model));
    }

    [Theory]
    [InlineData("")]
    [InlineData("v 2")]
    public void Role_version_that_is_not_a_version_is_reported(string version)
    {
        var model = SampleModel.Build().WithRole("web", r => r with { Version = version });

        AssertError(SingleError(model), "role.version-invalid", "roles/web/version", $"'{version}'");
    }

    [Fact]
    public void Role_pin_of_a_package_not_in_the_store_is_reported()
    {
        var model = SampleModel.Build().WithRole("web", r => r with { Pins = new Dictionary<string, string> { ["nginx@1.22.0"] = SampleModel.Digest("x") } });

        AssertError(SingleError(model), "role.pin-unknown", "roles/web/pins/nginx@1.22.0", "'web'", "'nginx@1.22.0'");
    }

    [Fact]
    public void Role_pin_that_differs_from_the_stores_digest_is_reported_with_both_digests()
    {
        var pinned = SampleModel.Digest("nginx rebuilt");
        var model = SampleModel.Build().WithRole("web", r => r with { Version = "7", Pins = new Dictionary<string, string> { ["nginx@1.24.0"] = pinned } });

        AssertError(SingleError(model), "role.pin-mismatch", "roles/web/pins/nginx@1.24.0",
            "'web' version 7", "nginx@1.24.0", pinned, SampleModel.Digest("nginx@1.24.0"));
    }

    [Fact]
    public void Role_pin_equal_to_the_stores_digest_is_accepted()
    {
        var model = SampleModel.Build().WithRole("web", r => r with { Pins = new Dictionary<string, string> { ["nginx@1.24.0"] = SampleModel.Digest("nginx@1.24.0") } });

        Assert.Empty(ModelValidator.Validate(model));
    }

    // ---- assignments ---------------------------------------------------------------------------------

    [Fact]
    public void Role_assigned_to_an_unknown_device_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Assignments = [.. model.Assignments, new RoleAssignment("web-3", "web")] };

        AssertError(SingleError(model), "assignment.unknown-device", "assignments/web-3/web", "'web-3'", "'web'");
    }

    [Fact]
    public void Unknown_role_assigned_to_a_device_is_reported()
    {
        var model = SampleModel.Build();
        model = model with { Assignments = [.. model.Assignments, new RoleAssignment("web-1", "cache")] };

        AssertError(SingleError(model), "assignment.unknown-role", "assignments/web-1/cache", "'web-1'", "'cache'");
    }

    [Fact]
    public void Two_roles_of_one_kind_on_a_device_are_reported_naming_both()
    {
        var model = SampleModel.Build();
        model = model with { Assignments = [.. model.Assignments, new RoleAssignment("web-1", "app")] };

        AssertError(SingleError(model), "assignment.kind-conflict", "assignments/web-1/app", "'web-1'", "kind 'app'", "'web' and 'app'");
    }

    // ---- items ---------------------------------------------------------------------------------------

    [Fact]
    public void Package_item_not_in_the_store_is_reported()
    {
        var model = SampleModel.Build().WithBundle("nginx", b => b with { Items = [new PackageItem("nginx", "1.25.0"), .. b.Items.Skip(1)] });

        AssertError(SingleError(model), "item.unknown-package", "bundles/nginx/items/0", "'nginx@1.25.0'");
    }

    [Fact]
    public void Bundle_item_naming_an_unknown_bundle_is_reported()
    {
        var model = SampleModel.Build().WithRole("web", r => r with { Items = [.. r.Items, new BundleItem("php")] });

        AssertError(SingleError(model), "item.unknown-bundle", "roles/web/items/1", "'php'");
    }

    [Theory]
    [InlineData("etc/motd", "not absolute")]
    [InlineData("/etc/../shadow", "'..'")]
    [InlineData("/etc/./motd", "'.'")]
    [InlineData("/", "root directory")]
    [InlineData("/etc/mo\ttd", "control character")]
    public void File_path_that_is_not_a_plain_absolute_path_is_reported(string path, string why)
    {
        var model = SampleModel.Build().WithBundle("base", b => b with { Items = [b.Items[0], new FileItem(path, "motd")] });

        AssertError(SingleError(model), "item.path-invalid", "bundles/base/items/1", why);
    }

    [Fact]
    public void File_from_an_unknown_template_is_reported()
    {
        var model = SampleModel.Build().WithBundle("base", b => b with { Items = [b.Items[0], new FileItem("/etc/motd", "banner")] });

        AssertError(SingleError(model), "item.unknown-template", "bundles/base/items/1", "'/etc/motd'", "'banner'");
    }

    [Theory]
    [InlineData("4755")]
    [InlineData("rw-r--r--")]
    [InlineData("0648")]
    public void File_mode_that_is_not_a_plain_octal_mode_is_reported(string mode)
    {
        var model = SampleModel.Build().WithBundle("base", b => b with { Items = [b.Items[0], new FileItem("/etc/motd", "motd", Mode: mode)] });

        AssertError(SingleError(model), "item.mode-invalid", "bundles/base/items/1", $"'{mode}'", "'/etc/motd'");
    }

    [Theory]
    [InlineData("root;id", "root")]
    [InlineData("root", "-wheel")]
    public void File_owner_or_group_that_is_not_a_user_name_is_reported(string owner, string group)
    {
        var model = SampleModel.Build().WithBundle("base", b => b with { Items = [b.Items[0], new FileItem("/etc/motd", "motd", Owner: owner, Group: group)] });

        AssertError(SingleError(model), "item.owner-invalid", "bundles/base/items/1", $"'{owner}'", $"'{group}'", "'/etc/motd'");
    }

    [Fact]
    public void Service_name_with_shell_syntax_is_reported()
    {
        var model = SampleModel.Build().WithBundle("nginx", b => b with { Items = [.. b.Items.Take(2), new ServiceItem("nginx; reboot")] });

        AssertError(SingleError(model), "item.service-invalid", "bundles/nginx/items/2", "'nginx; reboot'");
    }

    // ---- compatibility (found while rendering each device's desired state) -----------------------------

    [Fact]
    public void Package_for_another_os_family_is_reported_for_the_device()
    {
        var model = SampleModel.Build();
        model = model with { Packages = [.. model.Packages.Select(p => p.Name == "postgresql" ? p with { OsFamily = "rhel" } : p)] };

        AssertError(SingleError(model), "package.incompatible", "bundles/postgres",
            "'postgresql@16.2'", "rhel/all", "device 'db-1'", "debian/amd64");
    }

    [Fact]
    public void Package_for_another_architecture_is_reported_for_the_device()
    {
        var model = SampleModel.Build();
        model = model with { Packages = [.. model.Packages.Select(p => p.Name == "postgresql" ? p with { Architecture = "arm64" } : p)] };

        AssertError(SingleError(model), "package.incompatible", "bundles/postgres",
            "'postgresql@16.2'", "any/arm64", "device 'db-1'", "debian/amd64");
    }

    [Fact]
    public void Linux_package_with_an_architecture_alias_fits_a_debian_amd64_device()
    {
        var model = SampleModel.Build();
        model = model with { Packages = [.. model.Packages.Select(p => p.Name == "postgresql" ? p with { OsFamily = "linux", Architecture = "x86_64" } : p)] };

        Assert.Empty(ModelValidator.Validate(model));
    }

    [Fact]
    public void Template_name_with_shell_syntax_is_refused()
    {
        var model = SampleModel.Build() with { Templates = [.. SampleModel.Build().Templates, new ConfigTemplate("evil;rm", "x")] };

        var error = Assert.Single(ModelValidator.Validate(model), e => e.Code == "name.invalid");
        Assert.Equal("templates/evil;rm", error.Where);
        Assert.Contains("'evil;rm'", error.Message, StringComparison.Ordinal);
    }
}
