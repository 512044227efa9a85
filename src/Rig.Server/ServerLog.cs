using Microsoft.Extensions.Logging;

namespace Rig.Server;

/// <summary>Every log event of the gateway, source-generated, each with a stable event id and a name (the method's):
/// operators grep the ids, so an id is never reused for another meaning. docs/OPERATIONS.md lists them all (a test
/// keeps the two in step). Ranges: 10xx enrollment, 11xx exchanges, 12xx queues, 13xx pokes, 14xx trust, 15xx rollouts,
/// 16xx startup, 17xx package fetch, 18xx operator audit, 19xx metrics.</summary>
internal static partial class ServerLog
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

    [LoggerMessage(1104, LogLevel.Warning, "Inventory from {Device} dropped (the rest of the exchange is processed): {Problem}")]
    public static partial void InventoryDropped(ILogger logger, string device, string problem);

    [LoggerMessage(1105, LogLevel.Information, "Result of command {CommandId} on {Device} ({Outcome}) is a replay of one already recorded: ignored")]
    public static partial void ResultReplayed(ILogger logger, string device, string commandId, string outcome);

    [LoggerMessage(1201, LogLevel.Information, "Queue {QueueId} created for {Device}: {Count} commands")]
    public static partial void QueueCreated(ILogger logger, string device, string queueId, int count);

    [LoggerMessage(1301, LogLevel.Debug, "Poked {Device} at {Endpoint}")]
    public static partial void Poked(ILogger logger, string device, string endpoint);

    [LoggerMessage(1302, LogLevel.Information, "Poke of {Device} at {Endpoint} failed: {Error}")]
    public static partial void PokeFailed(ILogger logger, string device, string endpoint, string error);

    [LoggerMessage(1303, LogLevel.Information, "Poking {Count} devices whose queues were unfinished when the gateway started")]
    public static partial void PokingUnfinished(ILogger logger, int count);

    [LoggerMessage(1401, LogLevel.Warning, "Client certificate refused: {Reason}")]
    public static partial void CertificateRefused(ILogger logger, string reason);

    [LoggerMessage(1501, LogLevel.Warning, "Rollout step failed; retrying at the next tick")]
    public static partial void RolloutStepFailed(ILogger logger, Exception error);

    [LoggerMessage(1502, LogLevel.Warning, "Rollout {Rollout} paused: {Why}")]
    public static partial void RolloutPaused(ILogger logger, string rollout, string why);

    [LoggerMessage(1503, LogLevel.Information, "Device {Device} decommissioned: removed from the model, certificates revoked")]
    public static partial void Decommissioned(ILogger logger, string device);

    [LoggerMessage(1504, LogLevel.Warning, "Queue of {Device} failed: no return from its reboot within {Timeout}")]
    public static partial void RebootTimedOut(ILogger logger, string device, TimeSpan timeout);

    [LoggerMessage(1505, LogLevel.Warning, "Rollout {Rollout}: device {Device} failed: {Why}")]
    public static partial void RolloutDeviceFailed(ILogger logger, string rollout, string device, string why);

    [LoggerMessage(1601, LogLevel.Warning, "The database is not available yet ({Error}); retry {Attempt} in {Delay} ms")]
    public static partial void DatabaseNotReady(ILogger logger, string error, int attempt, int delay);

    [LoggerMessage(1602, LogLevel.Information, "Read the dependencies of {Count} package(s) imported before the catalog kept them.")]
    public static partial void PackageRelationsFilled(ILogger logger, int count);

    [LoggerMessage(1603, LogLevel.Warning, "Could not read the dependencies of {Package}; plans check nothing for it. Re-import it with `rig package add`.")]
    public static partial void PackageRelationsUnreadable(ILogger logger, string package);

    [LoggerMessage(1701, LogLevel.Information, "Package fetch of {Packages} for {Distro}/{Architecture} over {Devices} device(s) from {Mirror}")]
    public static partial void FetchStarted(ILogger logger, string packages, string distro, string architecture, int devices, string mirror);

    [LoggerMessage(1702, LogLevel.Information, "Package lists of {Distro}/{Architecture} refreshed from {Mirror}")]
    public static partial void FetchListsRefreshed(ILogger logger, string distro, string architecture, string mirror);

    [LoggerMessage(1703, LogLevel.Information, "Package fetch for {Distro}/{Architecture} done: {Added} added, {Present} already present, {Failed} not imported, {Milliseconds} ms")]
    public static partial void FetchFinished(ILogger logger, string distro, string architecture, int added, int present, int failed, long milliseconds);

    [LoggerMessage(1704, LogLevel.Warning, "Package fetch for {Distro}/{Architecture} failed ({Code}): {Message}")]
    public static partial void FetchFailed(ILogger logger, string distro, string architecture, string code, string message);

    [LoggerMessage(1801, LogLevel.Information, "Operator {OperatorName} {Action} {Target}: {Status} revision={Revision} rollout={Rollout} error={Error} message={Message}")]
    public static partial void OperatorAction(ILogger logger, string operatorName, string action, string target, int status, string revision, string rollout, string error, string message);

    [LoggerMessage(1802, LogLevel.Information, "Audit log head: seq {Seq} hash {Hash}")]
    public static partial void AuditHead(ILogger logger, long seq, string hash);

    [LoggerMessage(1803, LogLevel.Error, "Operator {OperatorName} {Action} {Target} was done but its audit entry could not be appended: {Error}")]
    public static partial void AuditAppendFailed(ILogger logger, string operatorName, string action, string target, string error);

    [LoggerMessage(1804, LogLevel.Warning, "The audit log head could not be read: {Error}")]
    public static partial void AuditHeadUnreadable(ILogger logger, string error);

    [LoggerMessage(1901, LogLevel.Debug, "Gauges for /metrics not refreshed (the previous values are reported): {Error}")]
    public static partial void GaugesStale(ILogger logger, string error);
}

/// <summary>Event ids of the gateway's lines that are not written through <see cref="ServerLog"/>.</summary>
internal static class ServerEventIds
{
    /// <summary>The start-up line <c>rig gateway listening: ...</c>, written by <c>rig server run</c> at every log level
    /// (tests and scripts read the bound ports from it).</summary>
    public const int Listening = 1000;
}
