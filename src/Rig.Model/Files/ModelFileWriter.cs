using Rig.Model.Domain;
using Rig.Protocol;

namespace Rig.Model.Files;

/// <summary>Writes a model as a model directory: <c>site.yaml</c> (parameters, role kinds, sites),
/// <c>devices.yaml</c> (devices with their roles, links), <c>packages.yaml</c>, <c>templates.yaml</c> with one
/// <c>templates/NAME.liquid</c> per template, <c>bundles.yaml</c> and <c>roles.yaml</c>. Defaults are left out.</summary>
internal static class ModelFileWriter
{
    private const string Header = "# Rig model file (format: docs/MODEL.md). Every *.yaml file of this directory is part of one model.\n";
    private static readonly Device DefaultDevice = new() { Name = "", Site = "" };
    private static readonly DeviceNetwork DefaultNetwork = new();
    private static readonly Role DefaultRole = new() { Name = "", Kind = "" };
    private static readonly PackageInfo DefaultPackage = new() { Name = "", Version = "", Format = "rig", Sha256 = "" };
    private static readonly FileItem DefaultFile = new("", "");

    public static IReadOnlyList<ModelSourceFile> Write(RigModel model)
    {
        var files = new List<ModelSourceFile>();
        var templateFiles = TemplateFiles(model.Templates);
        var byDevice = DeviceRoles(model);

        var site = new YamlOut();
        site.Map("parameters", model.Parameters);
        site.List("roleKinds", model.RoleKinds);
        Section(site, "customers", model.Customers, WriteCustomer);
        site.List("secrets", model.Secrets);
        Section(site, "sites", model.Sites, WriteSite);
        Section(site, "approvals", model.Approvals, WriteApprovalPolicy);
        files.Add(new ModelSourceFile("site.yaml", Header + site.Finish()));

        if (model.Devices.Count > 0 || model.Links.Count > 0 || model.Assignments.Count > 0)
        {
            var devices = new YamlOut();
            Section(devices, "devices", model.Devices, (y, d) => WriteDevice(y, d, byDevice?.GetValueOrDefault(d.Name) ?? []));
            Section(devices, "links", model.Links, WriteLink);
            if (byDevice is null)
                Section(devices, "assignments", model.Assignments, WriteAssignment);
            files.Add(new ModelSourceFile("devices.yaml", Header + devices.Finish()));
        }
        if (model.Packages.Count > 0)
        {
            var packages = new YamlOut();
            Section(packages, "packages", model.Packages, WritePackage);
            files.Add(new ModelSourceFile("packages.yaml", Header + packages.Finish()));
        }
        if (model.Templates.Count > 0)
        {
            var templates = new YamlOut();
            Section(templates, "templates", model.Templates, (y, t) => WriteTemplate(y, t, templateFiles.GetValueOrDefault(t)));
            files.Add(new ModelSourceFile("templates.yaml", Header + templates.Finish()));
            files.AddRange(model.Templates.Where(templateFiles.ContainsKey).Select(t => new ModelSourceFile(templateFiles[t], t.Text)));
        }
        if (model.Bundles.Count > 0)
        {
            var bundles = new YamlOut();
            Section(bundles, "bundles", model.Bundles, WriteBundle);
            files.Add(new ModelSourceFile("bundles.yaml", Header + bundles.Finish()));
        }
        if (model.Roles.Count > 0)
        {
            var roles = new YamlOut();
            Section(roles, "roles", model.Roles, WriteRole);
            files.Add(new ModelSourceFile("roles.yaml", Header + roles.Finish()));
        }
        return files;
    }

    /// <summary>Each device's roles for the <c>roles:</c> shorthand, or null when the shorthand would not give the
    /// assignments back in their order (then they are written as an <c>assignments:</c> list).</summary>
    private static Dictionary<string, List<string>>? DeviceRoles(RigModel model)
    {
        var names = model.Devices.Select(d => d.Name).ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            return null;
        var byDevice = names.ToDictionary(n => n, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var a in model.Assignments)
        {
            if (!byDevice.TryGetValue(a.Device, out var roles))
                return null;
            roles.Add(a.Role);
        }
        var regrouped = model.Devices.SelectMany(d => byDevice[d.Name].Select(r => new RoleAssignment(d.Name, r)));
        return regrouped.SequenceEqual(model.Assignments) ? byDevice : null;
    }

    /// <summary>A file under templates/ for every template whose name is a safe file name (unique even on
    /// case-insensitive file systems); the others are written inline.</summary>
    private static Dictionary<ConfigTemplate, string> TemplateFiles(IReadOnlyList<ConfigTemplate> templates)
    {
        var files = new Dictionary<ConfigTemplate, string>(ReferenceEqualityComparer.Instance);
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var t in templates)
        {
            var path = $"{ModelFiles.TemplatesDirectory}/{t.Name}.liquid";
            if (Names.IsValidPackageName(t.Name) && used.Add(path))
                files[t] = path;
        }
        return files;
    }

    private static void Section<T>(YamlOut y, string key, IReadOnlyList<T> values, Action<YamlOut, T> write)
    {
        if (values.Count == 0)
            return;
        y.Key(key);
        y.BeginList();
        foreach (var v in values)
            write(y, v);
        y.EndList();
    }

    private static void WriteCustomer(YamlOut y, Customer c)
    {
        y.BeginMap();
        y.Field("name", c.Name);
        y.Field("description", c.Description);
        y.EndMap();
    }

    private static void WriteApprovalPolicy(YamlOut y, ApprovalPolicy p)
    {
        y.BeginMap();
        if (p.Kinds is not null)
            y.List("kinds", p.Kinds);
        if (p.Customers is not null)
            y.List("customers", p.Customers);
        if (p.Sites is not null)
            y.List("sites", p.Sites);
        y.Field("approvals", p.Approvals);
        y.EndMap();
    }

    private static void WriteSite(YamlOut y, Site s)
    {
        y.BeginMap();
        y.Field("name", s.Name);
        y.Field("customer", s.Customer);
        y.Field("description", s.Description);
        y.Map("parameters", s.Parameters);
        y.EndMap();
    }

    private static void WriteDevice(YamlOut y, Device d, List<string> roles)
    {
        y.BeginMap();
        y.Field("name", d.Name);
        y.Field("site", d.Site);
        y.Field("hostname", d.Hostname);
        y.Field("tier", d.Tier);
        if (d.OsFamily != DefaultDevice.OsFamily)
            y.Field("osFamily", d.OsFamily);
        if (d.Architecture != DefaultDevice.Architecture)
            y.Field("architecture", d.Architecture);
        y.List("addresses", d.Addresses);
        var hw = d.Hardware;
        if (hw.CpuCount != 0 || hw.MemoryMiB != 0 || hw.Disks.Count > 0 || hw.Nics.Count > 0)
        {
            y.Key("hardware");
            y.BeginMap();
            if (hw.CpuCount != 0)
                y.Field("cpuCount", hw.CpuCount);
            if (hw.MemoryMiB != 0)
                y.Field("memoryMiB", hw.MemoryMiB);
            Flow(y, "disks", hw.Disks, disk =>
            {
                y.Field("name", disk.Name);
                y.Field("sizeGiB", disk.SizeGiB);
            });
            Flow(y, "nics", hw.Nics, nic =>
            {
                y.Field("name", nic.Name);
                y.Field("mac", nic.Mac);
                y.Field("address", nic.Address);
            });
            y.EndMap();
        }
        y.Map("facts", d.Facts, flow: true);
        y.Map("parameters", d.Parameters);
        if (d.Network is { } network)
            WriteNetwork(y, network);
        y.List("roles", roles);
        y.EndMap();
    }

    private static void WriteNetwork(YamlOut y, DeviceNetwork network)
    {
        y.Key("network");
        y.BeginMap();
        y.Field("renderer", network.Renderer);
        if (network.ProbeTimeoutSeconds != DefaultNetwork.ProbeTimeoutSeconds)
            y.Field("probeTimeoutSeconds", network.ProbeTimeoutSeconds);
        y.Key("interfaces");
        y.BeginList();
        foreach (var i in network.Interfaces)
        {
            y.BeginMap(flow: true);
            y.Field("name", i.Name);
            if (i.Dhcp)
                y.Field("dhcp", true);
            y.Field("address", i.Address);
            y.Field("gateway", i.Gateway);
            if (i.Dns.Count > 0)
            {
                y.Key("dns");
                y.BeginList(flow: true);
                foreach (var server in i.Dns)
                    y.Text(server);
                y.EndList();
            }
            y.EndMap();
        }
        y.EndList();
        y.EndMap();
    }

    private static void Flow<T>(YamlOut y, string key, IReadOnlyList<T> values, Action<T> fields)
    {
        if (values.Count == 0)
            return;
        y.Key(key);
        y.BeginList(flow: true);
        foreach (var v in values)
        {
            y.BeginMap(flow: true);
            fields(v);
            y.EndMap();
        }
        y.EndList();
    }

    private static void WriteLink(YamlOut y, Interconnection l)
    {
        y.BeginMap(flow: true);
        y.Field("from", l.From);
        y.Field("to", l.To);
        y.Field("purpose", l.Purpose);
        if (l.Port is { } port)
            y.Field("port", port);
        y.Map("attributes", l.Attributes, flow: true);
        y.EndMap();
    }

    private static void WriteAssignment(YamlOut y, RoleAssignment a)
    {
        y.BeginMap(flow: true);
        y.Field("device", a.Device);
        y.Field("role", a.Role);
        y.EndMap();
    }

    private static void WritePackage(YamlOut y, PackageInfo p)
    {
        y.BeginMap();
        y.Field("name", p.Name);
        y.Field("version", p.Version);
        y.Field("sha256", p.Sha256);
        if (p.Format != DefaultPackage.Format)
            y.Field("format", p.Format);
        if (p.OsFamily != DefaultPackage.OsFamily)
            y.Field("osFamily", p.OsFamily);
        if (p.Architecture != DefaultPackage.Architecture)
            y.Field("architecture", p.Architecture);
        if (p.Size != 0)
            y.Field("size", p.Size);
        y.Field("service", p.Service);
        if (p.Reboot)
            y.Field("reboot", true);
        if (p.Depends.Count > 0)
            y.List("depends", p.Depends);
        if (p.Provides.Count > 0)
            y.List("provides", p.Provides);
        if (p.Conflicts.Count > 0)
            y.List("conflicts", p.Conflicts);
        if (p.Essential)
            y.Field("essential", true);
        y.EndMap();
    }

    private static void WriteTemplate(YamlOut y, ConfigTemplate t, string? file)
    {
        y.BeginMap();
        y.Field("name", t.Name);
        if (file is null)
            y.Field("text", t.Text);
        else
            y.Field("file", file);
        y.EndMap();
    }

    private static void WriteBundle(YamlOut y, Bundle b)
    {
        y.BeginMap();
        y.Field("name", b.Name);
        WriteItems(y, b.Items);
        y.EndMap();
    }

    private static void WriteRole(YamlOut y, Role r)
    {
        y.BeginMap();
        y.Field("name", r.Name);
        y.Field("kind", r.Kind);
        y.Field("customer", r.Customer);
        if (r.Version != DefaultRole.Version)
            y.Field("version", r.Version);
        y.Map("parameters", r.Parameters);
        y.Map("pins", r.Pins);
        WriteItems(y, r.Items);
        y.EndMap();
    }

    private static void WriteItems(YamlOut y, IReadOnlyList<Item> items)
    {
        if (items.Count == 0)
            return;
        y.Key("items");
        y.BeginList();
        foreach (var item in items)
        {
            y.BeginMap();
            switch (item)
            {
                case PackageItem p:
                    y.Field("package", p.Name);
                    y.Field("version", p.Version);
                    break;
                case BundleItem b:
                    y.Field("bundle", b.Name);
                    break;
                case FileItem f:
                    y.Field("file", f.Path);
                    y.Field("template", f.Template);
                    if (f.Mode != DefaultFile.Mode)
                        y.Field("mode", f.Mode);
                    if (f.Owner != DefaultFile.Owner)
                        y.Field("owner", f.Owner);
                    if (f.Group != DefaultFile.Group)
                        y.Field("group", f.Group);
                    break;
                case ServiceItem s:
                    y.Field("service", s.Name);
                    if (!s.Running)
                        y.Field("running", false);
                    if (!s.Enabled)
                        y.Field("enabled", false);
                    break;
                case RebootItem r:
                    y.Field("reboot", r.Reason);
                    break;
                default:
                    throw new ArgumentException($"Item type {item.GetType().Name} has no model-file form.", nameof(items));
            }
            y.EndMap();
        }
        y.EndList();
    }
}
