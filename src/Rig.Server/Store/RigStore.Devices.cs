using System.Text.Json;
using Dapper;
using Rig.Model;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Server.Store;

/// <summary>What the gateway knows about a device at run time: where to poke it, when it was last seen, and
/// the state it has recorded for it.</summary>
public sealed record DeviceRuntime(string Device, string? PokeHost, int? PokePort, string? AgentVersion, DateTimeOffset? LastSeenAt, RecordedState Recorded, InventoryReport? Inventory);

internal sealed record DeviceRuntimeRow(string Device, string? PokeHost, long? PokePort, string? AgentVersion, long? LastSeenAt, string? Inventory)
{
    public DeviceRuntime ToRuntime(RecordedState recorded) => new(Device, PokeHost, PokePort is { } p ? (int)p : null, AgentVersion,
        LastSeenAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null,
        recorded,
        Inventory is null ? null : JsonSerializer.Deserialize(Inventory, RigJson.Default.InventoryReport));
}

internal sealed record RecordedItemRow(string Device, string Kind, string Key, string Body);

public sealed partial class RigStore
{
    private const string RuntimeColumns = "device, poke_host AS PokeHost, poke_port AS PokePort, agent_version AS AgentVersion, last_seen_at AS LastSeenAt, inventory";

    /// <summary>Record that a device's agent was seen, and where its poke listener is.</summary>
    public Task TouchDeviceAsync(string device, string? pokeHost, int? pokePort, string? agentVersion, CancellationToken ct = default) => WriteAsync((c, tx) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO device_runtime (device, poke_host, poke_port, agent_version, last_seen_at, inventory, updated_at) " +
            "VALUES (@device, @pokeHost, @pokePort, @agentVersion, @now, NULL, @now) " +
            "ON CONFLICT (device) DO UPDATE SET poke_host = excluded.poke_host, poke_port = excluded.poke_port, agent_version = excluded.agent_version, last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at",
            new { device, pokeHost, pokePort, agentVersion, now = NowMs }, tx, cancellationToken: ct)), ct);

    /// <summary>Run-time facts of one device, or null if its agent never came.</summary>
    public Task<DeviceRuntime?> GetDeviceRuntimeAsync(string device, CancellationToken ct = default) => ReadAsync(async c =>
    {
        var row = await c.QuerySingleOrDefaultAsync<DeviceRuntimeRow>(new CommandDefinition($"SELECT {RuntimeColumns} FROM device_runtime WHERE device = @device", new { device }, cancellationToken: ct)).ConfigureAwait(false);
        var recorded = await RecordedStateAsync(new Statements(c, null), device, ct).ConfigureAwait(false);
        // Results can be recorded for a device whose agent never checked in (its runtime row comes with the check-in).
        return row?.ToRuntime(recorded) ?? (IsEmpty(recorded) ? null : new DeviceRuntimeRow(device, null, null, null, null, null).ToRuntime(recorded));
    }, ct);

    /// <summary>Run-time facts of every device seen.</summary>
    public Task<IReadOnlyList<DeviceRuntime>> ListDeviceRuntimeAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<DeviceRuntime>>(async c =>
    {
        var items = (await c.QueryAsync<RecordedItemRow>(new CommandDefinition("SELECT device, kind, key, body FROM recorded_items", cancellationToken: ct)).ConfigureAwait(false))
            .GroupBy(i => i.Device, StringComparer.Ordinal).ToDictionary(g => g.Key, g => ToState(g), StringComparer.Ordinal);
        var rows = (await c.QueryAsync<DeviceRuntimeRow>(new CommandDefinition($"SELECT {RuntimeColumns} FROM device_runtime ORDER BY device", cancellationToken: ct)).ConfigureAwait(false)).ToDictionary(r => r.Device, StringComparer.Ordinal);
        return [.. rows.Keys.Union(items.Keys).Order(StringComparer.Ordinal)
            .Select(d => (rows.GetValueOrDefault(d) ?? new DeviceRuntimeRow(d, null, null, null, null, null)).ToRuntime(items.GetValueOrDefault(d) ?? RecordedState.Empty))];
    }, ct);

    /// <summary>The recorded state of a device, from its item rows.</summary>
    internal static async Task<RecordedState> RecordedStateAsync(Statements s, string device, CancellationToken ct) =>
        ToState(await s.QueryAsync<RecordedItemRow>("SELECT device, kind, key, body FROM recorded_items WHERE device = @device", new { device }, ct).ConfigureAwait(false));

    private static bool IsEmpty(RecordedState state) => state.Packages.Count == 0 && state.Files.Count == 0 && state.Services.Count == 0 && state.Network.Count == 0;

    private static RecordedState ToState(IEnumerable<RecordedItemRow> rows)
    {
        var packages = new Dictionary<string, RecordedPackage>(StringComparer.Ordinal);
        var files = new Dictionary<string, RecordedFile>(StringComparer.Ordinal);
        var services = new Dictionary<string, RecordedService>(StringComparer.Ordinal);
        var network = new Dictionary<string, RecordedNetwork>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            switch (row.Kind)
            {
                case "package": packages[row.Key] = JsonSerializer.Deserialize(row.Body, ModelJson.Default.RecordedPackage)!; break;
                case "file": files[row.Key] = JsonSerializer.Deserialize(row.Body, ModelJson.Default.RecordedFile)!; break;
                case "service": services[row.Key] = JsonSerializer.Deserialize(row.Body, ModelJson.Default.RecordedService)!; break;
                case "network": network[row.Key] = JsonSerializer.Deserialize(row.Body, ModelJson.Default.RecordedNetwork)!; break;
            }
        }
        return new RecordedState { Packages = packages, Files = files, Services = services, Network = network };
    }

    /// <summary>Replace a device's recorded items (inside a transaction).</summary>
    internal static async Task ReplaceRecordedStateAsync(Statements s, string device, RecordedState state, CancellationToken ct)
    {
        await s.ExecuteAsync("DELETE FROM recorded_items WHERE device = @device", new { device }, ct).ConfigureAwait(false);
        var rows = state.Packages.Values.Select(p => new { device, kind = "package", key = p.Name, body = JsonSerializer.Serialize(p, ModelJson.Default.RecordedPackage) })
            .Concat(state.Files.Values.Select(f => new { device, kind = "file", key = f.Path, body = JsonSerializer.Serialize(f, ModelJson.Default.RecordedFile) }))
            .Concat(state.Services.Values.Select(s => new { device, kind = "service", key = s.Name, body = JsonSerializer.Serialize(s, ModelJson.Default.RecordedService) }))
            .Concat(state.Network.Values.Select(n => new { device, kind = "network", key = n.Interface, body = JsonSerializer.Serialize(n, ModelJson.Default.RecordedNetwork) }))
            .ToList();
        if (rows.Count > 0)
            await s.ExecuteAsync("INSERT INTO recorded_items (device, kind, key, body) VALUES (@device, @kind, @key, @body)", rows, ct).ConfigureAwait(false);
    }

    /// <summary>Replace a device's recorded state (e.g. forget everything before a rebuild).</summary>
    public Task SetRecordedStateAsync(string device, RecordedState state, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync(new CommandDefinition("INSERT INTO device_runtime (device, updated_at) VALUES (@device, @now) ON CONFLICT (device) DO UPDATE SET updated_at = excluded.updated_at",
            new { device, now = NowMs }, tx, cancellationToken: ct)).ConfigureAwait(false);
        await ReplaceRecordedStateAsync(new Statements(c, tx), device, state, ct).ConfigureAwait(false);
        return 0;
    }, ct);

    /// <summary>Forget everything recorded about a device (decommissioned, or lost and about to be rebuilt).</summary>
    public Task ForgetDeviceAsync(string device, CancellationToken ct = default) => WriteAsync(async (c, tx) =>
    {
        await c.ExecuteAsync(new CommandDefinition("DELETE FROM recorded_items WHERE device = @device", new { device }, tx, cancellationToken: ct)).ConfigureAwait(false);
        return await c.ExecuteAsync(new CommandDefinition("DELETE FROM device_runtime WHERE device = @device", new { device }, tx, cancellationToken: ct)).ConfigureAwait(false);
    }, ct);

}
