using System.Diagnostics;
using System.Text.Json;

[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Rig.Cli.Tests;

/// <summary>The rig command as a user runs it: a real process, exit codes and messages.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rig-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Stdout, string Stderr)> RigAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rig.dll"));
        foreach (var a in args)
            info.ArgumentList.Add(a);
        info.Environment["COLUMNS"] = "200";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Server_init_prints_the_admin_token_once_and_refuses_an_initialised_directory()
    {
        var data = Path.Combine(_dir, "data");
        var (code, stdout, stderr) = await RigAsync("server", "init", "--data", data, "--json");
        Assert.True(code == 0, stderr + stdout);
        var init = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.StartsWith("rigop_", init.GetProperty("adminToken").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("sha256:", init.GetProperty("caPin").GetString(), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(data, "server.json")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(data, "ca", "ca.key")));
        Assert.DoesNotContain(init.GetProperty("adminToken").GetString()!, File.ReadAllText(Path.Combine(data, "server.json")), StringComparison.Ordinal);

        (code, stdout, stderr) = await RigAsync("server", "init", "--data", data);
        Assert.Equal(1, code);
        Assert.Contains("already initialised", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_run_on_an_uninitialised_directory_says_to_run_init()
    {
        var (code, stdout, stderr) = await RigAsync("server", "run", "--data", Path.Combine(_dir, "nothing"));
        Assert.Equal(1, code);
        Assert.Contains("rig server init", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Operator_command_without_a_token_says_where_to_get_one()
    {
        var (code, stdout, stderr) = await RigAsync("package", "list", "--server", "https://localhost:1");
        Assert.Equal(1, code);
        Assert.Contains("RIG_TOKEN", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Operator_command_against_a_gateway_that_is_not_running_names_the_address()
    {
        var data = Path.Combine(_dir, "data");
        Assert.Equal(0, (await RigAsync("server", "init", "--data", data, "--api-port", "1", "--json")).Code);
        var (code, stdout, stderr) = await RigAsync("device", "list", "--data", data, "--token", "rigop_x");
        Assert.Equal(1, code);
        Assert.Contains("https://localhost:1/", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("rig server run", stdout + stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rollout", "1", "--device-timeout", "5x", "unknown unit 'x'")]
    [InlineData("rollout", "start", "--device-timeout", "30", "'30' is not a duration")]
    [InlineData("rollout", "start", "--device-timeout", "1s", "--device-timeout 1s is out of range: give 5s to 7d (default 30m)")]
    [InlineData("rollout", "start", "--device-timeout", "30d", "--device-timeout 30d is out of range")]
    public async Task A_bad_device_timeout_is_a_usage_error_naming_the_value_and_nothing_is_sent(string command, string sub, string option, string value, string expected)
    {
        // No gateway is listening at --server: the value is refused before anything is sent.
        var (code, stdout, stderr) = await RigAsync(command, sub, option, value, "--server", "https://localhost:1", "--token", "rigop_x");
        Assert.True(code == 64, $"exit {code}: {stdout}{stderr}");
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("localhost:1", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_commands_and_missing_agent_options_are_usage_errors()
    {
        Assert.Equal(64, (await RigAsync("frobnicate")).Code);
        var (code, _, stderr) = await RigAsync("agent", "enroll", "--state", _dir);
        Assert.Equal(64, code);
        Assert.Contains("--gateway", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await RigAsync("agent", "run", "--state", Path.Combine(_dir, "never-enrolled"));
        Assert.Equal(1, code);
        Assert.Contains("rig agent enroll", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rollout", "2", "--bacth", "25%")] // the testers' typo: rolled out to 100% and exited 0
    [InlineData("plan", "--devcies", "web-1")]
    [InlineData("device", "list", "--jsn")]
    [InlineData("rolout", "2")]
    [InlineData("package", "ad", "x.deb")]
    public async Task An_unknown_command_or_option_is_refused_with_usage_and_exit_code_64_before_anything_is_sent(params string[] args)
    {
        // A gateway address nothing listens on: a command that ran would fail to connect (exit 69 or 1), not 64.
        var (code, stdout, stderr) = await RigAsync([.. args, "--server", "https://127.0.0.1:9", "--token", "rigop_x"]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        var text = stdout + stderr;
        var offending = args.First(a => a is "rolout" or "ad" || a.StartsWith("--", StringComparison.Ordinal)).TrimStart('-');
        Assert.Contains($"'{offending}'", text, StringComparison.Ordinal); // the offending value, named
        Assert.Contains("--help", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("enroll", "--state", "/tmp/x", "--gatway", "https://g:1")]
    [InlineData("run", "--state", "/tmp/x", "--verbsoe", "yes")]
    [InlineData("enrol", "--state", "/tmp/x")]
    public async Task The_agent_refuses_an_unknown_command_or_option_with_exit_code_64(params string[] args)
    {
        var (code, stdout, stderr) = await RigAsync(["agent", .. args]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("unknown", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rig_version_prints_the_version_and_exits_0()
    {
        var (code, stdout, stderr) = await RigAsync("--version");

        Assert.True(code == 0, stderr + stdout);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout.Trim());
    }
}
