using Rig.Model.Domain;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    // ---- approvals (four eyes) -----------------------------------------------------------------

    [Fact]
    public async Task Approval_decisions_are_kept_in_order_with_who_when_and_why()
    {
        var first = await Store.RecordApprovalAsync(1, "bob", ApprovalDecisions.Reject, "kernel too new");
        Clock.Advance(TimeSpan.FromMinutes(5));
        var second = await Store.RecordApprovalAsync(1, "bob", ApprovalDecisions.Approve, "checked again");
        await Store.RecordApprovalAsync(2, "carol", ApprovalDecisions.Approve, "");

        var upTo1 = await Store.ApprovalsUpToAsync(1);
        var all = await Store.ApprovalsUpToAsync(null);

        Assert.Equal([first, second], upTo1);
        Assert.Equal(3, all.Count);
        Assert.True(first.Id < second.Id);
        Assert.Equal(Clock.Now, second.At);
        Assert.Equal(("bob", ApprovalDecisions.Reject, "kernel too new"), (upTo1[0].Operator, upTo1[0].Decision, upTo1[0].Message));
        Assert.Equal(3, await ScalarAsync("SELECT COUNT(*) FROM approvals"));
    }

    [Fact]
    public async Task A_decision_that_is_neither_approve_nor_reject_is_not_recorded()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.RecordApprovalAsync(1, "bob", "maybe", ""));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM approvals"));
    }

    [Fact]
    public async Task Operators_are_listed_with_when_they_were_made()
    {
        await Store.AddFirstOperatorAsync(Digest("admin token"), "admin", null);
        Clock.Advance(TimeSpan.FromHours(1));
        Assert.Null(await Store.CreateOperatorTokenAsync(Digest("bob token"), "bob-1", "bob", null, null, "admin"));

        var operators = await Store.OperatorsSinceAsync();

        Assert.Equal(["admin", "bob"], operators.Select(o => o.Name));
        Assert.Equal(Clock.Now, operators[1].CreatedAt);
        Assert.Equal(Clock.Now.AddHours(-1), operators[0].CreatedAt);
    }

    [Fact]
    public async Task Approval_policies_are_a_model_object_of_their_own()
    {
        var model = new RigModel
        {
            Sites = [new Site { Name = "shop" }],
            Approvals = [new ApprovalPolicy { Kinds = ["os", "app"], Sites = ["shop"], Approvals = 2 }, new ApprovalPolicy { Kinds = ["content"], Approvals = 0 }],
        };
        var first = await Store.SaveModelAsync(model, "admin", "policies");
        var second = await Store.SaveModelAsync(model with { Approvals = [new ApprovalPolicy { Kinds = ["os"], Approvals = 1 }] }, "admin", "fewer");

        var (_, loaded) = await Store.LoadModelAsync(first.Rev);
        var diff = await Store.DiffAsync(first.Rev, second.Rev);

        Assert.Equal(2, loaded.Approvals.Count);
        Assert.Equal(["os", "app"], loaded.Approvals[0].Kinds!);
        Assert.Equal(["shop"], loaded.Approvals[0].Sites!);
        Assert.Null(loaded.Approvals[0].Customers);
        Assert.Equal(2, loaded.Approvals[0].Approvals);
        Assert.Equal(0, loaded.Approvals[1].Approvals);
        var change = Assert.Single(diff);
        Assert.Equal(("approval-policies", "*", "changed"), (change.Kind, change.Name, change.Change));
    }
}
