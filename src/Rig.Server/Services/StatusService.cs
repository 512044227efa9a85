namespace Rig.Server.Services;

/// <summary>The gateway at a glance (<c>rig status</c>) and its readiness.</summary>
internal sealed class StatusService(Gateway.Gateway gateway, DeviceService devices, RolloutService rollouts, string agentUrl, OperatorAccess access)
{
    /// <summary>Version, store, devices by state, agents seen recently, active rollouts.</summary>
    public async Task<StatusResponse> GetAsync(Caller caller, CancellationToken ct)
    {
        access.Allow(caller, "status.read");
        var store = gateway.Store;
        var (rev, model) = await store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var statuses = await devices.ListStatusesAsync(caller, model, ct).ConfigureAwait(false);
        var active = await rollouts.ListAsync(caller, activeOnly: true, 20, ct).ConfigureAwait(false);
        var now = gateway.Clock.GetUtcNow();
        var window = devices.SeenWindow;
        int Count(string state) => statuses.Count(s => s.State == state);
        return new StatusResponse(typeof(StatusService).Assembly.GetName().Version?.ToString() ?? "0", agentUrl, gateway.Authority.Pin, rev, model.Devices.Count(d => OperatorAccess.MaySee(caller, d.Name)),
            model.Packages.Count(p => p.Customer is null || OperatorAccess.MaySeeCustomer(caller, p.Customer)), store.Stats.ToView(), store.Engine.ToString())
        {
            DeviceStates = new DeviceStateCounts(Count(DeviceStates.InSync), Count(DeviceStates.Changing), Count(DeviceStates.Failed), Count(DeviceStates.NeverEnrolled),
                Count(DeviceStates.NotSeen), Count(DeviceStates.NotConverged)),
            AgentsSeen = statuses.Count(s => s.LastSeenAt is { } seen && now - seen <= window),
            SeenWindowSeconds = (int)window.TotalSeconds,
            ActiveRollouts = [.. active.Select(r => new RolloutSummary(r.Id, r.Rev, r.Status, r.Reason, r.CreatedBy, r.CreatedAt, r.Devices.Count,
                r.Devices.Count(d => d.Status is RolloutDeviceStatuses.Succeeded or RolloutDeviceStatuses.Unchanged), r.Devices.Count(d => d.Status == RolloutDeviceStatuses.Failed), r.Error))],
        };
    }

    /// <summary>True when the store answers (migrations ran before the listener opened).</summary>
    public Task<bool> IsReadyAsync(CancellationToken ct) => gateway.Store.IsReachableAsync(ct);
}
