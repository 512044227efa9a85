using Rig.Model.Domain;

namespace Rig.Server.Security;

/// <summary>One changed object of a revision that needs approval: how many, and the places where an approver must hold
/// <c>approve</c>.</summary>
internal sealed record ApprovalNeed(string Kind, string Name, int Approvals, IReadOnlyList<Place> Places)
{
    /// <summary>For messages: <c>role linux-base</c>, <c>assignment web-1 -> linux-base</c>.</summary>
    public string Label => Kind is "link" or "assignment" ? $"{Kind} {Name.Replace("|", " -> ", StringComparison.Ordinal)}" : $"{Kind} {Name}";
}

/// <summary>Which changes need approval (docs/SECURITY.md, Approvals): for each changed object, the approval policies of
/// the model before and after the revision are asked where the object lies, before and after; the larger answer wins,
/// so a revision cannot switch off the policy that covers its own changes. Within one model the built-in default
/// (<see cref="ApprovalPolicy.Default"/>) comes first and the last policy that matches a place decides. Pure.</summary>
internal static class ApprovalRules
{
    /// <summary>The approvals the policies ask for a change at <paramref name="place"/>.</summary>
    public static int Required(IReadOnlyList<ApprovalPolicy> policies, Place place)
    {
        ArgumentNullException.ThrowIfNull(policies);
        var required = Matches(ApprovalPolicy.Default, place) ? ApprovalPolicy.Default.Approvals : 0;
        foreach (var policy in policies)
        {
            if (Matches(policy, place))
                required = policy.Approvals;
        }
        return required;
    }

    /// <summary>Whether <paramref name="place"/> lies in the policy: each restricted list holds the place's value.</summary>
    public static bool Matches(ApprovalPolicy policy, Place place)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(place);
        return In(policy.Kinds, place.Kind) && In(policy.Customers, place.Customer) && In(policy.Sites, place.Site);

        static bool In(IReadOnlyList<string>? list, string? value) => list is null || (value is not null && list.Contains(value, StringComparer.Ordinal));
    }

    /// <summary>The changed objects (<paramref name="changes"/>, as in <c>model_entities</c>) that need approval.</summary>
    public static IReadOnlyList<ApprovalNeed> Needs(IEnumerable<(string Kind, string Name)> changes, ModelPlaces before, ModelPlaces after)
    {
        ArgumentNullException.ThrowIfNull(changes);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var needs = new List<ApprovalNeed>();
        foreach (var (kind, name) in changes)
        {
            var places = before.OfEntity(kind, name).Concat(after.OfEntity(kind, name))
                .Select(p => (Place: p, Required: Math.Max(Required(before.Model.Approvals, p), Required(after.Model.Approvals, p))))
                .Where(p => p.Required > 0)
                .ToList();
            if (places.Count > 0)
                needs.Add(new ApprovalNeed(kind, name, places.Max(p => p.Required), [.. places.Select(p => p.Place).Distinct()]));
        }
        return needs;
    }

    /// <summary>A place for messages: <c>os on device web-1 (site shop, customer acme)</c>.</summary>
    public static string Describe(Place place)
    {
        ArgumentNullException.ThrowIfNull(place);
        var what = place.Kind is { Length: > 0 } kind ? $"kind {kind}" : "objects";
        var where = new List<string>();
        if (place.Device is { } device)
            where.Add($"device {device.Name}");
        if (place.Site is { } site)
            where.Add($"site {site}");
        if (place.Customer is { } customer)
            where.Add($"customer {customer}");
        return where.Count == 0 ? $"{what} (the provider's)" : $"{what} on {string.Join(", ", where)}";
    }
}
