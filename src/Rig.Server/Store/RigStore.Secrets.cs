using System.Text.Json;
using Dapper;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Security;

namespace Rig.Server.Store;


/// <summary>Secret values at rest: a secret parameter's value is sealed (<see cref="SecretBox"/>) in its model row, bound to
/// <c>param/KIND/NAME/PARAMETER</c>; a queued command whose JSON holds a known secret value is sealed whole, bound to
/// <c>command/ID</c>, and so is a rendered file's content, bound to <c>rendered/SHA256</c>. Everything is opened when read,
/// so the planner and the agent see plaintext and nothing else does: what the gateway shows goes through
/// <see cref="Known"/>.</summary>
internal sealed partial class RigStore
{
    private readonly Lock _knownGate = new();

    /// <summary>The key ring secret values are sealed and opened with; null when the store runs without one (tests of
    /// models without secrets): saving a secret value then fails with what to do.</summary>
    public SecretBox? Secrets
    {
        get => _secrets;
        set
        {
            _secrets = value;
            Volatile.Write(ref _latestModel, null); // the next model read opens its secrets with this key (or fails)
        }
    }

    private SecretBox? _secrets;

    /// <summary>Every secret value this store has opened or saved (all revisions): what response bodies, stored command
    /// output and diffs are masked with.</summary>
    public SecretMask Known { get; private set; } = SecretMask.None;

    /// <summary>The identity a secret parameter's sealed value is bound to.</summary>
    public static string ParameterIdentity(string kind, string name, string parameter) => $"param/{kind}/{name}/{parameter}";

    private SecretBox Box => Secrets ?? throw new SecretKeyException(
        $"The model holds secret values, but this gateway has no secrets key. Start it on its data directory ({SecretsKeyFile.FileName}) or set {SecretsKeyFile.KeyVariable}/{SecretsKeyFile.KeyFileVariable}.");

    /// <summary>Add <paramref name="values"/> to <see cref="Known"/>.</summary>
    public void Learn(IEnumerable<string> values)
    {
        var list = values.Where(v => v.Length >= SecretParameters.MinLength).ToList();
        lock (_knownGate)
        {
            if (list.Any(v => !Known.Values.Contains(v)))
                Known = Known.With(list);
        }
    }

    /// <summary><paramref name="model"/> with its secret values sealed (for its rows).</summary>
    private RigModel SealModel(RigModel model) =>
        SecretParameters.Values(model).Any()
            ? SecretParameters.Map(model, (layer, p, v) => v.Length == 0 ? v : Box.Seal(v, ParameterIdentity(layer.Kind, layer.Name, p)))
            : model;

    /// <summary><paramref name="model"/> (as read from rows) with every sealed value opened; the values are learnt.</summary>
    private RigModel OpenModel(RigModel model)
    {
        var opened = new List<string>();
        IReadOnlyDictionary<string, string> Open(string kind, string name, IReadOnlyDictionary<string, string> parameters)
        {
            if (!parameters.Values.Any(SecretBox.IsSealed))
                return parameters;
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in parameters)
            {
                map[k] = SecretBox.IsSealed(v) ? Box.Open(v, ParameterIdentity(kind, name, k)) : v;
                if (SecretBox.IsSealed(v))
                    opened.Add(map[k]);
            }
            return map;
        }
        var result = model with
        {
            Parameters = Open("parameters", "*", model.Parameters),
            Sites = [.. model.Sites.Select(s => s with { Parameters = Open("site", s.Name, s.Parameters) })],
            Roles = [.. model.Roles.Select(r => r with { Parameters = Open("role", r.Name, r.Parameters) })],
            Devices = [.. model.Devices.Select(d => d with { Parameters = Open("device", d.Name, d.Parameters) })],
        };
        Learn(opened);
        return result;
    }

    /// <summary>A model row's body with every sealed value passed through <paramref name="map"/> (identity, sealed
    /// text) -> new text; null when the row holds none.</summary>
    private static string? MapSealed(string kind, string name, string body, Func<string, string, string> map)
    {
        if (!body.Contains(SecretBox.Prefix, StringComparison.Ordinal))
            return null;
        var o = ModelJson.Default;
        Dictionary<string, string> Map(IReadOnlyDictionary<string, string> parameters) =>
            parameters.ToDictionary(p => p.Key, p => SecretBox.IsSealed(p.Value) ? map(ParameterIdentity(kind, name, p.Key), p.Value) : p.Value, StringComparer.Ordinal);
        return kind switch
        {
            "parameters" => JsonSerializer.Serialize(Map(JsonSerializer.Deserialize(body, o.DictionaryStringString)!), o.DictionaryStringString),
            "site" => JsonSerializer.Serialize(JsonSerializer.Deserialize(body, o.Site)! is var s ? s with { Parameters = Map(s.Parameters) } : null!, o.Site),
            "role" => JsonSerializer.Serialize(JsonSerializer.Deserialize(body, o.Role)! is var r ? r with { Parameters = Map(r.Parameters) } : null!, o.Role),
            "device" => JsonSerializer.Serialize(JsonSerializer.Deserialize(body, o.Device)! is var d ? d with { Parameters = Map(d.Parameters) } : null!, o.Device),
            _ => null,
        };
    }

    /// <summary>A model row's body with its sealed values opened (learnt), for comparisons and diffs.</summary>
    private string OpenBody(string kind, string name, string body) =>
        MapSealed(kind, name, body, (identity, text) =>
        {
            var value = Box.Open(text, identity);
            Learn([value]);
            return value;
        }) ?? body;

    /// <summary>A queued command's JSON as stored: sealed when it holds a known secret value.</summary>
    private string SealSpec(string commandId, string json) => Known.Reveals(json) ? Box.Seal(json, $"command/{commandId}") : json;

    /// <summary>A stored command JSON, opened when sealed.</summary>
    internal string OpenSpec(string commandId, string stored) => SecretBox.IsSealed(stored) ? Box.Open(stored, $"command/{commandId}") : stored;

    /// <summary>A rendered file's content as stored: sealed when it holds a known secret value.</summary>
    private string SealRendered(string sha256, string content) => Known.Reveals(content) ? Box.Seal(content, $"rendered/{sha256}") : content;

    /// <summary>A stored rendered file's content, opened when sealed.</summary>
    private string OpenRendered(string sha256, string stored) => SecretBox.IsSealed(stored) ? Box.Open(stored, $"rendered/{sha256}") : stored;

    /// <summary>Open every secret value of every model revision once (so <see cref="Known"/> masks them all) and prove the
    /// key opens them: a missing or wrong key fails here, at start-up, with what to do, not later in a plan.</summary>
    public Task<int> OpenAllSecretsAsync(CancellationToken ct = default) => ReadAsync(async c =>
    {
        var rows = await c.QueryAsync<(string Kind, string Name, string Body)>(new CommandDefinition(
            "SELECT kind, name, body FROM model_entities WHERE body LIKE '%rigsecret:v1:%'", cancellationToken: ct)).ConfigureAwait(false);
        var n = 0;
        foreach (var (kind, name, body) in rows)
        {
            OpenBody(kind, name, body);
            n++;
        }
        foreach (var (id, spec) in await c.QueryAsync<(string Id, string Spec)>(new CommandDefinition(
            "SELECT id, spec FROM commands WHERE spec LIKE 'rigsecret:v1:%' LIMIT 1", cancellationToken: ct)).ConfigureAwait(false))
            OpenSpec(id, spec);
        return n;
    }, ct);

    /// <summary>Re-seal every sealed value (model rows of every revision, queued commands, rendered files) from
    /// <paramref name="from"/>'s keys to <paramref name="to"/>'s key, in one transaction: all or nothing.</summary>
    public async Task<SecretRotation> ResealAllAsync(SecretBox from, SecretBox to, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var rotation = await ResealAsync(from, to, ct).ConfigureAwait(false);
        if (Engine == StoreEngine.Sqlite)
        {
            // The old ciphertexts stay in SQLite's free pages and write-ahead log until they are rewritten: rewrite them
            // now, so that nothing sealed with the old key is left in the files.
            await using var c = await OpenConnectionAsync(ct).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition("PRAGMA wal_checkpoint(TRUNCATE)", cancellationToken: ct)).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition("VACUUM", cancellationToken: ct)).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition("PRAGMA wal_checkpoint(TRUNCATE)", cancellationToken: ct)).ConfigureAwait(false);
        }
        return rotation;
    }

    private Task<SecretRotation> ResealAsync(SecretBox from, SecretBox to, CancellationToken ct) =>
        WriteAsync(async (c, tx) =>
        {
            if (Engine == StoreEngine.Postgres)
                await c.ExecuteAsync("SELECT pg_advisory_xact_lock(7353412)", transaction: tx).ConfigureAwait(false);
            var values = 0;
            var rows = (await c.QueryAsync<(string Kind, string Name, long RevFrom, string Body)>(new CommandDefinition(
                "SELECT kind, name, rev_from, body FROM model_entities WHERE body LIKE '%rigsecret:v1:%'", transaction: tx, cancellationToken: ct)).ConfigureAwait(false)).ToList();
            foreach (var (kind, name, revFrom, body) in rows)
            {
                var resealed = MapSealed(kind, name, body, (identity, text) =>
                {
                    values++;
                    return to.Seal(from.Open(text, identity), identity);
                });
                if (resealed is not null)
                {
                    await c.ExecuteAsync(new CommandDefinition("UPDATE model_entities SET body = @resealed WHERE kind = @kind AND name = @name AND rev_from = @revFrom",
                        new { resealed, kind, name, revFrom }, tx, cancellationToken: ct)).ConfigureAwait(false);
                }
            }
            var commands = (await c.QueryAsync<(string Id, string Spec)>(new CommandDefinition(
                "SELECT id, spec FROM commands WHERE spec LIKE 'rigsecret:v1:%'", transaction: tx, cancellationToken: ct)).ConfigureAwait(false)).ToList();
            foreach (var (id, spec) in commands)
            {
                var identity = $"command/{id}";
                await c.ExecuteAsync(new CommandDefinition("UPDATE commands SET spec = @spec WHERE id = @id",
                    new { spec = to.Seal(from.Open(spec, identity), identity), id }, tx, cancellationToken: ct)).ConfigureAwait(false);
            }
            var files = (await c.QueryAsync<(string Sha256, string Content)>(new CommandDefinition(
                "SELECT sha256, content FROM rendered_files WHERE content LIKE 'rigsecret:v1:%'", transaction: tx, cancellationToken: ct)).ConfigureAwait(false)).ToList();
            foreach (var (sha, content) in files)
            {
                var identity = $"rendered/{sha}";
                await c.ExecuteAsync(new CommandDefinition("UPDATE rendered_files SET content = @content WHERE sha256 = @sha",
                    new { content = to.Seal(from.Open(content, identity), identity), sha }, tx, cancellationToken: ct)).ConfigureAwait(false);
            }
            return new SecretRotation(from.KeyId, to.KeyId, rows.Count, values, commands.Count, files.Count);
        }, ct);
}
