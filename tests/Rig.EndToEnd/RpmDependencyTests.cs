using System.Diagnostics;
using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>RPM packages with dependencies end to end: a chain of three packages built with rpmbuild in the test
/// (rigapp needs riglib >= 2.0 and a file rigbase installs, riglib needs the capability rigbase provides), two
/// versions of riglib in the catalog. A role lists only rigapp; a real gateway adds and orders the rest, a real agent
/// (linux platform) installs them with rpm into a root with its own rpm database, and removing the role removes them
/// in reverse order.</summary>
public sealed class RpmDependencyTests
{
    [Fact]
    public async Task A_role_listing_only_the_top_of_a_chain_of_three_installs_the_chain_in_order_and_removes_it_in_reverse()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "rpm-root");
        await RunAsync("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--initdb");
        var rpms = new[]
        {
            await BuildRpmAsync(dir.Path, "rigbase", "1.0", "Provides: rig-base-capability = 1.0", "/usr/bin/rigbase-tool"),
            await BuildRpmAsync(dir.Path, "riglib", "1.0", "Requires: rig-base-capability"),
            await BuildRpmAsync(dir.Path, "riglib", "2.0", "Requires: rig-base-capability >= 1.0\nRequires: /usr/bin/rigbase-tool"),
            await BuildRpmAsync(dir.Path, "rigapp", "1.0", "Requires: riglib >= 2.0"),
        };
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        var (exit, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["package", "add", .. rpms, "--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json"]);
        Assert.True(exit == 0, $"rig package add failed ({exit}): {stderr}{stdout}");
        var app = (await site.Api.GetAsync<List<PackageInfo>>("api/v1/packages")).Single(p => p.Name == "rigapp");
        Assert.Equal(["riglib (>= 2.0)"], app.Depends);
        var lib = (await site.Api.GetAsync<List<PackageInfo>>("api/v1/packages")).Single(p => p.Key == "riglib@2.0-1");
        Assert.Equal(["/usr/bin/rigbase-tool", "rig-base-capability (>= 1.0)"], lib.Depends); // as rpm keeps them, sorted

        await site.SaveModelAsync(Model(app.Version, assigned: true));
        await site.StartAgentAsync("rpm-1", platform: ["--platform", "linux", "--root", root]);
        await TestSite.WaitUntilAsync(async () => (await site.DeviceAsync("rpm-1")).Inventory?.NativePackages is not null, TimeSpan.FromSeconds(60), "rpm-1's inventory");

        var plan = Assert.Single((await site.Api.GetAsync<PlanReport>("api/v1/plan?devices=rpm-1")).Devices);
        Assert.True(plan.Errors.Count == 0, string.Join("\n", plan.Errors));
        Assert.Equal(["install rigbase 1.0-1", "install riglib 2.0-1", "install rigapp 1.0-1", "inventory"], plan.Commands.Select(c => c.Description));
        Assert.Contains("needed by riglib 2.0-1: /usr/bin/rigbase-tool", plan.Commands[0].Reason, StringComparison.Ordinal);
        Assert.Contains("needed by rigapp 1.0-1: riglib (>= 2.0)", plan.Commands[1].Reason, StringComparison.Ordinal);
        await RollOutAsync(site);
        Assert.Equal("rigapp-1.0-1\nrigbase-1.0-1\nriglib-2.0-1", await InstalledAsync(root));

        await site.SaveModelAsync(Model(app.Version, assigned: false));
        plan = Assert.Single((await site.Api.GetAsync<PlanReport>("api/v1/plan?devices=rpm-1")).Devices);
        Assert.Equal(["remove rigapp", "remove riglib", "remove rigbase", "inventory"], plan.Commands.Select(c => c.Description));
        await RollOutAsync(site);
        Assert.Equal("", await InstalledAsync(root));
    }

    [Fact]
    public async Task A_chain_whose_last_link_is_not_in_the_catalog_is_a_plan_error_naming_it()
    {
        using var dir = new TempDirectory();
        var rpms = new[]
        {
            await BuildRpmAsync(dir.Path, "riglib", "2.0", "Requires: rig-base-capability >= 1.0"),
            await BuildRpmAsync(dir.Path, "rigapp", "1.0", "Requires: riglib >= 2.0"),
        };
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        var (exit, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["package", "add", .. rpms, "--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json"]);
        Assert.True(exit == 0, $"rig package add failed ({exit}): {stderr}{stdout}");
        await site.SaveModelAsync(Model("1.0-1", assigned: true));

        var plan = Assert.Single((await site.Api.GetAsync<PlanReport>("api/v1/plan?devices=rpm-1")).Devices);

        var error = Assert.Single(plan.Errors);
        Assert.Equal("package.missing-dependency", error.Code);
        Assert.Contains("riglib 2.0-1 (a dependency of rigapp, role app) needs rig-base-capability (>= 1.0)", error.Message, StringComparison.Ordinal);
        Assert.Contains("rig package add", error.Message, StringComparison.Ordinal);
    }

    private static RigModel Model(string appVersion, bool assigned) => new()
    {
        Sites = [new Site { Name = "t" }],
        Devices = [new Device { Name = "rpm-1", Site = "t", Tier = "app", OsFamily = "rhel", Architecture = "x86_64", Addresses = ["10.9.0.11"] }],
        Roles = [new Role { Name = "app", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new PackageItem("rigapp", appVersion)] }],
        Assignments = assigned ? [new RoleAssignment("rpm-1", "app")] : [],
    };

    private static async Task RollOutAsync(TestSite site)
    {
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id, TimeSpan.FromMinutes(2));
        var detail = await site.DeviceAsync("rpm-1");
        Assert.True(done.Status == RolloutStates.Succeeded,
            $"rollout {done.Status}: {detail.Status.Queue?.Error}\n{string.Join('\n', detail.Commands.Select(c => $"{c.Kind} {c.Status} {c.Result?.ErrorCode} {c.Result?.Error}"))}\n{site.AgentLog("rpm-1")}");
    }

    private static async Task<string> InstalledAsync(string root) =>
        string.Join('\n', (await RunAsync("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\\n"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

    /// <summary>A noarch .rpm with one file (its version) and, when given, an executable at <paramref name="tool"/>.</summary>
    private static async Task<string> BuildRpmAsync(string scratch, string name, string version, string extra, string? tool = null)
    {
        var top = Path.Combine(scratch, $"build-{name}-{version}");
        Directory.CreateDirectory(top);
        var spec = Path.Combine(top, name + ".spec");
        var install = $"mkdir -p %{{buildroot}}/opt/{name}\necho {version} > %{{buildroot}}/opt/{name}/version.txt\n" +
            (tool is null ? "" : $"mkdir -p %{{buildroot}}{Path.GetDirectoryName(tool)}\nprintf '#!/bin/sh\\n' > %{{buildroot}}{tool}\nchmod 755 %{{buildroot}}{tool}\n");
        await File.WriteAllTextAsync(spec,
            $"Name: {name}\nVersion: {version}\nRelease: 1\nSummary: Rig test package\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n{extra}\n\n" +
            $"%description\nA package built by the Rig tests.\n\n%install\n{install}\n%files\n/opt/{name}/version.txt\n{tool ?? ""}\n");
        await RunAsync("rpmbuild", "-bb", "--quiet", "--define", "_topdir " + top, "--define", "_rpmdir " + Path.Combine(top, "out"), spec);
        return Directory.GetFiles(Path.Combine(top, "out"), "*.rpm", SearchOption.AllDirectories).Single();
    }

    private static async Task<string> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr}");
        return await stdout;
    }
}
