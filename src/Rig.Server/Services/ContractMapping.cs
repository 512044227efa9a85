using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>Store rows and gateway results into the operator API's contract types (<c>Rig.Contracts</c>), field for
/// field: the store may change its rows without changing what operators and the CLI read.</summary>
internal static class ContractMapping
{
    public static QueueView ToView(this QueueInfo q) =>
        new(q.Id, q.Device, q.Status, q.Position, q.Length, q.Reason, q.Error, q.ModelRev, q.CreatedAt, q.UpdatedAt, q.FinishedAt);

    public static CommandView ToView(this CommandInfo c) =>
        new(c.Id, c.QueueId, c.Sequence, c.Kind, c.Role, c.Reason, c.Status, c.Deliveries, c.Spec, c.Result);

    public static IReadOnlyList<CommandView> ToViews(this IEnumerable<CommandInfo> commands) => [.. commands.Select(ToView)];

    public static RolloutView ToView(this RolloutInfo r) =>
        new(r.Id, r.Rev, r.Selector, r.Canary, r.Batch, r.MaxParallel, r.MaxFailures, r.Status, r.Reason, r.CreatedBy, r.Error, r.CreatedAt, r.UpdatedAt, r.FinishedAt,
            [.. r.Devices.Select(d => new RolloutDeviceView(d.Device, d.Position, d.Wave, d.Status, d.QueueId, d.Detail, d.State, d.LastSeenAt))], r.Purpose, r.DeviceTimeout);

    public static ScriptView ToView(this StoredScript s) => new(s.Name, s.Description, s.Commands, s.CreatedBy, s.UpdatedAt);

    public static StoreStatsView ToView(this StoreStats s) => new(s.Exchanges, s.Commits, s.Batches, s.LargestBatch);

    public static ModelChangeView ToView(this ModelChange c) => new(c.Kind, c.Name, c.Change, c.Before, c.After);

    public static IReadOnlyList<ModelChangeView> ToViews(this IEnumerable<ModelChange> changes) => [.. changes.Select(ToView)];

    public static EnrollmentTokenView ToView(this EnrollmentToken t) => new(t.Device, t.Token, t.CaPin, t.ExpiresAt, t.AgentUrl);

    public static ConvergeDeviceView ToView(this ConvergeDeviceResult r) => new(r.Device, r.Outcome, r.QueueId, r.Commands, r.Errors, r.Poked);

    public static LifecycleResponse ToView(this LifecycleResult r) =>
        new(r.Revision, r.Changes.ToViews(), r.Errors, r.Rollout?.ToView(), [.. r.Queues.Select(ToView)], r.Token?.ToView());

    public static RolloutRequest ToGateway(this RolloutStartRequest r) =>
        new(r.Revision, r.Devices, r.Canary, r.Batch, r.MaxParallel, r.MaxFailures, r.Reason, r.DeviceTimeout);

    public static CloneRequest ToGateway(this CloneDeviceRequest r) => new(r.Name, r.Hostname, r.Addresses, r.Macs, r.Message);
}
