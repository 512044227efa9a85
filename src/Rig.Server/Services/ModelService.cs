using System.Text.Encodings.Web;
using System.Text.Json;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Server.Operations;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>What saving a model did: the new revision, or why nothing was saved.</summary>
/// <param name="Saved">The revision and its counts; null when nothing was saved.</param>
/// <param name="Changes">The model objects that changed.</param>
/// <param name="Errors">The model's errors (nothing saved).</param>
/// <param name="Moved">What moved since a saved plan was made (nothing saved).</param>
internal sealed record ModelSaveOutcome(ModelPutResponse? Saved, IReadOnlyList<ModelChangeView> Changes, IReadOnlyList<ModelError> Errors, IReadOnlyList<ModelError> Moved);

/// <summary>Why a model read, plan or drift cannot be answered.</summary>
internal enum ModelRefusal
{
    /// <summary><c>at</c> names no revision.</summary>
    BadRevision,
    /// <summary>The device selector does not parse; the message says why.</summary>
    BadSelector,
}

/// <summary>The model and its history: read and save it, plan it, compare it with the devices, list and diff revisions.</summary>
internal sealed class ModelService(Gateway.Gateway gateway, OperatorAccess access)
{
    private static readonly JsonWriterOptions PrettyJson = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private RigStore Store => gateway.Store;

    /// <summary>The model as of <paramref name="at"/> (a revision number or a date; default: current), or null when
    /// <paramref name="at"/> is neither.</summary>
    public async Task<RigModel?> GetAsync(Caller caller, string? at, CancellationToken ct)
    {
        access.Allow(caller, "model.read");
        var rev = await ResolveRevisionAsync(at, ct).ConfigureAwait(false);
        if (rev is null)
            return null;
        var (_, model) = await Store.LoadModelAsync(rev == 0 ? null : rev, ct).ConfigureAwait(false);
        // The caller's part of the model, secrets masked: applied back as it is, "********" keeps the stored values.
        return SecretParameters.Masked(ModelScoping.Project(model, caller.Grants, rev == 0 ? caller.Places : new ModelPlaces(model)));
    }

    /// <summary>Record <paramref name="model"/> as a new revision (validated first).</summary>
    public async Task<ModelSaveOutcome> SaveAsync(Caller caller, RigModel model, string? message, CancellationToken ct)
    {
        access.Allow(caller, "model.apply");
        var (whole, expect) = await AuthorizeEditAsync(caller, model, ct).ConfigureAwait(false);
        return Hide(caller, whole, Outcome(await gateway.ApplyAsync(whole, caller.Name, message ?? "", expect, ct).ConfigureAwait(false)));
    }

    /// <summary>The model to save for an edit of <paramref name="submitted"/>, authorized by its diff: an operator who
    /// reads only part of the model submits that part, and everything else is kept as it is; every object the change
    /// adds, changes or removes must lie wholly inside the caller's edit scopes, before and after, or the change is
    /// refused as a whole naming each object outside (nothing is recorded). A partial editor's change is saved only on
    /// the revision it was checked against.</summary>
    private async Task<(RigModel Whole, ModelSaveExpectation? Expect)> AuthorizeEditAsync(Caller caller, RigModel submitted, CancellationToken ct)
    {
        var (rev, current) = await Store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var before = new ModelPlaces(current);
        // Templates and bundles used but not carried must be readable: rendering one onto the caller's devices shows it.
        var hidden = ModelScoping.HiddenReferences(submitted, caller.Grants, before, caller.Teams);
        var whole = ModelScoping.Merge(current, submitted, caller.Grants, before);
        if (ModelScoping.OnEverything(caller.Grants, Verb.Edit) && hidden.Count == 0)
            return (whole, null);
        var changes = await Store.DiffWithCurrentAsync(whole, ct).ConfigureAwait(false);
        IReadOnlyList<string> outside = [.. ModelScoping.OutsideEditScope(changes.Select(c => (c.Kind, c.Name)), before, new ModelPlaces(whole), caller.Grants, caller.Teams), .. hidden];
        if (outside.Count > 0)
        {
            throw new ForbiddenException($"The change was refused as a whole and nothing was recorded: {string.Join("; ", outside)}.",
                "Change only objects inside your edit scope (`rig whoami` shows your grants), or ask an operator whose grants cover them.", outside);
        }
        return (whole, new ModelSaveExpectation(rev, new Dictionary<string, string>()));
    }

    /// <summary>Refuse a submitted model whose roles or bundles use a template or bundle the caller may not read: it
    /// would be rendered onto the caller's devices, and so shown to them (nothing is planned or recorded).</summary>
    private static void RefuseHiddenReferences(Caller caller, RigModel submitted, ModelPlaces current)
    {
        var hidden = ModelScoping.HiddenReferences(submitted, caller.Grants, current, caller.Teams);
        if (hidden.Count > 0)
        {
            throw new ForbiddenException($"The proposed model was refused as a whole and nothing was planned: {string.Join("; ", hidden)}.",
                "Use only templates and bundles you can see (`rig model show`), or carry your own.", hidden);
        }
    }

    /// <summary>Record a saved plan's model, only while the current revision is <paramref name="baseRevision"/> and every
    /// device in <paramref name="fingerprints"/> has the recorded state it had.</summary>
    public async Task<ModelSaveOutcome> ApplySavedPlanAsync(Caller caller, RigModel model, long baseRevision, IReadOnlyDictionary<string, string> fingerprints, string? message, CancellationToken ct)
    {
        access.Allow(caller, "model.apply-plan");
        var (whole, _) = await AuthorizeEditAsync(caller, model, ct).ConfigureAwait(false);
        return Hide(caller, whole, Outcome(await gateway.ApplyAsync(whole, caller.Name, message ?? "", new ModelSaveExpectation(baseRevision, fingerprints), ct).ConfigureAwait(false)));
    }

    /// <summary>What a partial reader's refused apply may tell them: the whole model was validated, so an error may be
    /// about an object they cannot see (a link of theirs to another customer's device, a hidden role using a bundle they
    /// changed). Such an error is answered without its names: that their change conflicts with something they cannot
    /// see. Changes listed are only those they may read.</summary>
    private static ModelSaveOutcome Hide(Caller caller, RigModel whole, ModelSaveOutcome outcome)
    {
        if (ModelScoping.OnEverything(caller.Grants, Verb.Read))
            return outcome;
        var places = new ModelPlaces(whole);
        return outcome with
        {
            Errors = ModelScoping.HideErrors(outcome.Errors, caller.Grants, places),
            Changes = [.. outcome.Changes.Where(c => ModelScoping.MayRead(caller.Grants, places, c.Kind, c.Name))],
        };
    }

    private static ModelSaveOutcome Outcome(Gateway.ApplyResult applied) => new(
        applied.Saved is { } s ? new ModelPutResponse(s.Rev, s.Changed, s.Added, s.Modified, s.Removed) : null, applied.Changes.ToViews(), applied.Errors, applied.Moved);

    /// <summary>Plan a proposed model for the devices <paramref name="devices"/> selects (all when none).</summary>
    public async Task<(PlanReport? Plan, ModelRefusal? Refusal, string? Why)> PlanProposedAsync(Caller caller, RigModel model, string? devices, CancellationToken ct)
    {
        access.Allow(caller, "model.plan");
        if (!ModelScoping.OnEverything(caller.Grants, Verb.Read))
        {
            var (_, current) = await Store.LoadModelAsync(ct: ct).ConfigureAwait(false);
            var places = new ModelPlaces(current);
            RefuseHiddenReferences(caller, model, places);
            model = ModelScoping.Merge(current, model, caller.Grants, places);
        }
        var (names, why) = Select(model, devices);
        if (why is not null)
            return (null, ModelRefusal.BadSelector, why);
        return (Visible(caller, await gateway.Plans.PlanProposedAsync(model, names, ct).ConfigureAwait(false)), null, null);
    }

    /// <summary>Plan a stored revision (<paramref name="at"/>; default: current) against what devices have now.</summary>
    public async Task<(PlanReport? Plan, ModelRefusal? Refusal, string? Why)> PlanStoredAsync(Caller caller, string? at, string? devices, CancellationToken ct)
    {
        access.Allow(caller, "model.plan");
        var rev = await ResolveRevisionAsync(at, ct).ConfigureAwait(false);
        if (rev is null or < 0)
            return (null, ModelRefusal.BadRevision, null);
        var (_, model) = await Store.LoadModelAsync(rev == 0 ? null : rev, ct).ConfigureAwait(false);
        var (names, why) = Select(model, devices);
        if (why is not null)
            return (null, ModelRefusal.BadSelector, why);
        return (Visible(caller, await gateway.Plans.PlanStoredAsync(rev == 0 ? null : rev, names, ct).ConfigureAwait(false)), null, null);
    }

    internal PlanReport Visible(Caller caller, PlanReport plan) => access.VisiblePlan(caller, plan);

    /// <summary>Model vs reality for the devices <paramref name="devices"/> selects (all when none).</summary>
    public async Task<(DriftReport? Drift, string? Why)> DriftAsync(Caller caller, string? devices, CancellationToken ct)
    {
        access.Allow(caller, "model.drift");
        var (_, model) = await Store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var (names, why) = Select(model, devices);
        if (why is not null)
            return (null, why);
        var report = await gateway.Drift.CompareAsync(names, ct).ConfigureAwait(false);
        return (report with { Devices = access.Visible(caller, report.Devices, d => d.Device) }, null);
    }

    /// <summary>The newest revisions, newest first, each with its number of changed objects (one query) and its approval
    /// state.</summary>
    public async Task<IReadOnlyList<RevisionView>> ListRevisionsAsync(Caller caller, int? limit, CancellationToken ct)
    {
        access.Allow(caller, "model.history");
        var revisions = await Store.ListRevisionSummariesAsync(Math.Clamp(limit ?? 100, 1, 10_000), ct).ConfigureAwait(false);
        var approvals = revisions.Count == 0 ? [] : (await gateway.ApprovalsUpToAsync(revisions.Max(r => r.Rev), ct).ConfigureAwait(false)).ToDictionary(a => a.Rev, a => a.State);
        var views = revisions.Select(r => new RevisionView(r.Rev, r.Author, r.Message, r.CreatedAt, r.Changes) { Approval = approvals.GetValueOrDefault(r.Rev) });
        if (ModelScoping.OnEverything(caller.Grants, Verb.Read))
            return [.. views];
        // A partial reader sees the revisions that changed something they may read, counting only those changes.
        var changed = await Store.ChangedObjectsAsync([.. revisions.Select(r => r.Rev)], ct).ConfigureAwait(false);
        return [.. views.Select(v => v with { Changes = changed[v.Revision].Count(o => ModelScoping.MayRead(caller.Grants, caller.Places, o.Kind, o.Name)) }).Where(v => v.Changes > 0)];
    }

    /// <summary>What differs between two revisions, as unified diffs; null when either is not a revision (then
    /// <c>Current</c> is the newest one).</summary>
    public async Task<(IReadOnlyList<ModelDiffEntry>? Diff, long Current)> DiffAsync(Caller caller, long from, long to, CancellationToken ct)
    {
        access.Allow(caller, "model.history");
        var current = await Store.CurrentRevisionAsync(ct).ConfigureAwait(false);
        if (from < 0 || to < 0 || from > current || to > current)
            return (null, current);
        var changes = await Store.DiffAsync(from, to, ct).ConfigureAwait(false);
        if (!ModelScoping.OnEverything(caller.Grants, Verb.Read))
        {
            // Where an object lay then or lies now: a change to something the caller may read in either.
            var (_, then) = await Store.LoadModelAsync(Math.Max(from, to), ct).ConfigureAwait(false);
            var thenPlaces = new ModelPlaces(then);
            changes = [.. changes.Where(c => ModelScoping.MayRead(caller.Grants, caller.Places, c.Kind, c.Name) || ModelScoping.MayRead(caller.Grants, thenPlaces, c.Kind, c.Name))];
        }
        return ([.. changes.Select(c => new ModelDiffEntry(c.Kind, c.Name, c.Change,
            UnifiedDiff.Create(Pretty(c.Before), Pretty(c.After), $"r{from}/{c.Kind}/{c.Name}", $"r{to}/{c.Kind}/{c.Name}")))], current);
    }

    /// <summary>The model and every device's rendered configuration as of <paramref name="at"/>; null when it names no
    /// revision (then <c>Current</c> is the newest one).</summary>
    public async Task<(ModelAsOf? Model, long Current)> AsOfAsync(Caller caller, string at, CancellationToken ct)
    {
        access.Allow(caller, "model.read");
        var rev = await ResolveRevisionAsync(at, ct).ConfigureAwait(false);
        var current = await Store.CurrentRevisionAsync(ct).ConfigureAwait(false);
        if (rev is null or < 1 || rev > current)
            return (null, current);
        var snapshot = await gateway.Plans.SnapshotAsync(rev, ct).ConfigureAwait(false);
        var created = (await Store.GetRevisionAsync(rev.Value, ct).ConfigureAwait(false))?.CreatedAt;
        var devices = access.Visible(caller, snapshot.Model.Devices.Select(d =>
        {
            var desired = snapshot.Builder.Build(d.Name);
            var files = desired.Roles.SelectMany(r => r.Steps).OfType<DesiredFile>().Select(f => new RenderedFile(f.Path, f.Sha256, f.Mode, f.Owner, f.Group, Store.Known.Mask(f.Content))).ToList();
            return new RenderedDevice(d.Name, files, desired.Errors);
        }), d => d.Device);
        var visibleModel = SecretParameters.Masked(ModelScoping.Project(snapshot.Model, caller.Grants, new ModelPlaces(snapshot.Model)));
        return (new ModelAsOf(snapshot.Rev, created, visibleModel with { Packages = [] }, devices), current);
    }

    /// <summary>Parse <c>at</c> (a revision number or a date) into a revision; 0 means current, -1 a date before the
    /// first revision, null unparseable.</summary>
    internal async Task<long?> ResolveRevisionAsync(string? at, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(at))
            return 0;
        if (long.TryParse(at, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rev))
            return rev;
        if (DateTimeOffset.TryParse(at, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var date))
        {
            var found = await Store.RevisionAtAsync(date, ct).ConfigureAwait(false);
            return found == 0 ? -1 : found;
        }
        return null;
    }

    /// <summary>The devices a selector picks from <paramref name="model"/> (null: no selector, all), or why it does not parse.</summary>
    private static (IReadOnlyList<string>? Names, string? Why) Select(RigModel model, string? devices)
    {
        if (string.IsNullOrWhiteSpace(devices))
            return (null, null);
        try
        {
            return ([.. DeviceSelector.Parse(devices).Select(model).Select(d => d.Name)], null);
        }
        catch (FormatException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>A stored model object's JSON, indented, for line diffs. Written with a plain writer: the model's
    /// source-generated options have no metadata for <see cref="JsonElement"/>.</summary>
    private static string Pretty(string? json)
    {
        if (json is null)
            return "";
        using var document = JsonDocument.Parse(json);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, PrettyJson))
            document.RootElement.WriteTo(writer);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }
}
