using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>The audit log: reading it page by page, verifying its hash chain, and recording an operator's action.</summary>
internal sealed class AuditService(Gateway.Gateway gateway, OperatorAccess access)
{
    private RigStore Store => gateway.Store;

    /// <summary>Entries after seq <paramref name="after"/> matching the filters (each optional), oldest first, at most
    /// <paramref name="limit"/>, only those <paramref name="caller"/> may see. <see cref="AuditPage.Next"/> is set while the
    /// store had more to read (a page can be shorter than the limit when rows were hidden).</summary>
    public async Task<AuditPage> ListAsync(Caller caller, long after, DateTimeOffset? since, string? device, string? operatorName, int limit, CancellationToken ct)
    {
        access.Allow(caller, "audit.read", device);
        var rows = await Store.ListAuditAsync(new AuditQuery(after, since, device, operatorName, limit), ct).ConfigureAwait(false);
        // About a device: visible with the device. About none (an apply, a grant, a token): to readers of everything,
        // and to the operator who did it; another customer's actions stay invisible.
        var everything = Security.ModelScoping.OnEverything(caller.Grants, Security.Verb.Read);
        var visible = rows.Where(r => r.Device is { } d ? OperatorAccess.MaySee(caller, d) : everything || r.Operator == caller.Name).ToList();
        return new AuditPage([.. visible.Select(ToView)], rows.Count == limit ? rows[^1].Seq : null);
    }

    /// <summary>Recompute the chain from its first entry: the first broken entry, entries checked, the head.</summary>
    public async Task<AuditVerifyResponse> VerifyAsync(Caller caller, CancellationToken ct)
    {
        access.Allow(caller, "audit.read");
        // Verifying reads every entry, so it is for those who may read everything; others would learn of entries they
        // may not see (their number, the action of a broken one).
        if (!Security.ModelScoping.OnEverything(caller.Grants, Security.Verb.Read))
        {
            throw new Security.ForbiddenException($"Operator '{caller.Name}' may not verify the audit log: it reads every entry, which needs 'read' on everything.",
                "Ask an operator of the provider to run `rig audit verify`.");
        }
        var result = await Store.VerifyAuditAsync(ct: ct).ConfigureAwait(false);
        return new AuditVerifyResponse(result.Break is null, result.Checked, result.Head.Seq, result.Head.Hash,
            result.Break is { } b ? new AuditBreakView(b.Seq, b.Action, b.Problem, b.Message) : null);
    }

    /// <summary>Append an operator's action (already done and answered) in a transaction of its own.</summary>
    public Task RecordAsync(string? operatorName, string action, string target, string? device, string outcome, string? detail, CancellationToken ct) =>
        Store.AppendAuditAsync([new AuditEntry(operatorName, action, target, device, outcome, detail)], ct);

    private static AuditEntryView ToView(AuditRow r) =>
        new(r.Seq, DateTimeOffset.FromUnixTimeMilliseconds(r.At), r.Operator, r.Action, r.Target, r.Device, r.Customer, r.Outcome, r.Detail, r.PrevHash, r.Hash);
}
