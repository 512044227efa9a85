using Rig.Protocol.Messages;

namespace Rig.Model.Planning;

/// <summary>How a device's recorded state changes when a command succeeds. Pure.</summary>
public static class RecordedStateUpdater
{
    /// <summary>The recorded state after <paramref name="spec"/> succeeded with <paramref name="result"/>.
    /// <paramref name="roleKind"/> is the kind of the role the command served (for removal order).</summary>
    public static RecordedState Apply(RecordedState state, CommandSpec spec, string? roleKind, CommandResult result)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(result);
        if (result.Outcome != CommandOutcome.Succeeded)
            return state;
        switch (spec)
        {
            case InstallCommand i:
            {
                var packages = new Dictionary<string, RecordedPackage>(state.Packages, StringComparer.Ordinal);
                foreach (var p in i.All)
                    packages[p.Name] = new RecordedPackage(p.Name, p.Version, p.Format, p.Sha256, roleKind)
                    {
                        Auto = i.Dependency == true,
                        Preinstalled = i.Replaces?.Contains(p.Name) == true,
                    };
                return state with { Packages = packages };
            }
            case RemoveCommand r:
            {
                var packages = new Dictionary<string, RecordedPackage>(state.Packages, StringComparer.Ordinal);
                foreach (var name in r.All)
                    packages.Remove(name);
                return state with { Packages = packages };
            }
            case WriteFileCommand w:
                return state with { Files = With(state.Files, w.Path, new RecordedFile(w.Path, w.Sha256, w.Mode, w.Owner, w.Group, roleKind)) };
            case DeleteFileCommand d:
                return state with { Files = Without(state.Files, d.Path) };
            case ServiceCommand s:
                state.Services.TryGetValue(s.Name, out var have);
                var running = have?.Running ?? false;
                var enabled = have?.Enabled ?? false;
                switch (s.Action)
                {
                    case ServiceAction.Start or ServiceAction.Restart: running = true; break;
                    case ServiceAction.Stop: running = false; break;
                    case ServiceAction.Enable: enabled = true; break;
                    case ServiceAction.Disable: enabled = false; break;
                }
                return state with { Services = With(state.Services, s.Name, new RecordedService(s.Name, running, enabled, roleKind ?? have?.Kind)) };
            case NetworkCommand n:
                return state with { Network = With(state.Network, n.Interface, RecordedNetwork.From(n)) };
            case InventoryCommand when result.Inventory is { } inventory:
                return FromInventory(state, inventory);
            default:
                return state;
        }
    }

    /// <summary>Digest recorded for a package the device reports damaged (files missing, another native version):
    /// it matches no package, so a plan reinstalls it.</summary>
    public const string Damaged = "damaged";

    /// <summary>The device's own report replaces what was recorded; role kinds are kept where names match; the
    /// network configuration (not part of an inventory) is kept. A package with a problem is recorded as
    /// <see cref="Damaged"/>.</summary>
    public static RecordedState FromInventory(RecordedState state, InventoryReport inventory)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(inventory);
        // Keyed by name and path; should a report name one twice, the last entry counts (never an exception
        // inside the gateway's transaction).
        var packages = new Dictionary<string, RecordedPackage>(StringComparer.Ordinal);
        foreach (var p in inventory.Packages)
            packages[p.Name] = new RecordedPackage(p.Name, p.Version, p.Format, p.Problem is null ? p.Sha256 : Damaged, state.Packages.GetValueOrDefault(p.Name)?.Kind)
            {
                Auto = state.Packages.GetValueOrDefault(p.Name)?.Auto ?? false,
                Preinstalled = state.Packages.GetValueOrDefault(p.Name)?.Preinstalled ?? false,
            };
        var files = new Dictionary<string, RecordedFile>(StringComparer.Ordinal);
        foreach (var f in inventory.Files)
            files[f.Path] = new RecordedFile(f.Path, f.Sha256, f.Mode, f.Owner, f.Group, state.Files.GetValueOrDefault(f.Path)?.Kind);
        var services = new Dictionary<string, RecordedService>(StringComparer.Ordinal);
        foreach (var s in inventory.Services)
            services[s.Name] = new RecordedService(s.Name, s.Running, s.Enabled, state.Services.GetValueOrDefault(s.Name)?.Kind);
        return new RecordedState { Packages = packages, Files = files, Services = services, Network = state.Network, Native = inventory.NativePackages ?? state.Native };
    }

    private static Dictionary<string, T> With<T>(IReadOnlyDictionary<string, T> map, string key, T value) =>
        new(map, StringComparer.Ordinal) { [key] = value };

    private static Dictionary<string, T> Without<T>(IReadOnlyDictionary<string, T> map, string key)
    {
        var copy = new Dictionary<string, T>(map, StringComparer.Ordinal);
        copy.Remove(key);
        return copy;
    }
}
