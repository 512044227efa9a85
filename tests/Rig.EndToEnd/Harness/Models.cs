using Rig.Model.Domain;
using Rig.Protocol.Archives;

namespace Rig.EndToEnd.Harness;

/// <summary>Small models for end-to-end tests.</summary>
internal static class Models
{
    /// <summary>The tool package every test model installs.</summary>
    public static readonly RigArchiveManifest Tool = new() { Name = "tool", Version = "1.0.0", Service = new RigArchiveService("tool") };

    /// <summary>Files of the tool package.</summary>
    public static readonly ArchiveInput[] ToolFiles =
    [
        TestSite.Text("/usr/bin/tool", "#!/bin/sh\necho tool\n", "0755"),
        TestSite.Text("/usr/share/tool/data.txt", "tool data\n"),
    ];

    /// <summary>A site with <paramref name="devices"/>; each has an os role (with <paramref name="osFiles"/>
    /// generated files and, when <paramref name="reboot"/>, a reboot point) and an app role installing the
    /// tool package with a configuration file and service. The first device links to the others.</summary>
    public static RigModel Site(IReadOnlyList<string> devices, int osFiles = 2, bool reboot = false, IReadOnlyList<PackageItem>? extraAppPackages = null)
    {
        var osItems = new List<Item>();
        for (var i = 0; i < osFiles; i++)
            osItems.Add(new FileItem($"/etc/base/f{i:000}.conf", "base"));
        if (reboot)
            osItems.Add(new RebootItem("test reboot"));
        var appItems = new List<Item> { new BundleItem("tool") };
        appItems.AddRange(extraAppPackages ?? []);
        return new RigModel
        {
            Parameters = new Dictionary<string, string> { ["port"] = "8080" },
            Sites = [new Site { Name = "t" }],
            Devices = [.. devices.Select((d, i) => new Device { Name = d, Site = "t", Tier = i == 0 ? "lb" : "web", Addresses = [$"10.9.0.{10 + i}"] })],
            Links = [.. devices.Skip(1).Select(d => new Interconnection { From = devices[0], To = d, Purpose = "http", Port = 80 })],
            Templates =
            [
                new ConfigTemplate("base", "device={{ device.name }}\n"),
                new ConfigTemplate("tool.conf", "name={{ device.name }}\nport={{ params.port }}\n{% for l in links %}peer {{ l.name }} {{ l.address }}\n{% endfor %}"),
            ],
            Bundles = [new Bundle { Name = "tool", Items = [new PackageItem("tool", "1.0.0"), new FileItem("/etc/tool/tool.conf", "tool.conf"), new ServiceItem("tool")] }],
            Roles =
            [
                new Role { Name = "base", Kind = BuiltInRoleKinds.Os, Items = osItems },
                new Role { Name = "app", Kind = BuiltInRoleKinds.App, Items = appItems },
            ],
            Assignments = [.. devices.SelectMany(d => new[] { new RoleAssignment(d, "base"), new RoleAssignment(d, "app") })],
        };
    }
}
