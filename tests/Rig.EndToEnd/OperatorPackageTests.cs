using System.Text.Json;
using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>What an operator makes and hands out: packages built with <c>rig package build</c>, imported with
/// <c>rig package add</c> and installed by a real sandbox agent; enrollment tokens from <c>rig device token</c> in a file
/// only its owner can read, with the agent command line that enrolls a real agent as printed.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class OperatorPackageTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private static string[] Connection(GatewayHarness gateway) => ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath];

    [Fact]
    public async Task A_built_package_imports_with_package_add_and_installs_through_a_role_with_its_modes_link_and_service()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        var source = Path.Combine(dir.Path, "hello-web");
        Directory.CreateDirectory(Path.Combine(source, "files/usr/bin"));
        Directory.CreateDirectory(Path.Combine(source, "files/etc/hello-web"));
        File.WriteAllText(Path.Combine(source, "package.yaml"), """
            name: hello-web
            version: 1.0.0
            description: Says hello
            osFamily: linux
            service: hello-web
            modes:
              /etc/hello-web/key: "0600"
            """);
        File.WriteAllText(Path.Combine(source, "files/usr/bin/hello-web"), "#!/bin/sh\necho hello\n");
        File.SetUnixFileMode(Path.Combine(source, "files/usr/bin/hello-web"), (UnixFileMode)Convert.ToInt32("755", 8));
        File.WriteAllText(Path.Combine(source, "files/etc/hello-web/key"), "k3y\n");
        File.CreateSymbolicLink(Path.Combine(source, "files/usr/bin/hello"), "hello-web");

        var (code, stdout, stderr) = await RigIn.RunAsync(dir.Path, null, CommandTimeout, "package", "build", source, "--json");
        Assert.True(code == 0, stdout + stderr);
        var built = JsonDocument.Parse(stdout).RootElement.GetProperty("packages")[0];
        Assert.Equal(Path.Combine(dir.Path, "hello-web_1.0.0.rig.tar.gz"), built.GetProperty("file").GetString());
        (code, stdout, stderr) = await RigIn.RunAsync(dir.Path, null, CommandTimeout, ["package", "add", "hello-web_1.0.0.rig.tar.gz", .. Connection(gateway), "--json"]);
        Assert.True(code == 0, stdout + stderr);
        var added = JsonDocument.Parse(stdout).RootElement[0].GetProperty("package");
        Assert.Equal(built.GetProperty("sha256").GetString(), added.GetProperty("sha256").GetString());
        Assert.Equal("hello-web", added.GetProperty("service").GetString());

        await site.SaveModelAsync(new RigModel
        {
            Sites = [new Site { Name = "t" }],
            Devices = [new Device { Name = "web-1", Site = "t", OsFamily = "debian", Addresses = ["10.9.0.10"] }],
            Roles = [new Role { Name = "hello", Kind = BuiltInRoleKinds.App, Items = [new PackageItem("hello-web", "1.0.0"), new ServiceItem("hello-web")] }],
            Assignments = [new RoleAssignment("web-1", "hello")],
        });
        await site.StartAgentAsync("web-1");
        await site.ConvergeAsync("web-1");
        var detail = await site.WaitForQueueAsync("web-1");

        Assert.True(detail.Status.Queue!.Status == QueueStates.Succeeded, $"{detail.Status.Queue.Error}\n{site.AgentLog("web-1")}");
        var root = site.Root("web-1");
        Assert.Equal("#!/bin/sh\necho hello\n", File.ReadAllText(Path.Combine(root, "usr/bin/hello-web")));
        Assert.Equal((UnixFileMode)Convert.ToInt32("755", 8), File.GetUnixFileMode(Path.Combine(root, "usr/bin/hello-web")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, "etc/hello-web/key")));
        Assert.Equal("hello-web", new FileInfo(Path.Combine(root, "usr/bin/hello")).LinkTarget);
        Assert.Equal(added.GetProperty("sha256").GetString(), detail.Recorded.Packages["hello-web"].Sha256);
        Assert.True(detail.Recorded.Services.ContainsKey("hello-web"));
    }

    [Fact]
    public async Task Device_token_goes_to_an_owner_only_file_and_the_printed_agent_line_with_the_real_url_enrolls_an_agent()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1"]));
        var operatorDirectory = Directory.CreateDirectory(Path.Combine(dir.Path, "operator")).FullName;

        var (code, stdout, stderr) = await RigIn.RunAsync(operatorDirectory, null, CommandTimeout, ["device", "token", "web-1", .. Connection(gateway)]);

        Assert.True(code == 0, stdout + stderr);
        var file = Path.Combine(operatorDirectory, "web-1.token");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var token = File.ReadAllText(file).Trim();
        Assert.StartsWith("rigenroll_", token, StringComparison.Ordinal);
        Assert.DoesNotContain(token, stdout + stderr, StringComparison.Ordinal);
        var line = stdout.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("rig-agent install ", StringComparison.Ordinal));
        var agentUrl = $"https://localhost:{gateway.AgentPort}";
        Assert.Contains($"--gateway {agentUrl} ", line, StringComparison.Ordinal);
        Assert.Contains("--device web-1 --token-file web-1.token --ca-pin sha256:", line, StringComparison.Ordinal);

        // The line as printed enrolls a real agent (`rig agent enroll`: `install` also enables a systemd unit).
        string[] printed = line["rig-agent install ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        (code, stdout, stderr) = await RigIn.RunAsync(operatorDirectory, null, CommandTimeout,
            ["agent", "enroll", .. printed, "--state", site.State("web-1"), "--sandbox-root", site.Root("web-1"), "--poke-address", "127.0.0.1", "--poke-port", "0"]);
        Assert.True(code == 0, stdout + stderr);
        site.RestartAgent("web-1");
        await TestSite.WaitUntilAsync(async () => (await site.Api.GetAsync<DeviceDetail>("api/v1/devices/web-1")).Status.LastSeenAt is not null,
            TimeSpan.FromSeconds(60), "web-1 to check in", () => site.AgentLog("web-1"));

        // --json: the API's token response, with the agent URL; the file written as well.
        (code, stdout, stderr) = await RigIn.RunAsync(operatorDirectory, null, CommandTimeout, ["device", "token", "web-1", "--output", "again.token", .. Connection(gateway), "--json"]);
        Assert.True(code == 0, stdout + stderr);
        var json = JsonSerializer.Deserialize<EnrollmentToken>(stdout, Rig.Cli.Operator.OperatorClient.Json)!;
        Assert.Equal(agentUrl, json.AgentUrl);
        Assert.Equal(json.Token, File.ReadAllText(Path.Combine(operatorDirectory, "again.token")).Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(operatorDirectory, "again.token")));
    }
}
