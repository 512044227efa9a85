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
/// Order: first the network section (configure-network per changed interface), then what the model no longer wants, role
/// by role in reverse role order (content, app, os: each role's services stopped and disabled, files deleted, packages
/// removed), then each role in kind order (os -> app -> content) with its
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
        var fileSteps = new Dictionary<string, DesiredFile>(StringComparer.Ordinal);
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
                    case DesiredFile f when fileSteps.TryGetValue(f.Path, out var same) && SameFile(same, f):
                        break; // the same bundle included twice: one file, written once
                    case DesiredFile f when !wantedFiles.TryAdd(f.Path, role.Name):
                        errors.Add(new ModelError("file.conflict", $"roles/{role.Name}", $"File '{f.Path}' is written by role '{wantedFiles[f.Path]}' and again by role '{role.Name}'; one file has one owner."));
                        break;
                    case DesiredService s:
                        wantedServices.Add(s.Name);
                        break;
                }
                if (step is DesiredFile file)
                    fileSteps.TryAdd(file.Path, file);
            }
        }
        if (errors.Count > 0)
            return new DevicePlan(desired.Device, [], errors);

        var resolution = Resolve(desired, recorded);
        if (resolution.Errors.Count > 0)
            return new DevicePlan(desired.Device, [], resolution.Errors);
        var removals = PackageRemovals.Plan(desired.Device, recorded, kindOrder, resolution, errors);
        if (errors.Count > 0)
            return new DevicePlan(desired.Device, [], errors);

        PlanNetwork(desired, recorded, commands);
        PlanRemovals(recorded, kindOrder, removals, wantedFiles, wantedServices, commands);

        var done = new PlanMemory();
        foreach (var role in desired.Roles)
            PlanRole(role, recorded, commands, done, resolution.Installs);

        if (commands.Count > 0)
            commands.Add(new PlannedCommand(new InventoryCommand(), "", "record what the device now has"));
        return new DevicePlan(desired.Device, commands, []);
    }

    /// <summary>Network first: a change that would cut the device off is rolled back by the agent and fails the queue
    /// before anything else changed, and what follows runs on the network the model wants.</summary>
    private static void PlanNetwork(DesiredState desired, RecordedState recorded, List<PlannedCommand> commands)
    {
        foreach (var network in desired.Network)
        {
            recorded.Network.TryGetValue(network.Interface, out var have);
            if (have is not null && have.Matches(network))
                continue;
            commands.Add(new PlannedCommand(network, "", have is null ? "network not configured by Rig yet" : "network configuration changed"));
        }
    }

    /// <summary>What the roles need, resolved against the catalog and what the device has (<see cref="DependencyResolver"/>).</summary>
    private static DependencyResolution Resolve(DesiredState desired, RecordedState recorded)
    {
        var requests = new List<PackageRequest>();
        foreach (var role in desired.Roles)
        {
            foreach (var step in role.Steps.OfType<DesiredPackage>())
                requests.Add(new PackageRequest(step.Package, role.Name, role.Kind));
        }
        if (!desired.Catalog.HasRelations && recorded.Native is null)
        {
            // Nothing in the catalog depends on or conflicts with anything, and the device reports no native packages
            // (a Rig-archive fleet): every listed package is all there is, as fast as before resolution existed.
            var installs = new List<ResolvedInstall>();
            var needed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var request in requests)
            {
                if (needed.Add(request.Package.Name) && (!recorded.Packages.TryGetValue(request.Package.Name, out var have) || have.Sha256 != request.Package.Sha256))
                    installs.Add(new ResolvedInstall([request.Package], request.Package.Name, request.Role, request.Kind, Dependency: false, $"listed by role {request.Role}"));
            }
            return new DependencyResolution(installs, needed, []);
        }
        var managed = recorded.Packages.Values.Select(r => new PresentPackage(r.Name, r.Version, r.Format, null, null, null, false, Managed: true, r.Sha256, r.Auto));
        return DependencyResolver.Resolve(requests, desired.Catalog, desired.Pins, recorded.Native, managed);
    }

    /// <summary>What the model no longer wants leaves role by role in reverse role order (content, then app, then os;
    /// kinds the model does not declare first): each role's services are stopped and disabled, its files deleted and
    /// its packages removed before the next role's, so a role's software never loses what it runs on while it
    /// runs. Packages keep their dependents-first order (<see cref="PackageRemovals"/>): a package that something
    /// of an earlier role still needs leaves with the role that needs it, never before.</summary>
    private static void PlanRemovals(RecordedState recorded, IReadOnlyList<string> kindOrder, IReadOnlyList<IReadOnlyList<RecordedPackage>> removals,
        Dictionary<string, string> wantedFiles, HashSet<string> wantedServices, List<PlannedCommand> commands)
    {
        int Rank(string? kind)
        {
            var i = kind is null ? -1 : IndexOf(kindOrder, kind);
            return i < 0 ? int.MaxValue : i; // unknown kinds are removed first
        }

        static string Of(string? kind) => kind is null ? "" : $" ({kind} role)";

        var services = recorded.Services.Values.Where(s => !wantedServices.Contains(s.Name) && (s.Running || s.Enabled)).ToLookup(s => Rank(s.Kind));
        var files = recorded.Files.Values.Where(f => !wantedFiles.ContainsKey(f.Path)).ToLookup(f => Rank(f.Kind));
        // The phase of each package group: its role's rank, or an earlier phase when a group before it (a dependent)
        // belongs to one, so the sequence (dependents first) is kept as it is.
        var packages = new List<(int Phase, IReadOnlyList<RecordedPackage> Group)>();
        var phase = int.MaxValue;
        foreach (var group in removals)
        {
            phase = Math.Min(phase, Rank(group[0].Kind));
            packages.Add((phase, group));
        }
        var phases = services.Select(g => g.Key).Concat(files.Select(g => g.Key)).Concat(packages.Select(p => p.Phase)).Distinct().OrderDescending();
        foreach (var rank in phases)
        {
            foreach (var service in services[rank].OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                if (service.Running)
                    commands.Add(new PlannedCommand(new ServiceCommand(service.Name, ServiceAction.Stop), "", "no longer in the model" + Of(service.Kind)));
                if (service.Enabled)
                    commands.Add(new PlannedCommand(new ServiceCommand(service.Name, ServiceAction.Disable), "", "no longer in the model" + Of(service.Kind)));
            }
            foreach (var file in files[rank].OrderByDescending(f => f.Path, StringComparer.Ordinal))
                commands.Add(new PlannedCommand(new DeleteFileCommand(file.Path), "", "no longer in the model" + Of(file.Kind)));
            foreach (var (_, group) in packages.Where(p => p.Phase == rank))
            {
                var lead = group[0];
                var what = string.Join(", ", group.Select(p => $"{p.Name} {p.Version}"));
                var reason = group.Count > 1 ? $"{what} are no longer needed; they depend on each other: removed together"
                    : lead.Auto ? $"{what} was installed as a dependency and nothing needs it any more" : $"{what} is no longer in the model";
                commands.Add(new PlannedCommand(new RemoveCommand(lead.Name, lead.Format) { With = group.Count > 1 ? [.. group.Skip(1).Select(p => p.Name)] : null }, "", reason + Of(lead.Kind)));
            }
        }
    }

    /// <summary>What earlier roles of the same plan already did, so an item repeated (the same bundle in two
    /// roles, the same package twice) is planned once.</summary>
    private sealed class PlanMemory
    {
        public HashSet<string> Packages { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Files { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Services { get; } = new(StringComparer.Ordinal);
    }

    private static void PlanRole(DesiredRole role, RecordedState recorded, List<PlannedCommand> commands, PlanMemory done, IReadOnlyList<ResolvedInstall> installs)
    {
        // A service acts after the last step of its scope (its bundle, or the role), so that it restarts for a
        // file or package of the scope even when the model lists the service first.
        var lastStepOfScope = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < role.Steps.Count; i++)
        {
            if (role.Steps[i] is not DesiredReboot)
                lastStepOfScope[role.Steps[i].Scope] = i;
        }

        var roleStart = commands.Count;
        var changedScopes = new HashSet<string>(StringComparer.Ordinal);
        var pendingServices = new List<(string Scope, string Name, bool Running, bool Enabled)>();
        var explicitServices = role.Steps.OfType<DesiredService>().Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var rebootPending = false;
        var rebootReason = "";

        for (var i = 0; i < role.Steps.Count; i++)
        {
            switch (role.Steps[i])
            {
                case DesiredPackage { Package: var p } dp:
                    // The package with the dependencies it brings, dependencies first; each install once per plan.
                    foreach (var install in installs)
                    {
                        if (install.Root != p.Name)
                            continue;
                        if (install.Packages.All(x => done.Packages.Contains(x.Name)))
                            continue;
                        foreach (var x in install.Packages)
                            done.Packages.Add(x.Name);
                        var refs = install.Packages.Select(x => new PackageRef(x.Name, x.Version, x.Format, x.Sha256, x.Size)).ToList();
                        // Part of the device's base system: it had the package before Rig installed over it, or Rig's
                        // record already says so (the mark is carried by every later install of the package).
                        var native = recorded.Native is null ? null : NativeIndex.For(recorded.Native).ByName;
                        var replaces = install.Packages.Where(x => recorded.Packages.TryGetValue(x.Name, out var had)
                            ? had.Preinstalled
                            : native?.ContainsKey(x.Name) == true).Select(x => x.Name).ToList();
                        var spec = new InstallCommand(refs[0], role.Name)
                        {
                            With = refs.Count > 1 ? refs[1..] : null,
                            Dependency = install.Dependency ? true : null,
                            Replaces = replaces.Count > 0 ? replaces : null,
                        };
                        commands.Add(new PlannedCommand(spec, role.Name, InstallReason(install, recorded)));
                        changedScopes.Add(dp.Scope);
                        foreach (var x in install.Packages)
                        {
                            if (x.Service is { } hinted && !explicitServices.Contains(hinted))
                                pendingServices.Add((dp.Scope, hinted, true, true));
                            if (x.Reboot)
                            {
                                rebootPending = true;
                                rebootReason = $"{x.Name} {x.Version} requires a reboot";
                            }
                        }
                    }
                    done.Packages.Add(p.Name);
                    break;

                case DesiredFile f:
                    if (!done.Files.Add(f.Path))
                        break;
                    recorded.Files.TryGetValue(f.Path, out var file);
                    if (file is not null && file.Sha256 == f.Sha256 && file.Mode == f.Mode && file.Owner == f.Owner && file.Group == f.Group)
                        break;
                    commands.Add(new PlannedCommand(new WriteFileCommand(f.Path, f.Content, f.Sha256, f.Mode, f.Owner, f.Group), role.Name,
                        file is null ? "not written yet" : file.Sha256 != f.Sha256 ? "content changed" : "mode or owner changed"));
                    changedScopes.Add(f.Scope);
                    break;

                case DesiredService s:
                    pendingServices.Add((s.Scope, s.Name, s.Running, s.Enabled));
                    break;

                case DesiredReboot r:
                    FlushServices(pendingServices, _ => true, changedScopes, recorded, role.Name, commands, done); // services are set up before the device goes down
                    if (commands.Count > roleStart)
                    {
                        commands.Add(new PlannedCommand(new RebootCommand(r.Reason), role.Name, r.Reason));
                        rebootPending = false;
                        roleStart = commands.Count; // a later reboot point fires only for later changes
                    }
                    break;
            }

            // Services whose scope ends here act now.
            FlushServices(pendingServices, ps => lastStepOfScope.GetValueOrDefault(ps.Scope, -1) <= i, changedScopes, recorded, role.Name, commands, done);
        }
        FlushServices(pendingServices, _ => true, changedScopes, recorded, role.Name, commands, done);

        if (rebootPending)
            commands.Add(new PlannedCommand(new RebootCommand(rebootReason), role.Name, rebootReason));
    }

    /// <summary>Why an install is planned: new, an upgrade, damaged; and for a dependency, what needs it.</summary>
    private static string InstallReason(ResolvedInstall install, RecordedState recorded)
    {
        string State(Domain.PackageInfo p)
        {
            recorded.Packages.TryGetValue(p.Name, out var have);
            var native = have is null && recorded.Native is not null ? NativeIndex.For(recorded.Native).ByName.GetValueOrDefault(p.Name) : null;
            return have is not null
                ? have.Version == p.Version ? $"content differs from {have.Version}" : $"upgrade from {have.Version}"
                : native is not null ? $"upgrade from {native.Version} (installed outside Rig)" : "not installed";
        }
        if (install.Packages.Count == 1)
            return install.Dependency ? $"{State(install.Packages[0])}; {install.Reason}" : State(install.Packages[0]);
        return $"{string.Join("; ", install.Packages.Select(p => $"{p.Name}: {State(p)}"))}; {install.Reason}";
    }

    private static void FlushServices(List<(string Scope, string Name, bool Running, bool Enabled)> pending, Func<(string Scope, string Name, bool Running, bool Enabled), bool> due,
        HashSet<string> changedScopes, RecordedState recorded, string role, List<PlannedCommand> commands, PlanMemory done)
    {
        foreach (var service in pending.Where(due).ToList())
        {
            pending.Remove(service);
            if (done.Services.Add(service.Name))
                PlanService(service.Name, service.Running, service.Enabled, changedScopes.Contains(service.Scope), recorded, role, commands);
        }
    }

    private static bool SameFile(DesiredFile a, DesiredFile b) =>
        a.Sha256 == b.Sha256 && a.Mode == b.Mode && a.Owner == b.Owner && a.Group == b.Group;

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
