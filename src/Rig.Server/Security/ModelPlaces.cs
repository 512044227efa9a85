using Rig.Model.Domain;

namespace Rig.Server.Security;

/// <summary>Where each object of one model lies (docs/SECURITY.md, <em>Where an object lies</em>): a device in its site
/// and the site's customer; a role where the devices it is assigned to are (or with its owner when it is assigned to
/// none); a bundle or template where every role using it is; links, assignments and parameters with what they join.
/// Built once per model; pure.</summary>
internal sealed class ModelPlaces
{
    private readonly ModelIndex _index;
    private readonly Dictionary<string, Place> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Place> _devicesToActOn = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _rolesUsingBundle = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _rolesUsingTemplate = new(StringComparer.Ordinal);
    private readonly ILookup<string, string> _devicesOfRole;

    public ModelPlaces(RigModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _index = new ModelIndex(model);
        var roles = model.Assignments.ToLookup(a => a.Device, a => a.Role, StringComparer.Ordinal);
        foreach (var device in model.Devices)
        {
            var customer = _index.Sites.GetValueOrDefault(device.Site)?.Customer;
            var place = new Place(customer, device.Site, null, device, [.. roles[device.Name]]);
            if (_devices.TryAdd(device.Name, place))
            {
                _devicesToActOn[device.Name] = place with
                {
                    ActingKinds = [.. roles[device.Name].Select(r => _index.Roles.GetValueOrDefault(r)?.Kind).OfType<string>().Distinct(StringComparer.Ordinal)],
                };
            }
        }
        _devicesOfRole = model.Assignments.ToLookup(a => a.Role, a => a.Device, StringComparer.Ordinal);
        foreach (var role in model.Roles)
            Walk(role.Name, role.Items, []);
    }

    /// <summary>The places of an empty model.</summary>
    public static ModelPlaces Empty { get; } = new(new RigModel());

    /// <summary>The model.</summary>
    public RigModel Model => _index.Model;

    /// <summary>Where a device lies, for reading it and acting on it (no role kind: a content team reads its devices);
    /// null when the model has no such device.</summary>
    public Place? Device(string name) => _devices.GetValueOrDefault(name);

    /// <summary>Where a device lies for acting on it (rollout, poke, cancel, scripts, lifecycle): as for reading, plus
    /// the kinds of the roles it carries; null when the model has no such device.</summary>
    public Place? DeviceToActOn(string name) => _devicesToActOn.GetValueOrDefault(name);

    /// <summary>Where a site lies.</summary>
    public Place? Site(string name) => _index.Sites.TryGetValue(name, out var site) ? new Place(site.Customer, site.Name, null, null) : null;

    /// <summary>Where a customer lies.</summary>
    public Place? Customer(string name) => Model.Customers.Any(c => c.Name == name) ? new Place(name, null, null, null) : null;

    /// <summary>The places of one stored model object (its kind and name as in <c>model_entities</c>), for deciding
    /// whether a change to it lies in an edit scope. Unknown kinds and the model's global objects lie with the provider.</summary>
    public IEnumerable<Place> OfEntity(string kind, string name)
    {
        switch (kind)
        {
            case "customer":
                return [new Place(name, null, Place.NotARole, null)];
            case "site":
                return [_index.Sites.TryGetValue(name, out var site) ? new Place(site.Customer, site.Name, Place.NotARole, null) : Place.Provider];
            case "device":
                return [Own(name)];
            case "link":
                {
                    var ends = name.Split('|');
                    return ends.Length >= 2 ? [Own(ends[0]), Own(ends[1])] : [Place.Provider];
                }
            case "assignment":
                {
                    var parts = name.Split('|');
                    if (parts.Length != 2)
                        return [Place.Provider];
                    var kindOfRole = _index.Roles.GetValueOrDefault(parts[1])?.Kind ?? Place.NotARole;
                    return [Own(parts[0]) with { Kind = kindOfRole }];
                }
            case "role":
                return OfRole(name);
            case "bundle":
                return OfUsers(_rolesUsingBundle.GetValueOrDefault(name));
            case "template":
                return OfUsers(_rolesUsingTemplate.GetValueOrDefault(name));
            default:
                return [Place.Provider];
        }
    }

    /// <summary>Where a role lies: with each device it is assigned to, as a part of that kind; with its owner when it is
    /// assigned to none.</summary>
    public IEnumerable<Place> OfRole(string name)
    {
        if (!_index.Roles.TryGetValue(name, out var role))
            return [Place.Provider];
        var devices = _devicesOfRole[name].Select(d => _devices.GetValueOrDefault(d)).OfType<Place>().ToList();
        if (devices.Count == 0)
            return [new Place(role.Customer, null, role.Kind, null)];
        return devices.Select(d => d with { Kind = role.Kind });
    }

    /// <summary>A device's own definition: not part of a role.</summary>
    private Place Own(string device) => _devices.TryGetValue(device, out var place) ? place with { Kind = Place.NotARole } : Place.Provider;

    private IEnumerable<Place> OfUsers(List<string>? roles) =>
        roles is null || roles.Count == 0 ? [Place.Provider] : roles.Distinct(StringComparer.Ordinal).SelectMany(OfRole);

    /// <summary>Record which roles use which bundles and templates, through nested bundles (cycles are validation
    /// errors; <paramref name="seen"/> stops them here).</summary>
    private void Walk(string role, IReadOnlyList<Item> items, HashSet<string> seen)
    {
        foreach (var item in items)
        {
            switch (item)
            {
                case BundleItem b when seen.Add(b.Name):
                    Add(_rolesUsingBundle, b.Name, role);
                    if (_index.Bundles.TryGetValue(b.Name, out var bundle))
                        Walk(role, bundle.Items, seen);
                    break;
                case FileItem f:
                    Add(_rolesUsingTemplate, f.Template, role);
                    break;
            }
        }
    }

    private static void Add(Dictionary<string, List<string>> map, string key, string role)
    {
        if (!map.TryGetValue(key, out var list))
            map[key] = list = [];
        list.Add(role);
    }
}
