using System.Data.Common;
using System.Text.Json;
using Dapper;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Server.Store;

/// <summary>A recorded model revision.</summary>
internal sealed record ModelRevision(long Rev, string Author, string Message, DateTimeOffset CreatedAt);

/// <summary>What saving a model did.</summary>
internal sealed record ModelSaveResult(long Rev, bool Changed, int Added, int Modified, int Removed);

/// <summary>What a plan saw, checked when it is applied (in the transaction that saves the model): the revision it
/// was made on and the fingerprint (<see cref="RigStore.Fingerprint"/>) of each affected device's recorded state.</summary>
internal sealed record ModelSaveExpectation(long BaseRevision, IReadOnlyDictionary<string, string> Devices);

internal sealed partial class RigStore
{
    /// <summary>Save <paramref name="model"/> as the new current model. Only objects that differ get new rows;
    /// old rows are closed (append-only history). Returns the revision (unchanged models keep the current one).
    /// The package catalog is not part of a revision: it lives in the package store.</summary>
    public async Task<ModelSaveResult> SaveModelAsync(RigModel model, string author, string message, CancellationToken ct = default) =>
        (await SaveModelAsync(model, author, message, null, ct).ConfigureAwait(false)).Saved!;

    /// <summary>Save <paramref name="model"/> as <see cref="SaveModelAsync(RigModel, string, string, CancellationToken)"/>
    /// does, but only when what <paramref name="expect"/> says a plan saw is still so: the current revision is its base
    /// revision and every device it names has the recorded state it fingerprinted. Checked in the transaction that
    /// saves (model saves are serialised: SQLite's write lock, PostgreSQL's advisory lock), so nothing can move between
    /// the check and the save. Otherwise nothing is saved and <c>Moved</c> says what moved.</summary>
    public Task<(ModelSaveResult? Saved, IReadOnlyList<ModelError> Moved)> SaveModelAsync(RigModel model, string author, string message, ModelSaveExpectation? expect, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var wanted = Entities(model);
        Learn(SecretParameters.Values(model));
        var sealedBodies = Entities(SealModel(model));
        return WriteAsync<(ModelSaveResult?, IReadOnlyList<ModelError>)>(async (c, tx) =>
        {
            if (Engine == StoreEngine.Postgres)
                await c.ExecuteAsync("SELECT pg_advisory_xact_lock(7353412)", transaction: tx).ConfigureAwait(false);
            var currentRev = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COALESCE(MAX(rev), 0) FROM model_revisions", transaction: tx, cancellationToken: ct)).ConfigureAwait(false);
            if (expect is not null)
            {
                var moved = await MovedSinceAsync(c, tx, currentRev, expect, ct).ConfigureAwait(false);
                if (moved.Count > 0)
                    return (null, moved);
            }
            var current = (await c.QueryAsync<(string Kind, string Name, string Body)>(
                    new CommandDefinition("SELECT kind, name, body FROM model_entities WHERE rev_to IS NULL", transaction: tx, cancellationToken: ct)).ConfigureAwait(false))
                .ToDictionary(r => (r.Kind, r.Name), r => OpenBody(r.Kind, r.Name, r.Body));

            var added = wanted.Where(w => !current.ContainsKey(w.Key)).ToList();
            var changed = wanted.Where(w => current.TryGetValue(w.Key, out var body) && body != w.Value).ToList();
            var removed = current.Keys.Where(k => !wanted.ContainsKey(k)).ToList();
            if (added.Count + changed.Count + removed.Count == 0 && currentRev > 0)
                return (new ModelSaveResult(currentRev, false, 0, 0, 0), []);

            var rev = currentRev + 1;
            await c.ExecuteAsync(new CommandDefinition("INSERT INTO model_revisions (rev, author, message, created_at) VALUES (@rev, @author, @message, @now)",
                new { rev, author, message, now = NowMs }, tx, cancellationToken: ct)).ConfigureAwait(false);
            foreach (var key in changed.Select(c => c.Key).Concat(removed))
            {
                await c.ExecuteAsync(new CommandDefinition("UPDATE model_entities SET rev_to = @rev WHERE kind = @kind AND name = @name AND rev_to IS NULL",
                    new { rev, kind = key.Kind, name = key.Name }, tx, cancellationToken: ct)).ConfigureAwait(false);
            }
            foreach (var key in added.Concat(changed).Select(e => e.Key))
            {
                var body = sealedBodies[key];
                await c.ExecuteAsync(new CommandDefinition("INSERT INTO model_entities (kind, name, rev_from, rev_to, body) VALUES (@kind, @name, @rev, NULL, @body)",
                    new { kind = key.Kind, name = key.Name, rev, body }, tx, cancellationToken: ct)).ConfigureAwait(false);
            }
            return (new ModelSaveResult(rev, true, added.Count, changed.Count, removed.Count), []);
        }, ct);
    }

    private static async Task<IReadOnlyList<ModelError>> MovedSinceAsync(DbConnection c, DbTransaction tx, long currentRev, ModelSaveExpectation expect, CancellationToken ct)
    {
        var moved = new List<ModelError>();
        if (currentRev != expect.BaseRevision)
            moved.Add(RevisionMoved(currentRev, expect.BaseRevision));
        var statements = new Statements(c, tx);
        foreach (var device in expect.Devices.Keys.Order(StringComparer.Ordinal))
        {
            var recorded = await RecordedStateAsync(statements, device, ct).ConfigureAwait(false);
            var json = await c.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
                "SELECT native_packages FROM device_runtime WHERE device = @device", new { device }, tx, cancellationToken: ct)).ConfigureAwait(false);
            var native = json is null ? null : JsonSerializer.Deserialize(json, RigJson.Default.IReadOnlyListNativePackage);
            if (Fingerprint(recorded, native) != expect.Devices[device])
            {
                moved.Add(new ModelError("plan.device-moved", $"devices/{device}",
                    $"What the gateway has recorded for device '{device}' changed since the plan (a queue ran on it, or its agent reported another inventory), so the plan no longer says what the revision would do there. Plan again."));
            }
        }
        return moved;
    }

    /// <summary>The model moved on since a plan made on <paramref name="baseRevision"/>.</summary>
    public static ModelError RevisionMoved(long currentRevision, long baseRevision) =>
        new("plan.revision-moved", "model",
            $"The model is at revision {currentRevision} now; the plan was made on revision {baseRevision}. `rig history` shows what was recorded since; plan again.");

    /// <summary>A digest of what the gateway has recorded for a device (packages, files, services, network) and of the
    /// native packages of its last inventory: everything a plan reads about the device but its free space. Equal
    /// fingerprints plan alike; <c>sha256:</c> and 64 hex digits.</summary>
    public static string Fingerprint(RecordedState recorded, IReadOnlyList<NativePackage>? native)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var row in Rows("", recorded).OrderBy(r => r.Kind, StringComparer.Ordinal).ThenBy(r => r.Key, StringComparer.Ordinal))
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{row.Kind}\0{row.Key}\0{row.Body}\n"));
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(native is null ? "native\0none\n" : "native\0" + JsonSerializer.Serialize(native, RigJson.Default.IReadOnlyListNativePackage) + "\n"));
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The model as of <paramref name="rev"/> (default: current), with the package catalog.</summary>
    public Task<(long Rev, RigModel Model)> LoadModelAsync(long? rev = null, CancellationToken ct = default) => ReadAsync(async c =>
    {
        // The newest revision's model is kept once read (a page of the web UI or a plan of 10,000 devices would otherwise
        // read and parse every entity again, ~100 ms each): a revision never changes, and the catalog is part of the
        // model, so the cache is keyed by the revision, the catalog's size and newest import, and this store's own
        // catalog writes (ForgetModelAfterAsync). The model is shared: callers read it, never change it (nothing in Rig
        // assigns to a loaded model; its collections are read-only interfaces).
        var head = await c.QuerySingleAsync<(long Rev, long Packages, long PackagesAt)>(new CommandDefinition(
            "SELECT (SELECT COALESCE(MAX(rev), 0) FROM model_revisions), (SELECT COUNT(*) FROM packages), (SELECT COALESCE(MAX(imported_at), 0) FROM packages)",
            cancellationToken: ct)).ConfigureAwait(false);
        var at = rev ?? head.Rev;
        var generation = Volatile.Read(ref _catalogGeneration);
        var key = (head.Rev, head.Packages, head.PackagesAt, generation);
        if (at == head.Rev && Volatile.Read(ref _latestModel) is { } cached && cached.Key == key)
            return (at, cached.Model);
        var rows = await c.QueryAsync<(string Kind, string Name, string Body)>(new CommandDefinition(
            "SELECT kind, name, body FROM model_entities WHERE rev_from <= @at AND (rev_to IS NULL OR rev_to > @at) ORDER BY kind, name",
            new { at }, cancellationToken: ct)).ConfigureAwait(false);
        var packages = await PackagesAsync(c, ct).ConfigureAwait(false);
        var model = OpenModel(Assemble(rows, packages));
        if (at == head.Rev)
            Volatile.Write(ref _latestModel, new CachedModel(key, model));
        return (at, model);
    }, ct);

    /// <summary>The newest revision's model as last read, with what it was read at (see <see cref="LoadModelAsync"/>).</summary>
    private CachedModel? _latestModel;

    private sealed record CachedModel((long Rev, long Packages, long PackagesAt, int Generation) Key, RigModel Model);

    /// <summary>Bumped after every catalog write of this store, so a model read before it is read again.</summary>
    private int _catalogGeneration;

    /// <summary>Run a catalog write, then make the next <see cref="LoadModelAsync"/> read the model again.</summary>
    private async Task<T> ForgetModelAfterAsync<T>(Task<T> write)
    {
        try
        {
            return await write.ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Increment(ref _catalogGeneration);
        }
    }

    /// <summary>One device of the current model, or null: one row, where <see cref="LoadModelAsync"/> reads the whole
    /// model (per-device calls, such as enrolling a fleet of 10,000, must not cost a full model each).</summary>
    public Task<Device?> GetDeviceAsync(string name, CancellationToken ct = default) => ReadAsync(async c =>
        await c.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT body FROM model_entities WHERE kind = 'device' AND name = @name AND rev_to IS NULL", new { name }, cancellationToken: ct)).ConfigureAwait(false) is { } body
            ? OpenModel(new RigModel { Devices = [JsonSerializer.Deserialize(body, ModelJson.Default.Device)!] }).Devices[0]
            : null, ct);

    /// <summary>How many model objects revision <paramref name="rev"/> added, changed or removed.</summary>
    public Task<int> RevisionChangeCountAsync(long rev, CancellationToken ct = default) => ReadAsync(async c =>
        (int)await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM (SELECT DISTINCT kind, name FROM model_entities WHERE rev_from = @rev OR rev_to = @rev) touched", new { rev }, cancellationToken: ct)).ConfigureAwait(false), ct);

    /// <summary>Every model revision, newest first.</summary>
    public Task<IReadOnlyList<ModelRevision>> RevisionsAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<ModelRevision>>(async c =>
        [.. (await c.QueryAsync<(long Rev, string Author, string Message, long CreatedAt)>(new CommandDefinition(
                "SELECT rev, author, message, created_at FROM model_revisions ORDER BY rev DESC", cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => new ModelRevision(r.Rev, r.Author, r.Message, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt)))], ct);

    private static Dictionary<(string Kind, string Name), string> Entities(RigModel model)
    {
        var o = ModelJson.Default;
        var map = new Dictionary<(string, string), string>();
        foreach (var c in model.Customers)
            map[("customer", c.Name)] = JsonSerializer.Serialize(c, o.Customer);
        foreach (var s in model.Sites)
            map[("site", s.Name)] = JsonSerializer.Serialize(s, o.Site);
        foreach (var d in model.Devices)
            map[("device", d.Name)] = JsonSerializer.Serialize(d, o.Device);
        foreach (var l in model.Links)
            map[("link", $"{l.From}|{l.To}|{l.Purpose}")] = JsonSerializer.Serialize(l, o.Interconnection);
        foreach (var b in model.Bundles)
            map[("bundle", b.Name)] = JsonSerializer.Serialize(b, o.Bundle);
        foreach (var r in model.Roles)
            map[("role", r.Name)] = JsonSerializer.Serialize(r, o.Role);
        foreach (var a in model.Assignments)
            map[("assignment", $"{a.Device}|{a.Role}")] = JsonSerializer.Serialize(a, o.RoleAssignment);
        foreach (var t in model.Templates)
            map[("template", t.Name)] = JsonSerializer.Serialize(t, o.ConfigTemplate);
        if (model.RoleKinds.Count > 0)
            map[("role-kinds", "*")] = JsonSerializer.Serialize(model.RoleKinds.ToList(), o.ListString);
        if (model.Approvals.Count > 0)
            map[("approval-policies", "*")] = JsonSerializer.Serialize(model.Approvals.ToList(), o.ListApprovalPolicy);
        if (model.Secrets.Count > 0)
            map[("secrets", "*")] = JsonSerializer.Serialize(model.Secrets.ToList(), o.ListString);
        if (model.Parameters.Count > 0)
            map[("parameters", "*")] = JsonSerializer.Serialize(new Dictionary<string, string>(model.Parameters), o.DictionaryStringString);
        return map;
    }

    private static RigModel Assemble(IEnumerable<(string Kind, string Name, string Body)> rows, IReadOnlyList<PackageInfo> packages)
    {
        var o = ModelJson.Default;
        var byKind = rows.GroupBy(r => r.Kind).ToDictionary(g => g.Key, g => g.Select(r => r.Body).ToList());
        List<T> All<T>(string kind, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) =>
            [.. (byKind.GetValueOrDefault(kind) ?? []).Select(b => JsonSerializer.Deserialize(b, info)!)];
        return new RigModel
        {
            Customers = All("customer", o.Customer),
            Sites = All("site", o.Site),
            Devices = All("device", o.Device),
            Links = All("link", o.Interconnection),
            Bundles = All("bundle", o.Bundle),
            Roles = All("role", o.Role),
            Assignments = All("assignment", o.RoleAssignment),
            Templates = All("template", o.ConfigTemplate),
            RoleKinds = All("role-kinds", o.ListString).FirstOrDefault() ?? [],
            Parameters = All("parameters", o.DictionaryStringString).FirstOrDefault() ?? [],
            Approvals = All("approval-policies", o.ListApprovalPolicy).FirstOrDefault() ?? [],
            Secrets = All("secrets", o.ListString).FirstOrDefault() ?? [],
            Packages = packages,
        };
    }

    private static async Task<IReadOnlyList<PackageInfo>> PackagesAsync(DbConnection c, CancellationToken ct) =>
        [.. (await c.QueryAsync<PackageRow>(new CommandDefinition(
                $"SELECT {PackageRow.Columns} FROM packages ORDER BY name, version", cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => r.ToInfo())];
}
