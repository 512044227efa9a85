using Rig.Model.Planning;
using Rig.Model.Validation;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>What converging one device did.</summary>
/// <param name="Device">The device.</param>
/// <param name="Outcome"><c>queued</c>, <c>unchanged</c>, <c>busy</c> (another queue is active) or <c>invalid</c>.</param>
/// <param name="QueueId">The new queue, or the blocking one when busy.</param>
/// <param name="Commands">Number of commands queued.</param>
/// <param name="Errors">Plan errors when invalid or busy.</param>
/// <param name="Poked">True when the agent was poked.</param>
internal sealed record ConvergeDeviceResult(string Device, string Outcome, string? QueueId, int Commands, IReadOnlyList<ModelError> Errors, bool Poked)
{
    /// <summary>The operator's view of what the queue writer did on a device.</summary>
    public static ConvergeDeviceResult From(DeviceQueueResult result, bool poked)
    {
        ArgumentNullException.ThrowIfNull(result);
        var outcome = result.Outcome switch
        {
            QueueOutcome.Queued => "queued",
            QueueOutcome.Unchanged => "unchanged",
            QueueOutcome.Blocked => "busy",
            _ => "invalid",
        };
        return new ConvergeDeviceResult(result.Device, outcome, result.Queue?.Id, result.Commands, result.Errors, poked);
    }
}

internal sealed partial class Gateway
{
    /// <summary>Plans and writes every queue (converge, rollouts, scripts, rebuild).</summary>
    public QueueWriter Queues { get; } = new(store, logger, limits.QueueWriteBatch);

    /// <summary>Plan the current model for the given devices (all devices of the model when empty), queue the
    /// commands of each device that needs changes, and poke its agent. A device with an active queue is not
    /// given a second one (queues never interleave on a device). Refused (<see cref="RolloutRefusedException"/>,
    /// <c>approval-required</c>) while the current revision or an earlier one lacks an approval it needs.</summary>
    public async Task<IReadOnlyList<ConvergeDeviceResult>> ConvergeAsync(IReadOnlyList<string> devices, string reason, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(devices);
        var snapshot = await Plans.SnapshotAsync(null, ct).ConfigureAwait(false);
        // Converge delivers the current revision: the same approvals as a rollout of it.
        await EnsureApprovedAsync(snapshot.Rev, ct).ConfigureAwait(false);
        var targets = devices.Count > 0 ? devices : [.. snapshot.Model.Devices.Select(d => d.Name)];
        var modelErrors = ModelValidator.Validate(snapshot.Model, renderTemplates: false);
        if (modelErrors.Count > 0)
            return [.. targets.Select(d => new ConvergeDeviceResult(d, "invalid", null, 0, modelErrors, false))];
        var results = await Queues.WriteAsync(QueueOrder.Converge(snapshot, targets, reason), ct).ConfigureAwait(false);
        // A busy device whose queue still has commands to send is poked too: converging again nudges a stalled agent.
        var poked = await PokeAsync(results, nudgeBlocked: true, ct).ConfigureAwait(false);
        return [.. results.Select((r, i) => ConvergeDeviceResult.From(r, poked[i]))];
    }

    /// <summary>Poke the agents of the devices that were given a queue (and, with <paramref name="nudgeBlocked"/>, of
    /// blocked devices whose active queue still has commands to send), after every queue is durable. With a poke
    /// scheduler the pokes are paced, not awaited. Returns, per result, whether its agent was (or will be) poked.</summary>
    internal async Task<bool[]> PokeAsync(IReadOnlyList<DeviceQueueResult> results, bool nudgeBlocked, CancellationToken ct)
    {
        var poke = results.Select(r => r.Pokeable && (r.Outcome == QueueOutcome.Queued
            || (nudgeBlocked && r.Outcome == QueueOutcome.Blocked && r.Queue is { Status: QueueStates.Pending or QueueStates.Running }))).ToArray();
        if (Pokes is { } pokes)
        {
            for (var i = 0; i < results.Count; i++)
            {
                if (poke[i])
                    pokes.Schedule(results[i].Device);
            }
            return poke;
        }
        return await Task.WhenAll(results.Select((r, i) => poke[i] ? PokeAsync(r.Device, ct) : Task.FromResult(false))).ConfigureAwait(false);
    }
}
