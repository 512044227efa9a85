using System.Text.Json.Serialization;
using Rig.Model.Domain;

namespace Rig.Server.Security;

/// <summary>What a grant allows (or denies) a team to do (DESIGN.md, <em>Trust</em>).</summary>
internal enum Verb
{
    /// <summary>See objects: devices, sites, revisions' changes, plans, rollouts, drift, output, audit entries.</summary>
    Read,
    /// <summary>Plan a proposed or stored model.</summary>
    Plan,
    /// <summary>Change the model (apply), authorized object by object on the change's diff.</summary>
    Edit,
    /// <summary>Approve or reject a revision where a policy asks for approval.</summary>
    Approve,
    /// <summary>Start, pause, resume, cancel and retry rollouts, converge, poke and cancel queues.</summary>
    Rollout,
    /// <summary>Store and run scripts.</summary>
    RunScript,
    /// <summary>Add and fetch packages into the package store.</summary>
    ManagePackages,
    /// <summary>Enroll, revoke, clone, decommission and rebuild devices.</summary>
    ManageDevices,
    /// <summary>Manage teams, grants and other operators' tokens.</summary>
    ManageTrust,
}

/// <summary>The verbs' names on the wire, in the CLI and in the audit log.</summary>
internal static class Verbs
{
    private static readonly (Verb Verb, string Name)[] Table =
    [
        (Verb.Read, "read"), (Verb.Plan, "plan"), (Verb.Edit, "edit"), (Verb.Approve, "approve"), (Verb.Rollout, "rollout"),
        (Verb.RunScript, "run-script"), (Verb.ManagePackages, "manage-packages"), (Verb.ManageDevices, "manage-devices"), (Verb.ManageTrust, "manage-trust"),
    ];

    /// <summary>Every verb, in the order above.</summary>
    public static IReadOnlyList<Verb> All { get; } = [.. Table.Select(t => t.Verb)];

    /// <summary>Every verb's name.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Table.Select(t => t.Name)];

    /// <summary>The verb's name (<c>run-script</c>).</summary>
    public static string Name(this Verb verb) => Table.First(t => t.Verb == verb).Name;

    /// <summary>The verb named <paramref name="name"/>; <c>*</c> is not a verb (see <see cref="ParseList"/>).</summary>
    public static bool TryParse(string name, out Verb verb)
    {
        foreach (var (v, n) in Table)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
            {
                verb = v;
                return true;
            }
        }
        verb = default;
        return false;
    }

    /// <summary>A list of verb names (<c>*</c> = all), or the error naming the unknown one.</summary>
    public static (IReadOnlyList<Verb>? Verbs, string? Error) ParseList(IEnumerable<string> names)
    {
        var verbs = new List<Verb>();
        foreach (var raw in names)
        {
            var name = raw.Trim();
            if (name == "*")
            {
                verbs.AddRange(All);
                continue;
            }
            if (!TryParse(name, out var verb))
                return (null, $"'{name}' is not a verb; the verbs are {string.Join(", ", Names)} (or * for all).");
            verbs.Add(verb);
        }
        return verbs.Count == 0 ? (null, "A grant needs at least one verb.") : ([.. verbs.Distinct().Order()], null);
    }
}

/// <summary>A selector over the model: the objects a grant is about. An empty (null) dimension does not restrict; a
/// scope with no restriction is the whole gateway (the provider's scope). An object lies in the scope when every
/// restricted dimension has the object's value in its list (see <see cref="Rights.Covers"/>).</summary>
/// <param name="Customers">Customer names.</param>
/// <param name="Sites">Site names.</param>
/// <param name="Kinds">Role kinds: which roles (and their assignments and parameters) the grant is about.</param>
/// <param name="Devices">A device selector (<see cref="DeviceSelector"/> syntax, e.g. <c>site=shop,tier=web</c>).</param>
internal sealed record Scope(
    IReadOnlyList<string>? Customers = null,
    IReadOnlyList<string>? Sites = null,
    IReadOnlyList<string>? Kinds = null,
    string? Devices = null)
{
    /// <summary>The whole gateway.</summary>
    public static Scope Everything { get; } = new();

    /// <summary>True when no dimension restricts.</summary>
    [JsonIgnore]
    public bool IsEverything => Customers is null && Sites is null && Kinds is null && Devices is null;

    /// <summary>For humans and the audit log: <c>customers=acme sites=shop kinds=content</c> or <c>everything</c>.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Customers is not null)
            parts.Add($"customers={string.Join(',', Customers)}");
        if (Sites is not null)
            parts.Add($"sites={string.Join(',', Sites)}");
        if (Kinds is not null)
            parts.Add($"kinds={string.Join(',', Kinds)}");
        if (Devices is not null)
            parts.Add($"devices={Devices}");
        return parts.Count == 0 ? "everything" : string.Join(' ', parts);
    }
}

/// <summary>One grant of a team: verbs allowed (or, with <paramref name="Deny"/>, denied) on a scope. A deny wins over
/// every allow.</summary>
internal sealed record Grant(long Id, string Team, bool Deny, IReadOnlyList<Verb> Verbs, Scope Scope);

/// <summary>Where one object lies: the customer, site, role kind and device it concerns. A null value means the
/// dimension does not apply; <see cref="NotARole"/> as kind marks an object that is not part of a role (a site's or a
/// device's own definition), which a grant restricted to role kinds does not cover.</summary>
/// <param name="ActingKinds">Set when acting on a device (rollout, poke, cancel, scripts, lifecycle): the kinds of the
/// roles it carries. A grant restricted to role kinds lets its team act only on devices carrying a role of one of
/// those kinds: a content team rolls out to its web servers, not to the database server that has no content.</param>
internal sealed record Place(string? Customer, string? Site, string? Kind, Device? Device, IReadOnlyList<string>? DeviceRoles = null, IReadOnlyList<string>? ActingKinds = null)
{
    /// <summary>The kind of objects that are not part of a role.</summary>
    public const string NotARole = "";

    /// <summary>An object of the provider's own (global parameters, role kinds, an unassigned provider role): only a
    /// grant on everything covers it.</summary>
    public static Place Provider { get; } = new(null, null, NotARole, null);
}

/// <summary>The one authorization predicate (DESIGN.md, <em>Trust</em>): used for "may this operator do this?" and
/// "which rows may this operator see?", by every service. Default deny; a matching deny wins. Pure: no I/O.</summary>
internal static class Rights
{
    // Grants' selectors are few and fixed; a list of 10,000 devices must not compile them 10,000 times.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, DeviceSelector> Selectors = new(StringComparer.Ordinal);

    private static DeviceSelector Selector(string text)
    {
        if (Selectors.TryGetValue(text, out var parsed))
            return parsed;
        parsed = DeviceSelector.Parse(text);
        if (Selectors.Count < 10_000)
            Selectors[text] = parsed;
        return parsed;
    }

    /// <summary>True when <paramref name="grants"/> give <paramref name="verb"/> on every place in
    /// <paramref name="places"/> (an object may lie in several: a role assigned in two sites).</summary>
    public static bool Allows(IReadOnlyList<Grant> grants, Verb verb, IEnumerable<Place> places)
    {
        var any = false;
        foreach (var place in places)
        {
            any = true;
            if (!Allows(grants, verb, place))
                return false;
        }
        return any;
    }

    /// <summary>True when some grant allows <paramref name="verb"/> on <paramref name="place"/> and none denies it.</summary>
    public static bool Allows(IReadOnlyList<Grant> grants, Verb verb, Place place)
    {
        var allowed = false;
        foreach (var grant in grants)
        {
            if (!grant.Verbs.Contains(verb))
                continue;
            if (grant.Deny)
            {
                if (Covers(grant.Scope, place, deny: true))
                    return false;
            }
            else if (!allowed && Covers(grant.Scope, place, deny: false))
            {
                allowed = true;
            }
        }
        return allowed;
    }

    /// <summary>True when some grant allows <paramref name="verb"/> somewhere (a list the caller may open at all).</summary>
    public static bool AllowsSomewhere(IReadOnlyList<Grant> grants, Verb verb) => grants.Any(g => !g.Deny && g.Verbs.Contains(verb));

    /// <summary>Whether <paramref name="place"/> lies in <paramref name="scope"/>. A restricted dimension needs the
    /// place's value in its list; a place without a value there (a provider object has no customer) is outside it.
    /// Role kinds are the exception for allows: a place without a kind (a device being read) is inside any kind list,
    /// so a content team reads its site's devices, while a deny on kind <c>os</c> does not hide the devices themselves.
    /// A device being acted on (<see cref="Place.ActingKinds"/>) is inside a kind list when it carries a role of a
    /// listed kind.
    /// A <see cref="Place.NotARole"/> kind is inside no kind list.</summary>
    public static bool Covers(Scope scope, Place place, bool deny)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(place);
        if (scope.Customers is { } customers && (place.Customer is null || !customers.Contains(place.Customer, StringComparer.Ordinal)))
            return false;
        if (scope.Sites is { } sites && (place.Site is null || !sites.Contains(place.Site, StringComparer.Ordinal)))
            return false;
        if (scope.Kinds is { } kinds)
        {
            var inside = place.Kind is not null ? kinds.Contains(place.Kind, StringComparer.Ordinal)
                : !deny && (place.ActingKinds is not { } acting || acting.Any(k => kinds.Contains(k, StringComparer.Ordinal)));
            if (!inside)
                return false;
        }
        if (scope.Devices is { } selector && (place.Device is null || !Selector(selector).Matches(place.Device, place.DeviceRoles ?? [])))
            return false;
        return true;
    }
}
