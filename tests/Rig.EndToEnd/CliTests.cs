using System.Text.Json;
using Rig.Cli.Demo;
using Rig.EndToEnd.Harness;

namespace Rig.EndToEnd;

/// <summary>The operator's CLI against a real gateway: model files in, plans and revisions out, exit codes.</summary>
public sealed class CliTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rig.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Rig.slnx not found above the test directory.");
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [Fact]
    public async Task Plan_and_apply_a_model_directory_with_exit_codes_and_errors_at_file_and_line()
    {
        using var dir = new TempDirectory();
        await using var gateway = await GatewayProcess.StartNewAsync(Path.Combine(dir.Path, "gateway"));
        string[] connection = ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath];
        var packages = DemoSite.WritePackages(Path.Combine(dir.Path, "packages"));
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["package", "add", .. packages, .. connection, "--json"]);
        Assert.True(code == 0, stdout + stderr);

        var shop = Path.Combine(RepoRoot(), "examples", "shop");
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["plan", shop, .. connection, "--json"]);
        Assert.True(code == 2, $"changes pending should exit 2, got {code}: {stderr}");
        var plan = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("plan");
        Assert.Equal(6, plan.GetProperty("devices").GetArrayLength());
        Assert.Contains("server web-2 10.20.0.22:80 check", stdout, StringComparison.Ordinal);

        // A broken copy: an unknown key and a link to a device that does not exist. Every error, with its place.
        var broken = Path.Combine(dir.Path, "broken");
        CopyDirectory(shop, broken);
        var devices = Path.Combine(broken, "devices.yaml");
        var text = File.ReadAllText(devices);
        File.WriteAllText(devices, text.Replace("to: web-2", "to: web-9", StringComparison.Ordinal));
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["plan", broken, .. connection]);
        Assert.Equal(1, code);
        Assert.Matches(@"devices\.yaml:\d+:\d+", stdout);
        Assert.Contains("web-9", stdout, StringComparison.Ordinal);
        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["apply", broken, "-m", "broken", .. connection]);
        Assert.Equal(1, code);
        Assert.Contains("nothing was saved", stdout, StringComparison.OrdinalIgnoreCase);

        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["apply", shop, "-m", "first shop", .. connection, "--json"]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(1, JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("revision").GetInt64());
        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["apply", shop, "-m", "again", .. connection, "--json"]);
        Assert.False(JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("changed").GetBoolean());

        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["history", .. connection, "--json"]);
        var revisions = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("revisions");
        Assert.Equal(1, revisions.GetArrayLength());
        Assert.Equal("first shop", revisions[0].GetProperty("message").GetString());

        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["model", "show", "--at", "1", "--device", "lb-1", .. connection]);
        Assert.Equal(0, code);
        Assert.Contains("server web-1 10.20.0.21:80 check", stdout, StringComparison.Ordinal);

        var exported = Path.Combine(dir.Path, "exported");
        (code, _, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["model", "export", exported, .. connection]);
        Assert.True(code == 0, stderr);
        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["apply", exported, "-m", "round trip", .. connection, "--json"]);
        Assert.False(JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("changed").GetBoolean()); // export -> apply is the same model
    }
}
