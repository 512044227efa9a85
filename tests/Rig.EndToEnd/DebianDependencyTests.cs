using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Rig.Testing;

namespace Rig.EndToEnd;

/// <summary>Real Debian packages with real dependencies: nginx-light from the Debian mirror with everything a
/// debootstrap minbase root lacks (20 packages, a virtual package and version ranges among them) in the catalog; a
/// role lists only nginx-light. A real gateway plans the closure in dependency order, a real agent (linux platform,
/// rooted at the debootstrap root) installs it with dpkg, and removing the role or decommissioning the device takes
/// everything out again, dependents first, leaving the base system as it was.</summary>
public sealed class DebianDependencyTests
{
    /// <summary>What nginx-light needs beyond bookworm's minbase (as <c>apt-get install --simulate</c> says), and nginx-light.</summary>
    private static readonly string[] Closure =
    [
        "libelf1", "libbpf1", "libbsd0", "libmnl0", "libkrb5support0", "libk5crypto3", "libkeyutils1", "libssl3", "libkrb5-3",
        "libgssapi-krb5-2", "libtirpc-common", "libtirpc3", "libxtables12", "libcap2-bin", "iproute2", "nginx-common", "nginx",
        "libnginx-mod-http-echo", "nginx-light",
    ];

    [Fact]
    public async Task A_role_listing_only_nginx_light_installs_the_closure_in_dependency_order_and_removing_the_role_removes_it_dependents_first()
    {
        using var dir = new TempDirectory();
        await using var setup = await SetUpAsync(dir);
        var site = setup.Site;

        var plan = await PlanAsync(site);
        var installs = plan.Commands.Where(c => c.Kind == "install").ToList();
        Assert.Equal(Closure.Order(StringComparer.Ordinal), installs.Select(c => Name(c.Description)).Order(StringComparer.Ordinal));
        Assert.Equal("nginx-light", Name(installs[^1].Description));
        AssertBefore(installs, "libkrb5support0", "libkrb5-3");
        AssertBefore(installs, "libelf1", "libbpf1");
        AssertBefore(installs, "libbsd0", "iproute2");
        AssertBefore(installs, "iproute2", "nginx");
        AssertBefore(installs, "nginx-common", "nginx");
        AssertBefore(installs, "nginx", "libnginx-mod-http-echo"); // through the virtual package nginx-abi-1.22.1-7
        Assert.All(installs.SkipLast(1), c => Assert.Contains("needed by ", c.Reason, StringComparison.Ordinal));
        Assert.Equal("not installed", installs[^1].Reason);

        await RollOutAsync(site);
        Assert.Equal(
            setup.Base.Concat(Closure.Select(n => setup.Catalog[n])).Order(StringComparer.Ordinal),
            await DebianRoot.InstalledAsync(setup.Root));
        await AssertAuditCleanAsync(setup.Root);
        var test = await DebianRoot.ChrootAsync(setup.Root, "nginx", "-t");
        Assert.True(test.ExitCode == 0, test.Output);
        Assert.True(await PlanIsEmptyAsync(site), "after the rollout the plan should be empty");

        // Take the role off: everything it brought goes, dependents first (dpkg refuses anything else).
        await site.SaveModelAsync(Model(setup.Catalog["nginx-light"].Split(' ')[1], assigned: false));
        var removal = await PlanAsync(site);
        var removes = removal.Commands.Where(c => c.Kind == "remove").Select(c => c.Description["remove ".Length..]).ToList();
        Assert.Equal(Closure.Order(StringComparer.Ordinal), removes.Order(StringComparer.Ordinal));
        Assert.Equal("nginx-light", removes[0]);
        Assert.True(removes.IndexOf("nginx") < removes.IndexOf("nginx-common"), string.Join(", ", removes));
        Assert.True(removes.IndexOf("libkrb5-3") < removes.IndexOf("libkrb5support0"), string.Join(", ", removes));
        await RollOutAsync(site);

        Assert.Equal(setup.Base, await DebianRoot.InstalledAsync(setup.Root));
        await AssertAuditCleanAsync(setup.Root);
    }

    [Fact]
    public async Task Decommissioning_a_device_with_nginx_light_leaves_only_the_base_system()
    {
        using var dir = new TempDirectory();
        await using var setup = await SetUpAsync(dir);
        var site = setup.Site;
        await RollOutAsync(site);
        Assert.Contains(setup.Catalog["nginx"], await DebianRoot.InstalledAsync(setup.Root));

        var result = await site.Api.PostAsync<LifecycleResult>("api/v1/devices/deb-1/decommission?message=retire", null);
        Assert.Empty(result.Errors);
        var done = await site.WaitForRolloutToFinishAsync(result.Rollout!.Id, TimeSpan.FromMinutes(5));
        Assert.True(done.Status == RolloutStates.Succeeded, $"{Operations.Describe(done)}\n{site.AgentLog("deb-1")}"); // a decommissioned device is forgotten

        Assert.Equal(setup.Base, await DebianRoot.InstalledAsync(setup.Root));
        await AssertAuditCleanAsync(setup.Root);
    }

    [Fact]
    public async Task A_role_whose_package_needs_something_missing_from_the_catalog_is_a_plan_error_and_nothing_is_sent()
    {
        using var dir = new TempDirectory();
        await using var setup = await SetUpAsync(dir, leaveOut: "nginx-common");
        var site = setup.Site;

        var plan = await PlanAsync(site, valid: false);
        var error = Assert.Single(plan.Errors);
        Assert.Equal("package.missing-dependency", error.Code);
        Assert.Contains("needs nginx-common (<< 1.22.1", error.Message, StringComparison.Ordinal);
        Assert.Contains("and nginx-common (>= 1.22.1", error.Message, StringComparison.Ordinal);
        Assert.Contains("rig package fetch nginx-common", error.Message, StringComparison.Ordinal);

        var converge = await site.ConvergeAsync("deb-1");
        Assert.Equal("invalid", Assert.Single(converge.Devices).Outcome);
        var device = await site.DeviceAsync("deb-1");
        Assert.Null(device.Status.Queue);
        Assert.Empty(device.Commands);
        Assert.Equal(setup.Base, await DebianRoot.InstalledAsync(setup.Root));
    }

    [Fact]
    public async Task A_device_side_missing_dependency_shows_its_code_and_message_in_rollout_status_and_device_show()
    {
        using var dir = new TempDirectory();
        await using var setup = await SetUpAsync(dir, byHand: "libmnl0");
        var site = setup.Site;

        // Behind Rig's back, while the agent is down: a library the gateway's last inventory says the device has (installed
        // by hand before the agent came, so the plan does not add it) goes. iproute2 needs it: the agent refuses to install.
        await site.Agents.Single().StopAsync(TimeSpan.FromSeconds(10));
        var purge = await DebianRoot.RunToolAsync("dpkg", "--root=" + setup.Root, "--purge", "libmnl0");
        Assert.True(purge.ExitCode == 0, purge.Output);
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null));
        site.RestartAgent("deb-1");
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id, TimeSpan.FromMinutes(5));
        Assert.Equal(RolloutStates.Failed, done.Status);
        static string Flat(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

        var connection = new[] { "--server", setup.Gateway.ApiUrl.ToString(), "--token", setup.Gateway.Token, "--ca", setup.Gateway.CaPath };
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["rollout", "status", rollout.Id, .. connection]);
        Assert.True(code == 1, $"rig rollout status exited {code}: {stderr}{stdout}");
        Assert.True(Flat(stdout).Contains("(install iproute2 6.1.0-3) failed [missing-dependency]: iproute2 6.1.0-3 needs libmnl0", StringComparison.Ordinal), stdout);

        (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["device", "show", "deb-1", .. connection]);
        Assert.True(code == 1, $"rig device show exited {code}: {stderr}{stdout}");
        Assert.True(Flat(stdout).Contains("(install iproute2 6.1.0-3) failed missing-dependency: iproute2 6.1.0-3 needs libmnl0", StringComparison.Ordinal), stdout);

        (code, stdout, _) = await Launch.RunAsync(TimeSpan.FromMinutes(1), ["device", "show", "deb-1", .. connection, "--json"]);
        Assert.Equal(1, code);
        var failed = System.Text.Json.JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.GetProperty("commands").EnumerateArray()
            .Single(c => c.GetProperty("status").GetString() == "failed");
        Assert.Equal("missing-dependency", failed.GetProperty("result").GetProperty("errorCode").GetString());
    }

    // ---- helpers -------------------------------------------------------------------------------

    private sealed class Setup(TempDirectory dir, GatewayHarness gateway, TestSite site, string root, IReadOnlyList<string> basePackages, IReadOnlyDictionary<string, string> catalog) : IAsyncDisposable
    {
        public TempDirectory Dir { get; } = dir;
        public GatewayHarness Gateway { get; } = gateway;
        public TestSite Site { get; } = site;
        public string Root { get; } = root;
        public IReadOnlyList<string> Base { get; } = basePackages;

        /// <summary>"name version" of every imported package, by name.</summary>
        public IReadOnlyDictionary<string, string> Catalog { get; } = catalog;

        public async ValueTask DisposeAsync()
        {
            await Site.DisposeAsync();
            await Gateway.DisposeAsync();
        }
    }

    private static async Task<Setup> SetUpAsync(TempDirectory dir, string? leaveOut = null, string? byHand = null)
    {
        var root = await DebianRoot.CreateAsync(Path.Combine(dir.Path, "debian-root"));
        var debs = await DebianRoot.DownloadSetAsync("nginx-light", [.. Closure, "hello"]);
        if (byHand is not null)
        {
            var install = await DebianRoot.RunToolAsync("dpkg", "--root=" + root, "--install", debs[byHand]);
            Assert.True(install.ExitCode == 0, install.Output);
        }
        var basePackages = await DebianRoot.InstalledAsync(root);
        var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);

        var files = debs.Where(d => d.Key != leaveOut).Select(d => d.Value).ToArray();
        var (exit, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), ["package", "add", .. files, "--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json"]);
        Assert.True(exit == 0, $"rig package add failed ({exit}): {stderr}{stdout}");
        var catalog = (await site.Api.GetAsync<List<PackageInfo>>("api/v1/packages")).ToDictionary(p => p.Name, p => $"{p.Name} {p.Version}", StringComparer.Ordinal);
        Assert.Equal(files.Length, catalog.Count);
        Assert.Contains("nginx-abi-1.22.1-7", (await site.Api.GetAsync<List<PackageInfo>>("api/v1/packages")).Single(p => p.Name == "nginx").Provides);

        await site.SaveModelAsync(Model(catalog["nginx-light"].Split(' ')[1], assigned: true));
        await site.StartAgentAsync("deb-1", platform: ["--platform", "linux", "--root", root]);
        // Plans need the device's native packages: its first inventory comes with its check-in.
        await TestSite.WaitUntilAsync(async () => (await site.DeviceAsync("deb-1")).Inventory?.NativePackages is { Count: > 50 }, TimeSpan.FromSeconds(60), "deb-1's inventory");
        return new Setup(dir, gateway, site, root, basePackages, catalog);
    }

    private static RigModel Model(string nginxLightVersion, bool assigned) => new()
    {
        Sites = [new Site { Name = "t" }],
        Devices = [new Device { Name = "deb-1", Site = "t", Tier = "web", OsFamily = "debian", Addresses = ["10.9.0.10"] }],
        Roles = [new Role { Name = "web", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new PackageItem("nginx-light", nginxLightVersion)] }],
        Assignments = assigned ? [new RoleAssignment("deb-1", "web")] : [],
    };

    private static async Task<DevicePlanReport> PlanAsync(TestSite site, bool valid = true)
    {
        var report = await site.Api.GetAsync<PlanReport>("api/v1/plan?devices=deb-1");
        var plan = Assert.Single(report.Devices);
        if (valid)
            Assert.True(plan.Errors.Count == 0, string.Join("\n", plan.Errors));
        return plan;
    }

    private static async Task<bool> PlanIsEmptyAsync(TestSite site) => (await PlanAsync(site)).Commands.Count == 0;

    private static string Name(string description) => description.Split(' ')[1];

    private static void AssertBefore(IReadOnlyList<PlanCommandView> installs, string first, string then)
    {
        var names = installs.Select(c => Name(c.Description)).ToList();
        Assert.True(names.IndexOf(first) >= 0 && names.IndexOf(first) < names.IndexOf(then), $"{first} should be installed before {then}: {string.Join(", ", names)}");
    }

    private static async Task AssertAuditCleanAsync(string root)
    {
        var audit = await DebianRoot.ChrootAsync(root, "dpkg", "--audit");
        Assert.Equal((0, ""), (audit.ExitCode, audit.Output.Trim()));
    }

    private static async Task RollOutAsync(TestSite site)
    {
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id, TimeSpan.FromMinutes(5));
        Assert.True(done.Status == RolloutStates.Succeeded, Describe(done, await site.DeviceAsync("deb-1"), site));
    }

    private static string Describe(RolloutInfo rollout, DeviceDetail detail, TestSite site) =>
        $"rollout {rollout.Status}: {detail.Status.Queue?.Error}\n{string.Join('\n', detail.Commands.Select(c => $"{c.Kind} {c.Status} {c.Result?.ErrorCode} {c.Result?.Error} {c.Result?.Output}"))}\n{site.AgentLog("deb-1")}";
}
