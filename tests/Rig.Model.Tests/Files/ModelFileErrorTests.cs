using Rig.Model.Files;
using Rig.Protocol;

namespace Rig.Model.Tests.Files;

/// <summary>One test per rule of reading model files: each error names file, line, column and key, says what to
/// do, and no model is returned (CHECKLIST 27: nothing is applied).</summary>
public class ModelFileErrorTests
{
    internal static ModelFileResult Read(params (string Path, string Text)[] files) =>
        ModelFiles.Read([.. files.Select(f => new ModelSourceFile(f.Path, f.Text))]);

    private static ModelFileError SingleError(params (string Path, string Text)[] files)
    {
        var result = Read(files);
        Assert.Null(result.Model);
        return Assert.Single(result.Errors);
    }

    private static void AssertError(ModelFileError error, string code, string file, int line, int column, string key, params string[] messageParts)
    {
        Assert.Equal(code, error.Code);
        Assert.Equal(new SourceLocation(file, line, column), error.Location);
        Assert.Equal(key, error.Key);
        foreach (var part in messageParts)
            Assert.Contains(part, error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"{file}:{line}:{column}: ", error.ToString(), StringComparison.Ordinal);
        Assert.EndsWith($"[{code}]", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_yaml_is_reported_at_the_parsers_position()
    {
        var error = SingleError(("site.yaml", """
            sites:
              - name: shop
                description: Demo: shop
            """));
        AssertError(error, ModelFileCodes.YamlSyntax, "site.yaml", 3, 22, "", "not valid YAML", "quoting");
    }

    // Found by fuzzing the model reader (bench/Rig.Fuzz, target model): YamlDotNet throws ArgumentException for these
    // tags, which escaped ModelFiles.Read instead of becoming an error with file and line.
    [Theory]
    [InlineData("!<>\n", 1)]
    [InlineData("!<d:d>\n", 1)]
    [InlineData("sites:\n  - name: !<> shop\n", 2)]
    [InlineData("sites: [!<a:b> x]\n", 1)]
    public void A_malformed_yaml_tag_is_reported_as_invalid_yaml_with_file_and_line(string text, int line)
    {
        var error = SingleError(("site.yaml", text));

        Assert.Equal(ModelFileCodes.YamlSyntax, error.Code);
        Assert.Equal("site.yaml", error.Location.File);
        Assert.Equal(line, error.Location.Line);
        Assert.Contains("tag", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Unknown_key_is_reported_with_the_closest_known_key()
    {
        var error = SingleError(("devices.yaml", """
            devices:
              - name: web-1
                site: shop
                hardware:
                  cpus: 8
            """));
        AssertError(error, ModelFileCodes.UnknownKey, "devices.yaml", 5, 7, "devices/web-1/hardware/cpus",
            "Unknown key `cpus`", "hardware of device 'web-1'", "did you mean `cpuCount`?", "memoryMiB");
    }

    [Theory]
    [InlineData("addresses: 10.20.0.21", 16, "devices/web-1/addresses", "must be a list")]
    [InlineData("hardware: 8", 15, "devices/web-1/hardware", "must be a map")]
    [InlineData("tier: [web]", 11, "devices/web-1/tier", "must be text")]
    public void Wrong_type_is_reported_at_the_value(string line, int column, string key, string expected)
    {
        var error = SingleError(("devices.yaml", $"devices:\n  - name: web-1\n    site: shop\n    {line}\n"));
        AssertError(error, ModelFileCodes.WrongType, "devices.yaml", 4, column, key, expected);
    }

    [Fact]
    public void Not_a_number_is_reported_with_the_value()
    {
        var error = SingleError(("devices.yaml", """
            devices:
              - name: db-1
                site: shop
                hardware: {cpuCount: eight}
            """));
        AssertError(error, ModelFileCodes.NotANumber, "devices.yaml", 4, 26, "devices/db-1/hardware/cpuCount", "whole number", "'eight'");
    }

    [Fact]
    public void Not_true_or_false_is_reported_with_the_value()
    {
        var error = SingleError(("bundles.yaml", """
            bundles:
              - name: web
                items:
                  - service: nginx
                    running: yes
            """));
        AssertError(error, ModelFileCodes.NotABool, "bundles.yaml", 5, 18, "bundles/web/items/0/running", "true or false", "'yes'");
    }

    [Fact]
    public void Missing_required_key_is_reported_at_its_object()
    {
        var error = SingleError(("devices.yaml", """
            devices:
              - name: web-1
                tier: web
            """));
        AssertError(error, ModelFileCodes.MissingKey, "devices.yaml", 2, 5, "devices/web-1/site", "Device 'web-1' needs `site:`");
    }

    [Fact]
    public void Duplicate_key_in_one_map_is_reported_at_the_second()
    {
        var error = SingleError(("site.yaml", """
            sites:
              - name: shop
                description: one
                description: two
            """));
        AssertError(error, ModelFileCodes.DuplicateKey, "site.yaml", 4, 5, "sites/shop/description", "given twice", "first at line 3");
    }

    [Fact]
    public void Duplicate_name_across_files_names_both_places()
    {
        var error = SingleError(
            ("a.yaml", "devices:\n  - name: web-1\n    site: shop\n"),
            ("b.yaml", "# more devices\ndevices:\n  - {name: web-1, site: shop}\n"));
        AssertError(error, ModelFileCodes.DuplicateName, "b.yaml", 3, 12, "devices/web-1", "Device 'web-1' is defined twice", "a.yaml:2:11", "rename or remove one");

        var assignment = SingleError(
            ("a.yaml", "devices:\n  - {name: web-1, site: shop, roles: [web]}\n"),
            ("b.yaml", "assignments:\n  - {device: web-1, role: web}\n"));
        AssertError(assignment, ModelFileCodes.DuplicateName, "b.yaml", 2, 5, "assignments/web-1/web", "assigned to device 'web-1' twice", "a.yaml:2:39");
    }

    [Fact]
    public void Template_file_that_is_not_in_the_directory_is_reported_at_its_path()
    {
        var error = SingleError(
            ("templates.yaml", "templates:\n  - name: motd\n    file: templates/motd.liquid\n"),
            ("templates/other.liquid", "x"));
        AssertError(error, ModelFileCodes.TemplateMissing, "templates.yaml", 3, 11, "templates/motd/file", "'templates/motd.liquid'", "not in the model directory");
    }

    [Theory]
    [InlineData("  - name: motd\n    text: hi\n    file: templates/motd.liquid\n", 4, 5, "templates/motd/file", "both `text:` and `file:`")]
    [InlineData("  - name: motd\n", 2, 5, "templates/motd/text", "needs `text:`")]
    public void Template_needs_exactly_one_of_text_and_file(string yaml, int line, int column, string key, string message)
    {
        var error = SingleError(("templates.yaml", "templates:\n" + yaml), ("templates/motd.liquid", "x"));
        AssertError(error, ModelFileCodes.TemplateSource, "templates.yaml", line, column, key, message);
    }

    [Theory]
    [InlineData("      - pakage: nginx-lite\n        version: 1.24.0\n", 5, 9, "roles/web/items/0", "has none of", "did you mean `package:`")]
    [InlineData("      - package: nginx-lite 1.24.0\n        file: /etc/x\n", 6, 9, "roles/web/items/0/file", "both `package:` and `file:`", "split it")]
    public void Item_needs_exactly_one_kind(string yaml, int line, int column, string key, string message, string hint)
    {
        var error = SingleError(("roles.yaml", "roles:\n  - name: web\n    kind: app\n    items:\n" + yaml));
        AssertError(error, ModelFileCodes.ItemKind, "roles.yaml", line, column, key, message, hint);
    }

    [Fact]
    public void Package_item_that_is_not_a_name_and_version_is_an_invalid_value()
    {
        var error = SingleError(("roles.yaml", "roles:\n  - name: web\n    kind: app\n    items:\n      - package: nginx-lite 1.24.0 extra\n"));
        AssertError(error, ModelFileCodes.InvalidValue, "roles.yaml", 5, 18, "roles/web/items/0/package", "nginx-lite 1.24.0 extra", "package: nginx-lite 1.24.0");
    }

    [Fact]
    public void Alias_is_refused_where_it_is_used()
    {
        var error = SingleError(("site.yaml", "parameters:\n  a: &x one\n  b: *x\n"));
        AssertError(error, ModelFileCodes.YamlAlias, "site.yaml", 3, 6, "", "'*x'", "write the value out");
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_refused()
    {
        var result = ModelFiles.Read([new ModelSourceFile("deep.yaml", "parameters: {a: [[[[[[x]]]]]]}\n")], RigLimits.Default with { MaxModelFileDepth = 5 });
        Assert.Null(result.Model);
        AssertError(Assert.Single(result.Errors), ModelFileCodes.TooDeep, "deep.yaml", 1, 20, "", "deeper than 5 levels");
    }

    [Fact]
    public void File_larger_than_the_limit_is_refused()
    {
        var result = ModelFiles.Read([new ModelSourceFile("big.yaml", "parameters:\n" + new string('#', 200))], RigLimits.Default with { MaxModelFileBytes = 100 });
        Assert.Null(result.Model);
        AssertError(Assert.Single(result.Errors), ModelFileCodes.TooLarge, "big.yaml", 1, 1, "", "split the model");
    }

    [Fact]
    public void Every_error_of_every_file_is_reported_in_file_order_and_no_model_is_returned()
    {
        var result = Read(
            ("roles.yaml", "roles:\n  - name: web\n    kind: app\n    items:\n      - servce: nginx\n"),
            ("devices.yaml", "devices:\n  - name: web-1\n    site: shop\n    hardware: {cpuCount: many}\n    colour: red\n"),
            ("site.yaml", "sites:\n  - name: shop\n    description: [a\n"));
        Assert.Null(result.Model);
        Assert.Equal(
            ["devices.yaml:4:26 file.not-a-number", "devices.yaml:5:5 file.unknown-key", "roles.yaml:5:9 file.item-kind", "site.yaml:4:1 file.yaml-syntax"],
            result.Errors.Select(e => $"{e.Location} {e.Code}"));
    }
}
