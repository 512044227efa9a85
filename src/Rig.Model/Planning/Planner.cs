using Rig.Protocol.Messages;

namespace Rig.Model.Planning;

/// <summary>A command the plan would send, with the role it serves and why.</summary>
public sealed record PlannedCommand(CommandSpec Spec, string Role, string Reason);

/// <summary>The plan for one device: ordered commands, or errors (then nothing may be sent).</summary>
public sealed record DevicePlan(string Device, IReadOnlyList<PlannedCommand> Commands, IReadOnlyList<ModelError> Errors)
{
    /// <summary>True when the plan has no errors.</summary>
    public bool IsValid => Errors.Count == 0;

    /// <summary>True when the device is already as the model wants it.</summary>
    public bool IsEmpty => Commands.Count == 0;
}

/// <summary>Desired state vs recorded state -> the ordered primitive commands for one device. Pure.
/// Order: first what the model no longer wants (services stopped, files deleted, packages removed, in
/// reverse role order: content, app, os), then each role in kind order (os -> app -> content) with its
/// steps in item order; unchanged items are skipped; a service restarts when its bundle changed; a reboot
/// point fires only when its role changed; an inventory closes every non-empty plan.</summary>
public static class Planner
{
    /// <summary>Plan one device.</summary>
    public static DevicePlan Plan(DesiredState desired, RecordedState recorded, IReadOnlyList<string> kindOrder)
    {
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentNullException.ThrowIfNull(recorded);
        ArgumentNullException.ThrowIfNull(kindOrder);
        var errors = new List<ModelError>(desired.Errors);
        var commands = new List<PlannedCommand>();

        var wantedPackages = new Dictionary<string, (DesiredPackage Step, string Role)>(StringComparer.Ordinal);
        var wantedFiles = new Dictionary<string, string>(StringComparer.Ordinal);
        var wantedServices = new HashSet<string>(StringComparer.Ordinal);
        foreach (var role in desired.Roles)
        {
            foreach (var step in role.Steps)
            {
                switch (step)
                {
                    case DesiredPackage p when wantedPackages.TryGetValue(p.Package.Name, out var other) && other.Step.Package.Version != p.Package.Version:
                        errors.Add(new ModelError("package.conflict", $"roles/{role.Name}", $"Package '{p.Package.Name}' is wanted as {p.Package.Version} by role '{role.Name}' and as {other.Step.Package.Version} by role '{other.Role}'; a device can have one version."));
                        break;
                    case DesiredPackage p:
                        wantedPackages.TryAdd(p.Package.Name, (p, role.Name));
                        if (p.Package.Service is { } provided)
                            wantedServices.Add(provided); // started for the package: not a leftover to stop
                        break;
                    case DesiredFile f when !wantedFiles.TryAdd(f.Path, role.Name):
                        errors.Add(new ModelError("file.conflict", $"roles/{role.Name}", $"File '{f.Path}' is written by role '{wantedFiles[f.Path]}' and again by role '{role.Name}'; one file has one owner."));
                        break;
                    case DesiredService s:
                        wantedServices.Add(s.Name);
                        break;
                }
            }
        }
        if (errors.Count > 0)
            return new DevicePlan(desired.Device, [], errors);

        PlanRemovals(recorded, kindOrder, wantedPackages, wantedFiles, wantedServices, commands);

        foreach (var role in desired.Roles)
            PlanRole(role, recorded, commands);

        if (commands.Count > 0)
            commands.Add(new PlannedCommand(new InventoryCommand(), "", "record what the device now has"));
        return new DevicePlan(desired.Device, commands, []);
    }

    private static void PlanRemovals(RecordedState recorded, IReadOnlyList<string> kindOrder,
        Dictionary<string, (DesiredPackage Step, string Role)> wantedPackages, Dictionary<string, string> wantedFiles, HashSet<string> wantedServices,
        List<PlannedCommand> commands)
    {
        int Rank(string? kind)
        {
            var i = kind is null ? -1 : IndexOf(kindOrder, kind);
            return i < 0 ? int.MaxValue : i; // unknown kinds are removed first
        }

        foreach (var service in recorded.Services.Values.Where(s => !wantedServices.Contains(s.Name) && s.Running).OrderByDescending(s => Rank(s.Kind)).ThenBy(s => s.Name, StringComparer.Ordinal))
            commands.Add(new PlannedCommand(new ServiceCommand(service.Name, ServiceAction.Stop), "", "no longer in the model"));
        foreach (var file in recorded.Files.Values.Where(f => !wantedFiles.ContainsKey(f.Path)).OrderByDescending(f => Rank(f.Kind)).ThenByDescending(f => f.Path, StringComparer.Ordinal))
            commands.Add(new PlannedCommand(new DeleteFileCommand(file.Path), "", "no longer in the model"));
        foreach (var package in recorded.Packages.Values.Where(p => !wantedPackages.ContainsKey(p.Name)).OrderByDescending(p => Rank(p.Kind)).ThenByDescending(p => p.Name, StringComparer.Ordinal))
            commands.Add(new PlannedCommand(new RemoveCommand(package.Name, package.Format), "", $"{package.Name} {package.Version} is no longer in the model"));
    }

    private static void PlanRole(DesiredRole role, RecordedState recorded, List<PlannedCommand> commands)
    {
        var roleStart = commands.Count;
        var changedScopes = new HashSet<string>(StringComparer.Ordinal);
        var hintedServices = new List<(string Scope, string Service)>();
        var explicitServices = new HashSet<string>(StringComparer.Ordinal);
        var rebootPending = false;
        var rebootReason = "";

        foreach (var step in role.Steps)
        {
            switch (step)
            {
                case DesiredPackage { Package: var p } dp:
                    recorded.Packages.TryGetValue(p.Name, out var have);
                    if (have is not null && have.Sha256 == p.Sha256)
                        break;
                    var reason = have is null ? "not installed" : have.Version == p.Version ? $"content differs from {have.Version}" : $"upgrade from {have.Version}";
                    commands.Add(new PlannedCommand(new InstallCommand(new PackageRef(p.Name, p.Version, p.Format, p.Sha256, p.Size), role.Name), role.Name, reason));
                    changedScopes.Add(dp.Scope);
                    if (p.Service is { } hinted)
                        hintedServices.Add((dp.Scope, hinted));
                    if (p.Reboot)
                    {
                        rebootPending = true;
                        rebootReason = $"{p.Name} {p.Version} requires a reboot";
                    }
                    break;

                case DesiredFile f:
                    recorded.Files.TryGetValue(f.Path, out var file);
                    if (file is not null && file.Sha256 == f.Sha256 && file.Mode == f.Mode && file.Owner == f.Owner && file.Group == f.Group)
                        break;
                    commands.Add(new PlannedCommand(new WriteFileCommand(f.Path, f.Content, f.Sha256, f.Mode, f.Owner, f.Group), role.Name,
                        file is null ? "not written yet" : file.Sha256 != f.Sha256 ? "content changed" : "mode or owner changed"));
                    changedScopes.Add(f.Scope);
                    break;

                case DesiredService s:
                    explicitServices.Add(s.Name);
                    PlanService(s.Name, s.Running, s.Enabled, changedScopes.Contains(s.Scope), recorded, role.Name, commands);
                    break;

                case DesiredReboot r:
                    if (commands.Count > roleStart)
                    {
                        commands.Add(new PlannedCommand(new RebootCommand(r.Reason), role.Name, r.Reason));
                        rebootPending = false;
                        roleStart = commands.Count; // a later reboot point fires only for later changes
                    }
                    break;
            }
        }

        foreach (var (_, service) in hintedServices.Where(h => !explicitServices.Contains(h.Service)).DistinctBy(h => h.Service))
            PlanService(service, running: true, enabled: true, changed: true, recorded, role.Name, commands);

        if (rebootPending)
            commands.Add(new PlannedCommand(new RebootCommand(rebootReason), role.Name, rebootReason));
    }

    private static void PlanService(string name, bool running, bool enabled, bool changed, RecordedState recorded, string role, List<PlannedCommand> commands)
    {
        recorded.Services.TryGetValue(name, out var have);
        if (enabled && have is not { Enabled: true })
            commands.Add(new PlannedCommand(new ServiceCommand(name, ServiceAction.Enable), role, "should start at boot"));
        else if (!enabled && have is { Enabled: true })
            commands.Add(new PlannedCommand(new ServiceCommand(name, ServiceAction.Disable), role, "should not start at boot"));

        if (!running)
        {
            if (have is { Running: true })
                commands.Add(new PlannedCommand(new ServiceCommand(name, ServiceAction.Stop), role, "should be stopped"));
        }
        else if (have is not { Running: true })
        {
            commands.Add(new PlannedCommand(new ServiceCommand(name, ServiceAction.Start), role, "not running"));
        }
        else if (changed)
        {
            commands.Add(new PlannedCommand(new ServiceCommand(name, ServiceAction.Restart), role, "its package or configuration changed"));
        }
    }

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == value)
                return i;
        }
        return -1;
    }
}
