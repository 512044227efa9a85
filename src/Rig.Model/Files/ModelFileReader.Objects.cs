using Rig.Model.Domain;

namespace Rig.Model.Files;

/// <summary>Readers of the named top-level objects.</summary>
internal sealed partial class ModelFileReader
{
    private static readonly string[] CustomerKeys = ["name", "description"];
    private static readonly string[] ApprovalKeys = ["kinds", "customers", "sites", "approvals"];
    private static readonly string[] SiteKeys = ["name", "customer", "description", "parameters"];
    private static readonly string[] DeviceKeys = ["name", "site", "hostname", "tier", "osFamily", "architecture", "addresses", "hardware", "facts", "parameters", "roles", "network"];
    private static readonly string[] NetworkKeys = ["renderer", "probeTimeoutSeconds", "interfaces"];
    private static readonly string[] InterfaceKeys = ["name", "dhcp", "address", "gateway", "dns"];
    private static readonly DeviceNetwork DefaultNetwork = new();
    private static readonly string[] HardwareKeys = ["cpuCount", "memoryMiB", "disks", "nics"];
    private static readonly string[] DiskKeys = ["name", "sizeGiB"];
    private static readonly string[] NicKeys = ["name", "mac", "address"];
    private static readonly string[] LinkKeys = ["from", "to", "purpose", "port", "attributes"];
    private static readonly string[] TemplateKeys = ["name", "text", "file"];
    private static readonly string[] BundleKeys = ["name", "items"];
    private static readonly string[] RoleKeys = ["name", "kind", "customer", "version", "items", "parameters", "pins"];
    private static readonly string[] AssignmentKeys = ["device", "role"];
    private static readonly string[] PackageKeys = ["name", "version", "sha256", "format", "osFamily", "architecture", "size", "service", "reboot", "depends", "provides", "conflicts", "essential"];

    private static readonly Device DefaultDevice = new() { Name = "", Site = "" };
    private static readonly Role DefaultRole = new() { Name = "", Kind = "" };
    private static readonly PackageInfo DefaultPackage = new() { Name = "", Version = "", Format = "rig", Sha256 = "" };

    /// <summary>Open a named object: read its name first so that its path and messages use it, and register the
    /// name (a duplicate is reported; the object is still read for its other errors).</summary>
    private Fields Named(YMap map, string collection, int index, string noun, IReadOnlyList<string> keys, out string name)
    {
        var fields = new Fields(this, map, $"{collection}/{index}", $"{noun} {index} of `{collection}`", keys);
        name = fields.String("name", required: true, hint: $"the {noun}'s unique name") ?? "";
        if (name.Length > 0)
        {
            fields.Rename($"{collection}/{name}", $"{noun} '{name}'");
            Define(fields.Path, fields.Node("name")!, $"{Capital(noun)} '{name}'");
        }
        fields.Check();
        return fields;
    }

    private void ReadCustomer(YMap map, int index)
    {
        var f = Named(map, "customers", index, "customer", CustomerKeys, out var name);
        _customers.Add(new Customer { Name = name, Description = f.String("description") });
    }

    private void ReadApprovalPolicy(YMap map, int index)
    {
        var f = new Fields(this, map, $"approvals/{index}", $"approval policy {index} of `approvals`", ApprovalKeys);
        f.Check();
        // An empty list restricts nothing, like an absent one.
        IReadOnlyList<string>? Names(string key, string example) => f.StringList(key, example).Select(e => e.Value).ToList() is { Count: > 0 } names ? names : null;
        var count = f.Has("approvals") ? f.Long("approvals", 0, ApprovalPolicy.MaxApprovals) : null;
        if (!f.Has("approvals"))
            Error(ModelFileCodes.MissingKey, map, f.Key("approvals"), $"Approval policy {index} of `approvals` needs `approvals:` (how many approvals, 0 to {ApprovalPolicy.MaxApprovals}; 0 turns approval off for its scope).");
        _approvals.Add(new ApprovalPolicy
        {
            Kinds = Names("kinds", "[os, app]"),
            Customers = Names("customers", "[acme]"),
            Sites = Names("sites", "[shop]"),
            Approvals = (int)(count ?? 1),
        });
    }

    private void ReadSite(YMap map, int index)
    {
        var f = Named(map, "sites", index, "site", SiteKeys, out var name);
        _sites.Add(new Site { Name = name, Customer = f.String("customer"), Description = f.String("description"), Parameters = f.StringMap("parameters") });
    }

    private void ReadDevice(YMap map, int index)
    {
        var f = Named(map, "devices", index, "device", DeviceKeys, out var name);
        var site = f.String("site", required: true, hint: "the name of the site the device belongs to") ?? "";
        var hardware = new HardwareFacts();
        if (f.Object("hardware", $"the hardware of device '{name}'", HardwareKeys) is { } hw)
        {
            hardware = new HardwareFacts
            {
                CpuCount = hw.Int("cpuCount") ?? 0,
                MemoryMiB = hw.Long("memoryMiB") ?? 0,
                Disks = Elements(hw, "disks", "[{name: sda, sizeGiB: 40}]", "disk", DiskKeys, d => new Disk(
                    d.String("name", required: true, hint: "like sda") ?? "",
                    d.Long("sizeGiB") ?? 0)),
                Nics = Elements(hw, "nics", "[{name: eth0, mac: 52:54:00:12:34:56}]", "nic", NicKeys, n => new Nic(
                    n.String("name", required: true, hint: "like eth0") ?? "",
                    n.String("mac", required: true, hint: "six hex pairs like 52:54:00:12:34:56") ?? "",
                    n.String("address"))),
            };
        }
        foreach (var (role, node) in f.StringList("roles", "[linux-base, web]"))
        {
            Record($"assignments/{name}/{role}", node);
            _deviceRoles.Add((new RoleAssignment(name, role), LocationOf(node), $"assignments/{name}/{role}"));
        }
        _devices.Add(new Device
        {
            Name = name,
            Site = site,
            Hostname = f.String("hostname"),
            Tier = f.String("tier"),
            OsFamily = f.StringOr("osFamily", DefaultDevice.OsFamily),
            Architecture = f.StringOr("architecture", DefaultDevice.Architecture),
            Addresses = [.. f.StringList("addresses", "[10.0.0.1]").Select(a => a.Value)],
            Hardware = hardware,
            Facts = f.StringMap("facts"),
            Parameters = f.StringMap("parameters"),
            Network = ReadNetwork(f, name),
        });
    }

    /// <summary>The opt-in <c>network</c> section; its values are checked by the validator (with the same paths).</summary>
    private DeviceNetwork? ReadNetwork(Fields device, string name)
    {
        if (device.Object("network", $"the network of device '{name}'", NetworkKeys) is not { } n)
            return null;
        return new DeviceNetwork
        {
            Renderer = n.StringOr("renderer", DefaultNetwork.Renderer),
            ProbeTimeoutSeconds = n.Int("probeTimeoutSeconds") ?? DefaultNetwork.ProbeTimeoutSeconds,
            Interfaces = Elements(n, "interfaces", "[{name: eth0, address: 10.0.0.5/24, gateway: 10.0.0.1}]", "interface", InterfaceKeys, i => new NetworkInterfaceConfig
            {
                Name = i.String("name", required: true, hint: "like eth0") ?? "",
                Dhcp = i.Bool("dhcp") ?? false,
                Address = i.String("address"),
                Gateway = i.String("gateway"),
                Dns = [.. i.StringList("dns", "[10.0.0.2]").Select(d => d.Value)],
            }),
        };
    }

    /// <summary>A list of small unnamed objects (disks, nics), each recorded as <c>path/key/i</c>.</summary>
    private List<T> Elements<T>(Fields owner, string key, string example, string noun, IReadOnlyList<string> keys, Func<Fields, T> read)
    {
        var result = new List<T>();
        if (owner.List(key, example) is not { } list)
            return result;
        for (var i = 0; i < list.Items.Count; i++)
        {
            var path = $"{owner.Key(key)}/{i}";
            if (list.Items[i] is not YMap map)
            {
                if (list.Items[i] is not YBad)
                    Error(ModelFileCodes.WrongType, list.Items[i], path, $"{Capital(noun)} {i} in {owner.What} must be a map like `{example.Trim('[', ']')}`, not {list.Items[i].Describe}.");
                continue;
            }
            var fields = new Fields(this, map, path, $"{noun} {i} in {owner.What}", keys);
            fields.Check();
            result.Add(read(fields));
        }
        return result;
    }

    private void ReadLink(YMap map, int index)
    {
        // Links have no name: their path is their index in the merged list, as the validator reports them.
        var i = _links.Count;
        var f = new Fields(this, map, $"links/{i}", $"link {index} of `links`", LinkKeys);
        f.Check();
        _links.Add(new Interconnection
        {
            From = f.String("from", required: true, hint: "the device the link starts at") ?? "",
            To = f.String("to", required: true, hint: "the device the link points to") ?? "",
            Purpose = f.String("purpose", required: true, hint: "what it is for: http, app, sql...") ?? "",
            Port = f.Int("port"),
            Attributes = f.StringMap("attributes"),
        });
    }

    private void ReadTemplate(YMap map, int index)
    {
        var f = Named(map, "templates", index, "template", TemplateKeys, out var name);
        var hasText = f.Has("text");
        var hasFile = f.Has("file");
        if (hasText == hasFile)
        {
            Error(ModelFileCodes.TemplateSource, hasFile ? f.KeyNode("file")! : map, f.Key(hasFile ? "file" : "text"),
                hasFile
                    ? $"Template '{name}' has both `text:` and `file:`; keep one."
                    : $"Template '{name}' needs `text:` (the Liquid text inline, after `text: |`) or `file:` (a path like templates/{name}.liquid).");
            return;
        }
        if (hasText)
        {
            _templates.Add(new ConfigTemplate(name, f.String("text") ?? ""));
            return;
        }
        if (f.String("file", required: true, hint: $"a path like templates/{name}.liquid") is not { } file)
            return;
        var fileNode = f.Node("file")!;
        if (NormalizePath(file) is not { } path)
        {
            Error(ModelFileCodes.InvalidValue, fileNode, f.Key("file"),
                $"Template file '{file}' of template '{name}' must be a relative path inside the model directory, like templates/{name}.liquid.");
            return;
        }
        if (!_inputs.TryGetValue(path, out var source))
        {
            Error(ModelFileCodes.TemplateMissing, fileNode, f.Key("file"),
                $"Template file '{path}' of template '{name}' is not in the model directory; create it there (paths are relative to the directory) or fix the path.");
            return;
        }
        _map.AddTemplateFile(name, path);
        _templates.Add(new ConfigTemplate(name, source.Text));
    }

    private void ReadBundle(YMap map, int index)
    {
        var f = Named(map, "bundles", index, "bundle", BundleKeys, out var name);
        _bundles.Add(new Bundle { Name = name, Items = ReadItems(f) });
    }

    private void ReadRole(YMap map, int index)
    {
        var f = Named(map, "roles", index, "role", RoleKeys, out var name);
        var kind = f.String("kind", required: true, hint: "os, app, content or a kind declared in roleKinds") ?? "";
        _roles.Add(new Role
        {
            Name = name,
            Kind = kind,
            Customer = f.String("customer"),
            Version = f.StringOr("version", DefaultRole.Version),
            Items = ReadItems(f),
            Parameters = f.StringMap("parameters"),
            Pins = f.StringMap("pins"),
        });
    }

    private void ReadAssignment(YMap map, int index)
    {
        var f = new Fields(this, map, $"assignments/{index}", $"assignment {index} of `assignments`", AssignmentKeys);
        var device = f.String("device", required: true, hint: "the device's name");
        var role = f.String("role", required: true, hint: "the role's name");
        if (device is not null && role is not null)
            f.Rename($"assignments/{device}/{role}", $"the assignment of role '{role}' to device '{device}'");
        f.Check();
        if (device is not null && role is not null)
            _assignments.Add((new RoleAssignment(device, role), LocationOf(map), f.Path));
    }

    private void ReadPackage(YMap map, int index)
    {
        var f = new Fields(this, map, $"packages/{index}", $"package {index} of `packages`", PackageKeys);
        var name = f.String("name", required: true, hint: "the package name as in the store");
        var version = f.String("version", required: true, hint: "the exact version, quoted when it looks like a number (\"1.10\")");
        if (name is not null && version is not null)
            f.Rename($"packages/{PackageInfo.PackageKey(name, version)}", $"package {PackageInfo.PackageKey(name, version)}");
        f.Check();
        var sha256 = f.String("sha256", required: true, hint: "the package's SHA-256 as `rig package list` shows it");
        if (name is not null && version is not null)
            Define(f.Path, map, $"Package {PackageInfo.PackageKey(name, version)}");
        _packages.Add(new PackageInfo
        {
            Name = name ?? "",
            Version = version ?? "",
            Sha256 = sha256 ?? "",
            Format = f.StringOr("format", DefaultPackage.Format),
            OsFamily = f.StringOr("osFamily", DefaultPackage.OsFamily),
            Architecture = f.StringOr("architecture", DefaultPackage.Architecture),
            Size = f.Long("size") ?? 0,
            Service = f.String("service"),
            Reboot = f.Bool("reboot") ?? false,
            Depends = Relations(f, "depends", "libc6 (>= 2.34)", group: true),
            Provides = Relations(f, "provides", "httpd", group: false),
            Conflicts = Relations(f, "conflicts", "nginx-full", group: false),
            Essential = f.Bool("essential") ?? false,
        });
    }

    /// <summary>A relation list of a catalog entry in the canonical form the gateway keeps (one group of alternatives
    /// per entry for depends: <c>a (&gt;= 1) | b</c>); an entry that is not is an error naming it.</summary>
    private IReadOnlyList<string> Relations(Fields f, string key, string example, bool group)
    {
        var values = new List<string>();
        foreach (var (value, node) in f.StringList(key, example))
        {
            if (group ? Protocol.Packaging.PackageRelations.IsValidGroup(value) : Protocol.Packaging.PackageRelations.IsValid(value))
                values.Add(value.Trim());
            else
                Error("package.relation-invalid", node, $"{f.Path}/{key}",
                    $"'{value}' is not a package relation; write `name` or `name (op version)` with op one of << <= = >= >>{(group ? ", alternatives separated by ' | '" : "")}, e.g. `{example}`.");
        }
        return values;
    }

    private static string Capital(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
