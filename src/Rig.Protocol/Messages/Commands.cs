using System.Text.Json.Serialization;

namespace Rig.Protocol.Messages;

/// <summary>One primitive command of a device's queue. The id is unique for all time: the agent's journal
/// is keyed by it, so a command delivered twice is answered from the journal and never run twice.</summary>
public sealed record Command
{
    /// <summary>Unique, opaque command id assigned by the gateway.</summary>
    public required string Id { get; init; }

    /// <summary>Queue this command belongs to.</summary>
    public required string QueueId { get; init; }

    /// <summary>0-based position in the queue.</summary>
    public required int Sequence { get; init; }

    /// <summary>Number of commands in the queue (for progress only).</summary>
    public int QueueLength { get; init; }

    /// <summary>What to do.</summary>
    public required CommandSpec Spec { get; init; }
}

/// <summary>The primitive a command carries. The discriminator <c>kind</c> names it on the wire.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(InstallCommand), "install")]
[JsonDerivedType(typeof(RemoveCommand), "remove")]
[JsonDerivedType(typeof(WriteFileCommand), "write-file")]
[JsonDerivedType(typeof(DeleteFileCommand), "delete-file")]
[JsonDerivedType(typeof(ServiceCommand), "service")]
[JsonDerivedType(typeof(RebootCommand), "reboot")]
[JsonDerivedType(typeof(InventoryCommand), "inventory")]
[JsonDerivedType(typeof(NetworkCommand), "configure-network")]
public abstract record CommandSpec
{
    /// <summary>The wire name of this primitive (<c>install</c>, <c>write-file</c>...), as the discriminator says.</summary>
    [JsonIgnore]
    public string Kind => this switch
    {
        InstallCommand => "install",
        RemoveCommand => "remove",
        WriteFileCommand => "write-file",
        DeleteFileCommand => "delete-file",
        ServiceCommand => "service",
        RebootCommand => "reboot",
        InventoryCommand => "inventory",
        NetworkCommand => "configure-network",
        _ => throw new InvalidOperationException($"Unknown command type {GetType().Name}."),
    };

    /// <summary>A short human description for progress views and logs.</summary>
    public abstract string Describe();
}

/// <summary>Package formats Rig knows.</summary>
public static class PackageFormats
{
    /// <summary>Rig's own archive (<c>.rig.tar.gz</c>).</summary>
    public const string RigArchive = "rig";
    /// <summary>Debian package.</summary>
    public const string Deb = "deb";
    /// <summary>RPM package.</summary>
    public const string Rpm = "rpm";

    /// <summary>True for a format name Rig knows.</summary>
    public static bool IsKnown(string? format) => format is RigArchive or Deb or Rpm;
}

/// <summary>A package as a command refers to it: enough to fetch it by digest and verify it.</summary>
public sealed record PackageRef(string Name, string Version, string Format, string Sha256, long Size);

/// <summary>Fetch the blob by digest from the agent's own gateway, verify it, install it (upgrading any other version).</summary>
public sealed record InstallCommand(PackageRef Package, string Role) : CommandSpec
{
    /// <summary>Packages installed in the same run of the package manager as <see cref="Package"/> (after it in this
    /// list), because they depend on each other in a cycle no one-at-a-time order can satisfy (Debian's libc6 and
    /// libgcc-s1); null for the usual single package. Each is fetched and verified like <see cref="Package"/>.</summary>
    public IReadOnlyList<PackageRef>? With { get; init; }

    /// <summary>True when no role lists the package(s): the plan added them because a listed package needs them. The
    /// gateway records it, so they are removed again when nothing needs them; the agent installs them the same way.</summary>
    public bool? Dependency { get; init; }

    /// <summary>Names (of <see cref="All"/>) that are part of the device's base system: it had them from outside Rig
    /// before Rig first installed over them (and every later install keeps saying so). The gateway records them so;
    /// a later plan never removes them.</summary>
    public IReadOnlyList<string>? Replaces { get; init; }

    /// <summary>Every package the command installs, <see cref="Package"/> first.</summary>
    [JsonIgnore]
    public IReadOnlyList<PackageRef> All => With is { Count: > 0 } with ? [Package, .. with] : [Package];

    /// <inheritdoc />
    public override string Describe() => With is { Count: > 0 } with
        ? $"install {Package.Name} {Package.Version} with {string.Join(", ", with.Select(p => $"{p.Name} {p.Version}"))}"
        : $"install {Package.Name} {Package.Version}";
}

/// <summary>Remove an installed package.</summary>
public sealed record RemoveCommand(string Name, string Format) : CommandSpec
{
    /// <summary>Packages (same format) removed in the same run of the package manager as <see cref="Name"/>, because
    /// they depend on each other in a cycle; null for the usual single package.</summary>
    public IReadOnlyList<string>? With { get; init; }

    /// <summary>Every package the command removes, <see cref="Name"/> first.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> All => With is { Count: > 0 } with ? [Name, .. with] : [Name];

    /// <inheritdoc />
    public override string Describe() => With is { Count: > 0 } with ? $"remove {Name} with {string.Join(", ", with)}" : $"remove {Name}";
}

/// <summary>Write a rendered configuration file: to a temp file, then renamed into place.</summary>
public sealed record WriteFileCommand(string Path, string Content, string Sha256, string Mode, string Owner, string Group) : CommandSpec
{
    /// <inheritdoc />
    public override string Describe() => $"write {Path}";
}

/// <summary>Delete a file Rig wrote earlier and the model no longer wants.</summary>
public sealed record DeleteFileCommand(string Path) : CommandSpec
{
    /// <inheritdoc />
    public override string Describe() => $"delete {Path}";
}

/// <summary>Service actions.</summary>
[JsonConverter(typeof(WireEnumConverter<ServiceAction>))]
public enum ServiceAction
{
    /// <summary>Start if not running.</summary>
    Start,
    /// <summary>Stop if running.</summary>
    Stop,
    /// <summary>Stop and start.</summary>
    Restart,
    /// <summary>Start at boot.</summary>
    Enable,
    /// <summary>Do not start at boot.</summary>
    Disable,
}

/// <summary>Start, stop, restart, enable or disable a service.</summary>
public sealed record ServiceCommand(string Name, ServiceAction Action) : CommandSpec
{
    /// <inheritdoc />
    public override string Describe() => $"service {Name} {Action.ToString().ToLowerInvariant()}";
}

/// <summary>Reboot the device. The agent answers "rebooting"; after the restart it says "rebooted".</summary>
public sealed record RebootCommand(string Reason) : CommandSpec
{
    /// <inheritdoc />
    public override string Describe() => $"reboot ({Reason})";
}

/// <summary>Report what is installed and written; the gateway records it as the device's state.</summary>
public sealed record InventoryCommand : CommandSpec
{
    /// <inheritdoc />
    public override string Describe() => "inventory";
}

/// <summary>How an interface gets its address.</summary>
[JsonConverter(typeof(WireEnumConverter<NetworkMode>))]
public enum NetworkMode
{
    /// <summary>A fixed address (CIDR), optionally a default gateway and DNS servers.</summary>
    Static,
    /// <summary>Address from DHCP.</summary>
    Dhcp,
}

/// <summary>Configure one network interface: render it as systemd-networkd (<c>/etc/systemd/network/10-rig-IFACE.network</c>)
/// or ifupdown (<c>/etc/network/interfaces.d/rig-IFACE</c>) configuration, apply it on a running system, then probe the
/// agent's gateway for up to <see cref="ProbeTimeoutSeconds"/>; when the gateway stays unreachable the previous files
/// and live addresses are restored and the command fails with <c>network-rolled-back</c>. Checked by
/// <see cref="NetworkRules.Problem(NetworkCommand)"/>.</summary>
/// <param name="Interface">Linux interface name (<c>eth0</c>).</param>
/// <param name="Mode">Static or DHCP.</param>
/// <param name="Dns">DNS servers, in order (may be empty).</param>
/// <param name="Renderer"><c>networkd</c> or <c>ifupdown</c> (<see cref="NetworkRenderers"/>).</param>
/// <param name="ProbeTimeoutSeconds">How long the gateway may stay unreachable after applying before the change is rolled back.</param>
/// <param name="Address">Static address in CIDR form (<c>10.0.0.5/24</c>); absent for DHCP.</param>
/// <param name="Gateway">Default gateway (static only); may be absent.</param>
public sealed record NetworkCommand(string Interface, NetworkMode Mode, IReadOnlyList<string> Dns, string Renderer, int ProbeTimeoutSeconds,
    string? Address = null, string? Gateway = null) : CommandSpec
{
    /// <inheritdoc />
    public override string Describe() => Mode == NetworkMode.Dhcp ? $"network {Interface} dhcp" : $"network {Interface} {Address}";

    /// <summary>Value equality, the DNS servers compared element by element.</summary>
    public bool Equals(NetworkCommand? other) =>
        other is not null && Interface == other.Interface && Mode == other.Mode && Address == other.Address && Gateway == other.Gateway
        && Renderer == other.Renderer && ProbeTimeoutSeconds == other.ProbeTimeoutSeconds && Dns.SequenceEqual(other.Dns, StringComparer.Ordinal);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Interface, Mode, Address, Gateway, Renderer, ProbeTimeoutSeconds, Dns.Count);
}

/// <summary>The network configuration formats the agent writes.</summary>
public static class NetworkRenderers
{
    /// <summary>systemd-networkd <c>.network</c> files.</summary>
    public const string Networkd = "networkd";
    /// <summary>Debian ifupdown <c>interfaces.d</c> stanzas.</summary>
    public const string Ifupdown = "ifupdown";

    /// <summary>True for a renderer the agent knows.</summary>
    public static bool IsKnown(string? renderer) => renderer is Networkd or Ifupdown;
}
