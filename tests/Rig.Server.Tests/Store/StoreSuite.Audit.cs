using Rig.Protocol.Messages;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    // ---- the audit log's hash chain ------------------------------------------------------------

    private async Task AppendFiveAsync()
    {
        for (var i = 1; i <= 5; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(1));
            await Store.AppendAuditAsync([new AuditEntry("alice", i % 2 == 0 ? "rollout.start" : "model.apply", $"rev={i}", i == 3 ? Device : null, "ok", $$"""{"status":200,"n":{{i}}}""")]);
        }
    }

    [Fact]
    public async Task Appended_audit_entries_form_a_chain_that_verifies()
    {
        var empty = await Store.VerifyAuditAsync();
        Assert.Equal((0L, 0L, AuditChain.Genesis), (empty.Checked, empty.Head.Seq, empty.Head.Hash));
        Assert.Null(empty.Break);

        await AppendFiveAsync();

        var rows = await Store.ListAuditAsync(new AuditQuery());
        Assert.Equal([1L, 2, 3, 4, 5], rows.Select(r => r.Seq));
        Assert.Equal(AuditChain.Genesis, rows[0].PrevHash);
        for (var i = 1; i < rows.Count; i++)
            Assert.Equal(rows[i - 1].Hash, rows[i].PrevHash);
        var verified = await Store.VerifyAuditAsync(pageSize: 2); // pages too
        Assert.Null(verified.Break);
        Assert.Equal(5, verified.Checked);
        Assert.Equal((5L, rows[^1].Hash), (verified.Head.Seq, verified.Head.Hash));
        Assert.Equal(verified.Head, await Store.AuditHeadAsync());

        Assert.Equal([3L], (await Store.ListAuditAsync(new AuditQuery(Device: Device))).Select(r => r.Seq));
        Assert.Equal([4L, 5], (await Store.ListAuditAsync(new AuditQuery(After: 3))).Select(r => r.Seq));
        Assert.Equal([2L, 3], (await Store.ListAuditAsync(new AuditQuery(After: 1, Limit: 2))).Select(r => r.Seq));
        Assert.Equal([5L], (await Store.ListAuditAsync(new AuditQuery(Since: Clock.GetUtcNow()))).Select(r => r.Seq));
        Assert.Empty(await Store.ListAuditAsync(new AuditQuery(Operator: "bob")));
    }

    [Fact]
    public async Task An_audit_entry_altered_in_the_database_is_named_by_verify()
    {
        await AppendFiveAsync();

        Assert.Equal(1, await ExecuteAsync("UPDATE audit_log SET operator = 'mallory' WHERE seq = 3"));

        var verified = await Store.VerifyAuditAsync();
        Assert.NotNull(verified.Break);
        Assert.Equal((3L, "model.apply", "altered"), (verified.Break.Seq, verified.Break.Action, verified.Break.Problem));
        Assert.Contains("entry 3 (model.apply)", verified.Break.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_audit_entry_deleted_from_the_database_is_named_by_verify()
    {
        await AppendFiveAsync();

        Assert.Equal(1, await ExecuteAsync("DELETE FROM audit_log WHERE seq = 3"));

        var verified = await Store.VerifyAuditAsync();
        Assert.NotNull(verified.Break);
        Assert.Equal((4L, "removed"), (verified.Break.Seq, verified.Break.Problem));
        Assert.Contains("entry 3 was removed", verified.Break.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_audit_entries_swapped_in_the_database_are_named_by_verify()
    {
        await AppendFiveAsync();

        // seq is the primary key: move one out of the way first.
        Assert.Equal(1, await ExecuteAsync("UPDATE audit_log SET seq = -3 WHERE seq = 3"));
        Assert.Equal(1, await ExecuteAsync("UPDATE audit_log SET seq = 3 WHERE seq = 4"));
        Assert.Equal(1, await ExecuteAsync("UPDATE audit_log SET seq = 4 WHERE seq = -3"));

        var verified = await Store.VerifyAuditAsync();
        Assert.NotNull(verified.Break);
        Assert.Equal((3L, "rollout.start", "reordered"), (verified.Break.Seq, verified.Break.Action, verified.Break.Problem)); // the old 4th entry, now 3rd
    }

    [Fact]
    public async Task Audit_entries_removed_from_the_end_are_detected_against_the_head()
    {
        await AppendFiveAsync();

        Assert.Equal(2, await ExecuteAsync("DELETE FROM audit_log WHERE seq >= 4"));

        var verified = await Store.VerifyAuditAsync();
        Assert.NotNull(verified.Break);
        Assert.Equal((5L, "removed"), (verified.Break.Seq, verified.Break.Problem));
        Assert.Contains("entries 4 to 5 were removed", verified.Break.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_audit_entry_added_beyond_the_head_is_named_by_verify()
    {
        await AppendFiveAsync();

        // A copy of the last entry as entry 6, hash and all: the chain up to the head still verifies.
        Assert.Equal(1, await ExecuteAsync("INSERT INTO audit_log (seq, at, operator, action, target, device, customer, outcome, detail, prev_hash, hash) " +
            "SELECT seq + 1, at, operator, 'grant.add', target, device, customer, outcome, detail, hash, hash FROM audit_log WHERE seq = 5"));

        var verified = await Store.VerifyAuditAsync();
        Assert.NotNull(verified.Break);
        Assert.Equal((6L, "appended", "grant.add"), (verified.Break.Seq, verified.Break.Problem, verified.Break.Action));
    }

    [Fact]
    public async Task Concurrent_audit_appends_form_one_unbroken_chain()
    {
        // Several stores (as several gateways on one PostgreSQL would) and several tasks each.
        await using var second = await OpenStoreAsync();
        var stores = new[] { Store, second };
        await TogetherAsync(16, async i =>
        {
            for (var k = 0; k < 5; k++)
                await stores[i % 2].AppendAuditAsync([new AuditEntry($"op-{i}", "model.apply", $"k={k}", null, "ok", null), new AuditEntry($"op-{i}", "rollout.start", $"k={k}", null, "ok", null)]);
            return i;
        });

        var verified = await Store.VerifyAuditAsync();
        Assert.Null(verified.Break);
        Assert.Equal(160, verified.Checked);
        var rows = await Store.ListAuditAsync(new AuditQuery(Limit: 1000));
        Assert.Equal(Enumerable.Range(1, 160).Select(i => (long)i), rows.Select(r => r.Seq));
        // Each append's two entries are adjacent: one append is one link of the chain.
        for (var i = 0; i < rows.Count; i += 2)
            Assert.Equal((rows[i].Operator, rows[i].Target), (rows[i + 1].Operator, rows[i + 1].Target));
    }

    [Fact]
    public async Task A_command_result_is_in_the_audit_log_once_the_exchange_is_acknowledged()
    {
        var commands = Writes(2);
        var queue = await CreateQueueAsync(commands);
        AssertCommand(commands[0], await ExchangeAsync(Inquiry()));
        Assert.Empty(await Store.ListAuditAsync(new AuditQuery()));

        AssertCommand(commands[1], await ExchangeAsync(Report(Succeeded(commands[0].Id))));
        await ExchangeAsync(Report(Succeeded(commands[0].Id))); // a replay: recorded once

        var rows = await Store.ListAuditAsync(new AuditQuery(Device: Device));
        var entry = Assert.Single(rows);
        Assert.Equal(("command.result", commands[0].Id, Device, "succeeded", (string?)null), (entry.Action, entry.Target, entry.Device, entry.Outcome, entry.Operator));
        Assert.Contains($"\"queue\":\"{queue.Id}\"", entry.Detail, StringComparison.Ordinal);
        Assert.Contains("\"position\":0", entry.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("output", entry.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Null((await Store.VerifyAuditAsync()).Break);
    }

    [Fact]
    public async Task Results_of_many_devices_exchanging_at_once_form_one_unbroken_chain()
    {
        const int devices = 20;
        var names = Enumerable.Range(0, devices).Select(i => $"node-{i:00}").ToArray();
        var commands = names.Select(_ => Writes(3)).ToArray();
        for (var i = 0; i < devices; i++)
            Assert.NotNull((await Store.CreateQueueAsync(names[i], commands[i], "fleet rollout", 1)).Created);
        await Store.AppendAuditAsync([new AuditEntry("alice", "rollout.start", "r", null, "ok", null)]);

        await TogetherAsync(devices, async i =>
        {
            var response = await ExchangeAsync(Inquiry(names[i]));
            while (response.Answer == ExchangeAnswer.Command)
            {
                await Store.AppendAuditAsync([new AuditEntry("alice", "device.poke", names[i], names[i], "ok", null)]); // operators at the same time
                response = await ExchangeAsync(Report(Succeeded(response.Command!.Id), names[i]));
            }
            return i;
        });

        var verified = await Store.VerifyAuditAsync();
        Assert.Null(verified.Break);
        Assert.Equal(1 + 2 * 3 * devices, verified.Checked);
        for (var i = 0; i < devices; i++)
        {
            var results = (await Store.ListAuditAsync(new AuditQuery(Device: names[i]))).Where(r => r.Action == "command.result").Select(r => r.Target);
            Assert.Equal(commands[i].Select(c => c.Id), results);
        }
    }
}
