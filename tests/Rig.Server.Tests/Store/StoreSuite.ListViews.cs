using System.Text.Json;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

/// <summary>The operator API's list reads (one query per list) answer what reading row by row answers.</summary>
public abstract partial class StoreSuite
{
    [Fact]
    public async Task Revision_summaries_count_the_objects_each_revision_touched_like_the_per_revision_count()
    {
        Assert.Empty(await Store.ListRevisionSummariesAsync(10));
        await Store.SaveModelAsync(SampleModel(), "alice", "initial import");
        await Store.SaveModelAsync(SampleModel() with { Parameters = new Dictionary<string, string> { ["http_port"] = "81" } }, "bob", "port 81");
        await Store.SaveModelAsync(SampleModel() with { Devices = [.. SampleModel().Devices.Skip(1)] }, "carol", "one device fewer");

        var summaries = await Store.ListRevisionSummariesAsync(10);

        var expected = new List<RevisionSummary>();
        foreach (var r in await Store.RevisionsAsync())
            expected.Add(new RevisionSummary(r.Rev, r.Author, r.Message, r.CreatedAt, await Store.RevisionChangeCountAsync(r.Rev)));
        Assert.Equal(expected, summaries);
        Assert.All(summaries, s => Assert.True(s.Changes > 0));
        Assert.Equal([3L, 2L], (await Store.ListRevisionSummariesAsync(2)).Select(s => s.Rev));
    }

    [Fact]
    public async Task Rollouts_listed_with_their_devices_are_the_rollouts_read_one_by_one()
    {
        await Store.SaveModelAsync(SampleModel(), "alice", "initial import");
        var first = await Store.CreateRolloutAsync(new RolloutSpec(1, Device, 0, "100%", 10, 0, "first", "alice"), [(Device, 0)]);
        Clock.Advance(TimeSpan.FromSeconds(1));
        var second = await Store.CreateRolloutAsync(new RolloutSpec(1, OtherDevice, 0, "100%", 10, 0, "second", "bob"), [(OtherDevice, 0)]);
        Assert.NotNull(first.Created);
        Assert.NotNull(second.Created);

        var listed = await Store.ListRolloutsWithDevicesAsync(activeOnly: false, 50);

        var oneByOne = new List<RolloutInfo?>();
        foreach (var r in await Store.ListRolloutsAsync(activeOnly: false, 50))
            oneByOne.Add(await Store.GetRolloutAsync(r.Id));
        Assert.Equal([second.Created!.Id, first.Created!.Id], listed.Select(r => r.Id));
        Assert.Equal(JsonSerializer.Serialize(oneByOne), JsonSerializer.Serialize(listed));
        Assert.Single(listed[0].Devices);
        Assert.Empty(await Store.ListRolloutsWithDevicesAsync(activeOnly: false, 0));
    }

    [Fact]
    public async Task Commands_of_several_queues_are_each_queues_commands_in_order()
    {
        var a = await CreateQueueAsync(Writes(3), Device);
        var b = await CreateQueueAsync(Writes(2, "/etc/rig/g"), OtherDevice);

        var both = await Store.GetCommandsOfQueuesAsync([a.Id, b.Id, "no-such-queue"]);

        Assert.Equal(JsonSerializer.Serialize(await Store.GetCommandsAsync(a.Id)), JsonSerializer.Serialize(both[a.Id]));
        Assert.Equal(JsonSerializer.Serialize(await Store.GetCommandsAsync(b.Id)), JsonSerializer.Serialize(both[b.Id]));
        Assert.Equal([0, 1, 2], both[a.Id].Select(c => c.Sequence));
        Assert.Empty(both["no-such-queue"]);
        Assert.Empty(await Store.GetCommandsOfQueuesAsync([]));
    }
}
