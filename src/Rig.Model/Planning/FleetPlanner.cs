using Rig.Model.Domain;

namespace Rig.Model.Planning;

/// <summary>What the gateway recorded of a device that a plan reads: its recorded state (with its native packages
/// when known) and the free bytes of its last inventory (null: unknown, the model's disks are checked instead).</summary>
public sealed record RecordedDevice(RecordedState Recorded, long? FreeBytes);

/// <summary>Plans many devices at once: one index and one desired-state builder (templates parsed once) for the
/// whole model, devices planned in parallel on every core. Pure. Every plan the gateway makes goes through here:
/// <c>rig plan</c>, converge, rollouts, rebuild.</summary>
public static class FleetPlanner
{
    /// <summary>Plan <paramref name="devices"/> against what <paramref name="recorded"/> says each has (null: the
    /// gateway knows nothing of it). The result is in the order of the devices.</summary>
    public static IReadOnlyList<DevicePlan> PlanAll(ModelIndex index, DesiredStateBuilder builder, IReadOnlyList<string> devices, Func<string, RecordedDevice?> recorded)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(recorded);
        var plans = new DevicePlan[devices.Count];
        Parallel.For(0, devices.Count, i => plans[i] = Plan(index, builder, devices[i], recorded(devices[i])));
        return plans;
    }

    /// <summary>The plan of one device, checked against its facts (free disk). A device the model no longer has but
    /// the gateway knows is planned empty (everything removed); one neither knows is an error.</summary>
    public static DevicePlan Plan(ModelIndex index, DesiredStateBuilder builder, string device, RecordedDevice? recorded)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(builder);
        var state = recorded?.Recorded ?? RecordedState.Empty;
        if (!index.Devices.TryGetValue(device, out var model))
        {
            if (recorded is null)
                return new DevicePlan(device, [], [new ModelError("device.unknown", $"devices/{device}", $"Device '{device}' is neither in the model nor known to the gateway.")]);
            return Planner.Plan(new DesiredState(device, [], []), state, index.KindOrder); // gone from the model: remove everything
        }
        var plan = Planner.Plan(builder.Build(device), state, index.KindOrder);
        if (!plan.IsValid)
            return plan;
        var factErrors = PlanChecks.Check(plan, model, recorded?.FreeBytes);
        return factErrors.Count == 0 ? plan : plan with { Errors = factErrors };
    }
}
