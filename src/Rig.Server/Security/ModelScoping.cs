using Rig.Model.Domain;
using Rig.Model.Planning;

namespace Rig.Server.Security;

/// <summary>The model as one operator may see and change it (docs/SECURITY.md): the part they may read, their edit
/// merged back into the whole, and the objects of a change that lie outside their edit scope. Pure.</summary>
internal static class ModelScoping
{
    /// <summary>The stored identity of every object of a model (as in <c>model_entities</c>).</summary>
    public static IEnumerable<(string Kind, string Name)> Keys(RigModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var c in model.Customers)
            yield return ("customer", c.Name);
        foreach (var s in model.Sites)
            yield return ("site", s.Name);
        foreach (var d in model.Devices)
            yield return ("device", d.Name);
        foreach (var l in model.Links)
            yield return ("link", LinkKey(l));
        foreach (var b in model.Bundles)
            yield return ("bundle", b.Name);
        foreach (var r in model.Roles)
            yield return ("role", r.Name);
        foreach (var a in model.Assignments)
            yield return ("assignment", AssignmentKey(a));
        foreach (var t in model.Templates)
            yield return ("template", t.Name);
    }

    public static string LinkKey(Interconnection l) => $"{l.From}|{l.To}|{l.Purpose}";

    public static string AssignmentKey(RoleAssignment a) => $"{a.Device}|{a.Role}";

    /// <summary>True when the grants give <paramref name="verb"/> on the whole gateway: on the provider's own objects, and
    /// no deny of that verb anywhere (a deny scoped to one customer does not cover the provider's place, but it must still
    /// hide and protect that customer's objects, so such a caller goes object by object).</summary>
    public static bool OnEverything(IReadOnlyList<Grant> grants, Verb verb) =>
        Rights.Allows(grants, verb, Place.Provider) && !grants.Any(g => g.Deny && g.Verbs.Contains(verb));

    /// <summary>True when the object concerns something the grants let one read: any of its places (an os role shared
    /// by every device is part of what one's own device runs), except a link, which names both of its devices and so
    /// needs both to be readable.</summary>
    public static bool MayRead(IReadOnlyList<Grant> grants, ModelPlaces places, string kind, string name)
    {
        var all = places.OfEntity(kind, name).Select(Read);
        return kind == "link" ? all.All(p => Rights.Allows(grants, Verb.Read, p)) : all.Any(p => Rights.Allows(grants, Verb.Read, p));
    }

    /// <summary>The part of <paramref name="model"/> the grants let one read: the objects concerning a readable place;
    /// role kinds (names only, needed to read the rest); global parameters and approval policies only with read on
    /// everything.</summary>
    public static RigModel Project(RigModel model, IReadOnlyList<Grant> grants, ModelPlaces places)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (OnEverything(grants, Verb.Read))
            return model;
        bool See(string kind, string name) => MayRead(grants, places, kind, name);
        return model with
        {
            Customers = [.. model.Customers.Where(c => See("customer", c.Name))],
            Sites = [.. model.Sites.Where(s => See("site", s.Name))],
            Devices = [.. model.Devices.Where(d => See("device", d.Name))],
            Links = [.. model.Links.Where(l => See("link", LinkKey(l)))],
            Bundles = [.. model.Bundles.Where(b => See("bundle", b.Name))],
            Roles = [.. model.Roles.Where(r => See("role", r.Name))],
            Assignments = [.. model.Assignments.Where(a => See("assignment", AssignmentKey(a)))],
            Templates = [.. model.Templates.Where(t => See("template", t.Name))],
            Parameters = new Dictionary<string, string>(),
            Packages = [.. model.Packages.Where(p => p.Customer is null || places.Customer(p.Customer) is { } owner
                && (Rights.Allows(grants, Verb.Read, owner) || model.Sites.Any(s => s.Customer == p.Customer && Rights.Allows(grants, Verb.Read, places.Site(s.Name)!))))],
            Approvals = [],
        };
    }

    /// <summary>The whole model after an operator who reads only part of it submits <paramref name="submitted"/>: what
    /// they submitted, plus every current object they may not read (kept as it is: they cannot remove what they cannot
    /// see), with the global parameters and role kinds kept unless they may read everything.</summary>
    public static RigModel Merge(RigModel current, RigModel submitted, IReadOnlyList<Grant> grants, ModelPlaces currentPlaces)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(submitted);
        if (OnEverything(grants, Verb.Read))
            return submitted;
        bool Hidden(string kind, string name) => !MayRead(grants, currentPlaces, kind, name);
        static List<T> Join<T>(IEnumerable<T> mine, IEnumerable<T> hidden, Func<T, string> key)
        {
            var result = mine.ToList();
            var names = result.Select(key).ToHashSet(StringComparer.Ordinal);
            result.AddRange(hidden.Where(h => !names.Contains(key(h))));
            return result;
        }
        return submitted with
        {
            Customers = Join(submitted.Customers, current.Customers.Where(c => Hidden("customer", c.Name)), c => c.Name),
            Sites = Join(submitted.Sites, current.Sites.Where(s => Hidden("site", s.Name)), s => s.Name),
            Devices = Join(submitted.Devices, current.Devices.Where(d => Hidden("device", d.Name)), d => d.Name),
            Links = Join(submitted.Links, current.Links.Where(l => Hidden("link", LinkKey(l))), LinkKey),
            Bundles = Join(submitted.Bundles, current.Bundles.Where(b => Hidden("bundle", b.Name)), b => b.Name),
            Roles = Join(submitted.Roles, current.Roles.Where(r => Hidden("role", r.Name)), r => r.Name),
            Assignments = Join(submitted.Assignments, current.Assignments.Where(a => Hidden("assignment", AssignmentKey(a))), AssignmentKey),
            Templates = Join(submitted.Templates, current.Templates.Where(t => Hidden("template", t.Name)), t => t.Name),
            RoleKinds = current.RoleKinds,
            Parameters = current.Parameters,
            Approvals = current.Approvals,
        };
    }

    /// <summary>The changed objects (added, changed or removed: <paramref name="changes"/>) that do not lie wholly inside
    /// the grants' edit scope, in the model before or after the change, each named with why
    /// (<c>role web-os (kind os) is outside the edit scope of team shop-content</c>). Empty: the change may be saved.</summary>
    public static IReadOnlyList<string> OutsideEditScope(IEnumerable<(string Kind, string Name)> changes, ModelPlaces before, ModelPlaces after, IReadOnlyList<Grant> grants, IReadOnlyList<string> teams)
    {
        var outside = new List<string>();
        var beforeKeys = Keys(before.Model).ToHashSet();
        var afterKeys = Keys(after.Model).ToHashSet();
        var whose = teams.Count == 0 ? "the operator (in no team)" : teams.Count == 1 ? $"team {teams[0]}" : $"teams {string.Join(", ", teams)}";
        foreach (var (kind, name) in changes)
        {
            // Where it lay before (unless it is new) and where it lies after (unless it was removed): a removed object has no
            // place after, and must not be judged as if it lay with the provider.
            var inBefore = beforeKeys.Contains((kind, name));
            var inAfter = afterKeys.Contains((kind, name));
            var places = (inBefore || !inAfter ? before.OfEntity(kind, name) : []).Concat(inAfter || !inBefore ? after.OfEntity(kind, name) : []).Distinct().ToList();
            if (Rights.Allows(grants, Verb.Edit, places))
                continue;
            var roleKind = kind == "role" ? (after.Model.Roles.FirstOrDefault(r => r.Name == name) ?? before.Model.Roles.FirstOrDefault(r => r.Name == name))?.Kind : null;
            var label = kind switch
            {
                "link" or "assignment" => $"{kind} {name.Replace("|", " -> ", StringComparison.Ordinal)}",
                "parameters" => "the global parameters",
                "role-kinds" => "the role kinds",
                _ => $"{kind} {name}",
            };
            outside.Add($"{label}{(roleKind is null ? "" : $" (kind {roleKind})")} is outside the edit scope of {whose}");
        }
        return outside;
    }

    /// <summary>The templates and bundles that <paramref name="submitted"/>'s roles and bundles use without carrying them,
    /// which exist in the current model and lie outside what the grants let one read, each named with its user. Using one
    /// would render it onto the caller's own devices (plans, diffs, rendered files): a way to read another customer's
    /// objects. Empty: nothing hidden is used.</summary>
    public static IReadOnlyList<string> HiddenReferences(RigModel submitted, IReadOnlyList<Grant> grants, ModelPlaces current, IReadOnlyList<string> teams)
    {
        ArgumentNullException.ThrowIfNull(submitted);
        ArgumentNullException.ThrowIfNull(current);
        if (OnEverything(grants, Verb.Read))
            return [];
        var whose = teams.Count == 0 ? "the operator (in no team)" : teams.Count == 1 ? $"team {teams[0]}" : $"teams {string.Join(", ", teams)}";
        var templates = submitted.Templates.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var bundles = submitted.Bundles.Select(b => b.Name).ToHashSet(StringComparer.Ordinal);
        var existingTemplates = current.Model.Templates.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var existingBundles = current.Model.Bundles.Select(b => b.Name).ToHashSet(StringComparer.Ordinal);
        var hidden = new SortedSet<string>(StringComparer.Ordinal);
        var users = submitted.Roles.Select(r => (User: $"role {r.Name}", r.Items)).Concat(submitted.Bundles.Select(b => (User: $"bundle {b.Name}", b.Items)));
        foreach (var (user, items) in users)
        {
            foreach (var item in items)
            {
                var (kind, name, carried, exists) = item switch
                {
                    FileItem f => ("template", f.Template, templates.Contains(f.Template), existingTemplates.Contains(f.Template)),
                    BundleItem b => ("bundle", b.Name, bundles.Contains(b.Name), existingBundles.Contains(b.Name)),
                    _ => ("", "", true, false),
                };
                if (!carried && exists && !MayRead(grants, current, kind, name))
                    hidden.Add($"{kind} {name} (used by {user}) is outside what {whose} may read");
            }
        }
        return [.. hidden];
    }

    /// <summary>Errors of a whole model as a partial reader may see them: an error that names an object they may not read
    /// (a hidden device at either end of a link, a hidden role using a bundle they changed) becomes one error that says
    /// their change conflicts with something they cannot see, without its names.</summary>
    public static IReadOnlyList<ModelError> HideErrors(IReadOnlyList<ModelError> errors, IReadOnlyList<Grant> grants, ModelPlaces places)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0 || OnEverything(grants, Verb.Read))
            return errors;
        var hidden = Keys(places.Model).Where(k => k.Kind is not ("link" or "assignment") && !MayRead(grants, places, k.Kind, k.Name)).Select(k => k.Name).Distinct().ToList();
        if (hidden.Count == 0)
            return errors;
        var pattern = new System.Text.RegularExpressions.Regex(
            $"(?<![A-Za-z0-9_.-])({string.Join('|', hidden.Select(System.Text.RegularExpressions.Regex.Escape))})(?![A-Za-z0-9_.-])", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        return [.. errors.Select(e => pattern.IsMatch(e.Message) || pattern.IsMatch(e.Where)
            ? new ModelError("model.hidden-conflict", "", "The change conflicts with an object outside what you can see (it refers to something you changed, renamed or removed). Nothing was saved.")
            : e).Distinct()];
    }

    /// <summary>A place as read: a device's own definition is read with the device (kind does not apply).</summary>
    private static Place Read(Place place) => place.Kind == Place.NotARole ? place with { Kind = null } : place;
}
