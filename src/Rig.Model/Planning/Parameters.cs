using Rig.Model.Domain;

namespace Rig.Model.Planning;

/// <summary>Parameter layering: global &lt; site &lt; role (in kind order) &lt; device; later wins.</summary>
public static class Parameters
{
    /// <summary>The effective parameters of a device.</summary>
    public static IReadOnlyDictionary<string, string> Effective(ModelIndex index, Device device)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(device);
        var result = new Dictionary<string, string>(index.Model.Parameters, StringComparer.Ordinal);
        if (index.Sites.TryGetValue(device.Site, out var site))
            Overlay(result, site.Parameters);
        foreach (var role in index.RolesFor(device.Name))
            Overlay(result, role.Parameters);
        Overlay(result, device.Parameters);
        return result;
    }

    private static void Overlay(Dictionary<string, string> target, IReadOnlyDictionary<string, string> layer)
    {
        foreach (var (key, value) in layer)
            target[key] = value;
    }
}
