namespace Rig.Contracts;

/// <summary>The approval states of a revision (docs/SECURITY.md, Approvals).</summary>
public static class ApprovalStates
{
    /// <summary>No policy asks for approval of what the revision changed: it may be rolled out.</summary>
    public const string NotRequired = "not-required";
    /// <summary>Approval is needed and not (yet) given: rollouts of it, and of later revisions, are refused.</summary>
    public const string Pending = "pending";
    /// <summary>Enough operators other than the author approved it.</summary>
    public const string Approved = "approved";
    /// <summary>The newest decision on it is a rejection: rollouts are refused until someone approves it.</summary>
    public const string Rejected = "rejected";
}

/// <summary>A changed object of a revision that needs approval, and where an approver must hold <c>approve</c>.</summary>
/// <param name="Kind">The object's kind (<c>role</c>, <c>assignment</c>, <c>bundle</c>...).</param>
/// <param name="Name">Its name (<c>web-1|linux-base</c> for an assignment).</param>
/// <param name="Approvals">How many approvals the policy asks for it.</param>
/// <param name="Places">Where it lies (<c>kind os on device web-1, site shop</c>).</param>
public sealed record ApprovalObjectView(string Kind, string Name, int Approvals, IReadOnlyList<string> Places);

/// <summary>One operator's decision on a revision.</summary>
/// <param name="Decision"><c>approve</c> or <c>reject</c>.</param>
public sealed record ApprovalDecisionView(string Operator, string Decision, string Message, DateTimeOffset At);

/// <summary>What a revision's approval policy asks and what it has (<c>GET /api/v1/revisions/{rev}/approval</c>).</summary>
/// <param name="Revision">The revision.</param>
/// <param name="Author">Who made it (who may not approve it).</param>
/// <param name="State">One of <see cref="ApprovalStates"/>.</param>
/// <param name="Required">Approvals needed (0: none).</param>
/// <param name="Objects">The changed objects that need approval (only those the caller may see).</param>
/// <param name="ApprovedBy">Operators whose latest decision is an approval.</param>
/// <param name="RejectedBy">Operators whose latest decision is a rejection.</param>
/// <param name="Decisions">Every decision, oldest first (history kept).</param>
/// <param name="BlockedBy">Earlier revisions, pending or rejected, that also keep this one from being rolled out.</param>
public sealed record ApprovalView(long Revision, string Author, string State, int Required, IReadOnlyList<ApprovalObjectView> Objects,
    IReadOnlyList<string> ApprovedBy, IReadOnlyList<string> RejectedBy, IReadOnlyList<ApprovalDecisionView> Decisions, IReadOnlyList<long> BlockedBy);
