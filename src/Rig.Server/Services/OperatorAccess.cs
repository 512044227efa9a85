using Rig.Server.Security;

namespace Rig.Server.Services;

/// <summary>The one door's one predicate (DESIGN.md, <em>Trust</em>): every service method passes its caller through
/// <see cref="Allow"/> (or <see cref="AllowDevices"/> for work on several devices), and every list it returns through
/// <see cref="Visible{T}"/>. Both ask <see cref="Rights"/>, with the caller's grants and where the objects lie
/// (<see cref="Caller.Places"/>). An object the caller may not read is answered as if it did not exist (404); one it may
/// read but not act on is refused (403), naming the verb.</summary>
internal sealed class OperatorAccess
{
    /// <summary>Where an action needs its verb: on the device it names, somewhere (the service checks or filters the
    /// objects it touches), or on the provider's own objects (the package store, stored scripts, trust).</summary>
    internal enum Reach
    {
        Device,
        Somewhere,
        Provider,
    }

    /// <summary>Every action a service checks, with its verb and reach. A service asking for an action not listed
    /// fails loudly: a new action must be given a right here (and so appears in docs/SECURITY.md's table).</summary>
    internal static readonly IReadOnlyDictionary<string, (Verb Verb, Reach Reach)> Actions = new Dictionary<string, (Verb, Reach)>(StringComparer.Ordinal)
    {
        ["status.read"] = (Verb.Read, Reach.Somewhere),
        ["device.list"] = (Verb.Read, Reach.Somewhere),
        ["device.read"] = (Verb.Read, Reach.Device),
        ["queue.read"] = (Verb.Read, Reach.Somewhere),
        ["model.read"] = (Verb.Read, Reach.Somewhere),
        ["model.history"] = (Verb.Read, Reach.Somewhere),
        ["model.drift"] = (Verb.Read, Reach.Somewhere),
        ["rollout.list"] = (Verb.Read, Reach.Somewhere),
        ["rollout.read"] = (Verb.Read, Reach.Somewhere),
        ["script.list"] = (Verb.Read, Reach.Somewhere),
        ["script.read"] = (Verb.Read, Reach.Somewhere),
        ["package.list"] = (Verb.Read, Reach.Somewhere),
        ["audit.read"] = (Verb.Read, Reach.Somewhere),
        ["model.plan"] = (Verb.Plan, Reach.Somewhere),
        ["device.decommission-plan"] = (Verb.Plan, Reach.Device),
        ["model.apply"] = (Verb.Edit, Reach.Somewhere),
        ["model.apply-plan"] = (Verb.Edit, Reach.Somewhere),
        ["revision.approve"] = (Verb.Approve, Reach.Somewhere),
        ["revision.reject"] = (Verb.Approve, Reach.Somewhere),
        ["converge"] = (Verb.Rollout, Reach.Somewhere),
        ["rollout.start"] = (Verb.Rollout, Reach.Somewhere),
        ["rollout.pause"] = (Verb.Rollout, Reach.Somewhere),
        ["rollout.resume"] = (Verb.Rollout, Reach.Somewhere),
        ["rollout.cancel"] = (Verb.Rollout, Reach.Somewhere),
        ["rollout.retry"] = (Verb.Rollout, Reach.Somewhere),
        ["device.poke"] = (Verb.Rollout, Reach.Device),
        ["device.cancel"] = (Verb.Rollout, Reach.Device),
        ["script.run"] = (Verb.RunScript, Reach.Somewhere),
        ["script.add"] = (Verb.RunScript, Reach.Provider),
        ["script.delete"] = (Verb.RunScript, Reach.Provider),
        ["package.add"] = (Verb.ManagePackages, Reach.Provider),
        ["package.fetch"] = (Verb.ManagePackages, Reach.Provider),
        ["device.token"] = (Verb.ManageDevices, Reach.Device),
        ["device.revoke"] = (Verb.ManageDevices, Reach.Device),
        ["device.clone"] = (Verb.ManageDevices, Reach.Device),
        ["device.decommission"] = (Verb.ManageDevices, Reach.Device),
        ["device.rebuild"] = (Verb.ManageDevices, Reach.Device),
        ["trust.read"] = (Verb.ManageTrust, Reach.Provider),
        ["trust.manage"] = (Verb.ManageTrust, Reach.Provider),
    };

    /// <summary>Check that <paramref name="caller"/> may perform <paramref name="action"/> (see <see cref="Actions"/>)
    /// on <paramref name="device"/> (null: the action names no device). Throws <see cref="NotVisibleException"/> for a
    /// device the caller may not read and <see cref="ForbiddenException"/> for a verb the caller lacks.</summary>
    public void Allow(Caller caller, string action, string? device = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var (verb, reach) = ActionOf(action);
        if (device is not null)
        {
            AllowDevices(caller, verb, [device]);
            return;
        }
        switch (reach)
        {
            case Reach.Provider when !Rights.Allows(caller.Grants, verb, Place.Provider):
                throw new ForbiddenException($"Operator '{caller.Name}' may not {verb.Name()} here: {action} needs '{verb.Name()}' on everything (the provider's own objects), and no grant of {Of(caller)} gives it.",
                    Hint(verb));
            case Reach.Somewhere or Reach.Device when !Rights.AllowsSomewhere(caller.Grants, verb):
                throw new ForbiddenException($"Operator '{caller.Name}' may not {verb.Name()} anything: no grant of {Of(caller)} gives '{verb.Name()}'.", Hint(verb));
        }
    }

    /// <summary>Check <paramref name="verb"/> on each of <paramref name="devices"/>: the first device the caller may not
    /// read answers 404 as if it did not exist; devices the caller reads but may not act on are refused together (403).</summary>
    public void AllowDevices(Caller caller, Verb verb, IEnumerable<string> devices)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var refused = new List<string>();
        foreach (var device in devices)
        {
            if (!Rights.Allows(caller.Grants, Verb.Read, PlaceOfDevice(caller, device)))
                throw NotVisibleException.Device(device);
            if (verb != Verb.Read && !Rights.Allows(caller.Grants, verb, PlaceOf(caller, verb, device)))
                refused.Add(device);
        }
        if (refused.Count > 0)
        {
            throw new ForbiddenException(
                $"Operator '{caller.Name}' may not {verb.Name()} on {(refused.Count == 1 ? "device" : "devices")} {string.Join(", ", refused.Select(d => $"'{d}'"))}: no grant of {Of(caller)} gives '{verb.Name()}' there. Nothing was done.",
                Hint(verb), [.. refused.Select(d => $"device {d}")]);
        }
    }

    /// <summary>Check <paramref name="verb"/> on a customer's own objects (its packages): a customer the caller may not
    /// read anything of answers 404 as unknown; otherwise the verb must cover the customer as a whole.</summary>
    public void AllowCustomer(Caller caller, Verb verb, string customer)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!MaySeeCustomer(caller, customer))
            throw new NotVisibleException("unknown-customer", $"There is no customer '{customer}'.", "The model's `customers:` lists them; `rig model show` shows those you can see.");
        if (!Rights.Allows(caller.Grants, verb, new Place(customer, null, null, null)))
        {
            throw new ForbiddenException($"Operator '{caller.Name}' may not {verb.Name()} for customer '{customer}' as a whole: no grant of {Of(caller)} gives '{verb.Name()}' on it.",
                Hint(verb), [$"customer {customer}"]);
        }
    }

    /// <summary>True when the customer exists and the caller may read it or any of its sites.</summary>
    public static bool MaySeeCustomer(Caller caller, string customer) =>
        caller.Places.Customer(customer) is { } place && (Rights.Allows(caller.Grants, Verb.Read, place)
            || caller.Places.Model.Sites.Any(s => s.Customer == customer && caller.Places.Site(s.Name) is { } site && Rights.Allows(caller.Grants, Verb.Read, site)));

    /// <summary>For work that changes a whole device with everything attached to it (clone copies its roles and links,
    /// decommission removes them): the caller must hold 'edit' on the device, each of its role assignments and each of
    /// its links (and so read both ends), unless they edit everything. Refused naming only what the caller can see.</summary>
    public static void AllowWholeDevice(Caller caller, string device, string what)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (ModelScoping.OnEverything(caller.Grants, Verb.Edit))
            return;
        var model = caller.Places.Model;
        var objects = new List<(string Kind, string Name)> { ("device", device) };
        objects.AddRange(model.Assignments.Where(a => a.Device == device).Select(a => ("assignment", ModelScoping.AssignmentKey(a))));
        objects.AddRange(model.Links.Where(l => l.From == device || l.To == device).Select(l => ("link", ModelScoping.LinkKey(l))));
        var outside = objects.Where(o => !Rights.Allows(caller.Grants, Verb.Edit, caller.Places.OfEntity(o.Kind, o.Name))).ToList();
        if (outside.Count == 0)
            return;
        var named = outside.Where(o => ModelScoping.MayRead(caller.Grants, caller.Places, o.Kind, o.Name)).Select(o => $"{o.Kind} {o.Name.Replace("|", " -> ", StringComparison.Ordinal)}").ToList();
        var unnamed = outside.Count - named.Count;
        throw new ForbiddenException(
            $"Operator '{caller.Name}' may not {what} device '{device}': it changes {string.Join(", ", named)}{(unnamed == 0 ? "" : $"{(named.Count > 0 ? " and " : "")}{unnamed} object(s) you cannot see")}, outside their edit scope. Nothing was done.",
            "Ask an operator whose 'edit' grants cover the device with its roles and links.", named);
    }

    /// <summary>A plan as the caller may see it: only devices they may read, errors without hidden names, only changes to
    /// objects they may read.</summary>
    public PlanReport VisiblePlan(Caller caller, PlanReport plan)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(plan);
        if (ModelScoping.OnEverything(caller.Grants, Verb.Read))
            return plan;
        return plan with
        {
            Devices = Visible(caller, plan.Devices, d => d.Device),
            Errors = ModelScoping.HideErrors(plan.Errors, caller.Grants, caller.Places),
            ModelChanges = [.. plan.ModelChanges.Where(c => ModelScoping.MayRead(caller.Grants, caller.Places, c.Kind, c.Name))],
        };
    }

    /// <summary>True when <paramref name="caller"/> may read the device (in the model or only known to the gateway).</summary>
    public static bool MaySee(Caller caller, string device) => Rights.Allows(caller.Grants, Verb.Read, PlaceOfDevice(caller, device));

    /// <summary>True when <paramref name="caller"/> has <paramref name="verb"/> on the device.</summary>
    public static bool May(Caller caller, Verb verb, string device) => Rights.Allows(caller.Grants, verb, PlaceOf(caller, verb, device));

    /// <summary>The rows of a list that <paramref name="caller"/> may see: a row about a device when the caller may read
    /// the device; a row about no single device (<paramref name="deviceOf"/> gives null: a package, a stored script) when
    /// the caller may read anything at all.</summary>
    public IReadOnlyList<T> Visible<T>(Caller caller, IEnumerable<T> rows, Func<T, string?> deviceOf)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(deviceOf);
        var readsAnything = Rights.AllowsSomewhere(caller.Grants, Verb.Read);
        return [.. rows.Where(r => deviceOf(r) is { } device ? MaySee(caller, device) : readsAnything)];
    }

    /// <summary>The rows about several devices (a rollout) the caller may see: those with at least one visible device.</summary>
    public IReadOnlyList<T> VisibleAny<T>(Caller caller, IEnumerable<T> rows, Func<T, IEnumerable<string>> devicesOf)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(devicesOf);
        return [.. rows.Where(r => devicesOf(r).Any(d => MaySee(caller, d)))];
    }

    /// <summary>The verb and reach of an action; an unknown action is a programming error.</summary>
    internal static (Verb Verb, Reach Reach) ActionOf(string action) =>
        Actions.TryGetValue(action, out var found) ? found : throw new InvalidOperationException($"Action '{action}' has no right declared in OperatorAccess.Actions.");

    /// <summary>Where a device lies: from the caller's model; a device only the gateway knows (an agent not in the model)
    /// lies with the provider.</summary>
    internal static Place PlaceOfDevice(Caller caller, string device) => caller.Places.Device(device) ?? Place.Provider;

    /// <summary>Where a device lies for <paramref name="verb"/>: reading and planning see the device; the verbs that act on
    /// it (rollout, run-script, manage-devices) also see the kinds of the roles it carries (<see cref="Place.ActingKinds"/>).</summary>
    internal static Place PlaceOf(Caller caller, Verb verb, string device) =>
        verb is Verb.Read or Verb.Plan ? PlaceOfDevice(caller, device) : caller.Places.DeviceToActOn(device) ?? Place.Provider;

    private static string Of(Caller caller) => caller.Teams.Count == 0 ? "any team (the operator is in none)" : $"team(s) {string.Join(", ", caller.Teams)}";

    private static string Hint(Verb verb) =>
        $"Ask an operator with 'manage-trust' for a grant of '{verb.Name()}' (rig grant add --team TEAM --verbs {verb.Name()} ...); `rig whoami` shows your grants.";
}
