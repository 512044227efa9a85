using Dapper;

namespace Rig.Server.Store;

/// <summary>One object that differs between two model revisions.</summary>
/// <param name="Kind">site, device, link, bundle, role, assignment, template, role-kinds, parameters.</param>
/// <param name="Name">The object's name (links: <c>from|to|purpose</c>, assignments: <c>device|role</c>).</param>
/// <param name="Change"><c>added</c>, <c>removed</c> or <c>changed</c>.</param>
/// <param name="Before">JSON before (null when added).</param>
/// <param name="After">JSON after (null when removed).</param>
internal sealed record ModelChange(string Kind, string Name, string Change, string? Before, string? After);

internal sealed partial class RigStore
{
    /// <summary>What differs between the model at <paramref name="from"/> and at <paramref name="to"/>, object by object.</summary>
    public Task<IReadOnlyList<ModelChange>> DiffAsync(long from, long to, CancellationToken ct = default) => ReadAsync<IReadOnlyList<ModelChange>>(async c =>
    {
        var before = await EntitiesAtAsync(c, from, ct).ConfigureAwait(false);
        var after = await EntitiesAtAsync(c, to, ct).ConfigureAwait(false);
        return Masked(Compare(before, after), Known);
    }, ct);

    /// <summary>What saving <paramref name="proposed"/> would change in the current model, object by object.</summary>
    public Task<IReadOnlyList<ModelChange>> DiffWithCurrentAsync(Rig.Model.Domain.RigModel proposed, CancellationToken ct = default) => ReadAsync<IReadOnlyList<ModelChange>>(async c =>
    {
        var current = await EntitiesAtAsync(c, long.MaxValue - 1, ct).ConfigureAwait(false);
        Learn(Rig.Model.Domain.SecretParameters.Values(proposed));
        return Masked(Compare(current, Entities(proposed)), Known.With(Rig.Model.Domain.SecretParameters.Values(proposed)));
    }, ct);

    /// <summary>Changes as they may be shown: secret values masked.</summary>
    private static IReadOnlyList<ModelChange> Masked(IReadOnlyList<ModelChange> changes, Rig.Model.Domain.SecretMask mask) =>
        mask.IsEmpty ? changes : [.. changes.Select(c => c with { Before = mask.MaskOrNull(c.Before), After = mask.MaskOrNull(c.After) })];

    private static IReadOnlyList<ModelChange> Compare(Dictionary<(string Kind, string Name), string> before, Dictionary<(string Kind, string Name), string> after)
    {
        var changes = new List<ModelChange>();
        foreach (var (key, body) in after)
        {
            if (!before.TryGetValue(key, out var old))
                changes.Add(new ModelChange(key.Kind, key.Name, "added", null, body));
            else if (old != body)
                changes.Add(new ModelChange(key.Kind, key.Name, "changed", old, body));
        }
        foreach (var (key, body) in before)
        {
            if (!after.ContainsKey(key))
                changes.Add(new ModelChange(key.Kind, key.Name, "removed", body, null));
        }
        return [.. changes.OrderBy(x => x.Kind, StringComparer.Ordinal).ThenBy(x => x.Name, StringComparer.Ordinal)];
    }

    /// <summary>The newest revision made at or before <paramref name="at"/> (0 when none).</summary>
    public Task<long> RevisionAtAsync(DateTimeOffset at, CancellationToken ct = default) => ReadAsync(c =>
        c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COALESCE(MAX(rev), 0) FROM model_revisions WHERE created_at <= @at", new { at = at.ToUnixTimeMilliseconds() }, cancellationToken: ct)), ct);

    /// <summary>The newest revision number (0 for an empty store).</summary>
    public Task<long> CurrentRevisionAsync(CancellationToken ct = default) => ReadAsync(c =>
        c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COALESCE(MAX(rev), 0) FROM model_revisions", cancellationToken: ct)), ct);

    private async Task<Dictionary<(string Kind, string Name), string>> EntitiesAtAsync(System.Data.Common.DbConnection c, long at, CancellationToken ct) =>
        (await c.QueryAsync<(string Kind, string Name, string Body)>(new CommandDefinition(
            "SELECT kind, name, body FROM model_entities WHERE rev_from <= @at AND (rev_to IS NULL OR rev_to > @at)", new { at }, cancellationToken: ct)).ConfigureAwait(false))
        .ToDictionary(r => (r.Kind, r.Name), r => OpenBody(r.Kind, r.Name, r.Body));

    /// <summary>Rendered configuration contents by digest (for plan diffs and as-of views).</summary>
    public Task<IReadOnlyDictionary<string, string>> RenderedContentsAsync(IReadOnlyCollection<string> digests, CancellationToken ct = default) => ReadAsync<IReadOnlyDictionary<string, string>>(async c =>
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in digests.Distinct().Chunk(200))
        {
            foreach (var (sha, content) in await c.QueryAsync<(string Sha256, string Content)>(new CommandDefinition(
                Engine == StoreEngine.Postgres // Dapper passes an array as one parameter to Npgsql: `IN @x` is not SQL there
                    ? "SELECT sha256, content FROM rendered_files WHERE sha256 = ANY(@chunk)"
                    : "SELECT sha256, content FROM rendered_files WHERE sha256 IN @chunk", new { chunk }, cancellationToken: ct)).ConfigureAwait(false))
                found[sha] = OpenRendered(sha, content);
        }
        return found;
    }, ct);
}
