using Rig.Model.Files;
using Rig.Model.Validation;

namespace Rig.Model.Tests.Files;

/// <summary>Validator errors (ModelError.Where paths) get the file, line and column of what they are about
/// through the SourceMap that Read records.</summary>
public class ModelFileLocateTests
{
    private static readonly string Digest = SampleModel.Digest("nginx@1.24.0");

    private static readonly string Site = $$"""
        parameters: {http_port: "80"}
        sites: [{name: shop}]
        packages:
          - {name: nginx, version: 1.24.0, sha256: {{Digest}}}
        """;

    private const string Devices = """
        devices:
          - name: lb-1
            site: shop
            addresses: [10.0.0.10]
            hardware:
              nics:
                - {name: eth0, mac: "52:54:00:00:00:10"}
            roles: [lb]
          - name: web-1
            site: shop
            addresses: [10.0.0.11]
            hardware:
              nics:
                - {name: eth0, mac: "52:54:00:00:00:11"}
            roles: [web]
        links:
          - {from: lb-1, to: web-1, purpose: http, port: 80}
        """;

    private const string Roles = """
        bundles:
          - name: web
            items:
              - package: nginx 1.24.0
              - file: /etc/nginx/nginx.conf
                template: nginx.conf
              - service: nginx
        roles:
          - {name: lb, kind: app, items: [{file: /etc/lb.cfg, template: lb.cfg}]}
          - name: web
            kind: app
            items:
              - bundle: web
        templates:
          - {name: nginx.conf, text: "listen {{ params.http_port }};\n"}
          - {name: lb.cfg, file: templates/lb.cfg.liquid}
        """;

    private const string LbTemplate = "{% for l in links %}server {{ l.address }}:{{ l.port }}\n{% endfor %}";

    /// <summary>Read the site (with one file changed), validate it, and locate the errors.</summary>
    private static IReadOnlyList<ModelFileError> Located(string? site = null, string? devices = null, string? roles = null, string? lbTemplate = null)
    {
        var read = ModelFileErrorTests.Read(("site.yaml", site ?? Site), ("devices.yaml", devices ?? Devices), ("roles.yaml", roles ?? Roles), ("templates/lb.cfg.liquid", lbTemplate ?? LbTemplate));
        Assert.Empty(read.Errors);
        return ModelFiles.Locate(ModelValidator.Validate(read.Model!), read.Map);
    }

    /// <summary>1-based line and column of <paramref name="marker"/> in <paramref name="text"/>.</summary>
    private static SourceLocation At(string file, string text, string marker)
    {
        var index = text.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(index >= 0, $"'{marker}' is not in the text");
        return AtIndex(file, text, index);
    }

    private static SourceLocation AtIndex(string file, string text, int index)
    {
        var line = text[..index].Count(c => c == '\n') + 1;
        var column = index - (text.LastIndexOf('\n', index) + 1) + 1;
        return new SourceLocation(file, line, column);
    }

    private static void AssertLocated(ModelFileError error, string code, SourceLocation location, string key)
    {
        Assert.Equal(code, error.Code);
        Assert.Equal(location, error.Location);
        Assert.Equal(key, error.Key);
    }

    [Fact]
    public void Valid_site_has_no_errors_and_every_path_has_a_position()
    {
        Assert.Empty(Located());
        var read = ModelFileErrorTests.Read(("site.yaml", Site), ("devices.yaml", Devices), ("roles.yaml", Roles), ("templates/lb.cfg.liquid", LbTemplate));
        Assert.Equal(At("devices.yaml", Devices, "mac: \"52:54:00:00:00:11\""), read.Map.Find("devices/web-1/hardware/nics/0/mac"));
        Assert.Equal(At("devices.yaml", Devices, "web]"), read.Map.Find("assignments/web-1/web"));
        Assert.Equal(At("site.yaml", Site, "{name: nginx"), read.Map.Find("packages/nginx@1.24.0"));
        Assert.Equal(At("roles.yaml", Roles, "file: /etc/nginx"), read.Map.Find("bundles/web/items/1"));
    }

    [Fact]
    public void Link_to_an_unknown_device_points_at_the_link()
    {
        var devices = Devices + "\n  - {from: lb-1, to: web-9, purpose: http}\n";

        var error = Assert.Single(Located(devices: devices));

        AssertLocated(error, "link.unknown-device", At("devices.yaml", devices, "{from: lb-1, to: web-9"), "links/1 (lb-1 -> web-9)");
        Assert.Contains("web-9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bundle_cycle_points_at_the_bundle_it_closes_on()
    {
        var roles = Roles
            .Replace("      - service: nginx\n", "      - service: nginx\n      - bundle: extra\n  - name: extra\n    items:\n      - bundle: web\n", StringComparison.Ordinal);

        var error = Assert.Single(Located(roles: roles));

        AssertLocated(error, "bundle.cycle", At("roles.yaml", roles, "name: web"), "bundles/web");
        Assert.Contains("web -> extra -> web", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_template_parameter_points_at_the_file_item_that_renders_it()
    {
        var roles = Roles.Replace("listen {{ params.http_port }}", "listen {{ params.http_port }} {{ params.backlog }}", StringComparison.Ordinal);

        var error = Assert.Single(Located(roles: roles));

        AssertLocated(error, "template.error", At("roles.yaml", roles, "file: /etc/nginx/nginx.conf"), "bundles/web/file /etc/nginx/nginx.conf");
        Assert.Contains("backlog", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_mac_points_at_the_second_mac_key()
    {
        var devices = Devices.Replace("52:54:00:00:00:11", "52:54:00:00:00:10", StringComparison.Ordinal);
        var secondMac = devices.LastIndexOf("mac:", StringComparison.Ordinal);

        var error = Assert.Single(Located(devices: devices));

        AssertLocated(error, "device.mac-duplicate", AtIndex("devices.yaml", devices, secondMac), "devices/web-1/hardware/nics/0/mac");
        Assert.Contains("lb-1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_role_kind_points_at_the_kind_key()
    {
        var roles = Roles.Replace("{name: lb, kind: app", "{name: lb, kind: aplication", StringComparison.Ordinal);

        var error = Assert.Single(Located(roles: roles));

        AssertLocated(error, "role.kind-unknown", At("roles.yaml", roles, "kind: aplication"), "roles/lb/kind");
    }

    [Fact]
    public void Template_syntax_error_points_into_the_template_file()
    {
        var template = "backend web\n{% for l in links %}server {{ l.address }\n{% endfor %}";

        var error = Assert.Single(Located(lbTemplate: template));

        Assert.Equal("template.syntax", error.Code);
        Assert.Equal("templates/lb.cfg.liquid", error.Location.File);
        Assert.Equal(2, error.Location.Line);
    }

    [Fact]
    public void Find_matches_whole_path_segments_only()
    {
        var read = ModelFileErrorTests.Read(("devices.yaml", Devices));

        Assert.Equal(At("devices.yaml", Devices, "{from: lb-1"), read.Map.Find("links/0 (lb-1 -> web-1)"));
        Assert.Equal(At("devices.yaml", Devices, "links:"), read.Map.Find("links/00 (lb-1 -> web-1)"));
        Assert.Equal(At("devices.yaml", Devices, "name: web-1"), read.Map.Find("devices/web-1/no/such/field"));
        Assert.Equal(At("devices.yaml", Devices, "devices:"), read.Map.Find("devices/web-10"));
        Assert.Null(read.Map.Find("sites/shop"));
        var kinds = ModelFileErrorTests.Read(("kinds.yaml", "roleKinds: [firewall, monitoring]\n")).Map;
        Assert.Equal(new SourceLocation("kinds.yaml", 1, 23), kinds.Find("roleKinds/monitoring"));
        Assert.Equal(SourceLocation.Unknown, ModelFiles.Locate([new Planning.ModelError("x", "nowhere/at/all", "m")], read.Map).Single().Location);
    }
}
