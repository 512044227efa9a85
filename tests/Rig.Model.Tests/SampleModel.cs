using System.Security.Cryptography;
using System.Text;
using Rig.Model.Domain;
using Rig.Model.Planning;

namespace Rig.Model.Tests;

/// <summary>A valid three-tier site (lb-1, web-1, web-2, app-1, app-2, db-1) and small helpers to change
/// one part of it. Every test starts from <see cref="Build"/> and breaks or changes exactly what it is about.</summary>
internal static class SampleModel
{
    public const string Site = "acme";

    /// <summary>A deterministic, valid lower-case hex SHA-256 for a label.</summary>
    public static string Digest(string label) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(label)));

    public static PackageInfo Package(string name, string version, string? service = null, bool reboot = false, string format = "rig") => new()
    {
        Name = name,
        Version = version,
        Format = format,
        Sha256 = Digest($"{name}@{version}"),
        Size = 1024,
        Service = service,
        Reboot = reboot,
    };

    public const string LbTemplate =
        "frontend www\n" +
        "  bind *:{{ params.http_port }}\n" +
        "backend web\n" +
        "{% for l in links %}{% if l.purpose == \"http\" %}  server {{ l.name }} {{ l.address }}:{{ l.port }} check\n{% endif %}{% endfor %}";

    public static RigModel Build() => new()
    {
        Parameters = new Dictionary<string, string>
        {
            ["http_port"] = "80",
            ["motd_banner"] = "managed by rig",
            ["app_port"] = "9000",
        },
        Sites =
        [
            new Site
            {
                Name = Site,
                Description = "Acme web shop",
                Parameters = new Dictionary<string, string> { ["site_title"] = "Acme shop", ["db_name"] = "shop" },
            },
        ],
        Devices =
        [
            Device("lb-1", "lb", "10.0.0.10", "52:54:00:00:00:10"),
            Device("web-1", "web", "10.0.1.11", "52:54:00:00:01:11"),
            Device("web-2", "web", "10.0.1.12", "52:54:00:00:01:12"),
            Device("app-1", "app", "10.0.2.21", "52:54:00:00:02:21"),
            Device("app-2", "app", "10.0.2.22", "52:54:00:00:02:22"),
            Device("db-1", "db", "10.0.3.31", "52:54:00:00:03:31"),
        ],
        Links =
        [
            Link("lb-1", "web-1", "http", 8080),
            Link("lb-1", "web-2", "http", 8080),
            Link("web-1", "app-1", "app", 9000),
            Link("web-1", "app-2", "app", 9000),
            Link("web-2", "app-1", "app", 9000),
            Link("web-2", "app-2", "app", 9000),
            Link("app-1", "db-1", "sql", 5432),
            Link("app-2", "db-1", "sql", 5432),
        ],
        Packages =
        [
            Package("base-tools", "1.0"),
            Package("haproxy", "2.8.3", service: "haproxy", format: "deb"),
            Package("nginx", "1.24.0", service: "nginx", format: "deb"),
            Package("appserver", "3.1", service: "appserver"),
            Package("postgresql", "16.2", service: "postgresql", format: "deb"),
            Package("shop-content", "2026.1"),
        ],
        Bundles =
        [
            new Bundle { Name = "base", Items = [new PackageItem("base-tools", "1.0"), new FileItem("/etc/motd", "motd")] },
            new Bundle
            {
                Name = "haproxy",
                Items = [new PackageItem("haproxy", "2.8.3"), new FileItem("/etc/haproxy/haproxy.cfg", "lb-conf"), new ServiceItem("haproxy")],
            },
            new Bundle
            {
                Name = "nginx",
                Items = [new PackageItem("nginx", "1.24.0"), new FileItem("/etc/nginx/nginx.conf", "nginx-conf"), new ServiceItem("nginx")],
            },
            new Bundle
            {
                Name = "appserver",
                Items = [new PackageItem("appserver", "3.1"), new FileItem("/etc/appserver/app.conf", "app-conf", Mode: "0640", Group: "appserver"), new ServiceItem("appserver")],
            },
            new Bundle
            {
                Name = "postgres",
                Items = [new PackageItem("postgresql", "16.2"), new FileItem("/etc/postgresql/pg_hba.conf", "pg-hba", Mode: "0600", Owner: "postgres", Group: "postgres"), new ServiceItem("postgresql")],
            },
        ],
        Roles =
        [
            new Role { Name = "linux-base", Kind = BuiltInRoleKinds.Os, Version = "1", Items = [new BundleItem("base"), new RebootItem("base system installed")] },
            new Role { Name = "lb", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("haproxy")] },
            new Role { Name = "web", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("nginx")] },
            new Role { Name = "app", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("appserver")] },
            new Role { Name = "db", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("postgres")] },
            new Role
            {
                Name = "shop-content",
                Kind = BuiltInRoleKinds.Content,
                Version = "2026.1",
                Items = [new PackageItem("shop-content", "2026.1"), new FileItem("/var/www/index.html", "index")],
            },
        ],
        Assignments =
        [
            .. new[] { "lb-1", "web-1", "web-2", "app-1", "app-2", "db-1" }.Select(d => new RoleAssignment(d, "linux-base")),
            new RoleAssignment("lb-1", "lb"),
            new RoleAssignment("web-1", "web"),
            new RoleAssignment("web-2", "web"),
            new RoleAssignment("web-1", "shop-content"),
            new RoleAssignment("web-2", "shop-content"),
            new RoleAssignment("app-1", "app"),
            new RoleAssignment("app-2", "app"),
            new RoleAssignment("db-1", "db"),
        ],
        Templates =
        [
            new ConfigTemplate("motd", "Welcome to {{ device.hostname }} ({{ site.name }}), {{ params.motd_banner }}\n"),
            new ConfigTemplate("lb-conf", LbTemplate),
            new ConfigTemplate("nginx-conf", "listen {{ params.http_port }};\n{% for l in links %}{% if l.purpose == \"app\" %}upstream {{ l.address }}:{{ l.port }};\n{% endif %}{% endfor %}"),
            new ConfigTemplate("app-conf", "port={{ params.app_port }}\n{% for l in links %}{% if l.purpose == \"sql\" %}db={{ l.hostname }}:{{ l.port }}/{{ params.db_name }}\n{% endif %}{% endfor %}"),
            new ConfigTemplate("pg-hba", "{% for l in linked_from %}{% if l.purpose == \"sql\" %}host {{ params.db_name }} app {{ l.address }}/32 scram-sha-256\n{% endif %}{% endfor %}"),
            new ConfigTemplate("index", "<h1>{{ params.site_title }}</h1>\n"),
        ],
    };

    public static Device Device(string name, string tier, string address, string mac) => new()
    {
        Name = name,
        Site = Site,
        Tier = tier,
        OsFamily = "debian",
        Architecture = "amd64",
        Addresses = [address],
        Hardware = new HardwareFacts { CpuCount = 4, MemoryMiB = 8192, Disks = [new Disk("sda", 100)], Nics = [new Nic("eth0", mac, address)] },
    };

    public static Interconnection Link(string from, string to, string purpose, int? port = null) => new() { From = from, To = to, Purpose = purpose, Port = port };

    // ---- one-part changes ------------------------------------------------------------------------

    public static RigModel WithDevice(this RigModel model, string name, Func<Device, Device> change) =>
        model with { Devices = [.. model.Devices.Select(d => d.Name == name ? change(d) : d)] };

    public static RigModel WithRole(this RigModel model, string name, Func<Role, Role> change) =>
        model with { Roles = [.. model.Roles.Select(r => r.Name == name ? change(r) : r)] };

    public static RigModel WithBundle(this RigModel model, string name, Func<Bundle, Bundle> change) =>
        model with { Bundles = [.. model.Bundles.Select(b => b.Name == name ? change(b) : b)] };

    public static RigModel WithTemplate(this RigModel model, string name, string text) =>
        model with { Templates = [.. model.Templates.Select(t => t.Name == name ? t with { Text = text } : t)] };

    public static RigModel WithPackage(this RigModel model, PackageInfo package) =>
        model with { Packages = [.. model.Packages, package] };

    // ---- planning helpers ------------------------------------------------------------------------

    public static DesiredState Desired(this RigModel model, string device) => new DesiredStateBuilder(new ModelIndex(model)).Build(device);

    public static DevicePlan Plan(this RigModel model, string device, RecordedState recorded) =>
        Planner.Plan(model.Desired(device), recorded, model.KindOrder());

    /// <summary>What a device would have recorded right after applying its desired state completely.</summary>
    public static RecordedState RecordedAfter(DesiredState desired)
    {
        var packages = new Dictionary<string, RecordedPackage>(StringComparer.Ordinal);
        var files = new Dictionary<string, RecordedFile>(StringComparer.Ordinal);
        var services = new Dictionary<string, RecordedService>(StringComparer.Ordinal);
        foreach (var role in desired.Roles)
        {
            foreach (var step in role.Steps)
            {
                switch (step)
                {
                    case DesiredPackage p:
                        packages[p.Package.Name] = new RecordedPackage(p.Package.Name, p.Package.Version, p.Package.Format, p.Package.Sha256, role.Kind);
                        if (p.Package.Service is { } hinted)
                            services.TryAdd(hinted, new RecordedService(hinted, Running: true, Enabled: true, role.Kind));
                        break;
                    case DesiredFile f:
                        files[f.Path] = new RecordedFile(f.Path, f.Sha256, f.Mode, f.Owner, f.Group, role.Kind);
                        break;
                    case DesiredService s:
                        services[s.Name] = new RecordedService(s.Name, s.Running, s.Enabled, role.Kind);
                        break;
                }
            }
        }
        return new RecordedState { Packages = packages, Files = files, Services = services };
    }

    /// <summary>The recorded state of a device that has applied the whole of <paramref name="model"/>.</summary>
    public static RecordedState RecordedAfter(this RigModel model, string device) => RecordedAfter(model.Desired(device));
}
