using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    // ---- the operator's overview: one query per list ------------------------------------------

    [Fact]
    public async Task The_latest_queue_of_every_device_comes_in_one_list_and_a_device_lists_its_recent_queues_newest_first()
    {
        Assert.Empty(await Store.ListLatestQueuesAsync());
        var first = await CreateQueueAsync([WriteFile("/etc/a.conf", "a")]);
        await Store.CancelQueueAsync(Device, "test");
        Clock.Advance(TimeSpan.FromSeconds(1));
        var second = await CreateQueueAsync([WriteFile("/etc/a.conf", "a"), WriteFile("/etc/b.conf", "b"), WriteFile("/etc/c.conf", "c")]);
        var other = await CreateQueueAsync([WriteFile("/etc/a.conf", "a")], OtherDevice);

        var latest = await Store.ListLatestQueuesAsync();
        Assert.Equal([(Device, second.Id), (OtherDevice, other.Id)], latest.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => (l.Key, l.Value.Id)));
        Assert.Equal([second.Id, first.Id], (await Store.ListRecentQueuesAsync(Device, 2)).Select(q => q.Id));
        Assert.Equal([second.Id], (await Store.ListRecentQueuesAsync(Device, 1)).Select(q => q.Id));
        Assert.Equal([1, 2], (await Store.GetCommandsFromAsync(second.Id, 1)).Select(c => c.Sequence));
    }

    [Fact]
    public async Task The_newest_certificate_of_every_device_comes_in_one_list_revoked_or_not()
    {
        var old = Certificate(Device, "old");
        await Store.AddEnrollmentTokenAsync(Digest("t1"), Device, Clock.Now.AddHours(1));
        Assert.True(await Store.ConsumeEnrollmentTokenAsync(Digest("t1"), Device, old));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var renewed = Certificate(Device, "renewed");
        await Store.AddEnrollmentTokenAsync(Digest("t2"), Device, Clock.Now.AddHours(1));
        Assert.True(await Store.ConsumeEnrollmentTokenAsync(Digest("t2"), Device, renewed));
        var otherCertificate = Certificate(OtherDevice, "other");
        await Store.AddEnrollmentTokenAsync(Digest("t3"), OtherDevice, Clock.Now.AddHours(1));
        Assert.True(await Store.ConsumeEnrollmentTokenAsync(Digest("t3"), OtherDevice, otherCertificate));
        Clock.Advance(TimeSpan.FromMinutes(1));
        await Store.RevokeCertificatesAsync(OtherDevice);

        var all = await Store.ListLatestCertificatesAsync();
        Assert.Equal(renewed, all[Device]);
        Assert.Equal(Clock.Now, all[OtherDevice].RevokedAt);
        Assert.Equal([Device], (await Store.ListLatestCertificatesAsync(Device)).Keys);
        Assert.Empty(await Store.ListLatestCertificatesAsync("web-9"));
    }

    [Fact]
    public async Task Agents_are_listed_with_their_version_and_last_request()
    {
        await Store.TouchDeviceAsync(Device, "127.0.0.1", 7445, "1.2.3");
        Clock.Advance(TimeSpan.FromMinutes(1));
        await Store.TouchDeviceAsync(OtherDevice, null, null, null);

        var agents = (await Store.ListAgentsAsync()).OrderBy(a => a.Device, StringComparer.Ordinal).ToList();
        Assert.Equal([new AgentSeen(Device, "1.2.3", Clock.Now.AddMinutes(-1)), new AgentSeen(OtherDevice, null, Clock.Now)], agents);
    }
}
