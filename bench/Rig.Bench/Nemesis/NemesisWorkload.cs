using System.Globalization;
using System.Text;
using Rig.Model.Domain;
using Rig.Protocol.Archives;

namespace Rig.Bench.Nemesis;

/// <summary>The site the nemesis provisions: N sandbox devices, each with an os role (a package, configuration
/// files, then a reboot), an app role (four packages, most of the configuration files, a service) and a content role
/// (a package and a few files). Packages are Rig archives of incompressible random bytes (real download sizes);
/// templates read device facts and parameters of three layers. Deterministic for a given size.</summary>
internal sealed class NemesisWorkload
{
    /// <summary>Packages per device.</summary>
    public const int PackageCount = 6;

    /// <summary>Configuration files per device.</summary>
    public const int FileCount = 20;

    /// <summary>The service the app role runs.</summary>
    public const string Service = "nemesis-svc";

    private NemesisWorkload(IReadOnlyList<string> devices, int packageBytes)
    {
        Devices = devices;
        PackageBytes = packageBytes;
    }

    /// <summary>Device names.</summary>
    public IReadOnlyList<string> Devices { get; }

    /// <summary>Payload bytes of each package (random, so the archive is as large).</summary>
    public int PackageBytes { get; }

    /// <summary><paramref name="devices"/> devices with packages of <paramref name="packageBytes"/> bytes.</summary>
    public static NemesisWorkload Create(int devices, int packageBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(packageBytes, 1024);
        return new NemesisWorkload([.. Enumerable.Range(0, devices).Select(i => $"dev{i:00}")], packageBytes);
    }

    private static string PackageName(int p) => $"nem-pkg{p}";

    private static string PackageVersion(int p) => $"1.{p}.0";

    /// <summary>Write the packages as Rig archives into <paramref name="directory"/>; returns their paths.</summary>
    public IReadOnlyList<string> WritePackages(string directory)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(424242);
        var paths = new List<string>();
        for (var p = 0; p < PackageCount; p++)
        {
            var root = $"/opt/nemesis/pkg{p}";
            var big = new byte[PackageBytes * 3 / 4];
            var small = new byte[PackageBytes - big.Length];
            random.NextBytes(big);
            random.NextBytes(small);
            var manifest = new RigArchiveManifest
            {
                Name = PackageName(p),
                Version = PackageVersion(p),
                OsFamily = "linux",
                Description = $"nemesis payload {p}",
                Service = p == 1 ? new RigArchiveService(Service) : null,
            };
            ArchiveInput[] files =
            [
                new($"{root}/bin/tool{p}", Encoding.UTF8.GetBytes($"#!/bin/sh\necho 'nemesis tool {p}'\n"), "0755"),
                new($"{root}/lib/payload.bin", big),
                new($"{root}/lib/extra.bin", small),
                new($"{root}/share/README", Encoding.UTF8.GetBytes($"{manifest.Name} {manifest.Version}: payload of the nemesis benchmark.\n")),
            ];
            var path = Path.Combine(directory, $"{manifest.Name}_{manifest.Version}{RigArchive.Extension}");
            using (var stream = File.Create(path))
                RigArchiveWriter.Write(stream, manifest, files);
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>The model (the package catalog is left to the gateway, which fills it from its store).</summary>
    public RigModel Model()
    {
        var templates = Enumerable.Range(0, FileCount).Select(i => new ConfigTemplate($"cfg{i:00}", Template(i))).ToList();
        FileItem File(int i) => new(i % 3 == 0 ? $"/etc/nemesis/app-{i:00}.conf" : i % 3 == 1 ? $"/etc/nemesis/conf.d/{i:00}.conf" : $"/srv/nemesis/{i:00}.ini", $"cfg{i:00}");
        List<Item> os = [new PackageItem(PackageName(0), PackageVersion(0)), .. Enumerable.Range(0, 4).Select(i => (Item)File(i))];
        List<Item> app = [.. Enumerable.Range(1, 4).Select(p => (Item)new PackageItem(PackageName(p), PackageVersion(p))), .. Enumerable.Range(4, 13).Select(i => (Item)File(i)), new ServiceItem(Service)];
        List<Item> content = [new PackageItem(PackageName(5), PackageVersion(5)), .. Enumerable.Range(17, 3).Select(i => (Item)File(i))];
        var sites = Math.Max(1, Devices.Count / 8);
        return new RigModel
        {
            Parameters = new Dictionary<string, string>
            {
                ["ntp_server"] = "10.40.0.2", ["dns_server"] = "10.40.0.3", ["log_level"] = "info", ["listen_port"] = "8080", ["workers"] = "4",
            },
            Sites = [.. Enumerable.Range(0, sites).Select(s => new Site
            {
                Name = $"nsite{s}", Description = "nemesis", Parameters = new Dictionary<string, string> { ["dns_server"] = $"10.40.{s + 1}.3", ["domain"] = $"s{s}.nemesis.example" },
            })],
            Devices = [.. Devices.Select((d, i) => new Device
            {
                Name = d, Site = $"nsite{i % sites}", Hostname = $"{d}.nemesis.example", Tier = "app", Addresses = [$"10.40.{i % sites + 1}.{10 + i}"],
                Parameters = new Dictionary<string, string> { ["workers"] = (2 + i % 5).ToString(CultureInfo.InvariantCulture) },
            })],
            Templates = templates,
            Bundles =
            [
                new Bundle { Name = "nem-os", Items = os },
                new Bundle { Name = "nem-app", Items = app },
                new Bundle { Name = "nem-content", Items = content },
            ],
            Roles =
            [
                new Role { Name = "nem-os", Kind = BuiltInRoleKinds.Os, Version = "1", Items = [new BundleItem("nem-os"), new RebootItem("apply the nemesis kernel settings")] },
                new Role { Name = "nem-app", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("nem-app")], Parameters = new Dictionary<string, string> { ["log_level"] = "debug" } },
                new Role { Name = "nem-content", Kind = BuiltInRoleKinds.Content, Version = "1", Items = [new BundleItem("nem-content")] },
            ],
            Assignments = [.. Devices.SelectMany(d => new[] { new RoleAssignment(d, "nem-os"), new RoleAssignment(d, "nem-app"), new RoleAssignment(d, "nem-content") })],
        };
    }

    private static string Template(int i)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# nemesis configuration {i:00}, managed by Rig\n");
        text.Append("# device {{ device.name }} ({{ device.hostname }}), site {{ site.name }}\n");
        text.Append(CultureInfo.InvariantCulture, $"[section-{i:00}]\n");
        text.Append("listen = {{ device.address }}:{{ params.listen_port }}\n");
        text.Append("ntp = {{ params.ntp_server }}\ndns = {{ params.dns_server }}\nlog_level = {{ params.log_level }}\nworkers = {{ params.workers }}\n");
        for (var j = 0; j < 12; j++)
            text.Append(CultureInfo.InvariantCulture, $"option_{i:00}_{j:00} = value-{(i * 37 + j * 11) % 997:000}\n");
        return text.ToString();
    }
}
