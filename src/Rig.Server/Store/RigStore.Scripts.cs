using System.Text.Json;
using Dapper;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Server.Store;

/// <summary>A stored script: a named, ordered list of primitive commands.</summary>
internal sealed record StoredScript(string Name, string Description, IReadOnlyList<CommandSpec> Commands, string CreatedBy, DateTimeOffset UpdatedAt);

internal sealed record ScriptRow(string Name, string Description, string Commands, string CreatedBy, long UpdatedAt);

internal sealed partial class RigStore
{
    /// <summary>Create or replace a stored script.</summary>
    public Task SaveScriptAsync(string name, string description, IReadOnlyList<CommandSpec> commands, string createdBy, CancellationToken ct = default)
    {
        var json = JsonSerializer.Serialize(commands.ToList(), RigJson.Default.ListCommandSpec);
        return WriteAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO scripts (name, description, commands, created_by, created_at, updated_at) VALUES (@name, @description, @json, @createdBy, @now, @now) " +
            "ON CONFLICT (name) DO UPDATE SET description = excluded.description, commands = excluded.commands, created_by = excluded.created_by, updated_at = excluded.updated_at",
            new { name, description, json, createdBy, now = NowMs }, tx, cancellationToken: ct)), ct);
    }

    /// <summary>A stored script, or null.</summary>
    public Task<StoredScript?> GetScriptAsync(string name, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QuerySingleOrDefaultAsync<ScriptRow>(new CommandDefinition(
            "SELECT name, description, commands, created_by AS CreatedBy, updated_at AS UpdatedAt FROM scripts WHERE name = @name", new { name }, cancellationToken: ct)).ConfigureAwait(false)) is { } r
            ? ToScript(r)
            : null, ct);

    /// <summary>Every stored script.</summary>
    public Task<IReadOnlyList<StoredScript>> ListScriptsAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<StoredScript>>(async c =>
        [.. (await c.QueryAsync<ScriptRow>(new CommandDefinition(
            "SELECT name, description, commands, created_by AS CreatedBy, updated_at AS UpdatedAt FROM scripts ORDER BY name", cancellationToken: ct)).ConfigureAwait(false)).Select(ToScript)], ct);

    /// <summary>Delete a stored script; false when it did not exist.</summary>
    public Task<bool> DeleteScriptAsync(string name, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM scripts WHERE name = @name", new { name }, tx, cancellationToken: ct)).ConfigureAwait(false) == 1, ct);

    private static StoredScript ToScript(ScriptRow r) =>
        new(r.Name, r.Description, JsonSerializer.Deserialize(r.Commands, RigJson.Default.ListCommandSpec) ?? [], r.CreatedBy, DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedAt));
}
