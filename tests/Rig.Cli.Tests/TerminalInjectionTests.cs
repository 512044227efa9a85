using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server;

namespace Rig.Cli.Tests;

/// <summary>Text from the gateway (revision messages, team descriptions, grant and rollout reasons, device facts and
/// tiers, error messages) never reaches the operator's terminal as control characters: an operator with edit or
/// rollout rights must not be able to clear another operator's screen or set their window title.</summary>
public sealed class TerminalInjectionTests : IAsyncLifetime
{
    /// <summary>Clears the screen, sets the window title (OSC ... BEL), reverses the text that follows.</summary>
    private const string Evil = "x\u001b[2J y\u001b]0;pwned\u0007 z\u202Eevil\u009b";

    private readonly string _dir = Directory.CreateTempSubdirectory("rig-cli-tty-").FullName;
    private GatewayServer _server = null!;
    private string _token = "";

    private string Ca => Path.Combine(_dir, "ca", "ca.crt");

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        _token = await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>True for the characters a terminal acts on or that reorder text: C0, DEL, C1, bidi overrides and
    /// isolates. Line ends are allowed only where <paramref name="allowLineEnds"/>.</summary>
    private static bool IsUnsafe(char c, bool allowLineEnds = false) =>
        (c < 0x20 && !(allowLineEnds && c is '\n' or '\r' or '\t')) || c is >= '\u007f' and <= '\u009f' || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069';

    private static void AssertSafe(string what, string text, params string[] visible)
    {
        var bad = text.Where(c => IsUnsafe(c, allowLineEnds: true)).Distinct().Select(c => $"U+{(int)c:X4}").ToList();
        Assert.True(bad.Count == 0, $"{what} printed {string.Join(", ", bad)}:\n{text}");
        foreach (var v in visible)
            Assert.Contains(v, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateway_text_with_escape_sequences_and_bidi_overrides_is_printed_with_them_made_visible()
    {
        using var admin = new OperatorClient(_server.ApiUrl, _token, X509CertificateLoader.LoadCertificateFromFile(Ca));
        await admin.PostAsync<JsonElement>("api/v1/teams", new { name = "ops", description = "team " + Evil });
        await admin.PostAsync<JsonElement>("api/v1/grants", new { team = "ops", verbs = new[] { "read" }, scope = (object?)null, reason = "grant " + Evil });
        var model = new RigModel
        {
            Sites = [new Site { Name = "shop" }],
            Devices = [new Device { Name = "web-1", Site = "shop", Tier = "tier " + Evil }],
        };
        await admin.PostJsonTextAsync<ApplyResponse>("api/v1/apply?message=" + Uri.EscapeDataString("revision " + Evil), JsonSerializer.Serialize(model, ModelJson.Default.RigModel));
        await admin.PostAsync<JsonElement>("api/v1/rollouts", new { revision = 1, devices = "web-1", reason = "rollout " + Evil });

        string[] visible = ["␛[2J", "␛]0;pwned␇", "\\u202E", "\\u009B"];
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["history"], "revision x"),
            (["team", "list"], "team x"),
            (["grant", "list"], "grant x"),
            (["rollout", "list"], "rollout x"),
            (["device", "show", "web-1"], "tier x"),
            (["device", "list"], "tier x"),
            (["device", "show", "no" + Evil], "no"), // the gateway's error names the device
        })
        {
            var (code, stdout, stderr) = await RigAsync(args);
            var what = $"rig {string.Join(' ', args)} (exit {code})";
            AssertSafe(what + " stderr", stderr);
            AssertSafe(what + " stdout", stdout);
            AssertSafe(what, stdout + stderr, [expected, .. visible]);
        }
    }

    [Fact]
    public async Task Json_output_keeps_control_characters_json_escaped()
    {
        using var admin = new OperatorClient(_server.ApiUrl, _token, X509CertificateLoader.LoadCertificateFromFile(Ca));
        await admin.PostAsync<JsonElement>("api/v1/teams", new { name = "ops", description = "team " + Evil });

        var (code, stdout, stderr) = await RigAsync("team", "list", "--json");

        Assert.True(code == 0, stderr + stdout);
        Assert.DoesNotContain(stdout.TrimEnd('\n'), c => c < 0x20 || c is >= '\u007f' and <= '\u009f'); // JSON-escaped
        Assert.Contains("\\u001B[2J", stdout, StringComparison.OrdinalIgnoreCase);
        var team = JsonDocument.Parse(stdout).RootElement.EnumerateArray().Single(t => t.GetProperty("name").GetString() == "ops");
        Assert.Equal("team " + Evil, team.GetProperty("description").GetString());
    }

    [Fact]
    public void Every_bmp_character_comes_out_visible_in_one_line_and_block_text()
    {
        var all = new StringBuilder(65536);
        for (var i = 0; i <= 0xFFFF; i++)
            all.Append((char)i);
        var text = all.ToString();

        var line = Output.Visible(text);
        var block = Output.VisibleBlock(text);
        var markup = Output.Safe(text);

        Assert.DoesNotContain(line, c => IsUnsafe(c));
        Assert.DoesNotContain(block, c => IsUnsafe(c, allowLineEnds: true));
        Assert.DoesNotContain(block, c => c == '\r');
        Assert.Contains('\n', block);
        Assert.Contains('\t', block);
        Assert.DoesNotContain(markup, c => IsUnsafe(c));
        Assert.Equal("a␛[2Jb␇␡\\u009B\\u202E\\u2066c␊␉", Output.Visible("a\u001b[2Jb\u0007\u007f\u009b\u202e\u2066c\n\t"));
        Assert.Equal("a\nb\t␍␛\nc", Output.VisibleBlock("a\nb\t\r\u001b\r\nc"));
        Assert.Equal("[[x]] ␛", Output.Safe("[x] \u001b"));
        Assert.Equal("plain täxt ✓", Output.Visible("plain täxt ✓"));
    }

    /// <summary>Run <c>rig</c> against the gateway as admin: exit code, standard output and standard error.</summary>
    private async Task<(int Code, string Stdout, string Stderr)> RigAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "rig.dll"), .. args, "--server", _server.ApiUrl.ToString(), "--ca", Ca, "--token", _token])
            info.ArgumentList.Add(a);
        info.Environment.Remove("COLUMNS"); // unwrapped: the visible forms are never split across lines
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
