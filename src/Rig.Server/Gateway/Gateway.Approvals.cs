using System.Collections.Concurrent;
using Rig.Model.Domain;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>A revision's approval: what its policy asks (<see cref="Needs"/>), the decisions on it, and its state (one
/// of <see cref="ApprovalStates"/>).</summary>
/// <param name="Approvers">Operators whose latest decision is an approval.</param>
/// <param name="Rejecters">Operators whose latest decision is a rejection.</param>
internal sealed record RevisionApproval(long Rev, string Author, string State, int Required, IReadOnlyList<ApprovalNeed> Needs, IReadOnlyList<ApprovalRecord> Decisions,
    IReadOnlyList<string> Approvers, IReadOnlyList<string> Rejecters)
{
    /// <summary>True when rollouts of it (and of later revisions) are refused.</summary>
    public bool Blocks => State is ApprovalStates.Pending or ApprovalStates.Rejected;
}

internal sealed partial class Gateway
{
    // What each revision's policy asks never changes (it depends on the model's history and on which operators existed
    // when the revision was made), so it is worked out once per revision; decisions are read every time.
    private readonly ConcurrentDictionary<long, IReadOnlyList<ApprovalNeed>> _approvalNeeds = new();

    /// <summary>The approval of every revision up to <paramref name="rev"/>, oldest first.</summary>
    public async Task<IReadOnlyList<RevisionApproval>> ApprovalsUpToAsync(long rev, CancellationToken ct)
    {
        var revisions = (await store.RevisionsAsync(ct).ConfigureAwait(false)).Where(r => r.Rev <= rev).OrderBy(r => r.Rev).ToList();
        var operators = await store.OperatorsSinceAsync(ct).ConfigureAwait(false);
        var decisions = (await store.ApprovalsUpToAsync(rev, ct).ConfigureAwait(false)).ToLookup(d => d.Rev);
        var result = new List<RevisionApproval>(revisions.Count);
        foreach (var revision in revisions)
            result.Add(Evaluate(revision, await NeedsOfAsync(revision, operators, ct).ConfigureAwait(false), [.. decisions[revision.Rev]]));
        return result;
    }

    /// <summary>The approval of revision <paramref name="rev"/>, or null when there is no such revision.</summary>
    public async Task<RevisionApproval?> ApprovalOfAsync(long rev, CancellationToken ct)
    {
        if (await store.GetRevisionAsync(rev, ct).ConfigureAwait(false) is not { } revision)
            return null;
        var operators = await store.OperatorsSinceAsync(ct).ConfigureAwait(false);
        var decisions = (await store.ApprovalsUpToAsync(rev, ct).ConfigureAwait(false)).Where(d => d.Rev == rev).ToList();
        return Evaluate(revision, await NeedsOfAsync(revision, operators, ct).ConfigureAwait(false), decisions);
    }

    /// <summary>Refuse delivering revision <paramref name="rev"/> (a rollout, a converge) while it, or any earlier
    /// revision, needs approval and lacks it: the devices get every change up to <paramref name="rev"/>, so each of
    /// those changes must have been approved (docs/SECURITY.md, Approvals).</summary>
    public async Task EnsureApprovedAsync(long rev, CancellationToken ct)
    {
        var blocking = (await ApprovalsUpToAsync(rev, ct).ConfigureAwait(false)).Where(a => a.Blocks).ToList();
        if (blocking.Count == 0)
            return;
        var why = string.Join(" ", blocking.Take(5).Select(Missing));
        var prefix = blocking.Count == 1 && blocking[0].Rev == rev ? "" : $"Revision {rev} includes the changes of {blocking.Count} revision(s) that lack approval. ";
        throw new RolloutRefusedException("approval-required", prefix + why + (blocking.Count > 5 ? $" (and {blocking.Count - 5} more: `rig history`)" : ""), OperatorRefusal.Conflict);
    }

    /// <summary>What one revision lacks, for the refusal.</summary>
    internal static string Missing(RevisionApproval a)
    {
        var objects = string.Join(", ", a.Needs.Take(5).Select(n => n.Label)) + (a.Needs.Count > 5 ? $" and {a.Needs.Count - 5} more" : "");
        var places = a.Needs.SelectMany(n => n.Places).Select(ApprovalRules.Describe).Distinct().ToList();
        var where = string.Join("; ", places.Take(3)) + (places.Count > 3 ? $" and {places.Count - 3} more places" : "");
        var has = a.State == ApprovalStates.Rejected
            ? $"it was rejected by {string.Join(", ", a.Rejecters)}"
            : $"it has {a.Approvers.Count}";
        return $"Revision {a.Rev} changes {objects}, which need {a.Required} approval(s) by an operator other than {a.Author} holding 'approve' on {where}; {has}. " +
            $"Approve it with `rig approve {a.Rev}`.";
    }

    private async Task<IReadOnlyList<ApprovalNeed>> NeedsOfAsync(ModelRevision revision, IReadOnlyList<OperatorSince> operators, CancellationToken ct)
    {
        if (_approvalNeeds.TryGetValue(revision.Rev, out var known))
            return known;
        IReadOnlyList<ApprovalNeed> needs = [];
        // Four eyes need a second pair: a revision made while the gateway had one operator (a fresh `rig server init`,
        // `rig demo`) could never be approved by someone other than that operator, so it needs no approval.
        if (operators.Count(o => o.CreatedAt <= revision.CreatedAt) >= 2)
        {
            var changes = await store.DiffAsync(revision.Rev - 1, revision.Rev, ct).ConfigureAwait(false);
            var before = revision.Rev > 1 ? (await store.LoadModelAsync(revision.Rev - 1, ct).ConfigureAwait(false)).Model : new RigModel();
            var (_, after) = await store.LoadModelAsync(revision.Rev, ct).ConfigureAwait(false);
            needs = ApprovalRules.Needs(changes.Select(c => (c.Kind, c.Name)), new ModelPlaces(before), new ModelPlaces(after));
        }
        return _approvalNeeds.GetOrAdd(revision.Rev, needs);
    }

    /// <summary>The state: not required without needs; rejected when the newest decision is a rejection; approved when
    /// enough operators' latest decisions are approvals; pending otherwise.</summary>
    private static RevisionApproval Evaluate(ModelRevision revision, IReadOnlyList<ApprovalNeed> needs, IReadOnlyList<ApprovalRecord> decisions)
    {
        var required = needs.Count == 0 ? 0 : needs.Max(n => n.Approvals);
        var latest = decisions.Where(d => d.Operator != revision.Author).GroupBy(d => d.Operator, StringComparer.Ordinal).Select(g => g.MaxBy(d => d.Id)!).ToList();
        var approvers = latest.Where(d => d.Decision == ApprovalDecisions.Approve).OrderBy(d => d.Id).Select(d => d.Operator).ToList();
        var rejecters = latest.Where(d => d.Decision == ApprovalDecisions.Reject).OrderBy(d => d.Id).Select(d => d.Operator).ToList();
        var newest = latest.MaxBy(d => d.Id);
        var state = required == 0 ? ApprovalStates.NotRequired
            : newest?.Decision == ApprovalDecisions.Reject ? ApprovalStates.Rejected
            : approvers.Count >= required ? ApprovalStates.Approved
            : ApprovalStates.Pending;
        return new RevisionApproval(revision.Rev, revision.Author, state, required, needs, decisions, approvers, rejecters);
    }
}
