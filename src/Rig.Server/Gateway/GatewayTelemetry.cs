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

    /// <summary>Command results recorded, by outcome.</summary>
    public static readonly Counter<long> Results = Meter.CreateCounter<long>("rig.gateway.results", description: "Command results reported by agents");

    /// <summary>Pokes sent, by result (sent, unreachable).</summary>
    public static readonly Counter<long> Pokes = Meter.CreateCounter<long>("rig.gateway.pokes", description: "Pokes sent to agents");

    /// <summary>Enrollments, by result (enrolled, refused).</summary>
    public static readonly Counter<long> Enrollments = Meter.CreateCounter<long>("rig.gateway.enrollments", description: "Agent enrollments");

    /// <summary>Queues created.</summary>
    public static readonly Counter<long> Queues = Meter.CreateCounter<long>("rig.gateway.queues", description: "Command queues created");

    /// <summary>Time to answer one exchange (database transaction included).</summary>
    public static readonly Histogram<double> ExchangeDuration = Meter.CreateHistogram<double>("rig.gateway.exchange.duration", unit: "ms", description: "Time to answer an exchange");
}
