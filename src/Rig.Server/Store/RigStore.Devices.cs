using System.Text.Json;
using Dapper;
using Rig.Model;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Server.Store;

/// <summary>What the gateway knows about a device at run time: where to poke it, when it was last seen, and
/// the state it has recorded for it.</summary>
/// <param name="Inventory">The last inventory the device sent, or null when it sent none or it was not loaded
/// (<see cref="RigStore.ListDeviceRuntimeAsync(IReadOnlyCollection{string}?, bool, CancellationToken)"/>).</param>
internal sealed record DeviceRuntime(string Device, string? PokeHost, int? PokePort, string? AgentVersion, DateTimeOffset? LastSeenAt, RecordedState Recorded, InventoryReport? Inventory)
{
    /// <summary>Free bytes on the device root at the last inventory (kept apart: a plan needs it without the inventory).</summary>
    public long? FreeBytes { get; init; }

    /// <summary>The device's native packages with their relations (last inventory), or null when unknown; read for
    /// plans without the rest of the inventory (<see cref="RigStore.ListDeviceRuntimeAsync(IReadOnlyCollection{string}?, bool, CancellationToken, bool)"/>).</summary>
    public IReadOnlyList<NativePackage>? Native { get; init; }

    /// <summary>Why the last inventory the device sent was dropped (over the limits, control characters), or null
    /// when the last one was stored.</summary>
    public string? InventoryNote { get; init; }
}

internal sealed record DeviceRuntimeRow(string Device, string? PokeHost, long? PokePort, string? AgentVersion, long? LastSeenAt, long? InventoryCollectedAt, long? FreeBytes, string? InventoryNote, string? Inventory)
{
    /// <summary>A row read without its inventory (plans, device lists).</summary>
    public DeviceRuntimeRow(string device, string? pokeHost, long? pokePort, string? agentVersion, long? lastSeenAt, long? inventoryCollectedAt, long? freeBytes, string? inventoryNote)
        : this(device, pokeHost, pokePort, agentVersion, lastSeenAt, inventoryCollectedAt, freeBytes, inventoryNote, null)
    {
    }

    public static DeviceRuntimeRow Empty(string device) => new(device, null, null, null, null, null, null, null, null);

    public DeviceRuntime ToRuntime(RecordedState recorded)
    {
        var inventory = Inventory is null ? null : JsonSerializer.Deserialize(Inventory, RigJson.Default.InventoryReport);
        // The stored JSON is rewritten only when the inventory changed: when it was collected and the free space are
        // kept in their own columns, updated on every check-in.
        if (inventory is not null)
            inventory = inventory with { CollectedAt = InventoryCollectedAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : inventory.CollectedAt, FreeBytes = FreeBytes ?? inventory.FreeBytes };
        return new(Device, PokeHost, PokePort is { } p ? (int)p : null, AgentVersion, LastSeenAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null, recorded, inventory)
        {
            FreeBytes = FreeBytes ?? inventory?.FreeBytes,
            InventoryNote = InventoryNote,
            Native = inventory?.NativePackages,
        };
    }
}

internal sealed record RecordedItemRow(string Device, string Kind, string Key, string Body);

internal sealed partial class RigStore
{
    private const string RuntimeColumns = "device, poke_host AS PokeHost, poke_port AS PokePort, agent_version AS AgentVersion, last_seen_at AS LastSeenAt, " +
        "inventory_collected_at AS InventoryCollectedAt, inventory_free_bytes AS FreeBytes, inventory_note AS InventoryNote";

    // A device filter longer than this reads every device and filters in memory (bounded statement size).
    private const int MaxDeviceFilter = 500;

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
        var row = await c.QuerySingleOrDefaultAsync<DeviceRuntimeRow>(new CommandDefinition($"SELECT {RuntimeColumns}, inventory FROM device_runtime WHERE device = @device", new { device }, cancellationToken: ct)).ConfigureAwait(false);
        var recorded = await RecordedStateAsync(new Statements(c, null), device, ct).ConfigureAwait(false);
        // Results can be recorded for a device whose agent never checked in (its runtime row comes with the check-in).
        return row?.ToRuntime(recorded) ?? (IsEmpty(recorded) ? null : DeviceRuntimeRow.Empty(device).ToRuntime(recorded));
    }, ct);

    /// <summary>Run-time facts of every device seen, with their inventories.</summary>
    public Task<IReadOnlyList<DeviceRuntime>> ListDeviceRuntimeAsync(CancellationToken ct = default) => ListDeviceRuntimeAsync(null, withInventory: true, ct);

    /// <summary>Run-time facts of <paramref name="devices"/> (every device seen when null; names the gateway does not
    /// know are left out). Without <paramref name="withInventory"/> the inventories (a few hundred KB each on real
    /// devices) are not read: <see cref="DeviceRuntime.Inventory"/> is null, <see cref="DeviceRuntime.FreeBytes"/>
    /// is still there. Plans need only the recorded state; drift needs the inventories of the devices it compares.</summary>
    public Task<IReadOnlyList<DeviceRuntime>> ListDeviceRuntimeAsync(IReadOnlyCollection<string>? devices, bool withInventory, CancellationToken ct = default, bool withNative = false) => ReadAsync<IReadOnlyList<DeviceRuntime>>(async c =>
    {
        var filter = devices is not { Count: <= MaxDeviceFilter } ? "" : Engine == StoreEngine.Postgres ? " WHERE device = ANY(@devices)" : " WHERE device IN @devices";
        var param = new { devices = devices?.Distinct(StringComparer.Ordinal).ToArray() ?? [] };
        var items = (await c.QueryAsync<RecordedItemRow>(new CommandDefinition($"SELECT device, kind, key, body FROM recorded_items{filter}", param, cancellationToken: ct)).ConfigureAwait(false))
            .GroupBy(i => i.Device, StringComparer.Ordinal).ToDictionary(g => g.Key, g => ToState(g), StringComparer.Ordinal);
        var rows = (await c.QueryAsync<DeviceRuntimeRow>(new CommandDefinition($"SELECT {RuntimeColumns}{(withInventory ? ", inventory" : "")} FROM device_runtime{filter} ORDER BY device", param, cancellationToken: ct)).ConfigureAwait(false))
            .ToDictionary(r => r.Device, StringComparer.Ordinal);
        var wanted = devices is null ? null : new HashSet<string>(devices, StringComparer.Ordinal);
        var native = new Dictionary<string, IReadOnlyList<NativePackage>>(StringComparer.Ordinal);
        if (withNative)
        {
            // Devices of one kind report the same package set: each distinct list is parsed once.
            var parsed = new Dictionary<string, IReadOnlyList<NativePackage>>(StringComparer.Ordinal);
            var nativeFilter = filter.Length == 0 ? " WHERE native_packages IS NOT NULL" : filter + " AND native_packages IS NOT NULL";
            foreach (var (device, json) in await c.QueryAsync<(string, string)>(new CommandDefinition($"SELECT device, native_packages FROM device_runtime{nativeFilter}", param, cancellationToken: ct)).ConfigureAwait(false))
            {
                if (!parsed.TryGetValue(json, out var list))
                    parsed[json] = list = JsonSerializer.Deserialize(json, RigJson.Default.IReadOnlyListNativePackage) ?? [];
                native[device] = list;
            }
        }
        return [.. rows.Keys.Union(items.Keys).Where(d => wanted is null || wanted.Contains(d)).Order(StringComparer.Ordinal)
            .Select(d => (rows.GetValueOrDefault(d) ?? DeviceRuntimeRow.Empty(d)).ToRuntime(items.GetValueOrDefault(d) ?? RecordedState.Empty) with { Native = native.GetValueOrDefault(d) })];
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

    /// <summary>Write only the recorded items that differ between <paramref name="before"/> (what the rows hold) and
    /// <paramref name="after"/>: an unchanged device costs no write.</summary>
    internal static async Task UpdateRecordedStateAsync(Statements s, string device, RecordedState before, RecordedState after, CancellationToken ct)
    {
        var old = Rows(device, before).ToDictionary(r => (r.Kind, r.Key));
        var now = Rows(device, after).ToList();
        var gone = old.Keys.Except(now.Select(r => (r.Kind, r.Key))).Select(k => new { device, kind = k.Kind, key = k.Key }).ToList();
        var changed = now.Where(r => !old.TryGetValue((r.Kind, r.Key), out var o) || o.Body != r.Body).Select(r => new { device, kind = r.Kind, key = r.Key, body = r.Body }).ToList();
        if (gone.Count > 0)
            await s.ExecuteAsync("DELETE FROM recorded_items WHERE device = @device AND kind = @kind AND key = @key", gone, ct).ConfigureAwait(false);
        if (changed.Count > 0)
            await s.ExecuteAsync("INSERT INTO recorded_items (device, kind, key, body) VALUES (@device, @kind, @key, @body) ON CONFLICT (device, kind, key) DO UPDATE SET body = excluded.body", changed, ct).ConfigureAwait(false);
    }

    private static IEnumerable<RecordedItemRow> Rows(string device, RecordedState state) =>
        state.Packages.Values.Select(p => new RecordedItemRow(device, "package", p.Name, JsonSerializer.Serialize(p, ModelJson.Default.RecordedPackage)))
            .Concat(state.Files.Values.Select(f => new RecordedItemRow(device, "file", f.Path, JsonSerializer.Serialize(f, ModelJson.Default.RecordedFile))))
            .Concat(state.Services.Values.Select(v => new RecordedItemRow(device, "service", v.Name, JsonSerializer.Serialize(v, ModelJson.Default.RecordedService))))
            .Concat(state.Network.Values.Select(n => new RecordedItemRow(device, "network", n.Interface, JsonSerializer.Serialize(n, ModelJson.Default.RecordedNetwork))));

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
