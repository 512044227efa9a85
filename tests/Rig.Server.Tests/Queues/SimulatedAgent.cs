using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Server.Tests.Queues;

/// <summary>The agent's journal as src/Rig.Agent/Runtime/Journal.cs keeps it, in memory: what survives a crash of the
/// simulated agent. Finished results in the order they finished, the ids the gateway was seen to record
/// (<c>reported</c>), reboots started, reboots come back from, and "rebooted" acknowledgements.</summary>
internal sealed class SimulatedJournal
{
    private readonly Dictionary<string, CommandResult> _finished = new(StringComparer.Ordinal);
    private readonly List<string> _finishOrder = [];
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rebootStarted = new(StringComparer.Ordinal);
    private readonly List<string> _rebooted = [];
    private readonly HashSet<string> _acknowledged = new(StringComparer.Ordinal);

    public bool TryGetResult(string id, out CommandResult result) => _finished.TryGetValue(id, out result!);

    public string? PendingReboot => _rebootStarted.FirstOrDefault(id => !_rebooted.Contains(id));

    public string? RebootToReport => _rebooted.FirstOrDefault(id => !_acknowledged.Contains(id));

    /// <summary>Every finished result the gateway was not seen to record, except reboots already started.</summary>
    public IReadOnlyList<CommandResult> Unreported => [.. _finishOrder.Where(id => !_reported.Contains(id) && !_rebootStarted.Contains(id)).Select(id => _finished[id])];

    public IReadOnlyList<CommandResult> ResultsOf(IEnumerable<string> ids)
    {
        var wanted = ids.ToHashSet(StringComparer.Ordinal);
        return [.. _finishOrder.Where(wanted.Contains).Select(id => _finished[id])];
    }

    /// <summary>The <c>end</c> lines of one answer, with one fsync.</summary>
    public void Commit(IEnumerable<CommandResult> results)
    {
        foreach (var result in results)
        {
            if (_finished.TryAdd(result.CommandId, result))
                _finishOrder.Add(result.CommandId);
            else
                _finished[result.CommandId] = result;
        }
    }

    public void Reported(IEnumerable<string> ids) => _reported.UnionWith(ids);

    public void RebootStarted(string id) => _rebootStarted.Add(id);

    public void Rebooted(string id)
    {
        _rebooted.Add(id);
        if (_finished.TryGetValue(id, out var r) && r.Outcome == CommandOutcome.Rebooting)
            _finished[id] = r with { Outcome = CommandOutcome.Succeeded, Output = "device rebooted" };
    }

    public void Acknowledged(string id) => _acknowledged.Add(id);

    /// <summary>What an agent of the time before <c>reported</c> marks leaves behind (the F2 finding): opened by a newer
    /// agent, its results all count as reported, except a <c>Rebooting</c> whose reboot never started.</summary>
    public void ForgetReportMarks()
    {
        foreach (var (id, result) in _finished)
        {
            if (result.Outcome != CommandOutcome.Rebooting || _rebootStarted.Contains(id))
                _reported.Add(id);
        }
    }
}

/// <summary>Where a crash hits an agent that has just received commands.</summary>
internal enum CrashPoint
{
    /// <summary>Between two steps: only the in-memory state is lost.</summary>
    AtRest,
    /// <summary>After running the answer's commands, before their <c>end</c> lines are journaled: they run again when delivered again.</summary>
    BeforeJournal,
    /// <summary>After journaling the answer, before reporting it (F2).</summary>
    AfterJournal,
    /// <summary>As <see cref="AfterJournal"/>, and the journal is one of an older agent without report marks (F2 as first found).</summary>
    AfterJournalWithoutReportMarks,
}

/// <summary>The agent's protocol side, as src/Rig.Agent/Runtime/AgentRuntime.cs runs it, as a step machine the run
/// drives: <see cref="CurrentRequest"/> is what it sends (again, until answered), <see cref="OnReply"/> is what it does
/// with an answer. Each command runs at most once by its journal; every result not seen recorded is reported; on
/// <c>missing-results</c> it adds the journaled results asked for, once per session; an <c>unknown-command</c> or
/// <c>foreign-command</c> drops the results it carried; after an acknowledged <c>Rebooting</c> it reboots and reports
/// <c>rebooted</c> until acknowledged. Running a command is the <paramref name="run"/> callback (the run's oracle
/// records and checks every execution there).</summary>
internal sealed class SimulatedAgent(string device, int batch, Func<Command, CommandResult> run)
{
    private ExchangeRequest? _request;
    private IReadOnlyList<CommandResult>? _unreported;
    private InquiryReason _reason = InquiryReason.Startup;
    private bool _askedFor;
    private int _requests;

    public string Device { get; } = device;

    /// <summary>The durable part: survives crashes.</summary>
    public SimulatedJournal Journal { get; } = new();

    /// <summary>Nothing owed to the gateway and no session under way.</summary>
    public bool Idle => _request is null && _unreported is null && Journal.RebootToReport is null && Journal.Unreported.Count == 0 && Journal.PendingReboot is null;

    /// <summary>The request the agent is sending now (a new session's inquiry when none is under way).</summary>
    public ExchangeRequest CurrentRequest()
    {
        if (_request is null)
        {
            _askedFor = false;
            _request = NewRequest(_reason, _unreported);
        }
        return _request;
    }

    /// <summary>The answer to <see cref="CurrentRequest"/> arrived. With a <paramref name="crash"/> point other than
    /// at rest, the agent dies while handling a <c>Command</c> answer at that point (else right after handling it).</summary>
    public void OnReply(ExchangeReply reply, CrashPoint? crash = null)
    {
        var request = _request ?? throw new InvalidOperationException("no request under way");
        if (reply.Refusal is { } code)
        {
            if (code == "missing-results" && !_askedFor)
            {
                _askedFor = true;
                var found = Journal.ResultsOf(reply.Missing ?? []).Where(r => request.Results?.All(x => x.CommandId != r.CommandId) ?? true).ToList();
                if (found.Count > 0)
                {
                    _request = request with { RequestId = NextId(), Results = [.. found, .. request.Results ?? []] };
                    return;
                }
            }
            else if (code is "unknown-command" or "foreign-command" && request.Results is { Count: > 0 } dropped)
            {
                Journal.Reported(dropped.Select(r => r.CommandId));
                _unreported = null;
                _request = NewRequest(_reason, null);
                return;
            }
            // Refused: the session ends; what is owed is sent again with the next session.
            _request = null;
            _reason = InquiryReason.CheckIn;
            if (crash is not null)
                Crash(CrashPoint.AtRest);
            return;
        }

        var response = reply.Response!;
        _unreported = null;
        if (request.Results is { Count: > 0 } recorded)
            Journal.Reported(recorded.Select(r => r.CommandId));
        if (request.Rebooted is { } acknowledged)
            Journal.Acknowledged(acknowledged);
        switch (response.Answer)
        {
            case ExchangeAnswer.RebootAcknowledged when request.Results is [.., { Outcome: CommandOutcome.Rebooting } rebooting]:
                Journal.RebootStarted(rebooting.CommandId);
                Crash(CrashPoint.AtRest); // the reboot: the process ends, the journal stays
                return;
            case ExchangeAnswer.Command when response.Command is { } first:
                var results = RunAnswer([first, .. response.More ?? []], crash);
                if (crash is CrashPoint.BeforeJournal or CrashPoint.AfterJournal or CrashPoint.AfterJournalWithoutReportMarks)
                {
                    Crash(crash.Value);
                    return;
                }
                _request = NewRequest(InquiryReason.Continue, results);
                _unreported = results;
                break;
            default:
                _request = null; // NoCommand (or an answer the agent does not act on): the session ends
                _reason = InquiryReason.Poke;
                break;
        }
        if (crash is not null)
            Crash(CrashPoint.AtRest);
    }

    /// <summary>The process dies (kill -9, power cut) and starts again: the journal is all that is left.</summary>
    public void Crash(CrashPoint point)
    {
        if (point == CrashPoint.AfterJournalWithoutReportMarks)
            Journal.ForgetReportMarks();
        _request = null;
        _unreported = null;
        _reason = InquiryReason.Startup;
        if (Journal.PendingReboot is { } back)
            Journal.Rebooted(back); // the reboot the gateway acknowledged has happened
        if (Journal.Unreported is { Count: > 0 } owed)
            _unreported = owed;
    }

    /// <summary>Run an answer's commands in order, each at most once (a journaled one is answered from the journal),
    /// stopping at the first that does not succeed; then journal the new results together.</summary>
    private List<CommandResult> RunAnswer(IReadOnlyList<Command> commands, CrashPoint? crash)
    {
        var results = new List<CommandResult>();
        foreach (var command in commands)
        {
            var result = Journal.TryGetResult(command.Id, out var known) ? known with { FromJournal = true } : run(command);
            results.Add(result);
            if (result.Outcome != CommandOutcome.Succeeded)
                break;
        }
        if (crash == CrashPoint.BeforeJournal)
            return results;
        Journal.Commit(results.Where(r => !r.FromJournal));
        return results;
    }

    private ExchangeRequest NewRequest(InquiryReason reason, IReadOnlyList<CommandResult>? results) => new()
    {
        ProtocolVersion = ProtocolInfo.Version,
        Device = Device,
        RequestId = NextId(),
        Reason = reason,
        Results = results is { Count: > 0 } ? results : null,
        Rebooted = Journal.RebootToReport,
        Inquire = results is not [.., { Outcome: CommandOutcome.Rebooting }],
        MaxCommands = batch,
    };

    private string NextId() => $"{Device}/req{++_requests}";
}
