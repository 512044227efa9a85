using Rig.Server.Gateway;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>Four eyes (docs/SECURITY.md, Approvals): what a revision's approval policy asks, and approving or rejecting
/// it. The author never decides on their own revision; an approver must hold <c>approve</c> on every place where the
/// objects that need approval lie; a revision the caller may not see answers as if it did not exist.</summary>
internal sealed class ApprovalService(Gateway.Gateway gateway, OperatorAccess access)
{
    private RigStore Store => gateway.Store;

    /// <summary>What revision <paramref name="rev"/> needs and has.</summary>
    public async Task<ApprovalView> GetAsync(Caller caller, long rev, CancellationToken ct)
    {
        access.Allow(caller, "model.history");
        var approval = await VisibleAsync(caller, rev, ct).ConfigureAwait(false);
        return await ViewAsync(caller, approval, ct).ConfigureAwait(false);
    }

    /// <summary>Approve revision <paramref name="rev"/>.</summary>
    public Task<ApprovalView> ApproveAsync(Caller caller, long rev, string? message, CancellationToken ct) =>
        DecideAsync(caller, rev, ApprovalDecisions.Approve, "revision.approve", message, ct);

    /// <summary>Reject revision <paramref name="rev"/>: its rollouts are refused until someone approves it.</summary>
    public Task<ApprovalView> RejectAsync(Caller caller, long rev, string? message, CancellationToken ct) =>
        DecideAsync(caller, rev, ApprovalDecisions.Reject, "revision.reject", message, ct);

    private async Task<ApprovalView> DecideAsync(Caller caller, long rev, string decision, string action, string? message, CancellationToken ct)
    {
        access.Allow(caller, action);
        var approval = await VisibleAsync(caller, rev, ct).ConfigureAwait(false);
        if (string.Equals(approval.Author, caller.Name, StringComparison.Ordinal))
        {
            throw new ForbiddenException(
                $"Operator '{caller.Name}' made revision {rev}: the author cannot {decision} their own revision (four eyes). Nothing was recorded.",
                $"Ask another operator holding 'approve' on what it changed to run `rig {decision} {rev}`.");
        }
        if (approval.Needs.Count == 0)
        {
            throw new TrustRefusedException("approval-not-required",
                $"Revision {rev} needs no approval: no approval policy covers what it changed. Nothing was recorded.",
                "See what a revision needs with `rig approval REV`; policies are the model's `approvals:` (docs/MODEL.md).", TrustRefusedException.Kind.Conflict);
        }
        // Each need the caller may not approve, named with the places they lack, but only the places they may read: a
        // partial reader learns how many other objects lie beyond what they see, not what they are.
        var everything = ModelScoping.OnEverything(caller.Grants, Verb.Read);
        var lacking = approval.Needs.Where(n => !Rights.Allows(caller.Grants, Verb.Approve, n.Places)).ToList();
        var outside = lacking
            .Select(n => (n.Label, Places: n.Places.Where(p => !Rights.Allows(caller.Grants, Verb.Approve, p) && (everything || Rights.Allows(caller.Grants, Verb.Read, p with { Kind = null }))).Select(ApprovalRules.Describe).Distinct().ToList()))
            .Where(n => n.Places.Count > 0)
            .Select(n => $"{n.Label} ({string.Join("; ", n.Places)})")
            .ToList();
        var unseen = lacking.Count - outside.Count;
        if (lacking.Count > 0)
        {
            throw new ForbiddenException(
                $"Operator '{caller.Name}' may not {decision} revision {rev}: it changes {string.Join(", ", outside)}{(unseen == 0 ? "" : $"{(outside.Count > 0 ? " and " : "")}{unseen} object(s) you cannot see")}, where no grant of theirs gives 'approve'. Nothing was recorded.",
                "Ask an operator holding 'approve' there, or an operator with 'manage-trust' for such a grant; `rig whoami` shows your grants.", outside);
        }
        await Store.RecordApprovalAsync(rev, caller.Name, decision, message ?? "", ct).ConfigureAwait(false);
        return await ViewAsync(caller, (await gateway.ApprovalOfAsync(rev, ct).ConfigureAwait(false))!, ct).ConfigureAwait(false);
    }

    /// <summary>The revision's approval, when it exists and the caller may see it: a revision is visible to an operator
    /// who reads everything, or who may read one of the objects it changed (where they lie now or lay then); otherwise
    /// it answers exactly as a revision that does not exist.</summary>
    private async Task<RevisionApproval> VisibleAsync(Caller caller, long rev, CancellationToken ct)
    {
        var approval = await gateway.ApprovalOfAsync(rev, ct).ConfigureAwait(false);
        if (approval is null)
            throw Unknown(rev);
        if (ModelScoping.OnEverything(caller.Grants, Verb.Read))
            return approval;
        var changed = (await Store.ChangedObjectsAsync([rev], ct).ConfigureAwait(false))[rev].ToList();
        var (_, then) = await Store.LoadModelAsync(rev, ct).ConfigureAwait(false);
        var thenPlaces = new ModelPlaces(then);
        if (!changed.Any(o => ModelScoping.MayRead(caller.Grants, caller.Places, o.Kind, o.Name) || ModelScoping.MayRead(caller.Grants, thenPlaces, o.Kind, o.Name)))
            throw Unknown(rev);
        return approval;
    }

    private static NotVisibleException Unknown(long rev) =>
        new("unknown-revision", $"There is no revision {rev}.", "See the revisions with `rig history`.");

    private async Task<ApprovalView> ViewAsync(Caller caller, RevisionApproval a, CancellationToken ct)
    {
        var everything = ModelScoping.OnEverything(caller.Grants, Verb.Read);
        var blockedBy = a.Rev > 1
            ? (await gateway.ApprovalsUpToAsync(a.Rev - 1, ct).ConfigureAwait(false)).Where(e => e.Blocks).Select(e => e.Rev).ToList()
            : [];
        // Places are where the objects lay; only the objects the caller may read are listed.
        var (_, then) = await Store.LoadModelAsync(a.Rev, ct).ConfigureAwait(false);
        var thenPlaces = new ModelPlaces(then);
        var objects = a.Needs
            .Where(n => everything || ModelScoping.MayRead(caller.Grants, caller.Places, n.Kind, n.Name) || ModelScoping.MayRead(caller.Grants, thenPlaces, n.Kind, n.Name))
            .Select(n => new ApprovalObjectView(n.Kind, n.Name, n.Approvals, [.. n.Places.Select(ApprovalRules.Describe).Distinct()]))
            .ToList();
        return new ApprovalView(a.Rev, a.Author, a.State, a.Required, objects, a.Approvers, a.Rejecters,
            [.. a.Decisions.Select(d => new ApprovalDecisionView(d.Operator, d.Decision, d.Message, d.At))], blockedBy);
    }
}
