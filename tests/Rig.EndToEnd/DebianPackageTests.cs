using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Rig.Testing;

namespace Rig.EndToEnd;

/// <summary>Debian packages end to end: a real gateway, a real agent process on the linux platform rooted at a
/// debootstrap Debian root, the real <c>hello</c> package from the Debian mirror imported with
/// <c>rig package add</c>, installed and removed through rollouts by dpkg inside that root.</summary>
public sealed class DebianPackageTests
{
    [Fact]
    public async Task Hello_from_Debian_is_rolled_out_into_a_debian_root_runs_there_and_is_purged_again()
    {
        using var dir = new TempDirectory();
        var root = await DebianRoot.CreateAsync(Path.Combine(dir.Path, "debian-root"));
        var deb = await DebianRoot.DownloadAsync("hello");
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);

        var (exit, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "package", "add", deb, "--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json");
        Assert.True(exit == 0, $"rig package add failed ({exit}): {stderr}{stdout}");
        var hello = Assert.Single(await site.Api.GetAsync<List<PackageInfo>>("api/v1/packages"));
        Assert.Equal(("hello", "deb"), (hello.Name, hello.Format));

        await site.SaveModelAsync(Model([new PackageItem("hello", hello.Version)], roleVersion: "1"));
        await site.StartAgentAsync("deb-1", platform: ["--platform", "linux", "--root", root]);
        await RollOutAsync(site);

        var (code, greeting) = await DebianRoot.ChrootAsync(root, "hello");
        Assert.True(code == 0, greeting);
        Assert.Equal("Hello, world!", greeting.Trim());
        var installed = await DebianRoot.ChrootAsync(root, "dpkg-query", "--show", "--showformat", "${Status} ${Version}", "hello");
        Assert.Equal($"install ok installed {hello.Version}", installed.Output.Trim());
        var device = await site.Api.GetAsync<DeviceDetail>("api/v1/devices/deb-1");
        Assert.Equal("linux", device.Inventory?.Platform);
        Assert.Contains(device.Inventory!.Packages, p => p.Name == "hello" && p.Version == hello.Version && p.Format == "deb");

        await site.SaveModelAsync(Model([], roleVersion: "2")); // a role version pins its packages: the change is a new one
        await RollOutAsync(site);

        var after = await DebianRoot.ChrootAsync(root, "dpkg-query", "--show", "hello");
        Assert.NotEqual(0, after.ExitCode);
        Assert.Contains("no packages found matching hello", after.Output, StringComparison.Ordinal);
        var audit = await DebianRoot.ChrootAsync(root, "dpkg", "--audit");
        Assert.Equal((0, ""), (audit.ExitCode, audit.Output.Trim()));
        Assert.False(File.Exists(Path.Combine(root, "usr/bin/hello")));
        device = await site.Api.GetAsync<DeviceDetail>("api/v1/devices/deb-1");
        Assert.DoesNotContain(device.Inventory!.Packages, p => p.Name == "hello");
    }

    private static async Task RollOutAsync(TestSite site)
    {
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id);
        var detail = await site.Api.GetAsync<DeviceDetail>("api/v1/devices/deb-1");
        Assert.True(done.Status == RolloutStates.Succeeded,
            $"rollout {done.Status}: {detail.Status.Queue?.Error}\n{string.Join('\n', detail.Commands.Select(c => $"{c.Kind} {c.Status} {c.Result?.ErrorCode} {c.Result?.Error} {c.Result?.Output}"))}\n{site.AgentLog("deb-1")}");
    }

    private static RigModel Model(IReadOnlyList<Item> packages, string roleVersion) => new()
    {
        Sites = [new Site { Name = "t" }],
        Devices = [new Device { Name = "deb-1", Site = "t", Tier = "web", OsFamily = "debian", Addresses = ["10.9.0.10"] }],
        Roles = [new Role { Name = "base", Kind = BuiltInRoleKinds.Os, Version = roleVersion, Items = [.. packages] }],
        Assignments = [new RoleAssignment("deb-1", "base")],
    };
}
