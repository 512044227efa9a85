using System.Security.Cryptography;
using System.Text;
using Rig.Model.Domain;
using Rig.Model.Templates;
using Rig.Protocol.Messages;

namespace Rig.Model.Planning;

/// <summary>Turns the model into each device's desired state: roles in kind order, bundles flattened,
/// templates rendered. Pure; one builder per model (templates are parsed once).</summary>
public sealed class DesiredStateBuilder
{
    private readonly ModelIndex _index;
    private readonly TemplateRenderer _renderer;
    private static readonly IReadOnlyDictionary<string, string> NoPins = new Dictionary<string, string>();

    /// <summary>A builder over an indexed model.</summary>
    public DesiredStateBuilder(ModelIndex index)
    {
        ArgumentNullException.ThrowIfNull(index);
        _index = index;
        _renderer = new TemplateRenderer(index.Templates);
    }

    /// <summary>The model index.</summary>
    public ModelIndex Index => _index;

    /// <summary>Desired state of the named device (errors for an unknown device).</summary>
    public DesiredState Build(string deviceName)
    {
        var errors = new List<ModelError>();
        if (!_index.Devices.TryGetValue(deviceName, out var device))
            return new DesiredState(deviceName, [], [new ModelError("device.unknown", $"devices/{deviceName}", $"Device '{deviceName}' is not in the model.")]);

        var parameters = Parameters.Effective(_index, device);
        var scope = TemplateScope.ForDevice(_index, device, parameters);
        var roles = new List<DesiredRole>();
        foreach (var role in _index.RolesFor(deviceName))
        {
            var steps = new List<DesiredStep>();
            var roleScope = scope.ForRole(role);
            foreach (var item in role.Items)
            {
                var stepScope = item is BundleItem b ? $"bundle:{b.Name}" : $"role:{role.Name}";
                Flatten(item, role, $"roles/{role.Name}", stepScope, roleScope, device, steps, errors, []);
            }
            roles.Add(new DesiredRole(role.Name, role.Kind, role.Version, steps));
        }
        IReadOnlyDictionary<string, string> pins = NoPins;
        foreach (var role in _index.RolesFor(deviceName).Where(r => r.Pins.Count > 0))
        {
            // A fresh dictionary for the device's first pinned role: the shared empty NoPins must never be filled.
            var merged = ReferenceEquals(pins, NoPins) ? new Dictionary<string, string>(StringComparer.Ordinal) : (Dictionary<string, string>)pins;
            foreach (var (key, digest) in role.Pins)
                merged.TryAdd(key, digest);
            pins = merged;
        }
        return new DesiredState(deviceName, roles, errors)
        {
            Network = NetworkCommands(device),
            Catalog = _index.UniverseFor(device.OsFamily, device.Architecture),
            Pins = pins,
        };
    }

    /// <summary>One configure-network command per interface of the device's network section.</summary>
    public static IReadOnlyList<NetworkCommand> NetworkCommands(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Network is not { } network)
            return [];
        return [.. network.Interfaces.Select(i => new NetworkCommand(i.Name, i.Dhcp ? NetworkMode.Dhcp : NetworkMode.Static,
            [.. i.Dns], network.Renderer, network.ProbeTimeoutSeconds, i.Address, i.Gateway))];
    }

    private void Flatten(Item item, Role role, string where, string scope, TemplateScope templateScope, Device device, List<DesiredStep> steps, List<ModelError> errors, List<string> bundlePath)
    {
        switch (item)
        {
            case PackageItem p:
                if (!_index.Packages.TryGetValue(p.Key, out var package))
                {
                    errors.Add(new ModelError("item.unknown-package", where, $"Package '{p.Key}' is not in the package store; import it with `rig package add` or fix the version."));
                    return;
                }
                if (role.Pins.TryGetValue(p.Key, out var pin) && pin != package.Sha256)
                {
                    errors.Add(new ModelError("role.pin-mismatch", where, $"Role '{role.Name}' version {role.Version} pins {p.Key} to sha256 {pin}, but the store has {package.Sha256}; make a new role version."));
                    return;
                }
                if (!Compatibility.OsFamilyFits(package.OsFamily, device.OsFamily) || !Compatibility.ArchitectureFits(package.Architecture, device.Architecture))
                {
                    errors.Add(new ModelError("package.incompatible", where, $"Package '{p.Key}' is for {package.OsFamily}/{package.Architecture}, but device '{device.Name}' is {device.OsFamily}/{device.Architecture}."));
                    return;
                }
                steps.Add(new DesiredPackage(scope, package));
                break;

            case BundleItem b:
                if (!_index.Bundles.TryGetValue(b.Name, out var bundle))
                {
                    errors.Add(new ModelError("item.unknown-bundle", where, $"Bundle '{b.Name}' does not exist."));
                    return;
                }
                if (bundlePath.Contains(b.Name))
                    return; // a cycle: reported by validation, never followed
                bundlePath.Add(b.Name);
                foreach (var inner in bundle.Items)
                    Flatten(inner, role, $"bundles/{b.Name}", scope, templateScope, device, steps, errors, bundlePath);
                bundlePath.RemoveAt(bundlePath.Count - 1);
                break;

            case FileItem f:
                var rendered = _renderer.Render(f.Template, templateScope);
                if (!rendered.Succeeded)
                {
                    foreach (var error in rendered.Errors)
                        errors.Add(new ModelError("template.error", $"{where}/file {f.Path}", $"Template '{f.Template}' for device '{device.Name}': {error}."));
                    return;
                }
                var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(rendered.Text!)));
                steps.Add(new DesiredFile(scope, f.Path, rendered.Text!, digest, f.Mode, f.Owner, f.Group, f.Template));
                break;

            case ServiceItem s:
                steps.Add(new DesiredService(scope, s.Name, s.Running, s.Enabled));
                break;

            case RebootItem r:
                steps.Add(new DesiredReboot(scope, r.Reason));
                break;
        }
    }
}

/// <summary>Which packages fit which devices.</summary>
public static class Compatibility
{
    private static readonly HashSet<string> LinuxFamilies = new(StringComparer.Ordinal) { "linux", "debian", "ubuntu", "rhel", "centos", "fedora", "rocky", "alma", "suse" };

    /// <summary>A package's OS family fits a device's: <c>any</c> fits all, <c>linux</c> fits every Linux family.</summary>
    public static bool OsFamilyFits(string packageFamily, string deviceFamily) =>
        packageFamily is "any" || packageFamily == deviceFamily || (packageFamily == "linux" && LinuxFamilies.Contains(deviceFamily));

    /// <summary>A package's architecture fits a device's (<c>all</c>/<c>noarch</c> fit all; amd64 = x86_64, arm64 = aarch64).</summary>
    public static bool ArchitectureFits(string packageArch, string deviceArch) =>
        packageArch is "all" or "noarch" or "any" || Normalize(packageArch) == Normalize(deviceArch);

    private static string Normalize(string arch) => arch switch
    {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        _ => arch,
    };
}
