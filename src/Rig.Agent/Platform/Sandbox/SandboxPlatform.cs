using Rig.Agent.Platform.Archive;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Sandbox;

/// <summary>The sandbox plug-in: the device is a directory. Files and packages go under the root, services
/// are recorded (not started), a reboot ends the agent process with <see cref="ProtocolInfo.RebootExitCode"/>
/// and its supervisor (the test harness or <c>rig demo</c>) starts it again. Many sandboxed agents run as
/// separate processes on one machine.</summary>
internal sealed class SandboxPlatform : IPlatform
{
    /// <summary>A sandbox rooted at <paramref name="root"/>.</summary>
    public SandboxPlatform(string root, string hostname, IReadOnlyList<string> allowedRoots, RigLimits limits)
    {
        Directory.CreateDirectory(root);
        Files = new DeviceFileSystem(root, allowedRoots, limits);
        Database = new PackageDatabase(Files.Internal("/var/lib/rig/state.json"));
        Services = new RecordedServices(Database, "sandbox");
        Network = new Linux.Network.NetworkConfigurator(Files, new Linux.Network.NetworkSettings(null, Live: false, Managers: false, "sandbox"));
        Installers = new Dictionary<string, IPackageInstaller>(StringComparer.Ordinal)
        {
            [PackageFormats.RigArchive] = new ArchiveInstaller(Files, Database, limits),
        };
        Hostname = hostname;
    }

    /// <inheritdoc />
    public string Name => "sandbox";
    /// <inheritdoc />
    public DeviceFileSystem Files { get; }
    /// <inheritdoc />
    public PackageDatabase Database { get; }
    /// <inheritdoc />
    public IReadOnlyDictionary<string, IPackageInstaller> Installers { get; }
    /// <inheritdoc />
    public IServiceManager Services { get; }
    /// <inheritdoc />
    public Linux.Network.INetworkManager Network { get; }
    /// <inheritdoc />
    public string Hostname { get; }
    /// <inheritdoc />
    public int BootCount => Database.Snapshot.BootCount;

    /// <inheritdoc />
    public void RecordBoot() => Database.Update(s => s with { BootCount = s.BootCount + 1 });

    /// <inheritdoc />
    public Task<bool> RebootAsync(Runtime.AgentLog log) => Task.FromResult(false);

    /// <inheritdoc />
    public string? BootId => null;
}
