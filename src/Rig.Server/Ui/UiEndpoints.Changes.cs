using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Rig.Model.Files;
using Rig.Protocol.Errors;
using Rig.Server.Security;
using Rig.Server.Services;
using Rig.Server.Ui.Components;

namespace Rig.Server.Ui;

/// <summary>A page of model revisions, newest first.</summary>
/// <param name="Approval">The filter in force: <c>pending</c> (pending or rejected) or null.</param>
/// <param name="HasMore">True when a later page has more.</param>
public sealed record RevisionListData(IReadOnlyList<RevisionView> Revisions, string? Approval, int Page, bool HasMore);

/// <summary>One revision under review: what it is, what it changes in the model, the plan of it against the devices
/// now, and its approval.</summary>
/// <param name="Revision">The revision as history lists it (null when the caller's history does not list it).</param>
/// <param name="MayDecide">True when the approve and reject forms are shown: approval is pending or refused, the
/// operator holds approve somewhere and did not make the revision (the service checks again when posted).</param>
public sealed record ChangeReviewData(long Rev, RevisionView? Revision, PlanReport? Plan, string? PlanRefusal, IReadOnlyList<ModelDiffEntry> Diff, ApprovalView Approval, bool MayDecide);

/// <summary>The diff of one revision against the one before.</summary>
public sealed record RevisionDiffData(long From, long To, RevisionView? Revision, IReadOnlyList<ModelDiffEntry> Diff);

/// <summary>One file of the model written as YAML (docs/MODEL.md).</summary>
public sealed record ModelTextFile(string Path, string Text);

/// <summary>The model as of a revision or date: the form's value, the model (null before a question or when it names no
/// revision) with its YAML files, or why there is none.</summary>
public sealed record ModelAsOfData(string? At, ModelAsOf? Model, IReadOnlyList<ModelTextFile> Files, string? Error);

/// <summary>A page of the audit log with its filters, and the chain's verification when asked for.</summary>
/// <param name="After">The cursor this page starts after (0: the first entry).</param>
/// <param name="Limit">Entries per page when not the default (<c>?limit=</c>, as the API takes it).</param>
/// <param name="MayVerify">True when the operator reads everything (verifying reads every entry).</param>
/// <param name="Verify">The verification, when asked for and allowed.</param>
/// <param name="VerifyRefusal">Why the verification was refused, when asked for.</param>
public sealed record AuditData(AuditPage Page, long After, int? Limit, string? Since, string? Device, string? Operator, string? FilterError, bool MayVerify, AuditVerifyResponse? Verify, string? VerifyRefusal);

internal static partial class UiEndpoints
{
    /// <summary>Revisions and audit entries per page: a screenful that still renders fast.</summary>
    internal const int ChangesPerPage = 100;

    /// <summary>The most revisions history reads (the service's own cap).</summary>
    private const int MaxRevisionsRead = 10_000;

    /// <summary>The most audit entries one page shows (the API's own cap).</summary>
    private const int MaxAuditPage = 1000;

    /// <summary>The longest approval message taken from a form (the API takes it as a query value).</summary>
    internal const int MaxApprovalMessage = 500;

    static partial void MapChangePages(WebApplication app, OperatorServices services, UiSessions sessions)
    {
        app.MapGet(Prefix + "/changes", (HttpContext context, string? approval, int? page, CancellationToken ct) =>
            RevisionListAsync<ChangesPage>(context, services, approval == "pending" ? "pending" : null, page, ct));
        app.MapGet(Prefix + "/history", (HttpContext context, int? page, CancellationToken ct) =>
            RevisionListAsync<HistoryPage>(context, services, null, page, ct));
        app.MapGet(Prefix + "/changes/{rev:long}", (HttpContext context, long rev, CancellationToken ct) => ChangeReviewAsync(context, services, rev, ct));
        app.MapPost(Prefix + "/changes/{rev:long}/approve", (HttpContext context, long rev, CancellationToken ct) => DecideAsync(context, services, rev, approve: true, ct));
        app.MapPost(Prefix + "/changes/{rev:long}/reject", (HttpContext context, long rev, CancellationToken ct) => DecideAsync(context, services, rev, approve: false, ct));
        app.MapGet(Prefix + "/history/{rev:long}", (HttpContext context, long rev, CancellationToken ct) => RevisionDiffAsync(context, services, rev, ct));
        app.MapGet(Prefix + "/model", (HttpContext context, string? at, CancellationToken ct) => ModelAsOfAsync(context, services, at, ct));
        app.MapGet(Prefix + "/audit", (HttpContext context, string? since, string? device, [FromQuery(Name = "operator")] string? operatorName, long? after, int? limit, string? verify, CancellationToken ct) =>
            AuditAsync(context, services, since, device, operatorName, after, limit, verify == "1", ct));
    }

    private static async Task<IResult> RevisionListAsync<TPage>(HttpContext context, OperatorServices services, string? approval, int? page, CancellationToken ct) where TPage : Microsoft.AspNetCore.Components.IComponent
    {
        var number = Math.Max(1, page ?? 1);
        // Filtered, the pending ones may lie anywhere in history: read it all (the service's cap) and filter.
        var limit = approval is null ? (int)Math.Min(MaxRevisionsRead, ((long)number * ChangesPerPage) + 1) : MaxRevisionsRead;
        var all = await services.Model.ListRevisionsAsync(CallerOf(context), limit, ct).ConfigureAwait(false);
        var matching = approval is null ? all : [.. all.Where(r => r.Approval is ApprovalStates.Pending or ApprovalStates.Rejected)];
        var shown = matching.Skip((number - 1) * ChangesPerPage).Take(ChangesPerPage).ToList();
        return Page<TPage>(context, new Dictionary<string, object?>
        {
            ["Data"] = new RevisionListData(shown, approval, number, matching.Count > number * ChangesPerPage),
        });
    }

    private static async Task<IResult> ChangeReviewAsync(HttpContext context, OperatorServices services, long rev, CancellationToken ct)
    {
        var caller = CallerOf(context);
        if (rev < 1)
            throw UnknownRevision(rev);
        // First: a revision the caller may not see answers 404 here as in the API, before anything else is read.
        var approval = await services.Approvals.GetAsync(caller, rev, ct).ConfigureAwait(false);
        var (diff, current) = await services.Model.DiffAsync(caller, rev - 1, rev, ct).ConfigureAwait(false);
        if (diff is null)
            throw UnknownRevision(rev);
        var revision = await FindRevisionAsync(services, caller, rev, current, ct).ConfigureAwait(false);
        PlanReport? plan = null;
        string? planRefusal;
        try
        {
            // Planning needs 'plan': an operator without it still reviews the model diff and the approval.
            (plan, var refusal, var why) = await services.Model.PlanStoredAsync(caller, rev.ToString(CultureInfo.InvariantCulture), null, ct).ConfigureAwait(false);
            planRefusal = plan is null ? why ?? $"revision {rev} cannot be planned ({refusal})." : null;
        }
        catch (ForbiddenException e)
        {
            planRefusal = e.Message;
        }
        var frame = FrameOf(context);
        var mayDecide = approval.State is ApprovalStates.Pending or ApprovalStates.Rejected
            && frame.May("approve", null)
            && !string.Equals(approval.Author, caller.Name, StringComparison.Ordinal);
        return Page<ChangeReviewPage>(context, new Dictionary<string, object?>
        {
            ["Data"] = new ChangeReviewData(rev, revision, plan, planRefusal, diff, approval, mayDecide),
        });
    }

    private static async Task<IResult> DecideAsync(HttpContext context, OperatorServices services, long rev, bool approve, CancellationToken ct)
    {
        var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
        var message = form["message"].ToString().Trim();
        if (message.Length > MaxApprovalMessage)
            message = message[..MaxApprovalMessage];
        var back = $"{Prefix}/changes/{rev}";
        return await ActAsync(context, services.Audit, approve ? "revision.approve" : "revision.reject", $"rev={rev}", null, back, async caller =>
        {
            var view = approve
                ? await services.Approvals.ApproveAsync(caller, rev, message.Length == 0 ? null : message, ct).ConfigureAwait(false)
                : await services.Approvals.RejectAsync(caller, rev, message.Length == 0 ? null : message, ct).ConfigureAwait(false);
            return $"Revision {rev} {(approve ? "approved" : "rejected")} by {caller.Name}; it is now {view.State}.";
        }).ConfigureAwait(false);
    }

    private static async Task<IResult> RevisionDiffAsync(HttpContext context, OperatorServices services, long rev, CancellationToken ct)
    {
        var caller = CallerOf(context);
        if (rev < 1)
            throw UnknownRevision(rev);
        var (diff, current) = await services.Model.DiffAsync(caller, rev - 1, rev, ct).ConfigureAwait(false);
        if (diff is null)
            throw UnknownRevision(rev);
        var revision = await FindRevisionAsync(services, caller, rev, current, ct).ConfigureAwait(false);
        return Page<RevisionDiffPage>(context, new Dictionary<string, object?> { ["Data"] = new RevisionDiffData(rev - 1, rev, revision, diff) });
    }

    /// <summary>Revision <paramref name="rev"/> as the caller's history lists it (author, message, date), read from the
    /// newest back to it; null when their history leaves it out.</summary>
    private static async Task<RevisionView?> FindRevisionAsync(OperatorServices services, Caller caller, long rev, long current, CancellationToken ct)
    {
        if (current - rev + 1 > MaxRevisionsRead)
            return null;
        var revisions = await services.Model.ListRevisionsAsync(caller, (int)Math.Max(1, current - rev + 1), ct).ConfigureAwait(false);
        return revisions.FirstOrDefault(r => r.Revision == rev);
    }

    private static NotVisibleException UnknownRevision(long rev) => new("unknown-revision", $"There is no revision {rev}.", "See the revisions under History.");

    private static async Task<IResult> ModelAsOfAsync(HttpContext context, OperatorServices services, string? at, CancellationToken ct)
    {
        at = string.IsNullOrWhiteSpace(at) ? null : at.Trim();
        ModelAsOf? model = null;
        string? error = null;
        IReadOnlyList<ModelTextFile> files = [];
        if (at is not null)
        {
            var (found, current) = await services.Model.AsOfAsync(CallerOf(context), at, ct).ConfigureAwait(false);
            if (found is null)
            {
                error = $"'{at}' names no revision: give a revision number from 1 to {current}, or a date and time at or after the first revision (e.g. 2026-12-05T14:00:00Z).";
            }
            else
            {
                model = found;
                files = [.. ModelFiles.Write(found.Model).Select(f => new ModelTextFile(f.Path, f.Text))];
            }
        }
        return Page<ModelAsOfPage>(context, new Dictionary<string, object?> { ["Data"] = new ModelAsOfData(at, model, files, error) }, error is null ? StatusCodes.Status200OK : StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> AuditAsync(HttpContext context, OperatorServices services, string? since, string? device, string? operatorName, long? after, int? limit, bool verify, CancellationToken ct)
    {
        var caller = CallerOf(context);
        since = string.IsNullOrWhiteSpace(since) ? null : since.Trim();
        device = string.IsNullOrWhiteSpace(device) ? null : device.Trim();
        operatorName = string.IsNullOrWhiteSpace(operatorName) ? null : operatorName.Trim();
        string? filterError = null;
        DateTimeOffset? from = null;
        if (since is not null)
        {
            from = ParseSince(since, DateTimeOffset.UtcNow);
            if (from is null)
                filterError = $"'{since}' is not a date and time (e.g. 2026-12-05T14:00:00Z) nor a time ago (2h, 7d): the filter was left out.";
        }
        var start = Math.Max(0, after ?? 0);
        var size = Math.Clamp(limit ?? ChangesPerPage, 1, MaxAuditPage);
        var page = await services.Audit.ListAsync(caller, start, from, device, operatorName, size, ct).ConfigureAwait(false);
        var mayVerify = FrameOf(context).MayOnEverything("read");
        AuditVerifyResponse? result = null;
        string? refusal = null;
        if (verify)
        {
            try
            {
                result = await services.Audit.VerifyAsync(caller, ct).ConfigureAwait(false);
            }
            catch (RigException e) when (e is not NotVisibleException)
            {
                refusal = e.Message;
            }
        }
        return Page<AuditLogPage>(context, new Dictionary<string, object?>
        {
            ["Data"] = new AuditData(page, start, limit is null ? null : size, since, device, operatorName, filterError, mayVerify, result, refusal),
        });
    }

    /// <summary>A date and time (UTC unless it says otherwise), or a time ago: <c>30m</c>, <c>2h</c>, <c>7d</c>.</summary>
    internal static DateTimeOffset? ParseSince(string since, DateTimeOffset now)
    {
        if (since.Length >= 2 && int.TryParse(since.AsSpan(0, since.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            TimeSpan? ago = since[^1] switch
            {
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => null,
            };
            if (ago is { } a)
                return a < now - DateTimeOffset.MinValue ? now - a : DateTimeOffset.MinValue; // 9999999d: since the beginning
        }
        return DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : null;
    }
}
