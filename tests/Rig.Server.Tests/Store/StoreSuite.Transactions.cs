using System.Data.Common;
using Rig.Model.Planning;
using Rig.Server.Gateway;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    // ---- transactions (CHECKLIST 19) -----------------------------------------------------------

    [Fact]
    public async Task A_queue_creation_that_fails_midway_leaves_nothing_behind()
    {
        var commands = Writes(3);
        commands[2] = commands[2] with { Id = commands[0].Id }; // the third insert violates the primary key
        var before = await SnapshotAsync();

        await Assert.ThrowsAnyAsync<DbException>(() => Store.CreateQueueAsync(Device, commands, "broken", 1));

        Assert.Null(await Store.GetActiveQueueAsync(Device));
        Assert.Null(await Store.GetLatestQueueAsync(Device));
        Assert.Equal(before, await SnapshotAsync());
        // Nothing is left locked or half-made: the device can get a queue and run it.
        await WalkAsync(Writes(2));
    }

    [Fact]
    public async Task An_exchange_refused_after_its_first_writes_leaves_nothing_behind()
    {
        // "rebooted" is applied first (reboot done, queue advanced), then the result in the same request turns
        // out to be another device's: the whole exchange is refused and the reboot is not recorded either.
        var commands = new List<NewCommand> { Reboot(), WriteFile("/etc/b", "b") };
        var queue = await CreateQueueAsync(commands);
        var theirs = Writes(1);
        await CreateQueueAsync(theirs, OtherDevice);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        AssertCommand(theirs[0], await ExchangeAsync(Inquiry(OtherDevice)));
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();
        var mixed = Rebooted(commands[0].Id) with { Result = Succeeded(theirs[0].Id) };

        var refused = await Assert.ThrowsAsync<ExchangeRefusedException>(() => ExchangeAsync(mixed));

        Assert.Equal("foreign-command", refused.Code);
        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(CommandStates.Sent, (await CommandAsync(queue, commands[0])).Status);
        AssertCommand(commands[1], await ExchangeAsync(Rebooted(commands[0].Id)));
    }

    [Fact]
    public async Task A_command_id_from_an_older_queue_fails_the_whole_new_queue()
    {
        // Command ids are unique for all time (the agent's journal is keyed by them).
        var old = Writes(1);
        await WalkAsync(old);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await SnapshotAsync();
        var reused = new List<NewCommand> { WriteFile("/etc/new", "new"), old[0] };

        await Assert.ThrowsAnyAsync<DbException>(() => Store.CreateQueueAsync(Device, reused, "reuses an id", 2));

        Assert.Null(await Store.GetActiveQueueAsync(Device));
        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(Json(RecordedStateUpdater.Apply(RecordedState.Empty, old[0].Spec, old[0].RoleKind, Succeeded(old[0].Id))), Json(await RecordedAsync()));
    }
}
