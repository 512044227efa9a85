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
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        string[] connection = ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath];
        var packages = DemoSite.WritePackages(Path.Combine(dir.Path, "packages"));
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["package", "add", .. packages, .. connection, "--json"]);
        Assert.True(code == 0, stdout + stderr);

        var shop = Path.Combine(RepoRoot(), "examples", "shop");
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["plan", shop, .. connection, "--json"]);
        Assert.True(code == 2, $"changes pending should exit 2, got {code}: {stderr}");
        var plan = JsonDocument.Parse(stdout).RootElement;
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
        var revisions = JsonDocument.Parse(stdout).RootElement;
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

    [Fact]
    public async Task Audit_verify_exits_1_naming_the_entry_after_the_database_is_tampered_with()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        string[] connection = ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath];
        foreach (var device in new[] { "web-7", "web-8", "web-9" })
        {
            var (refused, _, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["device", "revoke", device, .. connection, "--json"]);
            Assert.Equal(1, refused); // unknown device: refused, and audited as such
        }

        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["audit", "--device", "web-8", .. connection, "--json"]);
        Assert.True(code == 0, stdout + stderr);
        var entry = Assert.Single(JsonDocument.Parse(stdout).RootElement.EnumerateArray());
        Assert.Equal(("device.revoke", "refused", 2L), (entry.GetProperty("action").GetString(), entry.GetProperty("outcome").GetString(), entry.GetProperty("seq").GetInt64()));
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["audit", "verify", .. connection, "--json"]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(3, JsonDocument.Parse(stdout).RootElement.GetProperty("checked").GetInt64());
        var export = Path.Combine(dir.Path, "audit.jsonl");
        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["audit", "export", "--output", export, .. connection]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal([1L, 2, 3], File.ReadAllLines(export).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt64()));

        // Someone with the database file rewrites who was concerned by entry 2.
        await using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={gateway.DatabasePath};Pooling=false"))
        {
            await db.OpenAsync();
            await using var update = db.CreateCommand();
            update.CommandText = "UPDATE audit_log SET device = 'web-0', target = 'name=web-0' WHERE seq = 2";
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["audit", "verify", .. connection]);
        Assert.True(code == 1, $"a tampered log must exit 1, got {code}: {stdout}{stderr}");
        Assert.Contains("entry 2 (device.revoke)", stderr, StringComparison.Ordinal);
        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["audit", "verify", .. connection, "--json"]);
        Assert.Equal(1, code);
        var broken = JsonDocument.Parse(stdout).RootElement;
        Assert.False(broken.GetProperty("ok").GetBoolean());
        Assert.Equal((2L, "altered"), (broken.GetProperty("break").GetProperty("seq").GetInt64(), broken.GetProperty("break").GetProperty("problem").GetString()));
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RigWithConfigAsync(string config, params string[] args)
    {
        var info = Launch.Rig.StartInfo(args);
        info.Environment["XDG_CONFIG_HOME"] = config;
        foreach (var name in new[] { "RIG_DATA", "RIG_SERVER", "RIG_TOKEN", "RIG_CA", "RIG_TOKEN_FILE", "RIG_CONTEXT" })
            info.Environment.Remove(name);
        return Launch.RunAsync(info, TimeSpan.FromMinutes(1));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_context_added_with_the_right_pin_lets_operator_commands_run_from_a_workstation_with_no_other_options()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        var config = Path.Combine(dir.Path, "config");
        var tokenFile = Path.Combine(dir.Path, "token");
        File.WriteAllText(tokenFile, gateway.Token + "\n");
        using var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(gateway.CaPath);
        var pin = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(ca.RawData));

        // Without a context or options: no token, and the message says how to add a context.
        var (code, stdout, stderr) = await RigWithConfigAsync(config, "device", "list");
        Assert.True(code == 1, stdout + stderr);
        Assert.Contains("rig context add", stderr, StringComparison.Ordinal);

        // A wrong pin: refused, nothing saved.
        var wrong = "sha256:" + new string('0', 64);
        (code, stdout, stderr) = await RigWithConfigAsync(config, "context", "add", "lab", "--gateway", gateway.ApiUrl.ToString(), "--ca-pin", wrong, "--token-file", tokenFile, "--json");
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("ca-pin-mismatch", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.False(File.Exists(Path.Combine(config, "rig", "contexts.json")));

        (code, stdout, stderr) = await RigWithConfigAsync(config, "context", "add", "lab", "--gateway", gateway.ApiUrl.ToString(), "--ca-pin", pin, "--token-file", tokenFile, "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.True(JsonDocument.Parse(stdout).RootElement.GetProperty("current").GetBoolean());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(config, "rig", "contexts.json")));
        Assert.DoesNotContain(gateway.Token, File.ReadAllText(Path.Combine(config, "rig", "contexts.json")), StringComparison.Ordinal);

        // The current context is used with no connection options at all.
        (code, stdout, stderr) = await RigWithConfigAsync(config, "device", "list", "--json");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(stdout).RootElement.ValueKind);

        // A second context pointing nowhere; `use` switches, --context overrides.
        (code, _, stderr) = await RigWithConfigAsync(config, "context", "add", "gone", "--gateway", "https://127.0.0.1:9", "--ca-pin", pin, "--token-file", tokenFile);
        Assert.True(code == 69, stderr); // its CA cannot even be fetched: unreachable
        (code, _, stderr) = await RigWithConfigAsync(config, "context", "use", "gone");
        Assert.True(code == 1, stderr);
        Assert.Contains("no context 'gone'", stderr, StringComparison.Ordinal);
        (code, stdout, stderr) = await RigWithConfigAsync(config, "device", "list", "--context", "lab", "--json");
        Assert.True(code == 0, stdout + stderr);
        (code, stdout, stderr) = await RigWithConfigAsync(config, "device", "list", "--context", "nope", "--json");
        Assert.True(code == 1, stdout + stderr);
        Assert.Equal("unknown-context", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}
