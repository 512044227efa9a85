using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Rig.Protocol;
using Rig.Server.Packages;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>The gateway: turns the model into per-device command queues, pokes agents, answers their
/// inquiries and records their results. Split by concern: exchange, enrollment, converge, poke.</summary>
public sealed partial class Gateway(RigStore store, BlobStore blobs, CertificateAuthority ca, RigLimits limits, ILogger<Gateway> logger, TimeProvider clock)
{
    // Certificate thumbprint -> (device, expiry, checked at), for certificates known to be valid and not revoked.
    // Revocation here removes the device's entries at once; entries are re-read after CertificateCacheTtl so a
    // revocation made by another gateway sharing the database takes effect within that time.
    private readonly ConcurrentDictionary<string, (string Device, DateTimeOffset NotAfter, long CheckedAt)> _certificates = new(StringComparer.Ordinal);

    // Device -> what was last written to device_runtime, so check-ins only write when something changed or the
    // last-seen time is stale (pokes, even forged ones, must not turn into a write per inquiry).
    private readonly ConcurrentDictionary<string, (string? Host, int? Port, string? Version, long At)> _touched = new(StringComparer.Ordinal);

    /// <summary>The database.</summary>
    public RigStore Store => store;

    /// <summary>The blob store.</summary>
    public BlobStore Blobs => blobs;

    /// <summary>The certificate authority.</summary>
    public CertificateAuthority Authority => ca;

    /// <summary>Timeouts and limits.</summary>
    public RigLimits Limits => limits;

    /// <summary>Plans (nothing sent).</summary>
    public Operations.PlanService Plans { get; } = new(store);

    /// <summary>Model vs reality (read-only).</summary>
    public Operations.DriftService Drift { get; } = new(store, limits);

    /// <summary>The clock.</summary>
    public TimeProvider Clock => clock;

    /// <summary>Paced pokes for many devices (set by the host).</summary>
    public PokeScheduler? Pokes { get; set; }
}

/// <summary>Source-generated log messages with stable event ids (operators grep them).</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Device {Device} enrolled, certificate {Thumbprint}")]
    public static partial void Enrolled(ILogger logger, string device, string thumbprint);

    [LoggerMessage(1002, LogLevel.Warning, "Enrollment refused for device {Device}: {Reason}")]
    public static partial void EnrollRefused(ILogger logger, string device, string reason);

    [LoggerMessage(1101, LogLevel.Debug, "Device {Device} {Reason}: answered {Answer} {CommandId}")]
    public static partial void Exchanged(ILogger logger, string device, string reason, string answer, string? commandId);

    [LoggerMessage(1102, LogLevel.Warning, "Device {Device} refused: {Code} {Message}")]
    public static partial void ExchangeRefused(ILogger logger, string device, string code, string message);

    [LoggerMessage(1103, LogLevel.Warning, "Command {CommandId} on {Device} failed: {Error}")]
    public static partial void CommandFailed(ILogger logger, string device, string commandId, string? error);

    [LoggerMessage(1105, LogLevel.Information, "Result of command {CommandId} on {Device} ({Outcome}) is a replay of one already recorded: ignored")]
    public static partial void ResultReplayed(ILogger logger, string device, string commandId, string outcome);

    [LoggerMessage(1104, LogLevel.Warning, "Inventory from {Device} dropped (the rest of the exchange is processed): {Problem}")]
    public static partial void InventoryDropped(ILogger logger, string device, string problem);

    [LoggerMessage(1201, LogLevel.Information, "Queue {QueueId} created for {Device}: {Count} commands")]
    public static partial void QueueCreated(ILogger logger, string device, string queueId, int count);

    [LoggerMessage(1301, LogLevel.Debug, "Poked {Device} at {Endpoint}")]
    public static partial void Poked(ILogger logger, string device, string endpoint);

    [LoggerMessage(1302, LogLevel.Information, "Poke of {Device} at {Endpoint} failed: {Error}")]
    public static partial void PokeFailed(ILogger logger, string device, string endpoint, string error);

    [LoggerMessage(1303, LogLevel.Information, "Poking {Count} devices whose queues were unfinished when the gateway started")]
    public static partial void PokingUnfinished(ILogger logger, int count);

    [LoggerMessage(1901, LogLevel.Debug, "Gauges for /metrics not refreshed (the previous values are reported): {Error}")]
    public static partial void GaugesStale(ILogger logger, string error);

    [LoggerMessage(1401, LogLevel.Warning, "Client certificate refused: {Reason}")]
    public static partial void CertificateRefused(ILogger logger, string reason);
}
