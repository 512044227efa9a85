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

internal sealed record DeviceRuntimeRow(string Device, string? PokeHost, long? PokePort, string? AgentVersion, long? LastSeenAt, string RecordedState, string? Inventory)
{
    public DeviceRuntime ToRuntime() => new(Device, PokeHost, PokePort is { } p ? (int)p : null, AgentVersion,
        LastSeenAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null,
        JsonSerializer.Deserialize(RecordedState, ModelJson.Default.RecordedState) ?? Model.Planning.RecordedState.Empty,
        Inventory is null ? null : JsonSerializer.Deserialize(Inventory, RigJson.Default.InventoryReport));
}

public sealed partial class RigStore
{
    private const string RuntimeColumns = "device, poke_host AS PokeHost, poke_port AS PokePort, agent_version AS AgentVersion, last_seen_at AS LastSeenAt, recorded_state AS RecordedState, inventory";

    /// <summary>Record that a device's agent was seen, and where its poke listener is.</summary>
    public Task TouchDeviceAsync(string device, string? pokeHost, int? pokePort, string? agentVersion, CancellationToken ct = default) => WriteAsync((c, tx) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO device_runtime (device, poke_host, poke_port, agent_version, last_seen_at, recorded_state, inventory, updated_at) " +
            "VALUES (@device, @pokeHost, @pokePort, @agentVersion, @now, @empty, NULL, @now) " +
            "ON CONFLICT (device) DO UPDATE SET poke_host = excluded.poke_host, poke_port = excluded.poke_port, agent_version = excluded.agent_version, last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at",
            new { device, pokeHost, pokePort, agentVersion, now = NowMs, empty = EmptyState }, tx, cancellationToken: ct)), ct);

    /// <summary>Run-time facts of one device, or null if its agent never came.</summary>
    public Task<DeviceRuntime?> GetDeviceRuntimeAsync(string device, CancellationToken ct = default) => ReadAsync(async c =>
        (await c.QuerySingleOrDefaultAsync<DeviceRuntimeRow>(new CommandDefinition($"SELECT {RuntimeColumns} FROM device_runtime WHERE device = @device", new { device }, cancellationToken: ct)).ConfigureAwait(false))?.ToRuntime(), ct);

    /// <summary>Run-time facts of every device seen.</summary>
    public Task<IReadOnlyList<DeviceRuntime>> ListDeviceRuntimeAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<DeviceRuntime>>(async c =>
        [.. (await c.QueryAsync<DeviceRuntimeRow>(new CommandDefinition($"SELECT {RuntimeColumns} FROM device_runtime ORDER BY device", cancellationToken: ct)).ConfigureAwait(false)).Select(r => r.ToRuntime())], ct);

    /// <summary>Replace a device's recorded state (e.g. forget everything before a rebuild).</summary>
    public Task SetRecordedStateAsync(string device, RecordedState state, CancellationToken ct = default) => WriteAsync((c, tx) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO device_runtime (device, recorded_state, updated_at) VALUES (@device, @state, @now) " +
            "ON CONFLICT (device) DO UPDATE SET recorded_state = excluded.recorded_state, updated_at = excluded.updated_at",
            new { device, state = JsonSerializer.Serialize(state, ModelJson.Default.RecordedState), now = NowMs }, tx, cancellationToken: ct)), ct);

    /// <summary>Forget everything recorded about a device (decommissioned, or lost and about to be rebuilt).</summary>
    public Task ForgetDeviceAsync(string device, CancellationToken ct = default) => WriteAsync((c, tx) =>
        c.ExecuteAsync(new CommandDefinition("DELETE FROM device_runtime WHERE device = @device", new { device }, tx, cancellationToken: ct)), ct);

    private static readonly string EmptyState = JsonSerializer.Serialize(Model.Planning.RecordedState.Empty, ModelJson.Default.RecordedState);
}
