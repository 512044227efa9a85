using Rig.Model.Domain;

namespace Rig.Model.Planning;

/// <summary>What the model wants on one device: its roles in kind order, each with its flattened steps.</summary>
public sealed record DesiredState(string Device, IReadOnlyList<DesiredRole> Roles, IReadOnlyList<ModelError> Errors)
{
    /// <summary>The device's network section as commands, one per interface (empty when the model has none).</summary>
    public IReadOnlyList<Rig.Protocol.Messages.NetworkCommand> Network { get; init; } = [];

    /// <summary>The package catalog as this device can use it (dependencies are chosen from it).</summary>
    public PackageUniverse Catalog { get; init; } = PackageUniverse.Empty;

    /// <summary>Pins of the device's role versions (<c>name@version</c> to digest): dependencies resolve to them.</summary>
    public IReadOnlyDictionary<string, string> Pins { get; init; } = new Dictionary<string, string>();
}

/// <summary>One assigned role with its steps in install order.</summary>
public sealed record DesiredRole(string Name, string Kind, string Version, IReadOnlyList<DesiredStep> Steps);

/// <summary>A flattened item. <see cref="Scope"/> groups steps for service restarts: the top-level bundle
/// the step came from, or the role itself.</summary>
public abstract record DesiredStep(string Scope);

/// <summary>A package to have installed.</summary>
public sealed record DesiredPackage(string Scope, PackageInfo Package) : DesiredStep(Scope);

/// <summary>A rendered file to have written.</summary>
public sealed record DesiredFile(string Scope, string Path, string Content, string Sha256, string Mode, string Owner, string Group, string Template) : DesiredStep(Scope);

/// <summary>A service to keep in a state.</summary>
public sealed record DesiredService(string Scope, string Name, bool Running, bool Enabled) : DesiredStep(Scope);

/// <summary>A reboot point.</summary>
public sealed record DesiredReboot(string Scope, string Reason) : DesiredStep(Scope);

/// <summary>A problem found by validation, desired-state building or planning: a stable code, where in the
/// model (<c>devices/web-1/hardware/nics/0</c>), and a message saying what was wrong and what to do.</summary>
public sealed record ModelError(string Code, string Where, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Where}: {Message} [{Code}]";
}
