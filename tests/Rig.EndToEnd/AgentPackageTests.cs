using System.Diagnostics;
using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Rig.Testing;

namespace Rig.EndToEnd;

/// <summary>The agent as a product: built as a Native AOT binary inside a .deb by the build itself
/// (<c>dotnet publish -p:PublishAot=true -p:RigDeb=true</c>), installed with dpkg into a real Debian root, made a
/// systemd service by <c>rig-agent install</c>, and upgraded by Rig through its own package.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AgentPackageTests(AgentDebFixture debs) : IClassFixture<AgentDebFixture>
{
    [Fact]
    public async Task The_agent_package_installs_with_dpkg_and_rig_agent_install_enrolls_and_enables_it()
    {
        using var dir = new TempDirectory();
        var root = await PreparedRootAsync(dir, debs.Old);
        Assert.True(File.Exists(Path.Combine(root, "usr/lib/rig-agent/rig-agent")), "the package installs the binary");
        Assert.Equal("../lib/rig-agent/rig-agent", new FileInfo(Path.Combine(root, "usr/sbin/rig-agent")).LinkTarget);
        var unit = File.ReadAllText(Path.Combine(root, "lib/systemd/system/rig-agent.service"));
        Assert.Contains("ExecStart=/usr/lib/rig-agent/rig-agent run --state /var/lib/rig-agent\n", unit, StringComparison.Ordinal);
        Assert.Contains("Restart=always\n", unit, StringComparison.Ordinal);

        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        var api = gateway.Api();
        await using var site = new TestSite(dir.Path, api, gateway.AgentUrl);
        await site.SaveModelAsync(new RigModel { Sites = [new Site { Name = "t" }], Devices = [new Device { Name = "img-1", Site = "t", OsFamily = "debian" }] });
        var token = await api.PostAsync<EnrollmentToken>("api/v1/devices/img-1/enrollment-token", null);
        var tokenFile = Path.Combine(dir.Path, "token");
        await File.WriteAllTextAsync(tokenFile, token.Token);

        string[] install = ["install", "--image", root, "--gateway", gateway.AgentUrl.ToString(), "--device", "img-1", "--token-file", tokenFile, "--ca-pin", token.CaPin];
        var (code, output) = await DebianRoot.RunToolAsync(Path.Combine(root, "usr/lib/rig-agent/rig-agent"), install);
        Assert.True(code == 0, $"rig-agent install failed ({code}): {output}");
        Assert.Contains("from the rig-agent package", output, StringComparison.Ordinal);
        var state = Path.Combine(root, "var/lib/rig-agent");
        var config = await File.ReadAllTextAsync(Path.Combine(state, "agent.json"));
        Assert.Contains("\"platform\":\"linux\"", config, StringComparison.Ordinal);
        Assert.Contains("\"root\":\"/\"", config, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(state, "agent.key")));
        var wants = new FileInfo(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/rig-agent.service"));
        Assert.Equal("/lib/systemd/system/rig-agent.service", wants.LinkTarget);
        Assert.False(File.Exists(Path.Combine(root, "etc/systemd/system/rig-agent.service")), "the packaged unit is used, not a copy");

        // Again: the identity is kept (the token was one-time), nothing breaks.
        (code, output) = await DebianRoot.RunToolAsync(Path.Combine(root, "usr/lib/rig-agent/rig-agent"), install);
        Assert.True(code == 0, $"a second install failed ({code}): {output}");
        Assert.Contains("already enrolled as img-1", output, StringComparison.Ordinal);

        // Without the package (a binary copied by hand): the unit is written to /etc with that binary. The image's
        // /var/lib is an absolute link, as images have: it is followed inside the image (where the identity copied
        // below is found and kept), never to the host.
        var bare = Path.Combine(dir.Path, "bare");
        var libTarget = "/rig-test-lib-" + Guid.NewGuid().ToString("n")[..8];
        Directory.CreateDirectory(Path.Combine(bare, "opt/rig"));
        Directory.CreateDirectory(Path.Combine(bare, "var"));
        Directory.CreateDirectory(bare + libTarget + "/rig-agent");
        File.CreateSymbolicLink(Path.Combine(bare, "var/lib"), libTarget);
        File.Copy(Path.Combine(root, "usr/lib/rig-agent/rig-agent"), Path.Combine(bare, "opt/rig/rig-agent"));
        foreach (var file in Directory.GetFiles(state))
            File.Copy(file, Path.Combine(bare + libTarget, "rig-agent", Path.GetFileName(file)));
        (code, output) = await DebianRoot.RunToolAsync(Path.Combine(root, "usr/lib/rig-agent/rig-agent"), ["install", "--image", bare, "--exec", "/opt/rig/rig-agent"]);
        Assert.True(code == 0, $"install of a bare binary failed ({code}): {output}");
        Assert.Contains("already enrolled as img-1", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(libTarget), $"{libTarget} was created on the host");
        Assert.Contains("ExecStart=/opt/rig/rig-agent run --state /var/lib/rig-agent\n", File.ReadAllText(Path.Combine(bare, "etc/systemd/system/rig-agent.service")), StringComparison.Ordinal);
        Assert.Equal("/etc/systemd/system/rig-agent.service", new FileInfo(Path.Combine(bare, "etc/systemd/system/multi-user.target.wants/rig-agent.service")).LinkTarget);

        // A path systemd would mangle is refused with the reason.
        (code, output) = await DebianRoot.RunToolAsync(Path.Combine(root, "usr/lib/rig-agent/rig-agent"), ["install", "--image", bare, "--exec", "/opt/rig/rig agent"]);
        Assert.Equal(1, code);
        Assert.Contains("cannot go into a systemd unit", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_agent_upgrades_itself_through_its_own_package_and_reports_the_new_version()
    {
        using var dir = new TempDirectory();
        var root = await PreparedRootAsync(dir, debs.Old);
        var binary = Path.Combine(root, "usr/lib/rig-agent/rig-agent");

        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        var api = gateway.Api();
        await using var site = new TestSite(dir.Path, api, gateway.AgentUrl);
        var added = (await api.AddPackageAsync(debs.New)).Package;
        Assert.Equal(("rig-agent", AgentDebFixture.NewVersion, "deb"), (added.Name, added.Version, added.Format));
        await site.SaveModelAsync(new RigModel
        {
            Sites = [new Site { Name = "t" }],
            Devices = [new Device { Name = "dev-1", Site = "t", OsFamily = "debian" }],
            Templates = [new ConfigTemplate("after", "written by {{ device.name }} after the agent's upgrade\n")],
            Roles =
            [
                new Role { Name = "agent", Kind = BuiltInRoleKinds.Os, Items = [new PackageItem("rig-agent", AgentDebFixture.NewVersion)] },
                new Role { Name = "app", Kind = BuiltInRoleKinds.App, Items = [new FileItem("/etc/after-upgrade.conf", "after")] },
            ],
            Assignments = [new RoleAssignment("dev-1", "agent"), new RoleAssignment("dev-1", "app")],
        });

        var token = await api.PostAsync<EnrollmentToken>("api/v1/devices/dev-1/enrollment-token", null);
        var state = site.State("dev-1");
        var (code, output) = await DebianRoot.RunToolAsync(binary, "enroll", "--state", state, "--gateway", gateway.AgentUrl.ToString(), "--device", "dev-1", "--token", token.Token,
            "--ca-pin", token.CaPin, "--platform", "linux", "--root", root, "--poke-address", "127.0.0.1", "--poke-port", "0");
        Assert.True(code == 0, $"enroll failed ({code}): {output}");
        // Supervised like systemd's Restart=always: started from the installed path, started again after exit 76.
        await using var agent = new AgentSupervisor("dev-1", state, new RigLauncher(binary, []));
        agent.Start();
        await TestSite.WaitUntilAsync(async () => (await api.GetAsync<DeviceDetail>("api/v1/devices/dev-1")).Status.AgentVersion == AgentDebFixture.OldVersion,
            TimeSpan.FromSeconds(60), "the old agent to check in", () => File.Exists(agent.LogPath) ? File.ReadAllText(agent.LogPath) : "");

        await site.ConvergeAsync("dev-1");
        var detail = await site.WaitForQueueAsync("dev-1", TimeSpan.FromMinutes(2));
        var log = File.ReadAllText(agent.LogPath);
        Assert.True(detail.Status.Queue!.Status == QueueStates.Succeeded, $"queue {detail.Status.Queue.Status}: {log}");
        Assert.Equal(1, agent.Restarts);
        Assert.Null(agent.UnexpectedExit);
        Assert.Contains("program was replaced", log, StringComparison.Ordinal);

        var (queryCode, version) = await DebianRoot.ChrootAsync(root, "dpkg-query", "-W", "-f", "${Version} ${Status}", "rig-agent");
        Assert.Equal((0, $"{AgentDebFixture.NewVersion} install ok installed"), (queryCode, version));
        Assert.Equal("written by dev-1 after the agent's upgrade\n", File.ReadAllText(Path.Combine(root, "etc/after-upgrade.conf")));
        await TestSite.WaitUntilAsync(async () => (await api.GetAsync<DeviceDetail>("api/v1/devices/dev-1")).Status.AgentVersion == AgentDebFixture.NewVersion,
            TimeSpan.FromSeconds(30), "the new agent to report its version", () => File.ReadAllText(agent.LogPath));
        // The install ran once: the new process did not run it again.
        Assert.Single(site.Journal("dev-1", "begin"), e => e.GetProperty("kind").GetString() == "install");
    }

    /// <summary>A fresh Debian root with OpenSSL (the agent's one library beyond libc) and <paramref name="agentDeb"/> installed by dpkg.</summary>
    private static async Task<string> PreparedRootAsync(TempDirectory dir, string agentDeb)
    {
        var root = await DebianRoot.CreateAsync(Path.Combine(dir.Path, "root"));
        var libssl = await DebianRoot.DownloadAsync("libssl3");
        var (code, output) = await DebianRoot.RunToolAsync("dpkg", "--root=" + root, "--install", libssl, agentDeb);
        Assert.True(code == 0, $"dpkg --install failed ({code}): {output}");
        return root;
    }
}

/// <summary>Two builds of the agent's .deb (versions <see cref="OldVersion"/> and <see cref="NewVersion"/>), made once
/// per run the way a release is: <c>dotnet publish src/Rig.Agent -r linux-x64 -p:PublishAot=true -p:RigDeb=true</c>.
/// Needs clang, lld and zlib1g-dev (Native AOT) and dpkg-deb; .ci/run installs them.</summary>
public sealed class AgentDebFixture : IAsyncLifetime
{
    /// <summary>The version installed first.</summary>
    public const string OldVersion = "9.0.1";

    /// <summary>The version Rig rolls out.</summary>
    public const string NewVersion = "9.0.2";

    private readonly TempDirectory _dir = new();

    /// <summary>rig-agent_9.0.1_amd64.deb</summary>
    public string Old { get; private set; } = "";

    /// <summary>rig-agent_9.0.2_amd64.deb</summary>
    public string New { get; private set; } = "";

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Old = await PublishAsync(OldVersion);
        New = await PublishAsync(NewVersion);
    }

    private async Task<string> PublishAsync(string version)
    {
        var project = FindProject();
        var output = Path.Combine(_dir.Path, version);
        string[] arguments = ["publish", project, "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-p:RigDeb=true", $"-p:Version={version}",
            "-o", output, "--artifacts-path", Path.Combine(_dir.Path, "artifacts-" + version), "--disable-build-servers", "-nologo"];
        var info = new ProcessStartInfo(Launch.Rig.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Publishing the agent's .deb {version} took over 8 minutes.");
        }
        var deb = Path.Combine(output, $"rig-agent_{version}_amd64.deb");
        if (process.ExitCode != 0 || !File.Exists(deb))
            throw new InvalidOperationException($"Publishing the agent's .deb failed ({process.ExitCode}); Native AOT needs clang, lld and zlib1g-dev:\n{await stdout}\n{await stderr}");
        return deb;
    }

    private static string FindProject()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Rig.Agent", "Rig.Agent.csproj");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new InvalidOperationException($"src/Rig.Agent/Rig.Agent.csproj is not above {AppContext.BaseDirectory}.");
    }

    /// <inheritdoc />
    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}
