using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server;
using Rig.Server.Api;

namespace Rig.Cli.Tests;

/// <summary>The CLI against a real gateway's operator API (in this process, real Kestrel over real TLS): its errors
/// reach the operator with their code, message, hint and model errors.</summary>
public sealed class OperatorClientTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rig-cli-api-").FullName;
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

    [Fact]
    public async Task An_api_error_reaches_the_client_with_its_code_message_hint_and_model_errors()
    {
        using var client = new OperatorClient(_server.ApiUrl, _token, X509CertificateLoader.LoadCertificateFromFile(Ca));
        var model = new RigModel { Sites = [new Site { Name = "s" }], Devices = [new Device { Name = "web-1", Site = "nowhere" }] };

        var refused = await Assert.ThrowsAsync<OperatorApiException>(() =>
            client.PostJsonTextAsync<ApplyResponse>("api/v1/apply?message=x", JsonSerializer.Serialize(model, ModelJson.Default.RigModel)));

        Assert.Equal(400, refused.Status);
        Assert.Equal("invalid-model", refused.Error.Code);
        Assert.Equal(refused.Error.Message, refused.Message);
        Assert.Equal("site.unknown", Assert.Single(refused.Error.Errors!).Code);
        Assert.False(string.IsNullOrWhiteSpace(refused.Error.Hint));
    }

    [Fact]
    public async Task A_wrong_token_is_reported_as_refused_with_its_hint()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "rig.dll"), "device", "list", "--server", _server.ApiUrl.ToString(), "--ca", Ca, "--token", "rigop_not-this-one" })
            info.ArgumentList.Add(a);
        info.Environment["COLUMNS"] = "200";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("The token was refused", output, StringComparison.Ordinal);
        Assert.Contains("hint:", output, StringComparison.Ordinal);
        Assert.Contains("RIG_TOKEN", output, StringComparison.Ordinal);
        Assert.DoesNotContain("not-this-one", output, StringComparison.Ordinal);
    }
    [Fact]
    public async Task Rig_approve_by_a_second_operator_is_recorded_and_shown_by_history_while_the_author_is_refused()
    {
        using var admin = new OperatorClient(_server.ApiUrl, _token, X509CertificateLoader.LoadCertificateFromFile(Ca));
        await admin.PostAsync<JsonElement>("api/v1/teams", new { name = "os-approvers" });
        await admin.PostAsync<JsonElement>("api/v1/grants", new { team = "os-approvers", verbs = new[] { "read", "approve" }, scope = new { kinds = new[] { "os" } }, reason = "test" });
        var bob = (await admin.PostAsync<JsonElement>("api/v1/tokens", new { name = "bob-1", @operator = "bob", team = "os-approvers" })).GetProperty("secret").GetString()!;
        var model = new RigModel
        {
            Sites = [new Site { Name = "shop" }],
            Devices = [new Device { Name = "web-1", Site = "shop" }],
            Roles = [new Role { Name = "base", Kind = "os" }],
            Assignments = [new RoleAssignment("web-1", "base")],
        };
        await admin.PostJsonTextAsync<ApplyResponse>("api/v1/apply?message=os", JsonSerializer.Serialize(model, ModelJson.Default.RigModel));

        var (selfCode, selfOut) = await RigAsync(_token, "approve", "1", "--json");
        var (code, output) = await RigAsync(bob, "approve", "1", "-m", "tested", "--json");
        var (_, history) = await RigAsync(_token, "history", "--json");

        Assert.Equal(1, selfCode);
        Assert.Equal("forbidden", JsonDocument.Parse(selfOut).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, code);
        var approval = JsonDocument.Parse(output).RootElement;
        Assert.Equal("approved", approval.GetProperty("state").GetString());
        Assert.Equal("tested", approval.GetProperty("decisions")[0].GetProperty("message").GetString());
        Assert.Equal("approved", JsonDocument.Parse(history).RootElement[0].GetProperty("approval").GetString());
    }

    /// <summary>Run <c>rig</c> against the gateway with <paramref name="token"/>: exit code and standard output.</summary>
    private async Task<(int Code, string Stdout)> RigAsync(string token, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "rig.dll"), .. args, "--server", _server.ApiUrl.ToString(), "--ca", Ca, "--token", token])
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        await stderr;
        return (process.ExitCode, await stdout);
    }
}
