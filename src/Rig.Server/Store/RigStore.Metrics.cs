using Dapper;

namespace Rig.Server.Store;

/// <summary>How many rows are in each state, for the gateway's gauges (<c>/metrics</c>).</summary>
internal sealed record GaugeCounts(IReadOnlyDictionary<string, long> Queues, IReadOnlyDictionary<string, long> Commands, IReadOnlyDictionary<string, long> Rollouts, long AgentsSeen);

/// <summary>A row of a count by state (a class with setters: Dapper converts the engine's integer type into it, and an
/// empty result has no column types to match a constructor with).</summary>
internal sealed class StateCount
{
    public string State { get; set; } = "";
    public long Count { get; set; }
}

internal sealed partial class RigStore
{
    /// <summary>Active queues and the commands still to run in them by state, rollouts by state, and agents seen since
    /// <paramref name="seenSince"/>: four counting reads on a connection of their own (never the group writer's), each
    /// answered from an index (active queues, rollouts by status) or a table of one row per device.</summary>
    internal Task<GaugeCounts> ReadGaugeCountsAsync(DateTimeOffset seenSince, CancellationToken ct) => ReadAsync(async c =>
    {
        static Dictionary<string, long> ByState(IEnumerable<StateCount> rows) => rows.ToDictionary(r => r.State, r => r.Count, StringComparer.Ordinal);
        var queues = await c.QueryAsync<StateCount>(new CommandDefinition(
            "SELECT status AS State, COUNT(*) AS Count FROM queues WHERE status IN ('pending', 'running', 'rebooting') GROUP BY status", cancellationToken: ct)).ConfigureAwait(false);
        var commands = await c.QueryAsync<StateCount>(new CommandDefinition(
            "SELECT c.status AS State, COUNT(*) AS Count FROM queues q JOIN commands c ON c.queue_id = q.id " +
            "WHERE q.status IN ('pending', 'running', 'rebooting') AND c.status IN ('pending', 'sent', 'rebooting') GROUP BY c.status", cancellationToken: ct)).ConfigureAwait(false);
        var rollouts = await c.QueryAsync<StateCount>(new CommandDefinition("SELECT status AS State, COUNT(*) AS Count FROM rollouts GROUP BY status", cancellationToken: ct)).ConfigureAwait(false);
        var seen = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM device_runtime WHERE last_seen_at >= @since",
            new { since = seenSince.ToUnixTimeMilliseconds() }, cancellationToken: ct)).ConfigureAwait(false);
        return new GaugeCounts(ByState(queues), ByState(commands), ByState(rollouts), seen);
    }, ct);
}
