using System.Text.Json;
using Rig.Cli.Demo;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Files;
using Rig.Protocol;

namespace Rig.Cli.Tests;

/// <summary>Model directories on disk: examples/shop is the demo site, and loading refuses what would read
/// outside the directory or too much.</summary>
public sealed class ModelDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rig-model-dir-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Json(RigModel model) => JsonSerializer.Serialize(model, ModelJson.Default.RigModel);

    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (Path.Exists(candidate))
                return candidate;
        }
        throw new InvalidOperationException($"'{relative}' is not in any parent of {AppContext.BaseDirectory}.");
    }

    private string Write(string relative, string text)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Examples_shop_reads_without_errors_and_equals_the_demo_site()
    {
        var result = ModelFiles.Read(ModelDirectory.Load(RepositoryFile(Path.Combine("examples", "shop"))));

        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        Assert.Equal(Json(DemoSite.Model()), Json(result.Model!));
    }

    [Fact]
    public void Load_reads_yaml_anywhere_and_every_file_under_templates_in_path_order()
    {
        Write("site.yaml", "sites: [{name: shop}]\n");
        Write("more/devices.yml", "devices: []\n");
        Write("templates/haproxy.cfg.liquid", "global\n");
        Write("templates/nested/values.yaml", "a: b\n");
        Write("templates/empty", "");
        Write("README.md", "not part of the model");
        Write(".git/config.yaml", "hidden");

        var files = ModelDirectory.Load(_dir);

        Assert.Equal(["more/devices.yml", "site.yaml", "templates/empty", "templates/haproxy.cfg.liquid", "templates/nested/values.yaml"], files.Select(f => f.Path));
        Assert.Equal("global\n", files.Single(f => f.Path == "templates/haproxy.cfg.liquid").Text);
    }

    [Fact]
    public void Symbolic_link_inside_the_directory_is_followed()
    {
        Write("shared/common.liquid", "common\n");
        Directory.CreateDirectory(Path.Combine(_dir, "templates"));
        File.CreateSymbolicLink(Path.Combine(_dir, "templates", "common.liquid"), Path.Combine("..", "shared", "common.liquid"));

        var files = ModelDirectory.Load(_dir);

        Assert.Equal("common\n", Assert.Single(files).Text);
    }

    [Fact]
    public void Symbolic_link_that_leaves_the_directory_is_refused()
    {
        var outside = Directory.CreateTempSubdirectory("rig-outside-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(outside, "secret.yaml"), "parameters: {a: b}\n");
            File.CreateSymbolicLink(Path.Combine(_dir, "site.yaml"), Path.Combine(outside, "secret.yaml"));

            var error = Assert.Throws<CliException>(() => ModelDirectory.Load(_dir));

            Assert.Contains("site.yaml", error.Message, StringComparison.Ordinal);
            Assert.Contains("outside the model directory", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public void File_over_the_size_limit_is_refused()
    {
        Write("devices.yaml", new string('#', 2000));

        var error = Assert.Throws<CliException>(() => ModelDirectory.Load(_dir, RigLimits.Default with { MaxModelFileBytes = 1024 }));

        Assert.Contains("devices.yaml", error.Message, StringComparison.Ordinal);
        Assert.Contains("2000 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Saved_model_loads_back_equal_and_save_refuses_a_directory_with_files()
    {
        var target = Path.Combine(_dir, "export");
        var model = DemoSite.Model();

        ModelDirectory.Save(target, ModelFiles.Write(model));
        var back = ModelFiles.Read(ModelDirectory.Load(target));

        Assert.Empty(back.Errors);
        Assert.Equal(Json(model), Json(back.Model!));
        var error = Assert.Throws<CliException>(() => ModelDirectory.Save(target, ModelFiles.Write(model)));
        Assert.Contains("not empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Save_refuses_a_path_that_leaves_the_directory()
    {
        var error = Assert.Throws<CliException>(() => ModelDirectory.Save(Path.Combine(_dir, "x"), [new ModelSourceFile("../escape.yaml", "")]));

        Assert.Contains("leaves the model directory", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "escape.yaml")));
    }

    [Fact]
    public void Missing_directory_is_a_clear_error()
    {
        var error = Assert.Throws<CliException>(() => ModelDirectory.Load(Path.Combine(_dir, "nope")));

        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }
}
