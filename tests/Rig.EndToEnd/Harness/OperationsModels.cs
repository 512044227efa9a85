using Rig.Model.Domain;
using Rig.Protocol.Archives;

namespace Rig.EndToEnd.Harness;

/// <summary>Model pieces for operations tests, on top of <see cref="Models.Site"/> (os role "base", app role
/// "app" with the tool package, configuration and service; the first device links to the others).</summary>
internal static class OperationsModels
{
    /// <summary>The path of the content package's page.</summary>
    public const string ContentPage = "/srv/www/index.html";

    /// <summary>The content role's configuration file.</summary>
    public const string ContentConfig = "/srv/www/site.conf";

    /// <summary>The tool's configuration file (lists the device's links).</summary>
    public const string ToolConfig = "/etc/tool/tool.conf";

    /// <summary>The content package (no service) at <paramref name="version"/>.</summary>
    public static RigArchiveManifest Content(string version) => new() { Name = "site", Version = version };

    /// <summary>Files of the content package at <paramref name="version"/>.</summary>
    public static ArchiveInput[] ContentFiles(string version) => [TestSite.Text(ContentPage, $"<h1>site {version}</h1>\n")];

    /// <summary>Add a content role "www" (package site <paramref name="packageVersion"/> and a configuration file that
    /// names the role version) at <paramref name="roleVersion"/>, assigned to <paramref name="devices"/>.</summary>
    public static RigModel WithContent(RigModel model, string roleVersion, string packageVersion, IEnumerable<string> devices) => model with
    {
        Templates = [.. model.Templates.Where(t => t.Name != "site.conf"), new ConfigTemplate("site.conf", "site on {{ device.name }}, content role {{ role.version }}\n")],
        Roles = [.. model.Roles.Where(r => r.Name != "www"), new Role { Name = "www", Kind = BuiltInRoleKinds.Content, Version = roleVersion, Items = [new PackageItem("site", packageVersion), new FileItem(ContentConfig, "site.conf")] }],
        Assignments = [.. model.Assignments.Where(a => a.Role != "www"), .. devices.Select(d => new RoleAssignment(d, "www"))],
    };

    /// <summary>Add a content role "broken" writing a file under /boot, which the agent refuses (outside its allowed
    /// roots), assigned to <paramref name="devices"/>: their queues fail after the os and app roles.</summary>
    public static RigModel WithBrokenRole(RigModel model, IEnumerable<string> devices) => model with
    {
        Templates = [.. model.Templates, new ConfigTemplate("boot.conf", "boot tweak for {{ device.name }}\n")],
        Roles = [.. model.Roles, new Role { Name = "broken", Kind = BuiltInRoleKinds.Content, Items = [new FileItem("/boot/rig-tweak.conf", "boot.conf")] }],
        Assignments = [.. model.Assignments, .. devices.Select(d => new RoleAssignment(d, "broken"))],
    };

    /// <summary>The model with the global parameter <c>port</c> (read by the tool's configuration) set.</summary>
    public static RigModel WithPort(RigModel model, string port) => model with
    {
        Parameters = new Dictionary<string, string>(model.Parameters) { ["port"] = port },
    };

    /// <summary>The model with the tool package at <paramref name="version"/> and the app role (which installs it) at
    /// <paramref name="appRoleVersion"/> (a role version pins its package digests, so a new package needs a new one).</summary>
    public static RigModel WithToolVersion(RigModel model, string version, string appRoleVersion) => model with
    {
        Bundles = [.. model.Bundles.Select(b => b with { Items = [.. b.Items.Select(i => i is PackageItem { Name: "tool" } ? new PackageItem("tool", version) : i)] })],
        Roles = [.. model.Roles.Select(r => r.Name == "app" ? r with { Version = appRoleVersion } : r)],
    };

    /// <summary>The tool package at 1.1.0 (other program and data than 1.0.0).</summary>
    public static (RigArchiveManifest Manifest, ArchiveInput[] Files) Tool110 => (Models.Tool with { Version = "1.1.0" },
    [
        TestSite.Text("/usr/bin/tool", "#!/bin/sh\necho tool 1.1\n", "0755"),
        TestSite.Text("/usr/share/tool/data.txt", "tool data 1.1\n"),
    ]);
}
