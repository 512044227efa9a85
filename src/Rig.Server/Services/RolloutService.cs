using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>Rollouts: start, list, read, pause, resume, cancel, retry. Refusals of the gateway
/// (<see cref="Gateway.RolloutRefusedException"/>) pass through to the endpoint, which chooses their HTTP status.</summary>
internal sealed class RolloutService(Gateway.Gateway gateway, OperatorAccess access)
{
    private RigStore Store => gateway.Store;

    /// <summary>Roll a revision out in waves.</summary>
    public async Task<RolloutView> StartAsync(Caller caller, RolloutStartRequest request, CancellationToken ct)
    {
        access.Allow(caller, "rollout.start");
        return (await gateway.StartRolloutAsync(request.ToGateway(), caller.Name, ct).ConfigureAwait(false)).ToView();
    }

    /// <summary>Rollouts, newest first (at most <paramref name="limit"/>; only running and paused ones when
    /// <paramref name="activeOnly"/>), with their devices: two queries whatever their number.</summary>
    public async Task<IReadOnlyList<RolloutView>> ListAsync(Caller caller, bool activeOnly, int limit, CancellationToken ct)
    {
        access.Allow(caller, "rollout.list");
        var rollouts = await Store.ListRolloutsWithDevicesAsync(activeOnly, limit, ct).ConfigureAwait(false);
        return access.Visible(caller, rollouts.Select(r => r.ToView()), _ => null);
    }

    /// <summary>One rollout with every device's state, or null.</summary>
    public async Task<RolloutView?> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        access.Allow(caller, "rollout.read");
        return (await Store.GetRolloutAsync(id, ct).ConfigureAwait(false))?.ToView();
    }

    /// <summary>Pause a running rollout; null when it is not running.</summary>
    public async Task<RolloutView?> PauseAsync(Caller caller, string id, CancellationToken ct)
    {
        access.Allow(caller, "rollout.pause");
        return await gateway.PauseRolloutAsync(id, ct).ConfigureAwait(false) ? await GetAsync(caller, id, ct).ConfigureAwait(false) : null;
    }

    /// <summary>Resume a paused rollout, optionally with a higher failure threshold; null when it is not paused.</summary>
    public async Task<RolloutView?> ResumeAsync(Caller caller, string id, int? maxFailures, CancellationToken ct)
    {
        access.Allow(caller, "rollout.resume");
        return await gateway.ResumeRolloutAsync(id, maxFailures, ct).ConfigureAwait(false) ? await GetAsync(caller, id, ct).ConfigureAwait(false) : null;
    }

    /// <summary>Cancel a running or paused rollout; null when it is neither.</summary>
    public async Task<RolloutView?> CancelAsync(Caller caller, string id, CancellationToken ct)
    {
        access.Allow(caller, "rollout.cancel");
        return await gateway.CancelRolloutAsync(id, ct).ConfigureAwait(false) ? await GetAsync(caller, id, ct).ConfigureAwait(false) : null;
    }

    /// <summary>Put a failed or paused rollout's failed devices back into their waves.</summary>
    public async Task<RolloutView> RetryAsync(Caller caller, string id, CancellationToken ct)
    {
        access.Allow(caller, "rollout.retry");
        return (await gateway.RetryRolloutAsync(id, ct).ConfigureAwait(false)).ToView();
    }
}
