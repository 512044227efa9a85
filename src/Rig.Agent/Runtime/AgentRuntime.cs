using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Rig.Agent.Components;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Platform.Sandbox;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Protocol.Errors;

namespace Rig.Agent.Runtime;

/// <summary>How a run of the agent ended.</summary>
internal enum AgentExit
{
    /// <summary>Stopped (signal).</summary>
    Stopped = 0,
    /// <summary>A reboot was acknowledged; in the sandbox the process exits with <see cref="ProtocolInfo.RebootExitCode"/>.</summary>
    Reboot = ProtocolInfo.RebootExitCode,
    /// <summary>The agent replaced its own program (an upgrade of its package) and reported it; it exits with
    /// <see cref="ProtocolInfo.RestartExitCode"/> so its supervisor starts the new version.</summary>
    Restart = ProtocolInfo.RestartExitCode,
}

/// <summary>The agent's main loop. It waits for a trigger (poke, poll or check-in interval, start-up), then
/// runs one session: a NEW mTLS connection to its configured gateway, inquire, run each command once
/// (journal first), report the result with the next inquiry, until "no command". Transport failures are
/// retried with jittered exponential backoff; the same result is reported again until acknowledged.</summary>
internal sealed class AgentRuntime : IAsyncDisposable
{
    private readonly AgentPaths _paths;
    private readonly AgentConfig _config;
    private readonly RigLimits _limits;
    private readonly AgentLog _log;
    private readonly Journal _journal;
    private readonly IPlatform _platform;
    private readonly CommandExecutor _executor;
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2 _ca;
    private readonly Uri _gateway;
    private readonly TimeProvider _clock;
    private readonly SelfImage _self = SelfImage.Capture();
    private bool _replaced; // an install replaced this agent's program: report, then exit to be restarted
    private readonly Channel<InquiryReason> _triggers = Channel.CreateBounded<InquiryReason>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Backoff _backoff;
    private PokeListener? _pokes;
    private IReadOnlyList<CommandResult>? _unreported;
    private int _emptyPokes;
    private int _commandsThisSession;
    private int _commandsSinceInventory;
    private long _lastInventoryAt = long.MinValue;
    private long _unreachableSince; // clock timestamp of the first failed attempt of the current outage, or 0
    private bool _unreachableSaid;

    /// <summary>Load an enrolled agent from its state directory.</summary>
    /// <param name="paths">The state directory.</param>
    /// <param name="limits">Timeouts and limits.</param>
    /// <param name="verbose">Log debug lines too.</param>
    /// <param name="jsonLog">Log one JSON object per line instead of text.</param>
    /// <param name="clock">Where the agent's timing comes from (inventory due, poke spacing, outages); the system's by default.</param>
    public AgentRuntime(AgentPaths paths, RigLimits limits, bool verbose, bool jsonLog = false, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        _clock = clock ?? TimeProvider.System;
        _paths = paths;
        _limits = limits;
        _config = AgentJson.LoadConfig(paths);
        _log = new AgentLog(_config.Device, verbose, jsonLog);
        if (!paths.IsEnrolled)
            throw new AgentException($"The state directory '{paths.Root}' has no certificate; run `rig agent enroll` first.");
        _certificate = X509Certificate2.CreateFromPemFile(paths.Certificate, paths.Key);
        _ca = X509Certificate2.CreateFromPem(File.ReadAllText(paths.Ca));
        _gateway = new Uri(_config.GatewayUrl);
        _platform = _config.Platform switch
        {
            "sandbox" => new SandboxPlatform(_config.SandboxRoot ?? Path.Combine(paths.Root, "root"), _config.Device, _config.AllowedRoots, limits),
            "linux" => new LinuxPlatform(_config.Root, null, _config.AllowedRoots, limits, _gateway, _config.NetworkLive),
            _ => throw new AgentException($"Platform '{_config.Platform}' is not available in this agent; use 'sandbox' or 'linux'."),
        };
        _journal = new Journal(paths.Journal, _clock);
        _backoff = new Backoff(limits);
        _executor = new CommandExecutor(_platform, paths, limits, _backoff, _log);
        Directory.CreateDirectory(paths.Cache);
        Directory.CreateDirectory(paths.Downloads);
    }

    /// <summary>The poke port in use (after <see cref="RunAsync"/> started), or null in polling mode.</summary>
    public int? PokePort => _pokes?.Port;

    /// <summary>Run until stopped or until a reboot is acknowledged.</summary>
    public async Task<AgentExit> RunAsync(CancellationToken stop)
    {
        // A network change the agent died during (crash, power loss, kill during the probe) is rolled back first.
        if (await _platform.Network.RecoverAsync(stop).ConfigureAwait(false) is { } recovered)
            _log.Warn(AgentEvents.NetworkRecovered, recovered);
        if (_journal.PendingReboot is { } notRebooted && _journal.BootAtRebootStart(notRebooted) is { } bootBefore && bootBefore == _platform.BootId)
        {
            // The agent was restarted (a crash, systemd) but the machine did not reboot: same kernel boot. Reboot now
            // instead of reporting a reboot that never happened.
            _log.Warn(AgentEvents.NotRebooted, $"the reboot of command {notRebooted} has not happened yet (boot {bootBefore}); rebooting now");
            return await _platform.RebootAsync(_log).ConfigureAwait(false) ? AgentExit.Stopped : AgentExit.Reboot;
        }
        if (_journal.PendingReboot is { } rebootedId)
        {
            // The process is back after the reboot it was asked for: record the boot once, then report it. On a full
            // disk this waits (retrying) instead of crashing: nothing else may happen before the boot is recorded.
            var counted = false;
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    // Counted once; the scope's end saves the record (again, after a save that failed).
                    using (_platform.Database.Deferred())
                    {
                        if (!counted)
                            _platform.RecordBoot();
                        counted = true;
                    }
                    _journal.Rebooted(rebootedId);
                    break;
                }
                catch (IOException e)
                {
                    _log.Warn(DiskFull.Is(e) ? AgentEvents.DiskFull : AgentEvents.IoError, $"could not record the return from reboot command {rebootedId}: {e.Message}; retrying");
                    await _backoff.DelayAsync(attempt, stop).ConfigureAwait(false);
                }
            }
            _log.Info(AgentEvents.Rebooted, $"back after reboot command {rebootedId} (boot {_platform.BootCount})");
        }
        // Every result journaled but not seen recorded goes first: the agent may have died between journaling an
        // answer and reporting it (an unacknowledged "rebooting" among them: no reboot happened yet, the reboot
        // follows the acknowledgement).
        if (_journal.Unreported is { Count: > 0 } unreported)
            _unreported = unreported;

        if (!_config.Poll)
        {
            _pokes = new PokeListener(IPAddress.Parse(_config.PokeAddress), _config.PokePort, _triggers.Writer, _log, _backoff.Wake);
            _pokes.Start();
            _log.Info(AgentEvents.Listening, $"pokes on {_config.PokeAddress}:{_pokes.Port}, gateway {_gateway}");
        }
        else
        {
            _log.Info(AgentEvents.Polling, $"every {PollInterval.TotalSeconds:0}s, gateway {_gateway}");
        }

        var reason = InquiryReason.Startup;
        var lastSession = _clock.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            var since = _clock.GetElapsedTime(lastSession);
            // Pokes are rate-limited, and pokes that keep finding nothing to do (forged, or a confused gateway) back
            // off exponentially up to the retry ceiling, so nobody can turn the poke port into a gateway load.
            var spacing = TimeSpan.FromTicks(Math.Min(_limits.RetryMaxDelay.Ticks, _limits.PokeMinInterval.Ticks << Math.Min(_emptyPokes, 20)));
            if (reason == InquiryReason.Poke && since < spacing)
                await Task.Delay(spacing - since, _clock, stop).ConfigureAwait(false);
            lastSession = _clock.GetTimestamp();
            _commandsThisSession = 0;
            var outcome = await RunSessionAsync(reason, stop).ConfigureAwait(false);
            _emptyPokes = reason == InquiryReason.Poke && _commandsThisSession == 0 ? _emptyPokes + 1 : 0;
            if (outcome == SessionOutcome.Reboot)
                return await _platform.RebootAsync(_log).ConfigureAwait(false) ? AgentExit.Stopped : AgentExit.Reboot;
            if (outcome == SessionOutcome.Restart)
            {
                _log.Info(AgentEvents.Restarting, $"this agent's program was replaced ({_self.Describe()}); exiting so the new version starts");
                return AgentExit.Restart;
            }
            try
            {
                reason = await NextTriggerAsync(outcome == SessionOutcome.Refused, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return AgentExit.Stopped;
    }

    private TimeSpan PollInterval => _config.PollSeconds > 0 ? TimeSpan.FromSeconds(_config.PollSeconds) : _limits.PollInterval;

    private async Task<InquiryReason> NextTriggerAsync(bool refused, CancellationToken stop)
    {
        var wait = _config.Poll ? PollInterval : _limits.CheckInInterval;
        if (refused)
            wait = TimeSpan.FromTicks(Math.Max(wait.Ticks, _limits.RetryMaxDelay.Ticks));
        if (_unreported is not null)
            wait = _limits.RetryMaxDelay; // a result is still owed to the gateway
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(wait);
        try
        {
            return await _triggers.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return _config.Poll ? InquiryReason.Poll : InquiryReason.CheckIn;
        }
    }

    private enum SessionOutcome
    {
        Done,
        Reboot,
        Refused,
        Stopped,
        Restart,
    }

    private async Task<SessionOutcome> RunSessionAsync(InquiryReason reason, CancellationToken stop)
    {
        var client = new GatewayClient(_gateway, _certificate, _ca, _limits); // a NEW connection for every session
        try
        {
            var request = NewRequest(reason, _unreported) with { Inventory = InventoryDue(reason) ? await CollectInventoryAsync(stop).ConfigureAwait(false) : null };
            var attempt = 0;
            var askedFor = false;
            while (true)
            {
                ExchangeResponse response;
                try
                {
                    response = await client.ExchangeAsync(request, stop).ConfigureAwait(false);
                }
                catch (GatewayUnavailableException e)
                {
                    _log.Warn(AgentEvents.GatewayUnavailable, $"{e.Message}; retry {attempt + 1}");
                    NoteUnreachable(e);
                    await _backoff.DelayAsync(attempt++, stop).ConfigureAwait(false);
                    client.Dispose();
                    client = new GatewayClient(_gateway, _certificate, _ca, _limits);
                    continue;
                }
                catch (GatewayRefusalException e) when (e.Refusal == RefusalCode.MissingResults && !askedFor)
                {
                    // The gateway needs results before it can record a reboot (the agent died before reporting them and
                    // lost its "reported" marks, or an older gateway recorded only part): add those the journal has.
                    askedFor = true;
                    var found = _journal.ResultsOf(e.Missing ?? []).Where(r => request.Results?.All(x => x.CommandId != r.CommandId) ?? true).ToList();
                    _log.Warn(AgentEvents.MissingResults, $"{e.Message} (the journal has {found.Count} of them)");
                    if (found.Count > 0)
                    {
                        request = request with { Results = [.. found, .. request.Results ?? []] };
                        continue;
                    }
                    return SessionOutcome.Refused;
                }
                catch (GatewayRefusalException e) when (e.Refusal is RefusalCode.UnknownCommand or RefusalCode.ForeignCommand && request.Results is { Count: > 0 } dropped)
                {
                    // The gateway does not know this command (its database was restored, or the agent was re-enrolled
                    // with an old state directory): the result can never be recorded. Drop it and ask afresh.
                    _log.Warn(AgentEvents.DroppedResult, $"{e.Code}: {e.Message}");
                    MarkReported(dropped);
                    _unreported = null;
                    request = NewRequest(reason, null);
                    continue;
                }
                catch (GatewayRefusalException e)
                {
                    _log.Warn(AgentEvents.Refused, $"{e.Code}: {e.Message}");
                    return SessionOutcome.Refused;
                }
                attempt = 0;
                if (_unreachableSaid)
                    _log.Info(AgentEvents.GatewayReachable, $"the gateway at {_gateway} answers again after {_clock.GetElapsedTime(_unreachableSince).TotalSeconds:0} s");
                (_unreachableSince, _unreachableSaid) = (0, false);
                _unreported = null;
                if (request.Results is { Count: > 0 } recorded)
                    MarkReported(recorded);
                if (request.Rebooted is { } acknowledged)
                {
                    try
                    {
                        _journal.Acknowledged(acknowledged);
                    }
                    catch (IOException e)
                    {
                        // Unrecorded, "rebooted" is sent again with the next request: the gateway takes it as a replay.
                        _log.Warn(DiskFull.Is(e) ? AgentEvents.DiskFull : AgentEvents.IoError, $"could not journal the acknowledgement of reboot {acknowledged}: {e.Message}");
                    }
                }

                switch (response.Answer)
                {
                    case ExchangeAnswer.NoCommand when _replaced:
                        return SessionOutcome.Restart; // the results are recorded; the new version takes the rest of the queue
                    case ExchangeAnswer.NoCommand when _commandsSinceInventory > 0 && request.Inventory is null:
                        // A queue ended: one more exchange tells the gateway what the device has now (drift, plans).
                        _commandsSinceInventory = 0;
                        request = NewRequest(InquiryReason.Continue, null) with { Inventory = await CollectInventoryAsync(stop).ConfigureAwait(false) };
                        if (request.Inventory is null)
                            return SessionOutcome.Done;
                        break;
                    case ExchangeAnswer.NoCommand:
                        _log.Debug(AgentEvents.Idle, "no command");
                        return SessionOutcome.Done;
                    case ExchangeAnswer.RebootAcknowledged when request.Results is [.., { Outcome: CommandOutcome.Rebooting } rebooting]:
                        try
                        {
                            _journal.RebootStarted(rebooting.CommandId, _platform.BootId);
                        }
                        catch (IOException e)
                        {
                            // Without this line the agent would not know after the reboot that it rebooted: do not reboot.
                            // The "rebooting" result is reported again (the gateway answers a replay the same way).
                            _log.Warn(DiskFull.Is(e) ? AgentEvents.DiskFull : AgentEvents.IoError, $"could not journal the start of the reboot: {e.Message}; retrying");
                            _unreported = [rebooting];
                            return SessionOutcome.Refused;
                        }
                        _log.Info(AgentEvents.Rebooting, "the gateway recorded the reboot; rebooting now");
                        return SessionOutcome.Reboot;
                    case ExchangeAnswer.Command when response.Command is { } first:
                        var results = await RunAnswerAsync([first, .. response.More ?? []], client, stop).ConfigureAwait(false);
                        if (results is [.., { Outcome: CommandOutcome.Rebooting }])
                            Failpoint.Hit(Failpoint.RebootAnswerJournaled, _paths);
                        if (results.Count == 0)
                            return SessionOutcome.Stopped; // stopped while fetching the first command's package: nothing ran
                        request = NewRequest(InquiryReason.Continue, results);
                        _unreported = results;
                        if (stop.IsCancellationRequested)
                            return SessionOutcome.Stopped; // journaled; reported at the next start
                        break;
                    default:
                        _log.Warn(AgentEvents.BadAnswer, $"the gateway answered {response.Answer} without a command");
                        return SessionOutcome.Done;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return SessionOutcome.Stopped;
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>A running agent never gives up on its gateway (it must be there when the gateway comes back), but once the
    /// gateway has not answered for <see cref="RigLimits.GatewayUnreachableDeadline"/> it says so, once per outage, in one
    /// line naming the gateway and what to check.</summary>
    private void NoteUnreachable(GatewayUnavailableException e)
    {
        if (_unreachableSince == 0)
            _unreachableSince = _clock.GetTimestamp();
        if (_unreachableSaid || _clock.GetElapsedTime(_unreachableSince) < _limits.GatewayUnreachableDeadline)
            return;
        _unreachableSaid = true;
        var cause = e.InnerException is { } inner ? GatewayUnreachableException.Cause(inner) : e.Message;
        _log.Warn(AgentEvents.GatewayUnreachable, GatewayUnreachableException.Describe(_gateway, _limits.GatewayUnreachableDeadline, cause, "the agent keeps trying"));
    }

    /// <summary>Mark results as recorded by the gateway (not reported again after a restart). A failure to write the
    /// mark (disk full) only means they would be reported again, which the gateway takes as a replay.</summary>
    private void MarkReported(IReadOnlyList<CommandResult> results)
    {
        try
        {
            _journal.Reported([.. results.Select(r => r.CommandId)]);
        }
        catch (IOException e)
        {
            _log.Debug(AgentEvents.Journal, $"could not mark {results.Count} result(s) reported: {e.Message}");
        }
    }

    /// <summary>Run the commands of one answer in order, each with its own "begin"; stop at the first that does not
    /// succeed (a failure, or a reboot: always the last of an answer). Then the device's record (package database) is
    /// saved once, and only then are the answer's results journaled with one fsync: a journaled result is never ahead
    /// of the device's record. When the record cannot be saved (disk full), the first result that needed it is reported
    /// failed with <c>disk-full</c> and the rest of the answer is not reported (the gateway sends it again after the
    /// failure is dealt with); the record is saved with the next answer. A stop while a package is being fetched ends
    /// the answer before that command changed anything (it runs again when delivered again).</summary>
    private async Task<List<CommandResult>> RunAnswerAsync(IReadOnlyList<Command> commands, GatewayClient client, CancellationToken stop)
    {
        var results = new List<CommandResult>();
        var scope = _platform.Database.Deferred();
        try
        {
            foreach (var command in commands)
            {
                CommandResult result;
                try
                {
                    result = await RunOnceAsync(command, client, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
                results.Add(result);
                _commandsThisSession++;
                // A plan ends with an inventory command: its result already tells the gateway what the device has, so
                // no extra exchange is needed after such a queue.
                _commandsSinceInventory = command.Spec is InventoryCommand && result.Outcome == CommandOutcome.Succeeded ? 0 : _commandsSinceInventory + 1;
                if (result.Outcome != CommandOutcome.Succeeded)
                    break;
                if (command.Spec is InstallCommand && _self.Replaced)
                {
                    // Checked after installs only (one readlink, not one per exchange). The rest of the answer runs in
                    // the new version, which asks again at start-up.
                    _replaced = true;
                    break;
                }
            }
        }
        finally
        {
            results = SaveAndJournal(scope, results);
        }
        return results;
    }

    private List<CommandResult> SaveAndJournal(IDisposable databaseScope, List<CommandResult> results)
    {
        try
        {
            databaseScope.Dispose(); // saves the device's record
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            results = FailFirstNew(results, e, "the device's record (package database) could not be saved");
        }
        var fresh = results.Where(r => !r.FromJournal).ToList();
        try
        {
            _journal.Commit(fresh);
        }
        catch (IOException e)
        {
            // Nothing of this answer is journaled: report its first new result as failed (if it was redelivered it would
            // run again, which is what a failed command does anyway).
            results = FailFirstNew(results, e, "the journal could not be written");
        }
        return results;
    }

    /// <summary>The results up to the first new one, which becomes a failure saying why (disk full or another I/O
    /// error); what followed it in the answer is not reported.</summary>
    private List<CommandResult> FailFirstNew(List<CommandResult> results, Exception e, string what)
    {
        var index = results.FindIndex(r => !r.FromJournal);
        if (index < 0)
            return results;
        var code = DiskFull.Is(e) ? AgentEvents.DiskFull : AgentEvents.IoError;
        _log.Warn(code, $"{what}: {e.Message}; reporting command {results[index].CommandId} as failed");
        var failed = results[index] with
        {
            Outcome = CommandOutcome.Failed,
            ErrorCode = code,
            Error = $"{what}: {e.Message}. The command's changes may be on the device but are not recorded there; {DiskFull.Remedy}.",
        };
        return [.. results.Take(index), failed];
    }

    /// <summary>The inventory goes with the start-up inquiry (the gateway has it right after enrollment), with each
    /// check-in, and in polling mode once per check-in interval (polls are frequent; inventories need not be).</summary>
    private bool InventoryDue(InquiryReason reason) => reason switch
    {
        InquiryReason.Startup or InquiryReason.CheckIn => true,
        InquiryReason.Poll => _lastInventoryAt == long.MinValue || _clock.GetElapsedTime(_lastInventoryAt) >= _limits.CheckInInterval,
        _ => false,
    };

    /// <summary>Collect the inventory, or null (logged) when the device cannot be read: the exchange still happens.</summary>
    private async Task<InventoryReport?> CollectInventoryAsync(CancellationToken stop)
    {
        try
        {
            var report = await Inventory.CollectAsync(_platform, stop).ConfigureAwait(false);
            _lastInventoryAt = _clock.GetTimestamp();
            _commandsSinceInventory = 0;
            return report;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CommandFailedException)
        {
            _log.Warn(AgentEvents.InventoryFailed, $"could not collect the inventory: {e.Message}; it is sent with the next check-in");
            return null;
        }
    }

    /// <summary>A request reporting <paramref name="results"/>; it inquires unless the last result is a reboot.</summary>
    private ExchangeRequest NewRequest(InquiryReason reason, IReadOnlyList<CommandResult>? results) => new()
    {
        ProtocolVersion = ProtocolInfo.Version,
        Device = _config.Device,
        RequestId = Guid.NewGuid().ToString("n"),
        Reason = reason,
        AgentVersion = AgentInfo.Version,
        PokePort = _pokes?.Port,
        PokeHost = _config.PokeHost,
        Results = results is { Count: > 0 } ? results : null,
        Rebooted = _journal.RebootToReport,
        Inquire = results is not [.., { Outcome: CommandOutcome.Rebooting }] && !_replaced,
        MaxCommands = _config.Batch > 0 ? _config.Batch : _limits.MaxCommandsPerExchange,
    };

    /// <summary>Run a command at most once: a command already in the journal is answered from it (a re-delivery);
    /// otherwise "begin" is journaled and the command runs; its result is journaled with the answer's (see
    /// <see cref="RunAnswerAsync"/>). <paramref name="stop"/> can end only the fetch of a package, before anything changed.</summary>
    private async Task<CommandResult> RunOnceAsync(Command command, GatewayClient client, CancellationToken stop)
    {
        if (_journal.TryGetResult(command.Id, out var known))
        {
            _log.Info(AgentEvents.Replayed, $"{command.Spec.Describe()} ({command.Id}) already ran: answering from the journal");
            return known with { FromJournal = true };
        }
        try
        {
            _journal.Begin(command.Id, command.Spec.Kind);
        }
        catch (IOException e)
        {
            // Not even "begin" fits on the disk: do not start what could not be recorded.
            var code = DiskFull.Is(e) ? AgentEvents.DiskFull : AgentEvents.IoError;
            return new CommandResult { CommandId = command.Id, Outcome = CommandOutcome.Failed, ErrorCode = code, Error = $"{command.Spec.Describe()} was not started: the agent's journal could not be written ({e.Message}); {DiskFull.Remedy}." };
        }
        // Commands are not cancelled by a stop signal once they change the device: a half-written step is worse than
        // a late stop. Only the fetch stage (nothing changed yet) ends on a stop.
        var result = command.Spec is RebootCommand reboot
            ? new CommandResult { CommandId = command.Id, Outcome = CommandOutcome.Rebooting, Output = $"rebooting: {reboot.Reason}" }
            : await _executor.ExecuteAsync(command, client, stop).ConfigureAwait(false);
        _log.Info(result.Outcome == CommandOutcome.Failed ? AgentEvents.Failed : AgentEvents.Done,
            $"[{command.Sequence + 1}/{command.QueueLength}] {command.Spec.Describe()}: {(result.Outcome == CommandOutcome.Failed ? result.Error : result.Output)}");
        return result;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_pokes is not null)
            await _pokes.DisposeAsync().ConfigureAwait(false);
        _journal.Dispose();
        _certificate.Dispose();
        _ca.Dispose();
    }
}
