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

    [Theory]
    [InlineData("apply", "model")]
    [InlineData("apply", "model", "-m", " ")]
    [InlineData("apply", "plan.json", "--yes")]
    [InlineData("model", "load", "model.json")]
    [InlineData("device", "clone", "web-3", "--from", "web-1", "--address", "10.0.0.3")]
    [InlineData("device", "decommission", "web-2", "--yes")]
    [InlineData("device", "rebuild", "web-1")]
    public async Task A_command_that_records_a_revision_without_a_message_is_a_usage_error_with_exit_code_64(params string[] args)
    {
        // A gateway address nothing listens on: a command that ran would fail to connect (exit 69 or 1), not 64.
        var (code, stdout, stderr) = await RigAsync([.. args, "--server", "https://127.0.0.1:9", "--token", "rigop_x"]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("-m/--message", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was done", stdout + stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plan", "-o", "plan.json")]
    [InlineData("plan", "model", "-o", "plan.json", "--devices", "web-1")]
    public async Task Saving_a_plan_without_a_model_or_of_some_devices_only_is_a_usage_error(params string[] args)
    {
        var (code, stdout, stderr) = await RigAsync([.. args, "--server", "https://127.0.0.1:9", "--token", "rigop_x"]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("-o/--out", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rig_version_prints_the_version_and_exits_0()
    {
        var (code, stdout, stderr) = await RigAsync("--version");

        Assert.True(code == 0, stderr + stdout);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout.Trim());
    }
}
