using Rig.Protocol.Messages;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Tests.Queues;

/// <summary>What the gateway answered one exchange: a response, or a refusal with its code (and, for
/// <c>missing-results</c>, the ids it needs). HTTP statuses play no part: the agent acts on the code.</summary>
internal sealed record ExchangeReply(ExchangeResponse? Response, string? Refusal, IReadOnlyList<string>? Missing, string? Message)
{
    public static ExchangeReply Answered(ExchangeResponse response) => new(response, null, null, null);

    public static ExchangeReply Refused(string code, IReadOnlyList<string>? missing, string message) => new(null, code, missing, message);

    /// <summary>The commands of a <c>Command</c> answer, in order.</summary>
    public IReadOnlyList<Command> Commands => Response?.Command is { } first ? [first, .. Response.More ?? []] : [];

    /// <summary>One line: what a person reading a counterexample needs (answer and command ids, or the refusal).</summary>
    public string Describe(Func<string, string> name) => Refusal is { } code
        ? $"refused {code}{(Missing is { Count: > 0 } m ? $" [{string.Join(", ", m.Select(name))}]" : "")}"
        : Response!.Answer == ExchangeAnswer.Command ? $"Command [{string.Join(", ", Commands.Select(c => name(c.Id)))}]" : Response.Answer.ToString();
}

/// <summary>A command's state as the gateway holds it.</summary>
internal sealed record CommandView(string Id, string Status, int Deliveries, CommandOutcome? Outcome, string? ErrorCode);

/// <summary>A queue's state as the gateway holds it, with its commands in order.</summary>
internal sealed record QueueView(string Id, string Status, int Position, IReadOnlyList<CommandView> Commands);

/// <summary>Something that holds queues and answers agents' exchanges: the real store on SQLite or PostgreSQL, the
/// reference model, and (once it exists) the pure queue state machine over in-memory tables. The property runs drive
/// any of them the same way and compare it, step by step, with <see cref="QueueModel"/>.</summary>
internal interface IExchangeTarget : IAsyncDisposable
{
    /// <summary>Create a queue for <paramref name="device"/>: the new queue's id, or null and the id of the active queue that blocks it.</summary>
    Task<(string? Created, string? Blocking)> CreateQueueAsync(string device, IReadOnlyList<NewCommand> commands);

    /// <summary>One exchange: recorded and answered, or refused (nothing changes).</summary>
    Task<ExchangeReply> ExchangeAsync(string device, ExchangeRequest request, int maxDeliveries);

    /// <summary>An operator cancels the device's active queue; false when it has none.</summary>
    Task<bool> CancelAsync(string device);

    /// <summary>The gateway process dies and starts again over the same database (a no-op where there is nothing volatile).</summary>
    Task RestartAsync();

    /// <summary>Read a queue back.</summary>
    Task<QueueView> ReadQueueAsync(string queueId);
}

/// <summary>The real <see cref="RigStore"/>: group commit, SQL, transactions. A gateway crash disposes the store and
/// opens a new one on the same database, as a restarted process would.</summary>
internal sealed class StoreTarget : IExchangeTarget
{
    private readonly string _connectionString;
    private readonly TimeProvider _clock;
    private RigStore _store;

    private StoreTarget(string connectionString, TimeProvider clock, RigStore store) => (_connectionString, _clock, _store) = (connectionString, clock, store);

    public static async Task<StoreTarget> OpenAsync(string connectionString, TimeProvider clock) =>
        new(connectionString, clock, await RigStore.OpenAsync(connectionString, clock));

    public async Task<(string? Created, string? Blocking)> CreateQueueAsync(string device, IReadOnlyList<NewCommand> commands)
    {
        var result = await _store.CreateQueueAsync(device, commands, "property run", 1);
        return (result.Created?.Id, result.Blocking?.Id);
    }

    public async Task<ExchangeReply> ExchangeAsync(string device, ExchangeRequest request, int maxDeliveries)
    {
        try
        {
            return ExchangeReply.Answered(await _store.ExchangeAsync(device, request, maxDeliveries));
        }
        catch (ExchangeRefusedException e)
        {
            return ExchangeReply.Refused(e.Code, e.Missing, e.Message);
        }
    }

    public async Task<bool> CancelAsync(string device) => await _store.CancelQueueAsync(device, "operator cancel") is not null;

    public async Task RestartAsync()
    {
        await _store.DisposeAsync();
        _store = await RigStore.OpenAsync(_connectionString, _clock);
    }

    public async Task<QueueView> ReadQueueAsync(string queueId)
    {
        var queue = await _store.GetQueueAsync(queueId) ?? throw new InvalidOperationException($"queue {queueId} is not in the store");
        var commands = await _store.GetCommandsAsync(queueId);
        return new QueueView(queue.Id, queue.Status, queue.Position,
            [.. commands.Select(c => new CommandView(c.Id, c.Status, c.Deliveries, c.Result?.Outcome, c.Result?.ErrorCode))]);
    }

    public ValueTask DisposeAsync() => _store.DisposeAsync();
}

/// <summary>The reference model as a target: runs the properties over the spec itself (the model is compared with a
/// second copy of itself, so only the safety properties can fail here, which is the point: the spec keeps its promises).</summary>
internal sealed class ModelTarget : IExchangeTarget
{
    private readonly QueueModel _model = new();

    public Task<(string? Created, string? Blocking)> CreateQueueAsync(string device, IReadOnlyList<NewCommand> commands) =>
        Task.FromResult(_model.CreateQueue(device, commands));

    public Task<ExchangeReply> ExchangeAsync(string device, ExchangeRequest request, int maxDeliveries) =>
        Task.FromResult(_model.Exchange(device, request, maxDeliveries).Reply);

    public Task<bool> CancelAsync(string device) => Task.FromResult(_model.Cancel(device));

    public Task RestartAsync() => Task.CompletedTask;

    public Task<QueueView> ReadQueueAsync(string queueId) => Task.FromResult(_model.Read(queueId));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>The pure <see cref="QueueMachine"/> over in-memory tables: this adapter does what the store does around it
/// (read the snapshot: the active queue, the named commands, the window from the queue's position; write the decision:
/// ends, commands that never ran, the delivery, the queue's change), without SQL, so many more runs fit in the time.</summary>
internal sealed class MachineTarget : IExchangeTarget
{
    private sealed record Row(string Id, string QueueId, int Seq, CommandSpec Spec, CommandState State, int Deliveries, CommandResult? Result);

    private readonly Dictionary<string, (string Device, QueueState State, int Position, int Length)> _queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Row> _commands = new(StringComparer.Ordinal);
    private int _created;

    private string? ActiveId(string device) => _queues.Where(q => q.Value.Device == device && q.Value.State.IsActive()).Select(q => q.Key).SingleOrDefault();

    public Task<(string? Created, string? Blocking)> CreateQueueAsync(string device, IReadOnlyList<NewCommand> commands)
    {
        if (ActiveId(device) is { } blocking)
            return Task.FromResult<(string?, string?)>((null, blocking));
        var id = $"machine-q{_created++}";
        _queues[id] = (device, QueueState.Pending, 0, commands.Count);
        for (var i = 0; i < commands.Count; i++)
            _commands.Add(commands[i].Id, new Row(commands[i].Id, id, i, commands[i].Spec, CommandState.Pending, 0, null));
        return Task.FromResult<(string?, string?)>((id, null));
    }

    public Task<ExchangeReply> ExchangeAsync(string device, ExchangeRequest request, int maxDeliveries)
    {
        var activeId = ActiveId(device);
        var active = activeId is null ? null : _queues[activeId] is var q ? new QueueRecord(activeId, q.Device, q.State, q.Position, q.Length) : null;
        var named = QueueMachine.NamedIds(request).Where(_commands.ContainsKey).Select(id => Record(_commands[id])).ToList();
        var window = active is null ? [] : _commands.Values.Where(c => c.QueueId == active.Id && c.Seq >= active.Position).OrderBy(c => c.Seq)
            .Take(QueueMachine.WindowSize(request)).Select(Record).ToList();
        var decision = QueueMachine.Decide(new ExchangeSnapshot(device, request, active, named, window), AnswerLimits.From(Rig.Protocol.RigLimits.Default, maxDeliveries));
        if (decision.Refusal is { } refusal)
            return Task.FromResult(ExchangeReply.Refused(refusal.Code, refusal.Missing, refusal.Message));
        foreach (var end in decision.Ends)
            _commands[end.Command.Id] = _commands[end.Command.Id] with { State = end.State, Result = end.Result };
        if (decision.Unsend is var (unsendQueue, afterSeq))
        {
            foreach (var row in _commands.Values.Where(c => c.QueueId == unsendQueue && c.Seq > afterSeq && c.State == CommandState.Sent).ToList())
                _commands[row.Id] = row with { State = CommandState.Pending };
        }
        if (decision.Delivery is { } delivery)
        {
            foreach (var row in _commands.Values.Where(c => c.QueueId == delivery.QueueId && c.Seq >= delivery.From && c.Seq <= delivery.To).ToList())
                _commands[row.Id] = row with { State = CommandState.Sent, Deliveries = row.Deliveries + 1 };
        }
        if (decision.Queue is { } change)
            _queues[change.QueueId] = _queues[change.QueueId] with { State = change.State, Position = change.Position };
        return Task.FromResult(ExchangeReply.Answered(decision.Response!));

        CommandRecord Record(Row row) => new(row.Id, row.QueueId, _queues[row.QueueId].Device, row.Seq, row.Spec.Kind, null, row.State, row.Deliveries,
            System.Text.Json.JsonSerializer.Serialize(row.Spec, Rig.Protocol.RigJson.Default.CommandSpec));
    }

    public Task<bool> CancelAsync(string device)
    {
        if (ActiveId(device) is not { } id)
            return Task.FromResult(false);
        _queues[id] = _queues[id] with { State = QueueState.Cancelled };
        return Task.FromResult(true);
    }

    public Task RestartAsync() => Task.CompletedTask;

    public Task<QueueView> ReadQueueAsync(string queueId)
    {
        var queue = _queues[queueId];
        return Task.FromResult(new QueueView(queueId, queue.State.Name(), queue.Position,
            [.. _commands.Values.Where(c => c.QueueId == queueId).OrderBy(c => c.Seq).Select(c => new CommandView(c.Id, c.State.Name(), c.Deliveries, c.Result?.Outcome, c.Result?.ErrorCode))]));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
