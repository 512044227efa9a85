using Microsoft.AspNetCore.Http;
using Rig.Server.Services;
using Rig.Server.Ui.Components;

namespace Rig.Server.Ui;

/// <summary>What the dashboard shows: the gateway's status (devices by state, active rollouts), the devices that need
/// a look, drift and revisions waiting for approval; all of it only what the operator may read.</summary>
public sealed record DashboardData(StatusResponse Status, IReadOnlyList<DeviceStatus> Failed, IReadOnlyList<DeviceStatus> NotSeen, int? Drifted, IReadOnlyList<RevisionView> PendingApprovals);

internal static partial class UiEndpoints
{
    /// <summary>Devices listed by name on the dashboard per group; the rest is a link to the filtered device list.</summary>
    internal const int DashboardListed = 10;

    private static async Task<IResult> DashboardAsync(HttpContext context, OperatorServices services, CancellationToken ct) =>
        Page<DashboardPage>(context, new Dictionary<string, object?> { ["Data"] = await DashboardDataAsync(CallerOf(context), services, ct).ConfigureAwait(false) });

    internal static async Task<DashboardData> DashboardDataAsync(Caller caller, OperatorServices services, CancellationToken ct)
    {
        var status = await services.Status.GetAsync(caller, ct).ConfigureAwait(false);
        var devices = await services.Devices.ListAsync(caller, ct).ConfigureAwait(false);
        var (drift, _) = await services.Model.DriftAsync(caller, null, ct).ConfigureAwait(false);
        var revisions = await services.Model.ListRevisionsAsync(caller, 200, ct).ConfigureAwait(false);
        return new DashboardData(status,
            [.. devices.Where(d => d.State == DeviceStates.Failed)],
            [.. devices.Where(d => d.State == DeviceStates.NotSeen)],
            drift?.Devices.Count(d => d.Outcome == DriftOutcome.Drift),
            [.. revisions.Where(r => r.Approval is ApprovalStates.Pending or ApprovalStates.Rejected)]);
    }
}
