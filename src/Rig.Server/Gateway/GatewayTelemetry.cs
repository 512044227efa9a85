using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Rig.Server.Gateway;

/// <summary>Metrics and traces of the gateway (STYLE: dashboards read metrics, operators follow traces). Meter
/// and activity source are both named <c>Rig.Gateway</c>; `dotnet-counters monitor -n rig --counters Rig.Gateway`
/// shows them live.</summary>
internal static class GatewayTelemetry
{
    public const string Name = "Rig.Gateway";

    public static readonly ActivitySource Activities = new(Name);
    private static readonly Meter Meter = new(Name);

    /// <summary>Exchanges answered, by answer (Command, NoCommand, RebootAcknowledged, refused).</summary>
    public static readonly Counter<long> Exchanges = Meter.CreateCounter<long>("rig.gateway.exchanges", description: "Agent exchanges answered");

    /// <summary>Command results recorded, by outcome (Succeeded, Failed, Rebooting); replays are not counted here.</summary>
    public static readonly Counter<long> Results = Meter.CreateCounter<long>("rig.gateway.results", description: "Command results recorded, by outcome");

    /// <summary>Results reported again for commands already finished (an agent repeats what it has not seen
    /// acknowledged, e.g. after a crash): ignored.</summary>
    public static readonly Counter<long> ResultsReplayed = Meter.CreateCounter<long>("rig.gateway.results.replayed", description: "Results reported again for commands already recorded, ignored");

    /// <summary>Pokes sent, by result (sent, unreachable).</summary>
    public static readonly Counter<long> Pokes = Meter.CreateCounter<long>("rig.gateway.pokes", description: "Pokes sent to agents");

    /// <summary>Enrollments, by result (enrolled, refused).</summary>
    public static readonly Counter<long> Enrollments = Meter.CreateCounter<long>("rig.gateway.enrollments", description: "Agent enrollments");

    /// <summary>Queues created.</summary>
    public static readonly Counter<long> Queues = Meter.CreateCounter<long>("rig.gateway.queues", description: "Command queues created");

    /// <summary>Time to answer one exchange (database transaction included).</summary>
    public static readonly Histogram<double> ExchangeDuration = Meter.CreateHistogram<double>("rig.gateway.exchange.duration", unit: "ms", description: "Time to answer an exchange");

    private static long _agentSessions;

    /// <summary>Agent connections open on the agent listener (a session: one mutual-TLS connection carrying an agent's
    /// exchanges and downloads until it is idle for KeepAliveIdle). Observed from a count kept here, so it is right even
    /// for connections opened before a meter listener started.</summary>
    public static readonly ObservableUpDownCounter<long> AgentSessions = Meter.CreateObservableUpDownCounter("rig.gateway.agent.sessions",
        () => Interlocked.Read(ref _agentSessions), description: "Agent connections open (TLS established)");

    /// <summary>An agent connection opened (+1) or closed (-1).</summary>
    public static void AgentSession(int change) => Interlocked.Add(ref _agentSessions, change);

    /// <summary>One group commit of the store: the transaction of a batch of exchanges, commit included (what every
    /// exchange in it waited for), by path (fast, careful after a failure).</summary>
    public static readonly Histogram<double> StoreCommitDuration = Meter.CreateHistogram<double>("rig.store.commit.duration", unit: "ms", description: "Time of one group commit of exchanges, commit included",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] });

    /// <summary>Exchanges per group commit (how much the group writer batches under load).</summary>
    public static readonly Histogram<long> StoreCommitExchanges = Meter.CreateHistogram<long>("rig.store.commit.exchanges", description: "Exchanges in one group commit",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] });

    /// <summary>SQL statements the store ran (<see cref="Store.StoreCounters"/>): with round trips and group commits, how much
    /// database work an exchange costs.</summary>
    public static readonly ObservableCounter<long> StoreStatements = Meter.CreateObservableCounter("rig.store.statements",
        () => Store.StoreCounters.Statements, description: "SQL statements run by the store's exchange and queue paths");

    /// <summary>Database round trips of those statements (a pipelined PostgreSQL batch is one).</summary>
    public static readonly ObservableCounter<long> StoreRoundTrips = Meter.CreateObservableCounter("rig.store.round_trips",
        () => Store.StoreCounters.RoundTrips, description: "Database round trips of the store's statements");

    /// <summary>Operator actions through the API, by action and HTTP status.</summary>
    public static readonly Counter<long> OperatorActions = Meter.CreateCounter<long>("rig.gateway.operator.actions", description: "Operator actions through the API");
}
