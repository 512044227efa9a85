namespace Rig.Model.Domain;

// Properties with defaults use `set`, not `init`: System.Text.Json's source generator passes null for a missing
// init-only member, which would turn a model that leaves out an optional key into a NullReferenceException.

/// <summary>The central model: everything Rig knows about the sites it provisions. Changed first, checked
/// here (validation, plan), only then sent to devices.</summary>
public sealed record RigModel
{
    /// <summary>The hosting provider's customers: each owns sites (and may own roles); an operator of one customer never
    /// sees another's objects (docs/SECURITY.md).</summary>
    public IReadOnlyList<Customer> Customers { get; set; } = [];

    /// <summary>Customer compartments.</summary>
    public IReadOnlyList<Site> Sites { get; set; } = [];

    /// <summary>Servers, load balancers, firewalls...</summary>
    public IReadOnlyList<Device> Devices { get; set; } = [];

    /// <summary>Typed interconnections between devices (<c>lb-1 -> web-1 purpose=http</c>).</summary>
    public IReadOnlyList<Interconnection> Links { get; set; } = [];

    /// <summary>The package catalog the roles and bundles refer to (filled from the package store).</summary>
    public IReadOnlyList<PackageInfo> Packages { get; set; } = [];

    /// <summary>Groups of packages, files and services; bundles nest.</summary>
    public IReadOnlyList<Bundle> Bundles { get; set; } = [];

    /// <summary>Role kinds declared beyond the built-in <c>os</c>, <c>app</c>, <c>content</c>, in install order (after the built-ins).</summary>
    public IReadOnlyList<string> RoleKinds { get; set; } = [];

    /// <summary>Versioned, ordered lists of items of one kind.</summary>
    public IReadOnlyList<Role> Roles { get; set; } = [];

    /// <summary>Which device has which role (at most one per kind).</summary>
    public IReadOnlyList<RoleAssignment> Assignments { get; set; } = [];

    /// <summary>Configuration templates (Liquid, rendered by Fluid on the gateway).</summary>
    public IReadOnlyList<ConfigTemplate> Templates { get; set; } = [];

    /// <summary>Global parameters, the lowest layer (global &lt; site &lt; role &lt; device).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; set; } = new Dictionary<string, string>();

    /// <summary>Which changes need approval before they are rolled out (four eyes), over the built-in default
    /// <see cref="ApprovalPolicy.Default"/>; the last policy that matches a changed object decides (docs/MODEL.md,
    /// <em>Approvals</em>).</summary>
    public IReadOnlyList<ApprovalPolicy> Approvals { get; set; } = [];
    /// <summary>Names of the parameters whose values are secret, at every layer: encrypted at rest, masked in
    /// everything the gateway shows, sent only inside the write-file command of a device that needs them
    /// (docs/MODEL.md, Secrets).</summary>
    public IReadOnlyList<string> Secrets { get; set; } = [];

    /// <summary>Every role kind in install order: os, app, content, then declared kinds.</summary>
    public IReadOnlyList<string> KindOrder() => [.. BuiltInRoleKinds.All, .. RoleKinds.Where(k => !BuiltInRoleKinds.All.Contains(k))];
}

/// <summary>The role kinds every model has, in install order.</summary>
public static class BuiltInRoleKinds
{
    /// <summary>Operating system role.</summary>
    public const string Os = "os";
    /// <summary>Application role.</summary>
    public const string App = "app";
    /// <summary>Site content role.</summary>
    public const string Content = "content";

    /// <summary>The three in order.</summary>
    public static IReadOnlyList<string> All { get; } = [Os, App, Content];
}

/// <summary>How many approvals a change needs, by operators other than the revision's author holding <c>approve</c>
/// where the changed object lies. A null list does not restrict; an object lies in the policy when each restricted
/// list holds its role kind, customer and site.</summary>
public sealed record ApprovalPolicy
{
    /// <summary>The most approvals a policy may ask for.</summary>
    public const int MaxApprovals = 5;

    /// <summary>The policy every model has before its own: any change to an <c>os</c> role needs one approval.</summary>
    public static ApprovalPolicy Default { get; } = new() { Kinds = [BuiltInRoleKinds.Os], Approvals = 1 };

    /// <summary>Role kinds the policy is about (null: every change, role or not).</summary>
    public IReadOnlyList<string>? Kinds { get; init; }

    /// <summary>Customers the policy is about (null: any, and the provider's own objects).</summary>
    public IReadOnlyList<string>? Customers { get; init; }

    /// <summary>Sites the policy is about (null: any).</summary>
    public IReadOnlyList<string>? Sites { get; init; }

    /// <summary>Approvals needed: 0 (no approval: turns an earlier policy off for this scope) to <see cref="MaxApprovals"/>.</summary>
    public int Approvals { get; init; } = 1;
}

/// <summary>A customer of the hosting provider: the owner of sites and of roles made for them.</summary>
public sealed record Customer
{
    /// <summary>Unique name.</summary>
    public required string Name { get; init; }

    /// <summary>For humans.</summary>
    public string? Description { get; init; }
}

/// <summary>A customer compartment: a site's devices, its parameters.</summary>
public sealed record Site
{
    /// <summary>Unique name.</summary>
    public required string Name { get; init; }

    /// <summary>The customer owning the site (null: the provider's own site).</summary>
    public string? Customer { get; init; }

    /// <summary>For humans.</summary>
    public string? Description { get; init; }

    /// <summary>Site layer of parameters.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; set; } = new Dictionary<string, string>();
}

/// <summary>A device with its logical and hardware facts.</summary>
public sealed record Device
{
    /// <summary>Unique name; the agent's certificate names it.</summary>
    public required string Name { get; init; }

    /// <summary>The site the device belongs to.</summary>
    public required string Site { get; init; }

    /// <summary>Host name; defaults to <see cref="Name"/>.</summary>
    public string? Hostname { get; init; }

    /// <summary>Tier (lb, web, app, db...), free text.</summary>
    public string? Tier { get; init; }

    /// <summary>OS family: <c>linux</c>, <c>debian</c>, <c>rhel</c>...</summary>
    public string OsFamily { get; set; } = "linux";

    /// <summary>CPU architecture: <c>amd64</c>, <c>arm64</c>...</summary>
    public string Architecture { get; set; } = "amd64";

    /// <summary>IP addresses; the first is the primary one templates see as <c>device.address</c>.</summary>
    public IReadOnlyList<string> Addresses { get; set; } = [];

    /// <summary>Hardware facts.</summary>
    public HardwareFacts Hardware { get; set; } = new();

    /// <summary>Any further logical facts (rack, data center...).</summary>
    public IReadOnlyDictionary<string, string> Facts { get; set; } = new Dictionary<string, string>();

    /// <summary>Device layer of parameters, the highest.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; set; } = new Dictionary<string, string>();

    /// <summary>Network configuration Rig manages on the device (opt-in; null: Rig leaves the network alone). Never
    /// derived from <see cref="HardwareFacts.Nics"/>, which are facts only.</summary>
    public DeviceNetwork? Network { get; init; }

    /// <summary>The host name in effect.</summary>
    public string EffectiveHostname => string.IsNullOrEmpty(Hostname) ? Name : Hostname;
}

/// <summary>Hardware facts of a device.</summary>
public sealed record HardwareFacts
{
    /// <summary>Logical CPUs.</summary>
    public int CpuCount { get; init; }

    /// <summary>Memory in MiB.</summary>
    public long MemoryMiB { get; init; }

    /// <summary>Disks.</summary>
    public IReadOnlyList<Disk> Disks { get; set; } = [];

    /// <summary>Network interfaces.</summary>
    public IReadOnlyList<Nic> Nics { get; set; } = [];
}

/// <summary>The network configuration Rig writes and applies on a device, per interface.</summary>
public sealed record DeviceNetwork
{
    /// <summary>Configuration format: <c>networkd</c> (systemd-networkd, the default) or <c>ifupdown</c>.</summary>
    public string Renderer { get; set; } = "networkd";

    /// <summary>Seconds the agent may be cut off from its gateway after a change before it rolls the change back (5-300).</summary>
    public int ProbeTimeoutSeconds { get; set; } = 30;

    /// <summary>Interfaces, each configured by its own command.</summary>
    public IReadOnlyList<NetworkInterfaceConfig> Interfaces { get; set; } = [];
}

/// <summary>One interface: DHCP, or a static address with an optional gateway; DNS servers either way.</summary>
public sealed record NetworkInterfaceConfig
{
    /// <summary>Linux interface name (<c>eth0</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Take the address from DHCP (then no address or gateway).</summary>
    public bool Dhcp { get; init; }

    /// <summary>Static address in CIDR form (<c>10.0.0.5/24</c>).</summary>
    public string? Address { get; init; }

    /// <summary>Default gateway (static only).</summary>
    public string? Gateway { get; init; }

    /// <summary>DNS servers in order.</summary>
    public IReadOnlyList<string> Dns { get; set; } = [];
}

/// <summary>A disk and its size.</summary>
public sealed record Disk(string Name, long SizeGiB);

/// <summary>A network interface with its MAC address and optional address.</summary>
public sealed record Nic(string Name, string Mac, string? Address = null);

/// <summary>A typed, directed link between two devices.</summary>
public sealed record Interconnection
{
    /// <summary>Device the link starts at (e.g. the load balancer).</summary>
    public required string From { get; init; }

    /// <summary>Device the link points to (e.g. a web server).</summary>
    public required string To { get; init; }

    /// <summary>What the link is for (<c>http</c>, <c>app</c>, <c>sql</c>).</summary>
    public required string Purpose { get; init; }

    /// <summary>Port the <see cref="From"/> side connects to, when it matters.</summary>
    public int? Port { get; init; }

    /// <summary>Further attributes templates can read.</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; set; } = new Dictionary<string, string>();
}

/// <summary>A package in the catalog: one installable unit stored once by digest.</summary>
public sealed record PackageInfo
{
    /// <summary>Package name.</summary>
    public required string Name { get; init; }

    /// <summary>Package version.</summary>
    public required string Version { get; init; }

    /// <summary>Format: <c>rig</c>, <c>deb</c> or <c>rpm</c>.</summary>
    public required string Format { get; init; }

    /// <summary>OS family: <c>any</c>, <c>linux</c>, <c>debian</c>, <c>rhel</c>.</summary>
    public string OsFamily { get; set; } = "any";

    /// <summary>Architecture: <c>all</c> or a specific one.</summary>
    public string Architecture { get; set; } = "all";

    /// <summary>SHA-256 of the package file (lower-case hex).</summary>
    public required string Sha256 { get; init; }

    /// <summary>Size in bytes.</summary>
    public long Size { get; init; }

    /// <summary>Service the package provides (restarted when the package changes).</summary>
    public string? Service { get; init; }

    /// <summary>The device must reboot after installing this package.</summary>
    public bool Reboot { get; init; }

    /// <summary>What the package needs installed first (Debian Pre-Depends and Depends, RPM Requires): one canonical
    /// group of alternatives per entry (<c>libc6 (&gt;= 2.34)</c>, <c>default-mta | mail-transport-agent</c>), read
    /// from the package file at import (<see cref="Rig.Protocol.Packaging.PackageRelations"/>).</summary>
    public IReadOnlyList<string> Depends { get; set; } = [];

    /// <summary>Virtual packages and capabilities it provides (Debian Provides; RPM Provides and the files it installs
    /// in bin directories and /etc, which other packages may require by path).</summary>
    public IReadOnlyList<string> Provides { get; set; } = [];

    /// <summary>What it cannot be installed beside (Debian Conflicts and Breaks, RPM Conflicts and Obsoletes).</summary>
    public IReadOnlyList<string> Conflicts { get; set; } = [];

    /// <summary>Debian's <c>Essential: yes</c>: never removed by a plan.</summary>
    public bool Essential { get; init; }

    /// <summary>The customer owning the package (null: the provider's catalog, usable by all). Only roles on that
    /// customer's devices may use it; only that customer's operators (and the provider's) see it.</summary>
    public string? Customer { get; init; }

    /// <summary>The catalog key, <c>name@version</c>.</summary>
    public string Key => PackageKey(Name, Version);

    /// <summary>Build a catalog key.</summary>
    public static string PackageKey(string name, string version) => $"{name}@{version}";
}

/// <summary>A named group of items; may contain other bundles.</summary>
public sealed record Bundle
{
    /// <summary>Unique name.</summary>
    public required string Name { get; init; }

    /// <summary>Items in install order.</summary>
    public IReadOnlyList<Item> Items { get; set; } = [];
}

/// <summary>A versioned, ordered list of items of one kind. The version pins exact package digests.</summary>
public sealed record Role
{
    /// <summary>Unique name.</summary>
    public required string Name { get; init; }

    /// <summary>Kind: <c>os</c>, <c>app</c>, <c>content</c> or a declared kind.</summary>
    public required string Kind { get; init; }

    /// <summary>The customer owning the role (null: the provider's). A role lies where the devices it is assigned to
    /// are; the owner places a role assigned to no device yet (docs/SECURITY.md, <em>Where an object lies</em>).</summary>
    public string? Customer { get; init; }

    /// <summary>The role's version (free text, e.g. <c>3</c> or <c>2026.11.1</c>).</summary>
    public string Version { get; set; } = "1";

    /// <summary>Items in install order.</summary>
    public IReadOnlyList<Item> Items { get; set; } = [];

    /// <summary>Role layer of parameters.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; set; } = new Dictionary<string, string>();

    /// <summary>Exact digests this role version was made with, by <c>name@version</c> (a lock file).</summary>
    public IReadOnlyDictionary<string, string> Pins { get; set; } = new Dictionary<string, string>();
}

/// <summary>A device has a role.</summary>
public sealed record RoleAssignment(string Device, string Role);

/// <summary>A configuration template (Liquid syntax).</summary>
public sealed record ConfigTemplate(string Name, string Text);
