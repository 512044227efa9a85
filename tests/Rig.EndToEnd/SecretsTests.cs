using System.Net.Http.Headers;
using System.Net.Security;
using System.Text;
using System.Text.Json;
using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Server.Gateway;

namespace Rig.EndToEnd;

/// <summary>A secret parameter end to end, with a real gateway (<c>rig server run</c>, SQLite) and a sandbox agent: the
/// device gets the plaintext in its file; the database file, every operator API response (every GET endpoint of the
/// OpenAPI document, and the CLI's model show, export, plan, diff, device log) and the gateway's log never hold it.</summary>
public sealed class SecretsTests
{
    private const string Password = "Pl41n-s3cret-only-on-the-device";
    private const string Rotated = "An0ther-s3cret-for-revision-2";

    private static RigModel SecretSite(string password)
    {
        var model = Models.Site(["web-1"]);
        return model with
        {
            Secrets = ["db_password"],
            Parameters = new Dictionary<string, string>(model.Parameters) { ["db_password"] = password },
            Templates = [.. model.Templates.Select(t => t.Name == "tool.conf" ? t with { Text = t.Text + "password={{ params.db_password }}\n" } : t)],
        };
    }

    [Fact]
    public async Task A_secret_reaches_the_device_in_plaintext_and_nothing_else_shows_or_stores_it()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        string[] connection = ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json"];
        var seen = new StringBuilder(); // every response body and CLI output of the run
        async Task<string> RigAsync(int expected, params string[] args)
        {
            var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), [.. args, .. connection]);
            seen.Append(stdout).Append(stderr);
            Assert.True(code == expected, $"rig {string.Join(' ', args)} should exit {expected}, got {code}: {stdout}{stderr}");
            return stdout;
        }

        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        seen.Append(JsonSerializer.Serialize(await site.SaveModelAsync(SecretSite(Password))));
        await site.StartAgentAsync("web-1");
        await site.ConvergeAsync("web-1");
        Assert.Equal(QueueStates.Succeeded, (await site.WaitForQueueAsync("web-1")).Status.Queue!.Status);

        // The device has the plaintext.
        Assert.Contains($"password={Password}\n", File.ReadAllText(Path.Combine(site.Root("web-1"), "etc/tool/tool.conf")), StringComparison.Ordinal);

        // Export writes the declaration and the placeholder; applying the export again keeps the stored value.
        var export = Path.Combine(dir.Path, "export");
        await RigAsync(0, "model", "export", export);
        var exported = string.Concat(Directory.GetFiles(export, "*.yaml", SearchOption.AllDirectories).Select(File.ReadAllText));
        seen.Append(exported);
        Assert.Contains("secrets: [db_password]", exported, StringComparison.Ordinal);
        Assert.Contains($"db_password: \"{SecretParameters.Placeholder}\"", exported, StringComparison.Ordinal);
        var reapplied = JsonDocument.Parse(await RigAsync(0, "apply", export, "-m", "re-apply the export", "--yes")).RootElement;
        Assert.False(reapplied.GetProperty("changed").GetBoolean());

        // A plan whose file diff holds the secret shows it masked.
        var siteYaml = Path.Combine(export, "site.yaml");
        File.WriteAllText(siteYaml, File.ReadAllText(siteYaml).Replace("port: \"8080\"", "port: \"8081\"", StringComparison.Ordinal));
        var plan = await RigAsync(2, "plan", export);
        Assert.Contains($"password={SecretParameters.Placeholder}", plan, StringComparison.Ordinal);

        // A second revision with another value; the diff between them, the model, the rendered files, the log.
        seen.Append(JsonSerializer.Serialize(await site.SaveModelAsync(SecretSite(Rotated))));
        var diff = await RigAsync(0, "diff", "1", "2");
        Assert.Contains("parameters", diff, StringComparison.Ordinal);
        await RigAsync(0, "model", "show");
        await RigAsync(0, "model", "show", "--at", "1", "--rendered");
        await RigAsync(0, "device", "log", "web-1");
        await RigAsync(0, "history");
        seen.Append(await EveryGetEndpointAsync(gateway));

        // Nowhere but on the device.
        var everywhere = new Dictionary<string, string>
        {
            ["responses and CLI output"] = seen.ToString(),
            ["gateway log"] = gateway.Output,
            ["database files"] = DatabaseFiles(gateway.DatabasePath),
        };
        foreach (var (where, text) in everywhere)
        {
            Assert.False(text.Contains(Password, StringComparison.Ordinal), $"the secret is in the {where}");
            Assert.False(text.Contains(Rotated, StringComparison.Ordinal), $"the second secret is in the {where}");
        }
        Assert.Contains(SecretParameters.Placeholder, seen.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Rig_server_run_refuses_a_group_readable_key_file_with_one_line_saying_what_to_do()
    {
        using var dir = new TempDirectory();
        var data = Path.Combine(dir.Path, "gateway");
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "server", "init", "--data", data, "--agent-port", "0", "--api-port", "0", "--json");
        Assert.True(code == 0, stdout + stderr);
        var key = Path.Combine(data, "secrets.key");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "server", "run", "--data", data);

        Assert.True(code == 1, $"exit {code}: {stdout}{stderr}");
        Assert.StartsWith($"error: The secrets key file '{key}' may be read by its group or others (mode 0644)", stderr.Trim(), StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {key}", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal); // no stack trace
    }

    /// <summary>The database file and its write-ahead log, as bytes read as text (UTF-8 and UTF-16).</summary>
    private static string DatabaseFiles(string path)
    {
        var text = new StringBuilder();
        foreach (var file in new[] { path, path + "-wal" }.Where(File.Exists))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            text.Append(Encoding.UTF8.GetString(copy.ToArray())).Append(Encoding.Unicode.GetString(copy.ToArray()));
        }
        return text.ToString();
    }

    /// <summary>GET every path of the OpenAPI document, path parameters filled with names that exist in this run, and
    /// return every body.</summary>
    private static async Task<string> EveryGetEndpointAsync(Supervision.GatewayHarness gateway)
    {
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = Protocol.Trust.OnlyRoot(gateway.Ca),
                RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None,
            },
        };
        using var http = new HttpClient(handler) { BaseAddress = gateway.ApiUrl, Timeout = TimeSpan.FromMinutes(1) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", gateway.Token);
        var document = await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        var bodies = new StringBuilder(document);
        var paths = JsonDocument.Parse(document).RootElement.GetProperty("paths").EnumerateObject()
            .Where(p => p.Value.TryGetProperty("get", out _)).Select(p => p.Name).ToList();
        Assert.Contains("/api/v1/model", paths);
        foreach (var template in paths)
        {
            var path = System.Text.RegularExpressions.Regex.Replace(template, "\\{[^}]+\\}", m => m.Value switch
            {
                "{from}" => "1",
                "{to}" or "{rev}" or "{revision}" => "2",
                _ when m.Value.Contains("name", StringComparison.OrdinalIgnoreCase) || m.Value.Contains("device", StringComparison.OrdinalIgnoreCase) => "web-1",
                _ => "1",
            });
            if (path.Contains("follow", StringComparison.Ordinal))
                continue;
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
            bodies.Append(path).Append(' ').Append((int)response.StatusCode).Append('\n').Append(await response.Content.ReadAsStringAsync()).Append('\n');
        }
        return bodies.ToString();
    }
}
