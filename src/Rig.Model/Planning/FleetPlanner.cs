using Rig.Model.Domain;

namespace Rig.Model.Planning;

/// <summary>Plans many devices at once: one index and one desired-state builder (templates parsed once) for the
/// whole model, devices planned in parallel on every core. Pure.</summary>
public static class FleetPlanner
{
    /// <summary>Plan <paramref name="devices"/> (all of the model's when null) against what
    /// <paramref name="recorded"/> says each has. The result is in the order of the devices.</summary>
    public static IReadOnlyList<DevicePlan> PlanAll(RigModel model, Func<string, RecordedState> recorded, IReadOnlyList<string>? devices = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(recorded);
        var index = new ModelIndex(model);
        var builder = new DesiredStateBuilder(index);
        var names = devices ?? [.. model.Devices.Select(d => d.Name)];
        var plans = new DevicePlan[names.Count];
        Parallel.For(0, names.Count, i => plans[i] = Planner.Plan(builder.Build(names[i]), recorded(names[i]), index.KindOrder));
        return plans;
    }
}
