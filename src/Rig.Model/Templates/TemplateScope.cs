using System.Globalization;
using Rig.Model.Domain;

namespace Rig.Model.Templates;

/// <summary>The values a template sees for one device (and one role). Plain dictionaries and lists, so that
/// templates can read nothing but these (Fluid exposes no CLR members of them).</summary>
public sealed class TemplateScope
{
    private TemplateScope(string deviceName, Dictionary<string, object?> device, Dictionary<string, object?> site, List<object?> links, List<object?> linkedFrom, IReadOnlyDictionary<string, string> parameters)
    {
        DeviceName = deviceName;
        Device = device;
        Site = site;
        Links = links;
        LinkedFrom = linkedFrom;
        Parameters = parameters;
    }

    /// <summary>Name of the device.</summary>
    public string DeviceName { get; }
    /// <summary><c>device.*</c></summary>
    public Dictionary<string, object?> Device { get; }
    /// <summary><c>site.*</c></summary>
    public Dictionary<string, object?> Site { get; }
    /// <summary><c>links</c>: outgoing interconnections.</summary>
    public List<object?> Links { get; }
    /// <summary><c>linked_from</c>: incoming interconnections.</summary>
    public List<object?> LinkedFrom { get; }
    /// <summary>Effective parameters (global &lt; site &lt; role &lt; device).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; }
    /// <summary><c>role.*</c> of the role whose file is rendered.</summary>
    public Dictionary<string, object?> Role { get; private init; } = [];

    /// <summary>The same scope for a file of <paramref name="role"/>.</summary>
    public TemplateScope ForRole(Role role)
    {
        ArgumentNullException.ThrowIfNull(role);
        return new TemplateScope(DeviceName, Device, Site, Links, LinkedFrom, Parameters)
        {
            Role = new() { ["name"] = role.Name, ["kind"] = role.Kind, ["version"] = role.Version },
        };
    }

    /// <summary>Build the scope of a device.</summary>
    public static TemplateScope ForDevice(ModelIndex index, Device device, IReadOnlyDictionary<string, string> parameters)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(device);
        var site = index.Sites.GetValueOrDefault(device.Site);
        var links = index.LinksFrom.GetValueOrDefault(device.Name) ?? [];
        var linkedFrom = index.LinksTo.GetValueOrDefault(device.Name) ?? [];
        return new TemplateScope(
            device.Name,
            DeviceValues(device),
            new Dictionary<string, object?> { ["name"] = device.Site, ["description"] = site?.Description },
            [.. links.Select(l => LinkValues(l, index.Devices.GetValueOrDefault(l.To)))],
            [.. linkedFrom.Select(l => LinkValues(l, index.Devices.GetValueOrDefault(l.From)))],
            parameters);
    }

    private static Dictionary<string, object?> DeviceValues(Device d) => new()
    {
        ["name"] = d.Name,
        ["hostname"] = d.EffectiveHostname,
        ["site"] = d.Site,
        ["tier"] = d.Tier,
        ["os_family"] = d.OsFamily,
        ["architecture"] = d.Architecture,
        ["address"] = d.Addresses.FirstOrDefault(),
        ["addresses"] = d.Addresses.Cast<object?>().ToList(),
        ["cpu_count"] = d.Hardware.CpuCount,
        ["memory_mib"] = d.Hardware.MemoryMiB,
        ["nics"] = d.Hardware.Nics.Select(n => (object?)new Dictionary<string, object?> { ["name"] = n.Name, ["mac"] = n.Mac, ["address"] = n.Address }).ToList(),
        ["facts"] = d.Facts.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
    };

    private static Dictionary<string, object?> LinkValues(Interconnection link, Device? peer) => new()
    {
        ["purpose"] = link.Purpose,
        ["port"] = link.Port?.ToString(CultureInfo.InvariantCulture),
        ["name"] = peer?.Name,
        ["hostname"] = peer?.EffectiveHostname,
        ["address"] = peer?.Addresses.FirstOrDefault(),
        ["tier"] = peer?.Tier,
        ["site"] = peer?.Site,
        ["attributes"] = link.Attributes.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
    };
}
