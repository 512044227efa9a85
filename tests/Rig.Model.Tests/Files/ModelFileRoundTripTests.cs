using System.Text.Json;
using Rig.Model.Domain;
using Rig.Model.Files;

namespace Rig.Model.Tests.Files;

/// <summary>Write then Read gives the same model; strings YAML would read as other types stay exact; a
/// directory's files merge into one model.</summary>
public class ModelFileRoundTripTests
{
    private static string Json(RigModel model) => JsonSerializer.Serialize(model, ModelJson.Default.RigModel);

    private static RigModel RoundTrip(RigModel model)
    {
        var files = ModelFiles.Write(model);
        var result = ModelFiles.Read(files);
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors) + "\n" + string.Join("\n", files.Select(f => $"--- {f.Path}\n{f.Text}")));
        return result.Model!;
    }

    [Fact]
    public void Sample_site_with_packages_pins_and_explicit_assignments_reads_back_equal()
    {
        var model = SampleModel.Build()
            .WithRole("web", r => r with { Pins = new Dictionary<string, string> { ["nginx@1.24.0"] = SampleModel.Digest("nginx@1.24.0") } });
        model = model with { RoleKinds = ["firewall", "monitoring"] };

        Assert.Equal(Json(model), Json(RoundTrip(model)));
        // The sample assigns linux-base to every device first: only an assignments list keeps that order.
        Assert.Contains("assignments:", ModelFiles.Write(model).Single(f => f.Path == "devices.yaml").Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_yaml_would_read_as_numbers_booleans_or_null_stay_exact_text()
    {
        var model = SampleModel.Build()
            .WithBundle("appserver", b => b with { Items = [new PackageItem("appserver", "1.10"), new FileItem("/etc/a", "motd", "0644", "1000", "true"), new FileItem("/etc/b", "motd", "644"), new ServiceItem("svc", Running: false, Enabled: false)] })
            .WithRole("web", r => r with { Version = "2", Parameters = new Dictionary<string, string> { ["empty"] = "", ["tilde"] = "~", ["null_word"] = "null", ["yes_word"] = "yes", ["octal"] = "0755", ["float"] = "1e3", ["date"] = "2026-11-01", ["colon"] = "a: b", ["hash"] = "x # y", ["dash"] = "- item", ["spaces"] = "  padded  " } })
            .WithDevice("web-1", d => d with { Hostname = "", Tier = "null", Facts = new Dictionary<string, string> { ["rack"] = "07", ["row"] = "1,2" } })
            .WithPackage(SampleModel.Package("odd", "0.10", service: "", reboot: true) with { Size = 0, OsFamily = "linux", Architecture = "arm64" });

        var back = RoundTrip(model);

        Assert.Equal(Json(model), Json(back));
        Assert.Equal("1.10", back.Bundles.Single(b => b.Name == "appserver").Items.OfType<PackageItem>().Single().Version);
    }

    [Fact]
    public void Catalog_entries_with_relations_read_back_equal_and_a_malformed_relation_is_an_error_with_its_line()
    {
        var model = SampleModel.Build().WithPackage(SampleModel.Package("nginx-light", "1.22.1-9", format: "deb") with
        {
            OsFamily = "debian",
            Depends = ["nginx (>= 1.22.1-9)", "default-mta | mail-transport-agent"],
            Provides = ["httpd", "nginx-abi-1.22.1-7 (= 1)"],
            Conflicts = ["nginx-full"],
            Essential = true,
        });

        Assert.Equal(Json(model), Json(RoundTrip(model)));

        var result = ModelFiles.Read([new ModelSourceFile("packages.yaml",
            $"packages:\n  - name: bad\n    version: '1'\n    sha256: {SampleModel.Digest("bad")}\n    depends: ['libc6 (>= 2.34', 'ok']\n")]);
        var error = Assert.Single(result.Errors);
        Assert.Equal("package.relation-invalid", error.Code);
        Assert.Equal(5, error.Location.Line);
        Assert.Contains("'libc6 (>= 2.34' is not a package relation", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Template_texts_of_every_shape_read_back_exactly_from_files_or_inline()
    {
        string[] texts = ["", "\n", "no final newline", "a\r\nb\r\n", "  leading spaces\nx\n", "trailing spaces  \n", "tabs\there\n", "x\n\n\n", "{{ a }}: # b\n- c\n", "ünïcødé ✓\n"];
        var model = new RigModel
        {
            Templates =
            [
                .. texts.Select((t, i) => new ConfigTemplate($"file-{i}.conf", t)),
                .. texts.Select((t, i) => new ConfigTemplate($"inline {i}", t)), // not a file name: written inline
            ],
        };

        var files = ModelFiles.Write(model);

        Assert.Equal(texts.Length, files.Count(f => f.Path.StartsWith("templates/", StringComparison.Ordinal)));
        Assert.Equal(Json(model), Json(RoundTrip(model)));
    }

    [Fact]
    public void Written_directory_is_split_by_topic_with_templates_as_files()
    {
        var files = ModelFiles.Write(SampleModel.Build());

        Assert.Equal(
            ["site.yaml", "devices.yaml", "packages.yaml", "templates.yaml", "templates/motd.liquid", "templates/lb-conf.liquid", "templates/nginx-conf.liquid", "templates/app-conf.liquid", "templates/pg-hba.liquid", "templates/index.liquid", "bundles.yaml", "roles.yaml"],
            files.Select(f => f.Path));
        Assert.Equal(SampleModel.LbTemplate, files.Single(f => f.Path == "templates/lb-conf.liquid").Text);
        var bundles = files.Single(f => f.Path == "bundles.yaml").Text;
        Assert.Contains("version: \"1.0\"", bundles, StringComparison.Ordinal);
        Assert.Contains("mode: \"0640\"", bundles, StringComparison.Ordinal);
    }

    [Fact]
    public void Device_roles_shorthand_is_written_when_it_keeps_the_assignment_order()
    {
        var model = SampleModel.Build();
        model = model with { Assignments = [.. model.Devices.SelectMany(d => model.Assignments.Where(a => a.Device == d.Name))] };

        var devices = ModelFiles.Write(model).Single(f => f.Path == "devices.yaml").Text;

        Assert.Contains("roles: [linux-base, web, shop-content]", devices, StringComparison.Ordinal);
        Assert.DoesNotContain("assignments:", devices, StringComparison.Ordinal);
        Assert.Equal(Json(model), Json(RoundTrip(model)));
    }

    [Fact]
    public void Lists_of_several_files_merge_in_path_order_and_plain_scalars_keep_their_text()
    {
        var result = ModelFileErrorTests.Read(
            ("b-web.yaml", """
                devices:
                  - name: web-1
                    site: shop
                    roles: [base, web]
                roles:
                  - name: web
                    kind: app
                    version: 1.10
                    items:
                      - file: /etc/x
                        template: x
                        mode: 0640
                      - package: nginx 1.24.0
                      - reboot:
                parameters: {b: 2}
                """),
            ("a-site.yaml", """
                parameters: {a: 1}
                sites: [{name: shop}]
                devices:
                  - {name: lb-1, site: shop}
                assignments:
                  - {device: lb-1, role: base}
                roles:
                  - {name: base, kind: os}
                templates:
                  - name: x
                    file: ./templates/x.liquid
                """),
            ("templates/x.liquid", "hello {{ device.name }}\n"),
            ("templates/notes.yaml", "this is a template, never read as a model file: [\n"),
            ("README.md", "ignored"));

        Assert.Empty(result.Errors);
        var model = result.Model!;
        Assert.Equal(["lb-1", "web-1"], model.Devices.Select(d => d.Name));
        Assert.Equal(["base", "web"], model.Roles.Select(r => r.Name));
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, model.Parameters);
        // Device roles first (in device order), then the assignments lists.
        Assert.Equal([new RoleAssignment("web-1", "base"), new RoleAssignment("web-1", "web"), new RoleAssignment("lb-1", "base")], model.Assignments);
        var web = model.Roles.Single(r => r.Name == "web");
        Assert.Equal("1.10", web.Version);
        Assert.Equal(new FileItem("/etc/x", "x", "0640"), web.Items[0]);
        Assert.Equal(new PackageItem("nginx", "1.24.0"), web.Items[1]);
        Assert.Equal(new RebootItem(), web.Items[2]);
        Assert.Equal("hello {{ device.name }}\n", model.Templates.Single().Text);
    }
}
