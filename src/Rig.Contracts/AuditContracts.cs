namespace Rig.Contracts;

/// <summary>One entry of the gateway's tamper-evident audit log (docs/OPERATIONS.md, "Audit log").</summary>
/// <param name="Seq">Its place in the chain, from 1, without gaps.</param>
/// <param name="Operator">Who did it; null for a command's result (the device's agent reported it).</param>
/// <param name="Action"><c>model.apply</c>, <c>rollout.start</c>, <c>rollout.wave</c>, <c>command.result</c>, ...</param>
/// <param name="Target">On what: <c>name=web-1</c>, a rollout id, a command id.</param>
/// <param name="Device">The device it is about, if one.</param>
/// <param name="Customer">The customer it concerns, if known.</param>
/// <param name="Outcome"><c>ok</c>, <c>refused</c> or <c>error</c> for an operator action; a command's state for a result.</param>
/// <param name="Detail">A small JSON object with the rest (HTTP status, revision, rollout; a command's queue and position), as stored.</param>
/// <param name="PrevHash">The previous entry's hash (64 zeros for the first).</param>
/// <param name="Hash">SHA-256 over this entry's fields and <paramref name="PrevHash"/>.</param>
public sealed record AuditEntryView(long Seq, DateTimeOffset At, string? Operator, string Action, string Target, string? Device, string? Customer, string Outcome,
    string? Detail, string PrevHash, string Hash);

/// <summary>A page of audit entries, oldest first.</summary>
/// <param name="Next">Pass as <c>after</c> for the next page; null when this page was the last.</param>
public sealed record AuditPage(IReadOnlyList<AuditEntryView> Entries, long? Next);

/// <summary>What <c>GET /api/v1/audit/verify</c> found.</summary>
/// <param name="Ok">True when the whole chain is intact.</param>
/// <param name="Checked">Entries checked.</param>
/// <param name="HeadSeq">The newest entry's seq (compare with the head the gateway logs, event 1802).</param>
/// <param name="HeadHash">The newest entry's hash.</param>
/// <param name="Break">The first broken entry, when not <paramref name="Ok"/>.</param>
public sealed record AuditVerifyResponse(bool Ok, long Checked, long HeadSeq, string HeadHash, AuditBreakView? Break);

/// <summary>The first entry where the audit chain is broken.</summary>
/// <param name="Seq">The entry's seq.</param>
/// <param name="Action">Its action (null when the entry itself is missing).</param>
/// <param name="Problem"><c>altered</c>, <c>removed</c> or <c>reordered</c>.</param>
/// <param name="Message">What is wrong.</param>
public sealed record AuditBreakView(long Seq, string? Action, string Problem, string Message);
