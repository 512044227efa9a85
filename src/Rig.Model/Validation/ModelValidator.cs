using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Templates;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;

namespace Rig.Model.Validation;

/// <summary>Checks a whole model and returns every error, each with what was wrong and where. An empty
/// list means the model can be planned. Rules (codes in brackets) are listed in docs/MODEL.md.</summary>
public static partial class ModelValidator
{
    /// <summary>Validate a model. When <paramref name="renderTemplates"/> is true, every assigned device's
    /// templates are rendered too (missing parameters, runtime errors).</summary>
    public static IReadOnlyList<ModelError> Validate(RigModel model, bool renderTemplates = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        var errors = new List<ModelError>();
        var index = new ModelIndex(model);

        CheckKinds(model, errors);
        CheckParameters(model.Parameters, "parameters", errors);
        CheckCustomers(model, errors);
        CheckSecrets(model, errors);
        CheckSites(model, errors);
        CheckDevices(model, index, errors);
        CheckLinks(model, index, errors);
        CheckPackages(model, errors);
        CheckTemplates(model, errors);
        CheckBundles(model, index, errors);
        CheckRoles(model, index, errors);
        CheckAssignments(model, index, errors);
        CheckPackageOwners(model, index, errors);
        CheckApprovals(model, errors);

        if (renderTemplates && errors.Count == 0)
        {
            var builder = new DesiredStateBuilder(index);
            foreach (var device in model.Devices.Where(d => index.RolesOf.ContainsKey(d.Name)))
                errors.AddRange(builder.Build(device.Name).Errors);
        }
        return errors;
    }

    private static void CheckKinds(RigModel model, List<ModelError> errors)
    {
        var seen = new HashSet<string>(BuiltInRoleKinds.All, StringComparer.Ordinal);
        foreach (var kind in model.RoleKinds)
        {
            if (!Names.IsValidObjectName(kind))
                errors.Add(new("name.invalid", $"roleKinds/{kind}", $"Role kind '{kind}' is not a valid name: use {Names.ObjectNameRule}."));
            else if (!seen.Add(kind))
                errors.Add(new("name.duplicate", $"roleKinds/{kind}", $"Role kind '{kind}' is declared twice (os, app and content are built in)."));
        }
    }

    /// <summary>Approval policies name kinds, customers and sites that exist, and ask for 0 to
    /// <see cref="ApprovalPolicy.MaxApprovals"/> approvals.</summary>
    private static void CheckApprovals(RigModel model, List<ModelError> errors)
    {
        var kinds = model.KindOrder().ToHashSet(StringComparer.Ordinal);
        var customers = model.Customers.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var sites = model.Sites.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < model.Approvals.Count; i++)
        {
            var policy = model.Approvals[i];
            if (policy.Approvals is < 0 or > ApprovalPolicy.MaxApprovals)
                errors.Add(new("approval.count-invalid", $"approvals/{i}/approvals", $"Approval policy {i} asks for {policy.Approvals} approvals; write 0 (none) to {ApprovalPolicy.MaxApprovals}."));
            foreach (var kind in (policy.Kinds ?? []).Where(k => !kinds.Contains(k)))
                errors.Add(new("approval.kind-unknown", $"approvals/{i}/kinds", $"Approval policy {i} names role kind '{kind}', which does not exist; the kinds are {string.Join(", ", kinds)} (declare others under `roleKinds:`)."));
            foreach (var customer in (policy.Customers ?? []).Where(c => !customers.Contains(c)))
                errors.Add(new("approval.customer-unknown", $"approvals/{i}/customers", $"Approval policy {i} names customer '{customer}', which does not exist; add it under `customers:` or fix the name."));
            foreach (var site in (policy.Sites ?? []).Where(s => !sites.Contains(s)))
                errors.Add(new("approval.site-unknown", $"approvals/{i}/sites", $"Approval policy {i} names site '{site}', which does not exist; add it under `sites:` or fix the name."));
        }
    }

    private static void CheckCustomers(RigModel model, List<ModelError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var customer in model.Customers)
            CheckName(customer.Name, "customers", names, errors);
        var known = model.Customers.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var site in model.Sites.Where(s => s.Customer is { } c && !known.Contains(c)))
            errors.Add(new("customer.unknown", $"sites/{site.Name}/customer", $"Site '{site.Name}' belongs to customer '{site.Customer}', which does not exist; add it under `customers:` or fix the name."));
        foreach (var role in model.Roles.Where(r => r.Customer is { } c && !known.Contains(c)))
            errors.Add(new("customer.unknown", $"roles/{role.Name}/customer", $"Role '{role.Name}' belongs to customer '{role.Customer}', which does not exist; add it under `customers:` or fix the name."));
    }

    /// <summary>A customer's own package is used only by roles on that customer's devices [package.foreign].</summary>
    private static void CheckPackageOwners(RigModel model, ModelIndex index, List<ModelError> errors)
    {
        var owned = model.Packages.Where(p => p.Customer is not null).ToDictionary(p => p.Key, p => p.Customer!, StringComparer.Ordinal);
        if (owned.Count == 0)
            return;
        var reported = new HashSet<(string, string)>();
        foreach (var role in model.Roles)
        {
            var packages = new List<PackageItem>();
            Collect(role.Items, packages, new HashSet<string>(StringComparer.Ordinal));
            foreach (var package in packages)
            {
                if (!owned.TryGetValue(PackageInfo.PackageKey(package.Name, package.Version), out var owner))
                    continue;
                foreach (var device in model.Assignments.Where(a => a.Role == role.Name).Select(a => index.Devices.GetValueOrDefault(a.Device)).OfType<Device>())
                {
                    var customer = index.Sites.GetValueOrDefault(device.Site)?.Customer;
                    if (customer != owner && reported.Add((role.Name, package.Name)))
                    {
                        errors.Add(new("package.foreign", $"roles/{role.Name}",
                            $"Role '{role.Name}' uses package {package.Name} {package.Version}, which belongs to one customer, on device '{device.Name}' of {(customer is null ? "the provider" : $"customer '{customer}'")}; use a package of the provider's catalog or of that device's customer."));
                    }
                }
            }
        }

        void Collect(IReadOnlyList<Item> items, List<PackageItem> into, HashSet<string> seen)
        {
            foreach (var item in items)
            {
                if (item is PackageItem p)
                    into.Add(p);
                else if (item is BundleItem b && seen.Add(b.Name) && index.Bundles.TryGetValue(b.Name, out var bundle))
                    Collect(bundle.Items, into, seen);
            }
        }
    }

    private static void CheckSites(RigModel model, List<ModelError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var site in model.Sites)
        {
            CheckName(site.Name, "sites", names, errors);
            CheckParameters(site.Parameters, $"sites/{site.Name}/parameters", errors);
        }
    }

    private static void CheckDevices(RigModel model, ModelIndex index, List<ModelError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var macs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var device in model.Devices)
        {
            var at = $"devices/{device.Name}";
            CheckName(device.Name, "devices", names, errors);
            if (!index.Sites.ContainsKey(device.Site))
                errors.Add(new("site.unknown", $"{at}/site", $"Device '{device.Name}' is in site '{device.Site}', which does not exist; add the site or fix the name."));
            if (!string.IsNullOrEmpty(device.Hostname) && !HostnameRegex().IsMatch(device.Hostname))
                errors.Add(new("device.hostname-invalid", $"{at}/hostname", $"Host name '{device.Hostname}' is not a valid DNS name."));
            if (!Names.IsValidObjectName(device.OsFamily))
                errors.Add(new("device.os-family-invalid", $"{at}/osFamily", $"OS family '{device.OsFamily}' is not valid; use e.g. linux, debian, rhel."));
            if (!Names.IsValidPackageName(device.Architecture))
                errors.Add(new("device.architecture-invalid", $"{at}/architecture", $"Architecture '{device.Architecture}' is not valid; use e.g. amd64, arm64."));
            for (var i = 0; i < device.Addresses.Count; i++)
            {
                if (!IPAddress.TryParse(device.Addresses[i], out _))
                    errors.Add(new("device.address-invalid", $"{at}/addresses/{i}", $"'{device.Addresses[i]}' is not an IP address."));
            }
            var hw = device.Hardware;
            if (hw.CpuCount < 0)
                errors.Add(new("device.hardware-invalid", $"{at}/hardware/cpuCount", $"CPU count {hw.CpuCount} is negative."));
            if (hw.MemoryMiB < 0)
                errors.Add(new("device.hardware-invalid", $"{at}/hardware/memoryMiB", $"Memory {hw.MemoryMiB} MiB is negative."));
            for (var i = 0; i < hw.Disks.Count; i++)
            {
                if (hw.Disks[i].SizeGiB <= 0 || string.IsNullOrWhiteSpace(hw.Disks[i].Name))
                    errors.Add(new("device.hardware-invalid", $"{at}/hardware/disks/{i}", $"Disk '{hw.Disks[i].Name}' needs a name and a positive size (got {hw.Disks[i].SizeGiB} GiB)."));
            }
            for (var i = 0; i < hw.Nics.Count; i++)
            {
                var nic = hw.Nics[i];
                if (!MacRegex().IsMatch(nic.Mac))
                    errors.Add(new("device.mac-invalid", $"{at}/hardware/nics/{i}/mac", $"MAC address '{nic.Mac}' of {nic.Name} is not six hex pairs separated by ':' (e.g. 52:54:00:12:34:56)."));
                else if (!macs.TryAdd(nic.Mac, device.Name))
                    errors.Add(new("device.mac-duplicate", $"{at}/hardware/nics/{i}/mac", $"MAC address '{nic.Mac}' is also on device '{macs[nic.Mac]}'."));
                if (nic.Address is { } addr && !IPAddress.TryParse(addr, out _))
                    errors.Add(new("device.address-invalid", $"{at}/hardware/nics/{i}/address", $"'{addr}' is not an IP address."));
            }
            CheckParameters(device.Parameters, $"{at}/parameters", errors);
            if (device.Network is { } network)
                CheckNetwork(device.Name, network, $"{at}/network", errors);
        }
    }

    /// <summary>The opt-in network section: every value must reach the device as a valid configure-network command.</summary>
    private static void CheckNetwork(string device, DeviceNetwork network, string at, List<ModelError> errors)
    {
        if (!NetworkRenderers.IsKnown(network.Renderer))
            errors.Add(new("network.renderer-invalid", $"{at}/renderer", $"Network renderer '{network.Renderer}' of device '{device}' is unknown; use {NetworkRenderers.Networkd} (systemd-networkd) or {NetworkRenderers.Ifupdown}."));
        if (network.ProbeTimeoutSeconds is < NetworkRules.MinProbeSeconds or > NetworkRules.MaxProbeSeconds)
            errors.Add(new("network.probe-timeout-invalid", $"{at}/probeTimeoutSeconds", $"probeTimeoutSeconds {network.ProbeTimeoutSeconds} of device '{device}' is outside {NetworkRules.MinProbeSeconds}-{NetworkRules.MaxProbeSeconds}; it is how long the device may be cut off from its gateway before the change is rolled back."));
        if (network.Interfaces.Count == 0)
            errors.Add(new("network.no-interfaces", $"{at}/interfaces", $"The network section of device '{device}' lists no interfaces; add one (e.g. {{name: eth0, dhcp: true}}) or remove the section."));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < network.Interfaces.Count; i++)
        {
            var nic = network.Interfaces[i];
            var where = $"{at}/interfaces/{i}";
            if (!NetworkRules.IsValidInterfaceName(nic.Name))
                errors.Add(new("network.interface-invalid", $"{where}/name", $"Interface name '{nic.Name}' of device '{device}' is not valid: use {NetworkRules.InterfaceNameRule}."));
            else if (!names.Add(nic.Name))
                errors.Add(new("network.interface-duplicate", $"{where}/name", $"Interface '{nic.Name}' of device '{device}' is configured twice; keep one entry."));
            if (nic.Dhcp)
            {
                if (nic.Address is not null || nic.Gateway is not null)
                    errors.Add(new("network.dhcp-conflict", where, $"Interface '{nic.Name}' of device '{device}' has `dhcp: true` and a static address or gateway; remove one or the other."));
            }
            else if (nic.Address is null)
            {
                errors.Add(new("network.address-missing", where, $"Interface '{nic.Name}' of device '{device}' needs `address:` in CIDR form (like 10.0.0.5/24) or `dhcp: true`."));
            }
            else if (!NetworkRules.TryParseCidr(nic.Address, out var address, out _))
            {
                errors.Add(new("network.address-invalid", $"{where}/address", $"Address '{nic.Address}' of interface '{nic.Name}' on device '{device}' is not an address in CIDR form like 10.0.0.5/24."));
            }
            else if (nic.Gateway is { } gateway)
            {
                if (!NetworkRules.TryParseAddress(gateway, out var via))
                    errors.Add(new("network.gateway-invalid", $"{where}/gateway", $"Gateway '{gateway}' of interface '{nic.Name}' on device '{device}' is not an IP address."));
                else if (via.AddressFamily != address.AddressFamily)
                    errors.Add(new("network.gateway-invalid", $"{where}/gateway", $"Gateway {gateway} of interface '{nic.Name}' on device '{device}' is not of the same IP version as its address {nic.Address}."));
            }
            if (nic.Dns.Count > NetworkRules.MaxDnsServers)
                errors.Add(new("network.dns-invalid", $"{where}/dns", $"Interface '{nic.Name}' of device '{device}' lists {nic.Dns.Count} DNS servers; at most {NetworkRules.MaxDnsServers}."));
            for (var d = 0; d < nic.Dns.Count; d++)
            {
                if (!NetworkRules.TryParseAddress(nic.Dns[d], out _))
                    errors.Add(new("network.dns-invalid", $"{where}/dns/{d}", $"DNS server '{nic.Dns[d]}' of interface '{nic.Name}' on device '{device}' is not an IP address."));
            }
        }
    }

    private static void CheckLinks(RigModel model, ModelIndex index, List<ModelError> errors)
    {
        var seen = new HashSet<(string, string, string)>();
        for (var i = 0; i < model.Links.Count; i++)
        {
            var link = model.Links[i];
            var at = $"links/{i} ({link.From} -> {link.To})";
            if (!index.Devices.ContainsKey(link.From))
                errors.Add(new("link.unknown-device", at, $"Link starts at device '{link.From}', which does not exist."));
            if (!index.Devices.ContainsKey(link.To))
                errors.Add(new("link.unknown-device", at, $"Link points to device '{link.To}', which does not exist."));
            if (link.From == link.To)
                errors.Add(new("link.self", at, $"Device '{link.From}' is linked to itself."));
            if (!Names.IsValidObjectName(link.Purpose))
                errors.Add(new("link.purpose-invalid", at, $"Link purpose '{link.Purpose}' is not valid: use {Names.ObjectNameRule}."));
            if (link.Port is < 1 or > 65535)
                errors.Add(new("link.port-invalid", at, $"Port {link.Port} is outside 1-65535."));
            if (!seen.Add((link.From, link.To, link.Purpose)))
                errors.Add(new("link.duplicate", at, $"Link {link.From} -> {link.To} purpose={link.Purpose} is declared twice."));
        }
    }

    private static void CheckPackages(RigModel model, List<ModelError> errors)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in model.Packages)
        {
            var at = $"packages/{p.Key}";
            if (!Names.IsValidPackageName(p.Name))
                errors.Add(new("package.name-invalid", at, $"Package name '{p.Name}' is not allowed: use {Names.PackageNameRule}."));
            if (!Names.IsValidVersion(p.Version))
                errors.Add(new("package.version-invalid", at, $"Version '{p.Version}' is not allowed: use {Names.VersionRule}."));
            if (!PackageFormats.IsKnown(p.Format))
                errors.Add(new("package.format-unknown", at, $"Format '{p.Format}' is unknown; use rig, deb or rpm."));
            if (!Names.IsValidSha256(p.Sha256))
                errors.Add(new("package.digest-invalid", at, $"SHA-256 '{p.Sha256}' is not 64 lower-case hex digits."));
            if (p.Size < 0)
                errors.Add(new("package.size-invalid", at, $"Size {p.Size} is negative."));
            if (!keys.Add(p.Key))
                errors.Add(new("name.duplicate", at, $"Package {p.Key} is listed twice."));
        }
    }

    private static void CheckTemplates(RigModel model, List<ModelError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in model.Templates)
        {
            if (!Names.IsValidPackageName(t.Name))
                errors.Add(new("name.invalid", $"templates/{t.Name}", $"Template name '{t.Name}' is not valid: use {Names.PackageNameRule}."));
            else if (!names.Add(t.Name))
                errors.Add(new("name.duplicate", $"templates/{t.Name}", $"Template '{t.Name}' is defined twice."));
            if (!TemplateRenderer.TryParse(t.Text, out var error))
                errors.Add(new("template.syntax", $"templates/{t.Name}", $"Template '{t.Name}' has a syntax error: {error}"));
        }
    }

    private static void CheckBundles(RigModel model, ModelIndex index, List<ModelError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var bundle in model.Bundles)
        {
            CheckName(bundle.Name, "bundles", names, errors);
            CheckItems(bundle.Items, $"bundles/{bundle.Name}", index, errors, allowReboot: false);
        }

        // Cycles: depth-first search with colours; each cycle reported once with its path.
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 visiting, 2 done
        var stack = new List<string>();
        foreach (var bundle in model.Bundles)
            Visit(bundle.Name);

        void Visit(string name)
        {
            if (state.GetValueOrDefault(name) == 2 || !index.Bundles.TryGetValue(name, out var bundle))
                return;
            if (state.GetValueOrDefault(name) == 1)
            {
                var cycle = stack.Skip(stack.IndexOf(name)).Append(name);
                errors.Add(new("bundle.cycle", $"bundles/{name}", $"Bundles include each other in a cycle: {string.Join(" -> ", cycle)}; remove one of the includes."));
                return;
            }
            state[name] = 1;
            stack.Add(name);
            foreach (var inner in bundle.Items.OfType<BundleItem>())
                Visit(inner.Name);
            stack.RemoveAt(stack.Count - 1);
            state[name] = 2;
        }
    }

    private static void CheckRoles(RigModel model, ModelIndex index, List<ModelError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var kinds = new HashSet<string>(index.KindOrder, StringComparer.Ordinal);
        foreach (var role in model.Roles)
        {
            var at = $"roles/{role.Name}";
            CheckName(role.Name, "roles", names, errors);
            if (!kinds.Contains(role.Kind))
                errors.Add(new("role.kind-unknown", $"{at}/kind", $"Role '{role.Name}' has kind '{role.Kind}', which is neither built in (os, app, content) nor declared in roleKinds."));
            if (string.IsNullOrWhiteSpace(role.Version) || !Names.IsValidVersion(role.Version))
                errors.Add(new("role.version-invalid", $"{at}/version", $"Role version '{role.Version}' is not allowed: use {Names.VersionRule}."));
            CheckParameters(role.Parameters, $"{at}/parameters", errors);
            CheckItems(role.Items, at, index, errors, allowReboot: true);
            foreach (var (key, digest) in role.Pins)
            {
                if (!index.Packages.TryGetValue(key, out var package))
                    errors.Add(new("role.pin-unknown", $"{at}/pins/{key}", $"Role '{role.Name}' pins '{key}', which is not in the package store."));
                else if (package.Sha256 != digest)
                    errors.Add(new("role.pin-mismatch", $"{at}/pins/{key}", $"Role '{role.Name}' version {role.Version} pins {key} to sha256 {digest}, but the store has {package.Sha256}; make a new role version."));
            }
        }
    }

    private static void CheckAssignments(RigModel model, ModelIndex index, List<ModelError> errors)
    {
        var byKind = new Dictionary<(string Device, string Kind), string>();
        foreach (var a in model.Assignments)
        {
            var at = $"assignments/{a.Device}/{a.Role}";
            if (!index.Devices.ContainsKey(a.Device))
                errors.Add(new("assignment.unknown-device", at, $"Role '{a.Role}' is assigned to device '{a.Device}', which does not exist."));
            if (!index.Roles.TryGetValue(a.Role, out var role))
            {
                errors.Add(new("assignment.unknown-role", at, $"Device '{a.Device}' is assigned role '{a.Role}', which does not exist."));
                continue;
            }
            if (!byKind.TryAdd((a.Device, role.Kind), a.Role))
                errors.Add(new("assignment.kind-conflict", at, $"Device '{a.Device}' would have two roles of kind '{role.Kind}' ('{byKind[(a.Device, role.Kind)]}' and '{a.Role}'); a device has at most one role per kind."));
        }
    }

    private static void CheckItems(IReadOnlyList<Item> items, string at, ModelIndex index, List<ModelError> errors, bool allowReboot)
    {
        for (var i = 0; i < items.Count; i++)
        {
            var where = $"{at}/items/{i}";
            switch (items[i])
            {
                case PackageItem p:
                    if (!index.Packages.ContainsKey(p.Key))
                        errors.Add(new("item.unknown-package", where, $"Package '{p.Key}' is not in the package store; import it with `rig package add` or fix the version."));
                    break;
                case BundleItem b:
                    if (!index.Bundles.ContainsKey(b.Name))
                        errors.Add(new("item.unknown-bundle", where, $"Bundle '{b.Name}' does not exist."));
                    break;
                case FileItem f:
                    try
                    {
                        ArchivePaths.SplitDevicePath(f.Path, RigLimits.Default.MaxPathLength);
                    }
                    catch (ArgumentException e)
                    {
                        errors.Add(new("item.path-invalid", where, e.Message));
                    }
                    if (!index.Templates.ContainsKey(f.Template))
                        errors.Add(new("item.unknown-template", where, $"File '{f.Path}' uses template '{f.Template}', which does not exist."));
                    if (!ModeRegex().IsMatch(f.Mode))
                        errors.Add(new("item.mode-invalid", where, $"Mode '{f.Mode}' of '{f.Path}' is not an octal mode like 0644 (setuid and setgid are not allowed)."));
                    if (!Names.IsValidServiceName(f.Owner) || !Names.IsValidServiceName(f.Group))
                        errors.Add(new("item.owner-invalid", where, $"Owner '{f.Owner}' or group '{f.Group}' of '{f.Path}' is not a valid user or group name."));
                    break;
                case ServiceItem s:
                    if (!Names.IsValidServiceName(s.Name))
                        errors.Add(new("item.service-invalid", where, $"Service name '{s.Name}' is not valid."));
                    break;
                case RebootItem when !allowReboot:
                    errors.Add(new("item.reboot-in-bundle", where, "A reboot point belongs in a role, not in a bundle (bundles are reused across roles)."));
                    break;
            }
        }
    }

    private static void CheckName(string name, string collection, HashSet<string> seen, List<ModelError> errors)
    {
        if (!Names.IsValidObjectName(name))
            errors.Add(new("name.invalid", $"{collection}/{name}", $"Name '{name}' is not valid: use {Names.ObjectNameRule}."));
        else if (!seen.Add(name))
            errors.Add(new("name.duplicate", $"{collection}/{name}", $"'{name}' is defined twice in {collection}; names must be unique."));
    }

    private static void CheckParameters(IReadOnlyDictionary<string, string> parameters, string at, List<ModelError> errors)
    {
        foreach (var key in parameters.Keys)
        {
            if (!Names.IsValidParameterName(key))
                errors.Add(new("parameter.name-invalid", $"{at}/{key}", $"Parameter name '{key}' is not valid: use {Names.ParameterNameRule}."));
        }
    }

    private static void CheckSecrets(RigModel model, List<ModelError> errors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var layers = SecretParameters.Layers(model).ToList();
        foreach (var name in model.Secrets)
        {
            var at = $"secrets/{name}";
            if (!Names.IsValidParameterName(name))
                errors.Add(new("secret.name-invalid", at, $"Secret parameter name '{name}' is not valid: use {Names.ParameterNameRule}."));
            else if (!seen.Add(name))
                errors.Add(new("secret.duplicate", at, $"Parameter '{name}' is declared secret twice; remove one."));
            else if (!layers.Any(l => l.Parameters.ContainsKey(name)))
                errors.Add(new("secret.unknown-parameter", at,
                    $"Parameter '{name}' is declared secret, but no layer (global, site, role, device) sets it; set it in one, or remove it from `secrets`."));
        }
        foreach (var layer in layers)
        {
            foreach (var (name, value) in layer.Parameters)
            {
                if (seen.Contains(name) && value.Length is > 0 and < SecretParameters.MinLength && value != SecretParameters.Placeholder)
                {
                    errors.Add(new("secret.too-short", layer.PathOf(name),
                        $"The value of secret parameter '{name}' at {layer.PathOf(name)} is {value.Length} characters; a secret value is empty or at least {SecretParameters.MinLength} characters (a shorter one would be masked wherever that text appears). Use a longer value."));
                }
            }
        }
    }

    /// <summary>Parse an octal mode string as validated by the model ("0644").</summary>
    public static int ParseMode(string mode) => Convert.ToInt32(mode, 8);

    [GeneratedRegex(@"^(?=.{1,253}\z)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex HostnameRegex();

    [GeneratedRegex(@"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\z", RegexOptions.CultureInvariant)]
    private static partial Regex MacRegex();

    [GeneratedRegex(@"^0?[0-7]{3}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ModeRegex();
}
