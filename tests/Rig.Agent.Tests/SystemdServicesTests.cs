using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Tests;

/// <summary>Services through systemd. PID 1 is not systemd on the test machines, so units are never started here:
/// enable/disable run for real with <c>systemctl --root</c> against a unit file in a temporary root and are checked by
/// the links they leave; start/stop in an offline root are recorded.</summary>
public sealed class SystemdServicesTests : IDisposable
{
    private const string Unit = """
        [Unit]
        Description=Rig test service

        [Service]
        ExecStart=/bin/true

        [Install]
        WantedBy=multi-user.target
        """;

    private readonly TempDirectory _temp = new();
    private readonly string _root;
    private readonly LinuxPlatform _platform;

    public SystemdServicesTests()
    {
        if (ProcessRunner.Find("systemctl") is null)
            Assert.Fail("These tests need systemctl; install the apt package systemd.");
        _root = _temp.Sub("root");
        Directory.CreateDirectory(Path.Combine(_root, "lib/systemd/system"));
        Directory.CreateDirectory(Path.Combine(_root, "etc/systemd/system"));
        File.WriteAllText(Path.Combine(_root, "lib/systemd/system/rig-test.service"), Unit);
        _platform = new LinuxPlatform(_root, "dev1", ["/etc"], RigLimits.Default);
    }

    public void Dispose() => _temp.Dispose();

    private string WantsLink => Path.Combine(_root, "etc/systemd/system/multi-user.target.wants/rig-test.service");

    [Fact]
    public async Task Enable_in_an_offline_root_creates_the_wants_link_and_disable_removes_it()
    {
        var enabled = await _platform.Services.ApplyAsync("rig-test.service", ServiceAction.Enable, CancellationToken.None);

        Assert.Equal("/lib/systemd/system/rig-test.service", new FileInfo(WantsLink).LinkTarget);
        Assert.Contains("offline root", enabled, StringComparison.Ordinal);
        Assert.Equal([new ServiceState("rig-test.service", false, true)], await _platform.Services.ListAsync(CancellationToken.None));

        await _platform.Services.ApplyAsync("rig-test.service", ServiceAction.Disable, CancellationToken.None);

        Assert.False(File.Exists(WantsLink) || new FileInfo(WantsLink).LinkTarget is not null);
        Assert.Equal([new ServiceState("rig-test.service", false, false)], await _platform.Services.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Enabled_state_is_read_from_the_root_not_from_what_was_recorded()
    {
        await _platform.Services.ApplyAsync("rig-test.service", ServiceAction.Enable, CancellationToken.None);
        File.Delete(WantsLink); // someone disabled it by hand

        Assert.Equal([new ServiceState("rig-test.service", false, false)], await _platform.Services.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Start_and_stop_in_an_offline_root_are_recorded()
    {
        var output = await _platform.Services.ApplyAsync("rig-test.service", ServiceAction.Start, CancellationToken.None);

        Assert.Contains("recorded", output, StringComparison.Ordinal);
        Assert.Equal([new ServiceState("rig-test.service", true, false)], await _platform.Services.ListAsync(CancellationToken.None));
        await _platform.Services.ApplyAsync("rig-test.service", ServiceAction.Stop, CancellationToken.None);
        Assert.Equal([new ServiceState("rig-test.service", false, false)], await _platform.Services.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Enabling_a_unit_the_root_does_not_have_is_unknown_service()
    {
        var e = await Assert.ThrowsAsync<CommandFailedException>(() => _platform.Services.ApplyAsync("no-such-unit.service", ServiceAction.Enable, CancellationToken.None));

        Assert.Equal("unknown-service", e.Code);
        Assert.Contains("no-such-unit.service", e.Message, StringComparison.Ordinal);
        Assert.Empty(await _platform.Services.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Bad_service_name_never_reaches_systemctl()
    {
        var e = await Assert.ThrowsAsync<CommandFailedException>(() => _platform.Services.ApplyAsync("--root=/", ServiceAction.Enable, CancellationToken.None));

        Assert.Equal("bad-service", e.Code);
    }

    [Fact]
    public async Task Starting_on_the_running_system_says_when_pid_1_is_not_systemd()
    {
        var services = new SystemdServices("/", new PackageDatabase(Path.Combine(_temp.Path, "state.json")));

        var e = await Assert.ThrowsAsync<CommandFailedException>(() => services.ApplyAsync("rig-no-such-unit-4711.service", ServiceAction.Start, CancellationToken.None));

        // Without systemd as PID 1 (containers, CI) the agent says so; with it, the unit is unknown. Neither starts anything.
        if (Directory.Exists("/run/systemd/system"))
        {
            Assert.Equal("unknown-service", e.Code);
        }
        else
        {
            Assert.Equal("systemd-not-running", e.Code);
            Assert.Contains("PID 1", e.Message, StringComparison.Ordinal);
        }
    }
}
