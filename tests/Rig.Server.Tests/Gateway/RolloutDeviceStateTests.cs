using Rig.Protocol;
using Rig.Server.Store;

namespace Rig.Server.Tests.Gateway;

/// <summary>The state an operator sees of a device in a rollout: the rollout's bookkeeping refined by the device's
/// queue and its agent.</summary>
public sealed class RolloutDeviceStateTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 14, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Absent = RigLimits.Default.AgentAbsentAfter;
    private static readonly AgentPresence Alive = new(Now.AddDays(-1), true, Now.AddMinutes(-1));

    private static (string State, string? Detail) Queued(AgentPresence agent, string? queueStatus = QueueStates.Pending) =>
        RolloutDeviceClassifier.Classify(RolloutDeviceStatuses.Queued, null, queueStatus, agent, Now, Absent);

    [Fact]
    public void A_queued_device_whose_agent_never_enrolled_is_waiting_for_agent_never_enrolled()
    {
        Assert.Equal((RolloutDeviceStates.WaitingForAgent, "waiting for agent: never enrolled"), Queued(new AgentPresence(null, false, null)));
    }

    [Fact]
    public void A_queued_device_whose_agent_has_not_been_seen_for_a_while_says_since_when()
    {
        var seen = Now - Absent - TimeSpan.FromMinutes(1);
        Assert.Equal((RolloutDeviceStates.WaitingForAgent, "waiting for agent: not seen since 2026-12-05 13:49:00Z"), Queued(new AgentPresence(Now.AddDays(-1), true, seen)));
    }

    [Fact]
    public void A_queued_device_whose_agent_enrolled_but_never_connected_or_was_revoked_is_waiting_for_agent_with_why()
    {
        Assert.Equal((RolloutDeviceStates.WaitingForAgent, "waiting for agent: enrolled at 2026-12-05 13:00:00Z, never connected"), Queued(new AgentPresence(Now.AddHours(-1), true, null)));
        Assert.Equal(RolloutDeviceStates.WaitingForAgent, Queued(new AgentPresence(Now.AddHours(-1), false, Now)).State);
        Assert.Contains("revoked", Queued(new AgentPresence(Now.AddHours(-1), false, Now)).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_queued_device_whose_agent_was_seen_recently_is_queued_and_running_once_it_took_commands()
    {
        Assert.Equal((RolloutDeviceStates.Queued, null), Queued(Alive));
        Assert.Equal(RolloutDeviceStates.Running, Queued(Alive, QueueStates.Running).State);
        Assert.Equal(RolloutDeviceStates.Rebooting, Queued(Alive, QueueStates.Rebooting).State);
        // Running even when the agent is away now: it took its commands, a reboot or a long install keeps it quiet.
        Assert.Equal(RolloutDeviceStates.Running, Queued(new AgentPresence(null, false, null), QueueStates.Running).State);
    }

    [Fact]
    public void Stored_statuses_map_to_states_and_every_state_is_listed()
    {
        Assert.Equal(RolloutDeviceStates.Pending, RolloutDeviceClassifier.Classify(RolloutDeviceStatuses.Waiting, null, null, Alive, Now, Absent).State);
        Assert.Equal((RolloutDeviceStates.Blocked, "busy"), RolloutDeviceClassifier.Classify(RolloutDeviceStatuses.Blocked, "busy", null, Alive, Now, Absent));
        foreach (var status in new[] { RolloutDeviceStatuses.Succeeded, RolloutDeviceStatuses.Unchanged, RolloutDeviceStatuses.Failed, RolloutDeviceStatuses.Cancelled })
            Assert.Equal(status, RolloutDeviceClassifier.Classify(status, null, null, new AgentPresence(null, false, null), Now, Absent).State);
        Assert.Equal(10, RolloutDeviceStates.All.Distinct().Count());
    }
}
