using Rig.Protocol.Messages;

namespace Rig.Agent.Platform;

/// <summary>The OS abstraction layer: what the generic components need from a device. One plug-in per OS
/// family; today <c>sandbox</c> (everything confined under a root directory).</summary>
internal interface IPlatform
{
    /// <summary>Plug-in name, reported in inventories.</summary>
    string Name { get; }

    /// <summary>The device's file system, with safe path resolution.</summary>
    DeviceFileSystem Files { get; }

    /// <summary>What Rig installed and wrote on this device.</summary>
    PackageDatabase Database { get; }

    /// <summary>Package installers by format (<c>rig</c>, later <c>deb</c>, <c>rpm</c>).</summary>
    IReadOnlyDictionary<string, IPackageInstaller> Installers { get; }

    /// <summary>Start, stop, enable services.</summary>
    IServiceManager Services { get; }

    /// <summary>Network configuration (configure-network).</summary>
    Linux.Network.INetworkManager Network { get; }

    /// <summary>How many times this device has booted.</summary>
    int BootCount { get; }

    /// <summary>Record that the device booted (after a reboot).</summary>
    void RecordBoot();

    /// <summary>Reboot the device after the gateway acknowledged a reboot command. True when a real reboot was
    /// started (the agent then just stops); false when the agent's process exiting with
    /// <see cref="Rig.Protocol.ProtocolInfo.RebootExitCode"/> stands for it (sandbox, offline root): its
    /// supervisor starts it again.</summary>
    Task<bool> RebootAsync(Runtime.AgentLog log);

    /// <summary>The running kernel's boot id (<c>/proc/sys/kernel/random/boot_id</c>) where a reboot is real,
    /// else null: a reboot counts only when the boot id changed.</summary>
    string? BootId { get; }

    /// <summary>Host name.</summary>
    string Hostname { get; }
}

/// <summary>A package whose blob was fetched and verified (size and SHA-256) before an install.</summary>
/// <param name="Package">The package as the command names it.</param>
/// <param name="Path">The verified blob.</param>
internal sealed record PackageBlob(PackageRef Package, string Path);

/// <summary>Installs and removes packages of one format.</summary>
internal interface IPackageInstaller
{
    /// <summary>True when one run of the package manager can install or remove several packages together
    /// (<see cref="InstallCommand.With"/>, <see cref="RemoveCommand.With"/>: packages that depend on each other in a
    /// cycle). False for Rig archives, which have no dependencies: a set is refused before anything is fetched.</summary>
    bool InstallsTogether { get; }

    /// <summary>Install (or upgrade to) the packages of <paramref name="packages"/>, the command's own package first,
    /// in one run of the package manager; every blob is verified already.</summary>
    Task<string> InstallAsync(IReadOnlyList<PackageBlob> packages, string workDirectory, CancellationToken ct);

    /// <summary>Remove the installed packages of <paramref name="names"/> in one run of the package manager.</summary>
    Task<string> RemoveAsync(IReadOnlyList<string> names, CancellationToken ct);
}

/// <summary>The single-package forms of <see cref="IPackageInstaller"/>'s calls.</summary>
internal static class PackageInstallerExtensions
{
    /// <summary>Install (or upgrade to) the package in the verified blob at <paramref name="blobPath"/>.</summary>
    public static Task<string> InstallAsync(this IPackageInstaller installer, PackageRef package, string blobPath, string workDirectory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(installer);
        return installer.InstallAsync([new PackageBlob(package, blobPath)], workDirectory, ct);
    }

    /// <summary>Remove an installed package.</summary>
    public static Task<string> RemoveAsync(this IPackageInstaller installer, string name, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(installer);
        return installer.RemoveAsync([name], ct);
    }
}

/// <summary>Service control.</summary>
internal interface IServiceManager
{
    /// <summary>Apply an action to a service.</summary>
    Task<string> ApplyAsync(string name, ServiceAction action, CancellationToken ct);

    /// <summary>Every service Rig acted on, with its state.</summary>
    Task<IReadOnlyList<ServiceState>> ListAsync(CancellationToken ct);
}

/// <summary>A command failed for a reason the operator can act on; <see cref="Rig.Protocol.Errors.RigException.Code"/> is
/// stable. Not retry-safe: the agent reports the failure, it does not run the command again by itself.</summary>
internal sealed class CommandFailedException(string code, string message) : Rig.Protocol.Errors.RigException(code, message, retrySafe: false);
