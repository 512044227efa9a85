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
        // A selector reaches only the devices the caller may see (it cannot widen the caller's scope), and every one of
        // them needs 'rollout'.
        IReadOnlyList<string> Authorize(IReadOnlyList<string> selected)
        {
            var visible = selected.Where(d => OperatorAccess.MaySee(caller, d)).ToList();
            access.AllowDevices(caller, Security.Verb.Rollout, visible);
            return visible;
        }
        return Visible(caller, (await WithoutHiddenApprovalsAsync(caller, () => gateway.StartRolloutAsync(request.ToGateway(), caller.Name, Authorize, ct)).ConfigureAwait(false)).ToView())!;
    }

    /// <summary>Run work that may be refused for a missing approval: the refusal names what every blocking revision
    /// changes, which may be another customer's objects; a caller who does not read everything is told only which
    /// revision blocks and where to look (`rig approval` shows them their part).</summary>
    internal static async Task<T> WithoutHiddenApprovalsAsync<T>(Caller caller, Func<Task<T>> work)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (Gateway.RolloutRefusedException e) when (e.Code == "approval-required" && !Security.ModelScoping.OnEverything(caller.Grants, Security.Verb.Read))
        {
            throw new Gateway.RolloutRefusedException("approval-required",
                "The revision to deliver, or an earlier one it includes, needs approval that it lacks; nothing was started. `rig history` shows the revisions' approval states, and `rig approval REV` what you can see of one.",
                Gateway.OperatorRefusal.Conflict);
        }
    }

    /// <summary>Rollouts, newest first (at most <paramref name="limit"/>; only running and paused ones when
    /// <paramref name="activeOnly"/>), with their devices: two queries whatever their number.</summary>
    public async Task<IReadOnlyList<RolloutView>> ListAsync(Caller caller, bool activeOnly, int limit, CancellationToken ct)
    {
        access.Allow(caller, "rollout.list");
        var rollouts = await Store.ListRolloutsWithDevicesAsync(activeOnly, limit, ct).ConfigureAwait(false);
        return [.. rollouts.Select(r => Visible(caller, r.ToView())).OfType<RolloutView>()];
    }

    /// <summary>One rollout with every device's state, or null.</summary>
    public async Task<RolloutView?> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        access.Allow(caller, "rollout.read");
        return Visible(caller, (await Store.GetRolloutAsync(id, ct).ConfigureAwait(false))?.ToView());
    }

    /// <summary>A rollout as the caller may see it: null (as if it did not exist) when none of its devices is visible to
    /// them; otherwise with only the devices they may see.</summary>
    private static RolloutView? Visible(Caller caller, RolloutView? rollout)
    {
        if (rollout is null)
            return null;
        var devices = rollout.Devices.Where(d => OperatorAccess.MaySee(caller, d.Device)).ToList();
        return devices.Count == 0 ? null : devices.Count == rollout.Devices.Count ? rollout : rollout with { Devices = devices };
    }

    /// <summary>Check that the caller may act on the rollout: it must be visible (else null, answered as unknown), and
    /// the caller must hold 'rollout' on every one of its devices.</summary>
    private async Task<bool> MayActAsync(Caller caller, string id, string action, CancellationToken ct)
    {
        access.Allow(caller, action);
        var rollout = await Store.GetRolloutAsync(id, ct).ConfigureAwait(false);
        if (rollout is null || Visible(caller, rollout.ToView()) is null)
            return false;
        // A rollout that also reaches devices the caller may not see is refused as a whole (403), without naming them:
        // AllowDevices would answer the first invisible one as "no device 'NAME'", a name the caller must not learn.
        if (rollout.Devices.Any(d => !OperatorAccess.MaySee(caller, d.Device)))
        {
            throw new Security.ForbiddenException($"Operator '{caller.Name}' may not act on rollout '{id}': it also reaches devices outside their scope. Nothing was done.",
                "Ask an operator whose grants cover every device of the rollout (`rig rollout status` shows the devices you can see).");
        }
        access.AllowDevices(caller, Security.Verb.Rollout, rollout.Devices.Select(d => d.Device));
        return true;
    }

    /// <summary>Pause a running rollout; null when it is not running.</summary>
    public async Task<RolloutView?> PauseAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!await MayActAsync(caller, id, "rollout.pause", ct).ConfigureAwait(false))
            return null;
        return await gateway.PauseRolloutAsync(id, ct).ConfigureAwait(false) ? await GetAsync(caller, id, ct).ConfigureAwait(false) : null;
    }

    /// <summary>Resume a paused rollout, optionally with a higher failure threshold; null when it is not paused.</summary>
    public async Task<RolloutView?> ResumeAsync(Caller caller, string id, int? maxFailures, CancellationToken ct)
    {
        if (!await MayActAsync(caller, id, "rollout.resume", ct).ConfigureAwait(false))
            return null;
        return await gateway.ResumeRolloutAsync(id, maxFailures, ct).ConfigureAwait(false) ? await GetAsync(caller, id, ct).ConfigureAwait(false) : null;
    }

    /// <summary>Cancel a running or paused rollout; null when it is neither.</summary>
    public async Task<RolloutView?> CancelAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!await MayActAsync(caller, id, "rollout.cancel", ct).ConfigureAwait(false))
            return null;
        return await gateway.CancelRolloutAsync(id, ct).ConfigureAwait(false) ? await GetAsync(caller, id, ct).ConfigureAwait(false) : null;
    }

    /// <summary>Put a failed or paused rollout's failed devices back into their waves.</summary>
    public async Task<RolloutView> RetryAsync(Caller caller, string id, CancellationToken ct)
    {
        if (!await MayActAsync(caller, id, "rollout.retry", ct).ConfigureAwait(false))
            throw new Gateway.RolloutRefusedException("unknown-rollout", $"There is no rollout '{id}'; see `rig rollout list`.", Gateway.OperatorRefusal.NotFound);
        return Visible(caller, (await gateway.RetryRolloutAsync(id, ct).ConfigureAwait(false)).ToView())!;
    }
}
