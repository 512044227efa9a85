using System.Text;
using Rig.Model.Domain;
using Rig.Protocol.Archives;

namespace Rig.Cli.Demo;

/// <summary>The demo: a three-tier shop (lb-1 -> web-1/web-2 -> app-1/app-2 -> db-1) with os, app and
/// content roles, sample Rig archives and templates that read parameters and interconnections.</summary>
internal static class DemoSite
{
    /// <summary>Site name.</summary>
    public const string Site = "shop";

    /// <summary>The demo's devices with tier and primary address.</summary>
    public static IReadOnlyList<(string Name, string Tier, string Address)> Devices { get; } =
    [
        ("lb-1", "lb", "10.20.0.10"),
        ("web-1", "web", "10.20.0.21"),
        ("web-2", "web", "10.20.0.22"),
        ("app-1", "app", "10.20.0.31"),
        ("app-2", "app", "10.20.0.32"),
        ("db-1", "db", "10.20.0.41"),
    ];

    /// <summary>The sample packages: manifest and files.</summary>
    public static IReadOnlyList<(RigArchiveManifest Manifest, IReadOnlyList<ArchiveInput> Files)> Packages { get; } =
    [
        (new RigArchiveManifest { Name = "base-os", Version = "12.8.0", OsFamily = "linux", Description = "Base system settings", Reboot = false },
            [Text("/etc/rig-base/release", "Rig base OS 12.8.0\n"), Text("/usr/lib/rig-base/sysctl.conf", "net.core.somaxconn = 4096\nvm.swappiness = 10\n"), Script("/usr/sbin/rig-base-check", "base check")]),
        (new RigArchiveManifest { Name = "haproxy-lite", Version = "2.8.5", OsFamily = "linux", Description = "Load balancer", Service = new RigArchiveService("haproxy") },
            [Script("/usr/sbin/haproxy", "haproxy-lite 2.8.5"), Text("/usr/share/doc/haproxy-lite/README", "A small load balancer for the Rig demo.\n")]),
        (new RigArchiveManifest { Name = "nginx-lite", Version = "1.24.0", OsFamily = "linux", Description = "Web server", Service = new RigArchiveService("nginx") },
            [Script("/usr/sbin/nginx", "nginx-lite 1.24.0"), Text("/etc/nginx/mime.types", "types {\n  text/html html;\n  text/css css;\n}\n")]),
        (new RigArchiveManifest { Name = "shop-app", Version = "3.2.0", OsFamily = "linux", Description = "Shop application server", Service = new RigArchiveService("shop-app") },
            [Script("/opt/shop/bin/shop-app", "shop-app 3.2.0"), Binary("/opt/shop/lib/shop.jar", 64 * 1024, 7)]),
        (new RigArchiveManifest { Name = "pg-lite", Version = "15.4.0", OsFamily = "linux", Description = "Database server", Service = new RigArchiveService("pg-lite") },
            [Script("/usr/lib/pg-lite/bin/postgres", "pg-lite 15.4.0"), Binary("/usr/lib/pg-lite/share/catalog.bin", 128 * 1024, 11)]),
        (new RigArchiveManifest { Name = "shop-content", Version = "2026.11.1", OsFamily = "any", Description = "Shop site content" },
            [Text("/srv/www/index.html", "<!doctype html><title>Shop</title><h1>Welcome to the shop</h1>\n"), Text("/srv/www/css/site.css", "body { font-family: sans-serif; }\n"), Binary("/srv/www/img/logo.png", 16 * 1024, 3)]),
    ];

    /// <summary>The model (the package catalog is filled by the gateway from its store).</summary>
    public static RigModel Model()
    {
        var devices = Devices.Select((d, i) => new Device
        {
            Name = d.Name,
            Site = Site,
            Hostname = $"{d.Name}.shop.example",
            Tier = d.Tier,
            OsFamily = "debian",
            Architecture = "amd64",
            Addresses = [d.Address],
            Hardware = new HardwareFacts
            {
                CpuCount = d.Tier is "app" or "db" ? 8 : 2,
                MemoryMiB = d.Tier == "db" ? 32768 : 4096,
                Disks = [new Disk("sda", d.Tier == "db" ? 500 : 40)],
                Nics = [new Nic("eth0", $"52:54:00:20:00:{i + 10:x2}", d.Address)],
            },
            Facts = new Dictionary<string, string> { ["rack"] = $"r{1 + (i / 3)}", ["datacenter"] = "dc1" },
        }).ToList();

        Interconnection Link(string from, string to, string purpose, int port) => new() { From = from, To = to, Purpose = purpose, Port = port };

        return new RigModel
        {
            Parameters = new Dictionary<string, string> { ["dns_server"] = "10.20.0.2", ["ntp_server"] = "10.20.0.3", ["lb_maxconn"] = "2000", ["db_max_connections"] = "100" },
            Sites = [new Site { Name = Site, Description = "Demo shop", Parameters = new Dictionary<string, string> { ["domain"] = "shop.example", ["http_port"] = "80" } }],
            Devices = devices,
            Links =
            [
                Link("lb-1", "web-1", "http", 80), Link("lb-1", "web-2", "http", 80),
                Link("web-1", "app-1", "app", 8080), Link("web-1", "app-2", "app", 8080),
                Link("web-2", "app-1", "app", 8080), Link("web-2", "app-2", "app", 8080),
                Link("app-1", "db-1", "sql", 5432), Link("app-2", "db-1", "sql", 5432),
            ],
            Templates =
            [
                new ConfigTemplate("motd", "Welcome to {{ device.hostname }} ({{ device.tier }} tier, site {{ site.name }}).\nManaged by Rig: changes made by hand are overwritten.\n"),
                new ConfigTemplate("resolv.conf", "search {{ params.domain }}\nnameserver {{ params.dns_server }}\n"),
                new ConfigTemplate("haproxy.cfg", """
                    global
                        maxconn {{ params.lb_maxconn }}
                    frontend www
                        bind {{ device.address }}:{{ params.http_port }}
                        default_backend web
                    backend web
                        balance roundrobin
                    {% for link in links %}{% if link.purpose == "http" %}    server {{ link.name }} {{ link.address }}:{{ link.port }} check
                    {% endif %}{% endfor %}
                    """),
                new ConfigTemplate("nginx.conf", """
                    worker_processes {{ device.cpu_count }};
                    http {
                        upstream shop_app {
                    {% for link in links %}{% if link.purpose == "app" %}        server {{ link.address }}:{{ link.port }};
                    {% endif %}{% endfor %}    }
                        server {
                            listen {{ device.address }}:{{ params.http_port }};
                            server_name www.{{ params.domain }};
                            root /srv/www;
                            location /api/ { proxy_pass http://shop_app; }
                        }
                    }
                    """),
                new ConfigTemplate("shop-app.properties", """
                    workers={{ device.cpu_count }}
                    {% for link in links %}{% if link.purpose == "sql" %}db.url=postgres://{{ link.address }}:{{ link.port }}/shop
                    {% endif %}{% endfor %}log.level={{ params.log_level }}
                    """),
                new ConfigTemplate("pg.conf", """
                    listen_addresses = '{{ device.address }}'
                    max_connections = {{ params.db_max_connections }}
                    {% for peer in linked_from %}# client {{ peer.name }}
                    host shop shop {{ peer.address }}/32 scram-sha-256
                    {% endfor %}
                    """),
                new ConfigTemplate("site-config.js", "window.SHOP = { title: \"{{ params.site_title }}\", release: \"{{ role.version }}\" };\n"),
            ],
            Bundles =
            [
                new Bundle { Name = "base", Items = [new PackageItem("base-os", "12.8.0"), new FileItem("/etc/motd", "motd"), new FileItem("/etc/resolv.conf", "resolv.conf")] },
                new Bundle { Name = "lb", Items = [new PackageItem("haproxy-lite", "2.8.5"), new FileItem("/etc/haproxy/haproxy.cfg", "haproxy.cfg"), new ServiceItem("haproxy")] },
                new Bundle { Name = "web", Items = [new PackageItem("nginx-lite", "1.24.0"), new FileItem("/etc/nginx/nginx.conf", "nginx.conf"), new ServiceItem("nginx")] },
                new Bundle { Name = "app-server", Items = [new PackageItem("shop-app", "3.2.0"), new FileItem("/etc/shop/shop-app.properties", "shop-app.properties", "0640", "root", "shop"), new ServiceItem("shop-app")] },
                new Bundle { Name = "db", Items = [new PackageItem("pg-lite", "15.4.0"), new FileItem("/etc/pg-lite/pg.conf", "pg.conf", "0600"), new ServiceItem("pg-lite")] },
            ],
            Roles =
            [
                new Role { Name = "linux-base", Kind = BuiltInRoleKinds.Os, Version = "1", Items = [new BundleItem("base"), new RebootItem("apply the base kernel settings")] },
                new Role { Name = "lb", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("lb")] },
                new Role { Name = "web", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("web")] },
                new Role { Name = "app", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("app-server")], Parameters = new Dictionary<string, string> { ["log_level"] = "info" } },
                new Role { Name = "db", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("db")] },
                new Role { Name = "shop-content", Kind = BuiltInRoleKinds.Content, Version = "2026.11.1", Items = [new PackageItem("shop-content", "2026.11.1"), new FileItem("/srv/www/config.js", "site-config.js")], Parameters = new Dictionary<string, string> { ["site_title"] = "The Shop" } },
            ],
            // Device by device, as examples/shop writes them (`roles:` on each device).
            Assignments =
            [
                new RoleAssignment("lb-1", "linux-base"), new RoleAssignment("lb-1", "lb"),
                new RoleAssignment("web-1", "linux-base"), new RoleAssignment("web-1", "web"), new RoleAssignment("web-1", "shop-content"),
                new RoleAssignment("web-2", "linux-base"), new RoleAssignment("web-2", "web"), new RoleAssignment("web-2", "shop-content"),
                new RoleAssignment("app-1", "linux-base"), new RoleAssignment("app-1", "app"),
                new RoleAssignment("app-2", "linux-base"), new RoleAssignment("app-2", "app"),
                new RoleAssignment("db-1", "linux-base"), new RoleAssignment("db-1", "db"),
            ],
        };
    }

    /// <summary>Write the sample packages into <paramref name="directory"/>; returns the file paths.</summary>
    public static IReadOnlyList<string> WritePackages(string directory)
    {
        Directory.CreateDirectory(directory);
        var files = new List<string>();
        foreach (var (manifest, inputs) in Packages)
        {
            var path = Path.Combine(directory, $"{manifest.Name}_{manifest.Version}{RigArchive.Extension}");
            using var stream = File.Create(path);
            RigArchiveWriter.Write(stream, manifest, inputs);
            files.Add(path);
        }
        return files;
    }

    private static ArchiveInput Text(string path, string text) => new(path, Encoding.UTF8.GetBytes(text));

    private static ArchiveInput Script(string path, string name) => new(path, Encoding.UTF8.GetBytes($"#!/bin/sh\necho '{name} (Rig demo)'\n"), "0755");

    private static ArchiveInput Binary(string path, int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return new ArchiveInput(path, bytes);
    }
}
