using System.Security.Cryptography;
using System.Text.Json;
using Rig.Agent.Platform;
using Rig.Agent.Runtime;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Archives;

namespace Rig.Cli.Demo;

/// <summary>Checks a sandboxed device's root against the model, file by file: every package recorded with
/// its digest and every payload file present with the digest its manifest lists, every rendered
/// configuration file byte-for-byte, services in their wanted state.</summary>
internal static class DemoVerifier
{
    /// <summary>Problems found on <paramref name="device"/>'s root (empty when it matches the model).</summary>
    public static IReadOnlyList<string> Verify(DesiredState desired, string root, IReadOnlyDictionary<string, RigArchiveManifest> manifests)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(manifests);
        var problems = new List<string>();
        var statePath = Path.Combine(root, "var", "lib", "rig", "state.json");
        if (!File.Exists(statePath))
            return [$"{desired.Device}: no package database at {statePath}"];
        var state = JsonSerializer.Deserialize(File.ReadAllText(statePath), AgentJson.Default.State)!;
        var packages = state.Packages.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var services = state.Services.ToDictionary(s => s.Name, StringComparer.Ordinal);

        foreach (var step in desired.Roles.SelectMany(r => r.Steps))
        {
            switch (step)
            {
                case DesiredPackage { Package: var p }:
                    if (!packages.TryGetValue(p.Name, out var installed))
                        problems.Add($"package {p.Name} {p.Version} is not installed");
                    else if (installed.Sha256 != p.Sha256)
                        problems.Add($"package {p.Name} is {installed.Version} ({installed.Sha256[..12]}), the model wants {p.Version} ({p.Sha256[..12]})");
                    if (manifests.TryGetValue(p.Key, out var manifest))
                    {
                        foreach (var file in manifest.Files)
                            CheckFile(root, file.Path, file.Sha256, $"file of {p.Name}", problems);
                    }
                    break;
                case DesiredFile f:
                    CheckFile(root, f.Path, f.Sha256, $"configuration file (template {f.Template})", problems);
                    break;
                case DesiredService s:
                    if (!services.TryGetValue(s.Name, out var service) || service.Running != s.Running || service.Enabled != s.Enabled)
                        problems.Add($"service {s.Name} should be {(s.Running ? "running" : "stopped")}{(s.Enabled ? " and enabled" : "")}");
                    break;
            }
        }
        return problems;
    }

    private static void CheckFile(string root, string devicePath, string sha256, string what, List<string> problems)
    {
        var host = Path.Combine(root, devicePath.TrimStart('/'));
        if (!File.Exists(host))
        {
            problems.Add($"{what} {devicePath} is missing");
            return;
        }
        using var stream = File.OpenRead(host);
        var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (actual != sha256)
            problems.Add($"{what} {devicePath} has sha256 {actual[..12]}, the model says {sha256[..12]}");
    }

    /// <summary>Text of a file under a root, or null.</summary>
    public static string? FileText(string root, string devicePath)
    {
        var host = Path.Combine(root, devicePath.TrimStart('/'));
        return File.Exists(host) ? File.ReadAllText(host) : null;
    }

}
