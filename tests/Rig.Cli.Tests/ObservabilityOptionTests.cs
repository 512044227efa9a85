using System.Diagnostics;
using System.Text.Json;

namespace Rig.Cli.Tests;

/// <summary>The options of a gateway you can watch, as a user gives them: bad values are refused before anything runs.</summary>
public sealed class ObservabilityOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rig-observe-").FullName;

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

    [Theory]
    [InlineData("--log-format", "yaml", "yaml")]
    [InlineData("--otlp-endpoint", "ftp://collector:4318", "ftp://collector:4318")]
    [InlineData("--otlp-endpoint", "collector:4318", "collector:4318")]
    public async Task Server_run_refuses_a_bad_log_format_or_otlp_endpoint_with_exit_code_64_naming_it(string option, string value, string named)
    {
        var (code, stdout, stderr) = await RigAsync("server", "run", "--data", Path.Combine(_dir, "data"), option, value);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains($"'{named}'", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_run_refuses_an_unknown_log_format_with_exit_code_64()
    {
        var (code, stdout, stderr) = await RigAsync("agent", "run", "--state", Path.Combine(_dir, "agent"), "--log-format", "yaml");

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("'yaml'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_token_is_printed_once_and_only_its_hash_is_kept()
    {
        var data = Path.Combine(_dir, "data");
        var (code, stdout, stderr) = await RigAsync("server", "metrics-token", "--data", data);
        Assert.Equal(1, code);
        Assert.Contains("rig server init", stdout + stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await RigAsync("server", "init", "--data", data, "--json")).Code);
        (code, stdout, stderr) = await RigAsync("server", "metrics-token", "--data", data, "--json");
        Assert.True(code == 0, stderr + stdout);
        var token = JsonDocument.Parse(stdout).RootElement.GetProperty("metricsToken").GetString()!;
        Assert.StartsWith("rigmet_", token, StringComparison.Ordinal);
        var file = Path.Combine(data, "metrics-token.sha256");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(Rig.Server.Security.Tokens.Hash(token), File.ReadAllText(file).Trim());
    }
}
