using System.Data.Common;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>The gateway's gauges: queue depth by state, active queues by state, rollouts by state, agents seen within
/// the check-in interval. They count rows, so they are read from the database, but never per measurement and never on
/// the exchange path: <see cref="RefreshAsync"/> (called by <c>/metrics</c> before the exporter collects) reads all of
/// them at most once per <see cref="MaxAge"/>, on a connection of its own; the instruments report that snapshot. A
/// refresh that fails (the database restarting) keeps the previous snapshot.</summary>
internal sealed class GatewayMetrics : IDisposable
{
    /// <summary>How old a snapshot may be before a scrape reads a new one: a scrape storm costs one read per 5 s.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    private static readonly string[] ActiveQueueStates = [Rig.Contracts.QueueStates.Pending, Rig.Contracts.QueueStates.Running, Rig.Contracts.QueueStates.Rebooting];
    private static readonly string[] OpenCommandStates = [Rig.Contracts.CommandStates.Pending, Rig.Contracts.CommandStates.Sent, Rig.Contracts.CommandStates.Rebooting];
    private static readonly string[] AllRolloutStates = [Rig.Contracts.RolloutStates.Running, Rig.Contracts.RolloutStates.Paused, Rig.Contracts.RolloutStates.Succeeded, Rig.Contracts.RolloutStates.Failed, Rig.Contracts.RolloutStates.Cancelled];

    private readonly Meter _meter = new(GatewayTelemetry.Name);
    private readonly RigStore _store;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _seenWindow;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile GaugeCounts? _counts;
    private long _readAt;

    public GatewayMetrics(RigStore store, Protocol.RigLimits limits, TimeProvider clock, ILogger logger)
    {
        _store = store;
        _clock = clock;
        _logger = logger;
        // An agent checks in every CheckInInterval; its last-seen time is written at most every LastSeenResolution.
        _seenWindow = limits.CheckInInterval + limits.LastSeenResolution;
        _meter.CreateObservableGauge("rig.gateway.queue.depth", () => ByState(c => c.Commands, OpenCommandStates),
            description: "Commands not yet finished in active queues, by state (pending, sent, rebooting)");
        _meter.CreateObservableGauge("rig.gateway.queues.active", () => ByState(c => c.Queues, ActiveQueueStates),
            description: "Active queues, by state (pending, running, rebooting)");
        _meter.CreateObservableGauge("rig.gateway.rollouts", () => ByState(c => c.Rollouts, AllRolloutStates),
            description: "Rollouts, by state");
        _meter.CreateObservableGauge<long>("rig.gateway.agents.seen", () => _counts is { } c ? [new Measurement<long>(c.AgentsSeen)] : Array.Empty<Measurement<long>>(),
            description: $"Agents seen within the last {(int)_seenWindow.TotalSeconds} s (check-in interval + last-seen resolution)");
    }

    /// <summary>Read the counts again when the snapshot is older than <see cref="MaxAge"/>.</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        if (Fresh())
            return;
        await _refresh.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Fresh())
                return;
            _counts = await _store.ReadGaugeCountsAsync(_clock.GetUtcNow() - _seenWindow, ct).ConfigureAwait(false);
            Interlocked.Exchange(ref _readAt, _clock.GetTimestamp());
        }
        catch (Exception e) when (e is DbException or TimeoutException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            ServerLog.GaugesStale(_logger, e.Message);
        }
        finally
        {
            _refresh.Release();
        }
    }

    private bool Fresh() => _counts is not null && _clock.GetElapsedTime(Interlocked.Read(ref _readAt)) < MaxAge;

    private IEnumerable<Measurement<long>> ByState(Func<GaugeCounts, IReadOnlyDictionary<string, long>> select, string[] known)
    {
        if (_counts is not { } counts)
            return [];
        var values = select(counts);
        // Every known state is reported, 0 included, so a series does not vanish when its count drops to nothing.
        return known.Union(values.Keys, StringComparer.Ordinal)
            .Select(state => new Measurement<long>(values.GetValueOrDefault(state), new KeyValuePair<string, object?>("state", state)));
    }

    public void Dispose()
    {
        _meter.Dispose();
        _refresh.Dispose();
    }
}
