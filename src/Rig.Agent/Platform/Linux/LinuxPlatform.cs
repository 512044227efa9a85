using Rig.Agent.Platform.Archive;
using Rig.Agent.Platform.Linux.Network;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux;

/// <summary>The Linux plug-in: a real device. Packages go through the device's own package managers (dpkg,
/// rpm; Rig archives are unpacked as in the sandbox), services through systemd, network configuration as
/// systemd-networkd or ifupdown files. <see cref="DeviceFileSystem.Root"/> is <c>/</c> on a running device;
/// another directory is a device root being prepared offline (an image, a chroot, a debootstrap root in tests):
/// packages are installed into it with <c>--root</c>, services are enabled with <c>systemctl --root</c> and their
/// start/stop recorded, and network files are written without being applied (unless <paramref name="networkLive"/>).</summary>
internal sealed class LinuxPlatform : IPlatform
{
    /// <summary>A Linux device rooted at <paramref name="root"/> (<c>/</c> for the running system). <paramref name="gateway"/>
    /// is the agent's gateway, probed after a network change; <paramref name="networkLive"/> applies network changes to the
    /// running network with iproute2 even for an offline root (appliances and tests whose agent owns a network namespace);
    /// <paramref name="packageTimeouts"/> bound the dpkg and rpm installers' waits (tests shorten them).</summary>
    public LinuxPlatform(string root, string? hostname, IReadOnlyList<string> allowedRoots, RigLimits limits, Uri? gateway = null, bool networkLive = false,
        NativePackageTimeouts? packageTimeouts = null)
    {
        Files = new DeviceFileSystem(root, allowedRoots, limits);
        if (!Directory.Exists(Files.Root))
            throw new Runtime.AgentException($"The device root '{Files.Root}' does not exist; fix 'root' in agent.json.");
        IsRunningSystem = Files.Root == "/";
        Database = new PackageDatabase(Files.Internal("/var/lib/rig/state.json"));
        Services = new SystemdServices(Files.Root, Database);
        var live = gateway is not null && (IsRunningSystem || networkLive);
        Network = new NetworkConfigurator(Files, new NetworkSettings(gateway is null ? null : GatewayProbe.For(gateway), live, Managers: IsRunningSystem,
            gateway is null ? "no gateway to probe" : $"offline root {Files.Root}"));
        Installers = new Dictionary<string, IPackageInstaller>(StringComparer.Ordinal)
        {
            [PackageFormats.RigArchive] = new ArchiveInstaller(Files, Database, limits),
            [PackageFormats.Deb] = new DpkgInstaller(Files, Database, packageTimeouts ?? NativePackageTimeouts.Default),
            [PackageFormats.Rpm] = new RpmInstaller(Files, Database, packageTimeouts ?? NativePackageTimeouts.Default),
        };
        Hostname = hostname ?? ReadHostname(Files.Root);
    }

    /// <summary>True when the root is <c>/</c>: services run and the network is live.</summary>
    public bool IsRunningSystem { get; }

    /// <inheritdoc />
    public string Name => "linux";
    /// <inheritdoc />
    public DeviceFileSystem Files { get; }
    /// <inheritdoc />
    public PackageDatabase Database { get; }
    /// <inheritdoc />
    public IReadOnlyDictionary<string, IPackageInstaller> Installers { get; }
    /// <inheritdoc />
    public IServiceManager Services { get; }
    /// <inheritdoc />
    public INetworkManager Network { get; }
    /// <inheritdoc />
    public string Hostname { get; }
    /// <inheritdoc />
    public int BootCount => Database.Snapshot.BootCount;

    /// <inheritdoc />
    public void RecordBoot() => Database.Update(s => s with { BootCount = s.BootCount + 1 });

    /// <inheritdoc />
    public string? BootId
    {
        get
        {
            if (!IsRunningSystem)
                return null;
            try
            {
                return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }
    }

    /// <inheritdoc />
    public async Task<bool> RebootAsync(Runtime.AgentLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (!IsRunningSystem)
            return false; // an offline root has nothing to reboot: the supervisor's restart stands for it
        var (program, arguments) = Directory.Exists("/run/systemd/system") ? ("systemctl", new[] { "reboot" }) : ("reboot", []);
        var outcome = await ProcessRunner.RunAsync(program, arguments, TimeSpan.FromMinutes(1), CancellationToken.None).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
            throw new Runtime.AgentException($"'{program} {string.Join(' ', arguments)}' failed ({outcome.ExitCode}): {outcome.Message}. Reboot the device by hand; the agent reports the reboot when it starts again.");
        log.Info(Runtime.AgentEvents.Rebooting, $"{program} {string.Join(' ', arguments)} started");
        return true;
    }

    private static string ReadHostname(string root)
    {
        if (root == "/")
            return Environment.MachineName;
        try
        {
            var text = File.ReadAllText(Path.Combine(root, "etc/hostname")).Trim();
            return text.Length > 0 ? text : Environment.MachineName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Environment.MachineName;
        }
    }
}
