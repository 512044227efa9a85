using Dapper;

namespace Rig.Server.Store;

/// <summary>One decision of an operator on a revision (<c>approvals</c>; docs/SECURITY.md, Approvals).</summary>
/// <param name="Decision"><see cref="ApprovalDecisions.Approve"/> or <see cref="ApprovalDecisions.Reject"/>.</param>
internal sealed record ApprovalRecord(long Id, long Rev, string Operator, string Decision, string Message, DateTimeOffset At);

/// <summary>An operator and when they came to exist (four eyes need a second operator).</summary>
internal sealed record OperatorSince(string Name, DateTimeOffset CreatedAt);

/// <summary>The words of the <c>approvals.decision</c> column.</summary>
internal static class ApprovalDecisions
{
    public const string Approve = "approve";
    public const string Reject = "reject";
}

internal sealed partial class RigStore
{
    private sealed record ApprovalRow(long Id, long Rev, string Operator, string Decision, string Message, long At)
    {
        public ApprovalRecord ToRecord() => new(Id, Rev, Operator, Decision, Message, DateTimeOffset.FromUnixTimeMilliseconds(At));
    }

    /// <summary>Record <paramref name="operatorName"/>'s decision on revision <paramref name="rev"/>. Rows are only
    /// added: the history of decisions stays, and an operator's latest one counts (<see cref="ApprovalsUpToAsync"/>).</summary>
    public Task<ApprovalRecord> RecordApprovalAsync(long rev, string operatorName, string decision, string message, CancellationToken ct = default) =>
        WriteAsync(async (c, tx) =>
        {
            if (decision is not (ApprovalDecisions.Approve or ApprovalDecisions.Reject))
                throw new ArgumentException($"'{decision}' is not a decision (approve or reject).", nameof(decision));
            var at = NowMs;
            var id = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                "INSERT INTO approvals (rev, operator, decision, message, at) VALUES (@rev, @operatorName, @decision, @message, @at) RETURNING id",
                new { rev, operatorName, decision, message, at }, tx, cancellationToken: ct)).ConfigureAwait(false);
            return new ApprovalRecord(id, rev, operatorName, decision, message, DateTimeOffset.FromUnixTimeMilliseconds(at));
        }, ct);

    /// <summary>Every decision on revisions up to <paramref name="rev"/> (all when null), oldest first.</summary>
    public Task<IReadOnlyList<ApprovalRecord>> ApprovalsUpToAsync(long? rev, CancellationToken ct = default) => ReadAsync<IReadOnlyList<ApprovalRecord>>(async c =>
        [.. (await c.QueryAsync<ApprovalRow>(new CommandDefinition(
                "SELECT id, rev, operator, decision, message, at FROM approvals WHERE rev <= @upTo ORDER BY id", new { upTo = rev ?? long.MaxValue }, cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => r.ToRecord())], ct);

    /// <summary>Every operator with when it was made, oldest first.</summary>
    public Task<IReadOnlyList<OperatorSince>> OperatorsSinceAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<OperatorSince>>(async c =>
        [.. (await c.QueryAsync<(string Name, long CreatedAt)>(new CommandDefinition(
                "SELECT name, created_at FROM operators ORDER BY created_at, name", cancellationToken: ct)).ConfigureAwait(false))
            .Select(r => new OperatorSince(r.Name, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt)))], ct);
}
