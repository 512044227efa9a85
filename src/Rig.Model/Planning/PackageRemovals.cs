namespace Rig.Model.Planning;

/// <summary>Which packages Rig installed leave a device, and in which order: every recorded package the roles no
/// longer need (listed or as a dependency of one listed), dependents before what they depend on, members of a cycle
/// together. Never an Essential package. A dependency Rig added that a package from outside Rig now needs is kept;
/// a package the model no longer lists that such a package needs is an error naming both. Pure.</summary>
internal static class PackageRemovals
{
    public static IReadOnlyList<IReadOnlyList<RecordedPackage>> Plan(string device, RecordedState recorded, IReadOnlyList<string> kindOrder, DependencyResolution resolution, List<ModelError> errors)
    {
        if (recorded.Packages.Count == 0)
            return [];
        var candidates = recorded.Packages.Values.Where(p => !resolution.Needed.Contains(p.Name)).ToDictionary(p => p.Name, StringComparer.Ordinal);
        if (candidates.Count == 0)
            return [];
        var final = resolution.Final;
        // Never an Essential package (dpkg refuses, and the system would not survive it), never one the device had
        // before Rig installed another version over it (its base system).
        foreach (var name in candidates.Where(c => c.Value.Preinstalled || (final.TryGetValue(c.Key, out var f) && f.Essential)).Select(c => c.Key).ToList())
            candidates.Remove(name);

        // Packages from outside Rig that need a candidate (by name or by what it provides) when nothing else meets it.
        var changed = true;
        while (changed && candidates.Count > 0)
        {
            changed = false;
            var satisfies = new HashSet<string>(candidates.Keys.SelectMany(n => final.TryGetValue(n, out var f) ? f.Provides.Select(p => p.Name).Append(n) : [n]), StringComparer.Ordinal);
            // Everything that stays counts: a package from outside Rig, and a dependency kept for one (with its own needs).
            foreach (var staying in final.Values.Where(p => p.Known && !candidates.ContainsKey(p.Name)).OrderBy(p => p.Name, StringComparer.Ordinal))
            {
                foreach (var group in staying.Depends.Where(g => g.Any(r => satisfies.Contains(r.Name))))
                {
                    var meeting = final.Values.Where(p => p.Name != staying.Name && group.Any(p.Meets)).ToList();
                    if (meeting.Count == 0 || meeting.Any(p => !candidates.ContainsKey(p.Name)))
                        continue; // unmet already, or met by something that stays
                    foreach (var needed in meeting)
                    {
                        var package = candidates[needed.Name];
                        candidates.Remove(needed.Name);
                        changed = true;
                        if (!package.Auto)
                        {
                            errors.Add(new ModelError("package.removal-breaks", $"devices/{device}",
                                $"Removing {package.Name} {package.Version} (no role lists it any more) would break {staying}, which stays on device '{device}' " +
                                (staying.Present is { Managed: false } ? "(installed from outside Rig) " : "") +
                                $"and which needs {Protocol.Packaging.PackageRelations.Format(group)}. Remove {staying.Name} from the device first, or keep {package.Name} in a role."));
                        }
                    }
                }
                if (changed)
                    break;
            }
        }
        if (errors.Count > 0 || candidates.Count == 0)
            return [];

        int Rank(string? kind)
        {
            for (var i = 0; kind is not null && i < kindOrder.Count; i++)
            {
                if (kindOrder[i] == kind)
                    return i;
            }
            return int.MaxValue; // unknown kinds are removed first
        }

        // Edges from a package to the candidates that need it: Tarjan's components then come out dependents first.
        var neededBy = candidates.Keys.ToDictionary(n => n, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var name in candidates.Keys)
        {
            if (!final.TryGetValue(name, out var package))
                continue;
            foreach (var group in package.Depends)
            {
                foreach (var other in candidates.Keys.Where(o => o != name && final.TryGetValue(o, out var dependency) && group.Any(dependency.Meets)))
                    neededBy[other].Add(name);
            }
        }
        var order = candidates.Values.OrderByDescending(p => Rank(p.Kind)).ThenByDescending(p => p.Name, StringComparer.Ordinal).Select(p => p.Name).ToList();
        var components = new List<IReadOnlyList<RecordedPackage>>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var counter = 0;

        void Visit(string name)
        {
            index[name] = low[name] = counter++;
            stack.Push(name);
            onStack.Add(name);
            foreach (var next in neededBy[name].Distinct(StringComparer.Ordinal).OrderBy(n => order.IndexOf(n)))
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[name] = Math.Min(low[name], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[name] = Math.Min(low[name], index[next]);
                }
            }
            if (low[name] != index[name])
                return;
            var members = new List<RecordedPackage>();
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                members.Add(candidates[member]);
            }
            while (member != name);
            members.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            components.Add(members);
        }

        foreach (var name in order)
        {
            if (!index.ContainsKey(name))
                Visit(name);
        }
        return components;
    }
}
