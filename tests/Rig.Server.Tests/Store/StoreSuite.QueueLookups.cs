using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    // ---- what the rollout engine reads and writes per step: one query, one transaction ----------------

    [Fact]
    public async Task Queues_are_read_by_id_in_one_call_and_unknown_ids_are_left_out()
    {
        var first = await CreateQueueAsync(Writes(2), Device);
        var second = await CreateQueueAsync(Writes(1), OtherDevice);
        await Store.CancelQueueAsync(OtherDevice, "test");

        var queues = (await Store.GetQueuesAsync([first.Id, second.Id, "no-such-queue"])).ToDictionary(q => q.Id);

        Assert.Equal(2, queues.Count);
        Assert.Equal((Device, QueueStates.Pending, 2), (queues[first.Id].Device, queues[first.Id].Status, queues[first.Id].Length));
        Assert.Equal(QueueStates.Cancelled, queues[second.Id].Status);
        Assert.Empty(await Store.GetQueuesAsync([]));
    }

    [Fact]
    public async Task The_devices_of_a_rollout_are_recorded_in_one_transaction()
    {
        var created = (await Store.CreateRolloutAsync(new RolloutSpec(1, "all", 0, "100%", 10, 0, "test", "test"), [(Device, 0), (OtherDevice, 0)])).Created!;
        var queue = await CreateQueueAsync(Writes(1), Device);
        var before = Store.Stats.Commits;

        await Store.UpdateRolloutDevicesAsync(created.Id,
            [new RolloutDeviceUpdate(Device, RolloutDeviceStatuses.Queued, queue.Id, null), new RolloutDeviceUpdate(OtherDevice, RolloutDeviceStatuses.Blocked, null, "busy")]);

        Assert.Equal(1, Store.Stats.Commits - before);
        var devices = (await Store.GetRolloutAsync(created.Id))!.Devices.ToDictionary(d => d.Device);
        Assert.Equal((RolloutDeviceStatuses.Queued, queue.Id), (devices[Device].Status, devices[Device].QueueId));
        Assert.Equal((RolloutDeviceStatuses.Blocked, (string?)null, "busy"), (devices[OtherDevice].Status, devices[OtherDevice].QueueId, devices[OtherDevice].Detail));
    }
}
