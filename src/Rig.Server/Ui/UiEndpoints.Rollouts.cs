using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rig.Server.Gateway;
using Rig.Server.Security;
using Rig.Server.Services;
using Rig.Server.Ui.Components;

namespace Rig.Server.Ui;

/// <summary>The rollout list with the start form: one page of rollouts (newest first) and the recent revisions to
/// choose from, with their approval states.</summary>
public sealed record RolloutListData(IReadOnlyList<RolloutView> Rollouts, int Page, bool HasNext, IReadOnlyList<RevisionView> Revisions);

/// <summary>Where a rollout stands, in the words and numbers of its summary block (a record: the live view resends
/// it only when one of these changed).</summary>
/// <param name="Done">Devices succeeded or with nothing to do.</param>
/// <param name="Finished">Devices done in this rollout, whatever the outcome (the progress bar).</param>
public sealed record RolloutProgress(string Id, long Rev, string Status, int Devices, int Done, int Failed, int Finished, int Waves, string Summary, string? Error,
    DateTimeOffset? FinishedAt)
{
    /// <summary>The progress of <paramref name="rollout"/>.</summary>
    public static RolloutProgress Of(RolloutView rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        return new(rollout.Id, rollout.Rev, rollout.Status, rollout.Devices.Count,
            rollout.Devices.Count(d => d.Status is RolloutDeviceStatuses.Succeeded or RolloutDeviceStatuses.Unchanged),
            rollout.Devices.Count(d => d.Status == RolloutDeviceStatuses.Failed),
            rollout.Devices.Count(d => RolloutDeviceStatuses.IsFinished(d.Status)), rollout.Waves, rollout.Summary, rollout.Error, rollout.FinishedAt);
    }

    /// <summary>"3/6 done, 1 failed".</summary>
    public string Text => $"{Done}/{Devices} done, {Failed} failed";
}

/// <summary>One device's row in a rollout: only what the row shows, so the live view resends a row exactly when what it
/// shows changed (not when the agent merely talked to the gateway).</summary>
/// <param name="State">What an operator acts on (<see cref="RolloutDeviceStates"/>).</param>
/// <param name="QueueStatus">Its queue's state (<see cref="QueueStates"/>), or null before it has one.</param>
/// <param name="QueuePosition">Commands of its queue finished so far.</param>
public sealed record RolloutDeviceRow(string Device, int? Wave, string State, string? Detail, string? QueueId, string? QueueStatus, int QueuePosition, int QueueLength);

/// <summary>A failed command of a failed device, with what the agent answered.</summary>
public sealed record RolloutFailedCommand(int Sequence, int Of, string Description, string? ErrorCode, string? Error, string? Output);

/// <summary>A failed device of a rollout: why (the rollout's detail, its queue's error) and its failed commands with
/// their output.</summary>
public sealed record RolloutFailure(string Device, string? Detail, string? QueueId, string? QueueError, IReadOnlyList<RolloutFailedCommand> Commands);

/// <summary>The live view of a rollout: the rollout, its rows, its failed devices and each device's command output so
/// far. <paramref name="Live"/> is the stream address (null once the rollout has finished: nothing will change).</summary>
public sealed record RolloutPageData(RolloutView Rollout, RolloutProgress Progress, IReadOnlyList<RolloutDeviceRow> Rows, IReadOnlyList<RolloutFailure> Failures,
    IReadOnlyDictionary<string, string> Output, string? Live);

internal static partial class UiEndpoints
{
    /// <summary>Rollouts per page of the list.</summary>
    internal const int RolloutsPerPage = 50;

    /// <summary>Revisions offered in the start form (the newest; an older one can be typed into the API or CLI).</summary>
    private const int RolloutRevisionsOffered = 20;

    /// <summary>Output kept per command on the rollout page: enough to read an error, bounded for a rollout of many
    /// devices (the device page has it all).</summary>
    internal const int RolloutOutputPerCommand = 4000;

    static partial void MapRolloutPages(WebApplication app, OperatorServices services, UiSessions sessions)
    {
        app.MapGet(Prefix + "/rollouts", async (int? page, HttpContext context, CancellationToken ct) =>
            Page<RolloutsPage>(context, new Dictionary<string, object?> { ["Data"] = await RolloutListAsync(CallerOf(context), services, Math.Max(1, page ?? 1), ct).ConfigureAwait(false) }));

        app.MapPost(Prefix + "/rollouts", (HttpContext context, CancellationToken ct) => StartRolloutAsync(context, services, ct));

        app.MapGet(Prefix + "/rollouts/{id}", async (string id, HttpContext context, CancellationToken ct) =>
        {
            var state = await RolloutLive.ReadAsync(CallerOf(context), services, id, null, ct).ConfigureAwait(false) ?? throw UnknownRollout(id);
            return Page<RolloutPage>(context, new Dictionary<string, object?> { ["Data"] = state.PageData() });
        });

        foreach (var (verb, done) in new[] { ("pause", "paused"), ("resume", "resumed"), ("cancel", "cancelled"), ("retry", "retried: its failed devices are back in their waves") })
        {
            app.MapPost(Prefix + "/rollouts/{id}/" + verb, (string id, HttpContext context, CancellationToken ct) =>
                ActAsync(context, services.Audit, "rollout." + verb, $"id={id}", null, $"{Prefix}/rollouts/{Uri.EscapeDataString(id)}", async caller =>
                {
                    var rollout = verb switch
                    {
                        "pause" => await services.Rollouts.PauseAsync(caller, id, ct).ConfigureAwait(false) ?? throw RolloutNotInState(id, "is not running"),
                        "resume" => await services.Rollouts.ResumeAsync(caller, id, null, ct).ConfigureAwait(false) ?? throw RolloutNotInState(id, "is not paused"),
                        "cancel" => await services.Rollouts.CancelAsync(caller, id, ct).ConfigureAwait(false) ?? throw RolloutNotInState(id, "is not running or paused"),
                        _ => await services.Rollouts.RetryAsync(caller, id, ct).ConfigureAwait(false),
                    };
                    return $"Rollout {rollout.Id} {done}.";
                }));
        }

        app.MapGet(Prefix + "/live/rollouts/{id}", (string id, string? v, HttpContext context, CancellationToken ct) => FollowRolloutAsync(context, services, sessions, id, v, ct));
    }

    private static NotVisibleException UnknownRollout(string id) =>
        new("unknown-rollout", $"There is no rollout '{id}'.", "The rollouts you may see are listed at /ui/rollouts.");

    /// <summary>The answer the API gives (409) when a rollout is not in a state the action applies to.</summary>
    private static RolloutRefusedException RolloutNotInState(string id, string what) =>
        new("not-active", $"Rollout {id} {what}; nothing was done.", OperatorRefusal.Conflict);

    internal static async Task<RolloutListData> RolloutListAsync(Caller caller, OperatorServices services, int page, CancellationToken ct)
    {
        // The service lists the newest N with their devices; a page is a slice of the first page*size+1.
        var upTo = Math.Min(page, 1000) * RolloutsPerPage;
        var rollouts = await services.Rollouts.ListAsync(caller, false, upTo + 1, ct).ConfigureAwait(false);
        var revisions = MayStartRollouts(caller) ? await services.Model.ListRevisionsAsync(caller, RolloutRevisionsOffered, ct).ConfigureAwait(false) : [];
        return new RolloutListData([.. rollouts.Skip(upTo - RolloutsPerPage).Take(RolloutsPerPage)], page, rollouts.Count > upTo, revisions);
    }

    private static bool MayStartRollouts(Caller caller) => Rights.AllowsSomewhere(caller.Grants, Verb.Rollout);

    /// <summary>Start a rollout from the form, as the API's <c>POST /api/v1/rollouts</c> would (same service, same audit
    /// action), then show it: the flash and audit entry come from <see cref="ActAsync"/>; on success the browser goes to
    /// the new rollout's page instead of the list.</summary>
    private static async Task<IResult> StartRolloutAsync(HttpContext context, OperatorServices services, CancellationToken ct)
    {
        var form = await context.Request.ReadFormAsync(ct).ConfigureAwait(false);
        string? started = null;
        var revision = form["revision"].ToString().Trim();
        var result = await ActAsync(context, services.Audit, "rollout.start", revision.Length == 0 ? "revision=current" : $"revision={revision}", null, Prefix + "/rollouts", async caller =>
        {
            var request = ParseRolloutForm(form);
            var rollout = await services.Rollouts.StartAsync(caller, request, ct).ConfigureAwait(false);
            started = rollout.Id;
            return $"Rollout {rollout.Id} of revision {rollout.Rev} started: {RolloutProgress.Of(rollout).Text}, {rollout.Waves} wave(s).";
        }).ConfigureAwait(false);
        return started is null ? result : SeeOther($"{Prefix}/rollouts/{Uri.EscapeDataString(started)}");
    }

    /// <summary>The form's fields as the API's request; a field that is not a number is refused as the API refuses a
    /// bad value (400), naming it.</summary>
    private static RolloutStartRequest ParseRolloutForm(IFormCollection form)
    {
        string? Text(string name) => form[name].ToString().Trim() is { Length: > 0 } value ? value : null;
        int Number(string name, string label, int otherwise)
        {
            if (Text(name) is not { } text)
                return otherwise;
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw new RolloutRefusedException("bad-rollout", $"{label} '{text}' is not a whole number; nothing was started.", OperatorRefusal.Invalid);
        }
        long? revision = null;
        if (Text("revision") is { } rev)
        {
            revision = long.TryParse(rev, NumberStyles.None, CultureInfo.InvariantCulture, out var r)
                ? r
                : throw new RolloutRefusedException("bad-rollout", $"Revision '{rev}' is not a revision number; nothing was started.", OperatorRefusal.Invalid);
        }
        var defaults = new RolloutStartRequest(null, null);
        return new RolloutStartRequest(revision, Text("devices"), Number("canary", "Canary", defaults.Canary), Text("batch") ?? defaults.Batch,
            Number("maxParallel", "Max parallel", defaults.MaxParallel), Number("maxFailures", "Failure threshold", defaults.MaxFailures), Text("reason"), Text("deviceTimeout"));
    }

    /// <summary>The live view's stream: every poll re-reads the rollout and sends only the rows, the summary, the
    /// buttons and the failures block that changed, and each device's new command output as text; it ends when the
    /// rollout has finished. <paramref name="seen"/> is the fingerprint of what the page was drawn with: when the
    /// rollout still looks like that, nothing is resent at the start.</summary>
    private static async Task FollowRolloutAsync(HttpContext context, OperatorServices services, UiSessions sessions, string id, string? seen, CancellationToken ct)
    {
        var caller = CallerOf(context);
        var state = await RolloutLive.ReadAsync(caller, services, id, null, ct).ConfigureAwait(false) ?? throw UnknownRollout(id);
        var live = await UiLive.StartAsync(context, sessions).ConfigureAwait(false);
        // What the page was drawn with, section by section: a section whose digest still matches is not resent.
        var drawn = seen?.Split('.') ?? [];
        var fresh = state.Fingerprints.Select((f, i) => i < drawn.Length && drawn[i] == f).ToArray();
        RolloutLive? sent = null;
        while (true)
        {
            await SendRolloutChangesAsync(context, live, sent, state, fresh).ConfigureAwait(false);
            sent = state;
            if (!RolloutStates.IsActive(state.Rollout.Status) && !state.QueuesActive)
            {
                await live.EndAsync("finished").ConfigureAwait(false);
                return;
            }
            if (!await live.WaitAsync(ct).ConfigureAwait(false))
                return;
            RolloutLive? next;
            try
            {
                next = await RolloutLive.ReadAsync(live.Caller, services, id, state, ct).ConfigureAwait(false);
            }
            catch (AccessException)
            {
                next = null; // the operator's rights changed while watching: what they may no longer see is not sent
            }
            if (next is null)
            {
                await live.EndAsync("gone").ConfigureAwait(false);
                return;
            }
            state = next;
        }
    }

    /// <summary>Send what differs between <paramref name="sent"/> (what the page shows) and <paramref name="now"/>. Before
    /// the first send (<paramref name="sent"/> null) the page is what it was drawn with: the sections
    /// <paramref name="fresh"/> marks (in the order of <see cref="RolloutLive.Fingerprints"/>) still match it, the
    /// others are sent whole.</summary>
    private static async Task SendRolloutChangesAsync(HttpContext context, UiLive live, RolloutLive? sent, RolloutLive now, bool[] fresh)
    {
        bool Stale(int section) => sent is null && !fresh[section];
        if (Stale(0) || (sent is not null && sent.Progress != now.Progress))
            await live.ReplaceAsync("rollout-summary", await UiLive.RenderAsync<RolloutSummaryView>(context, new Dictionary<string, object?> { ["Progress"] = now.Progress }).ConfigureAwait(false)).ConfigureAwait(false);
        if (Stale(1) || (sent is not null && sent.ActionsKey != now.ActionsKey))
        {
            await live.ReplaceAsync("rollout-actions", await UiLive.RenderAsync<RolloutActions>(context,
                new Dictionary<string, object?> { ["Frame"] = FrameOf(context), ["Progress"] = now.Progress }).ConfigureAwait(false)).ConfigureAwait(false);
        }
        if (Stale(2) || (sent is not null && sent.FailuresKey != now.FailuresKey))
            await live.ReplaceAsync("rollout-failures", await UiLive.RenderAsync<RolloutFailures>(context, new Dictionary<string, object?> { ["Failures"] = now.Failures }).ConfigureAwait(false)).ConfigureAwait(false);
        foreach (var row in now.Rows)
        {
            if (Stale(3) || (sent is not null && (!sent.RowsByDevice.TryGetValue(row.Device, out var before) || before != row)))
                await live.ReplaceAsync(RolloutRowId(row.Device), await UiLive.RenderAsync<RolloutDeviceRowView>(context, new Dictionary<string, object?> { ["Row"] = row }).ConfigureAwait(false)).ConfigureAwait(false);
        }
        foreach (var (device, output) in now.Outputs)
        {
            if (Stale(4))
            {
                await live.ReplaceAsync(RolloutOutputId(device), await UiLive.RenderAsync<RolloutOutput>(context,
                    new Dictionary<string, object?> { ["Device"] = device, ["Text"] = output.Text }).ConfigureAwait(false)).ConfigureAwait(false);
            }
            else if (sent is not null && output.Added.Length > 0)
            {
                await live.AppendAsync(RolloutOutputId(device), output.Added).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The element id of a device's row in a rollout (device names are letters, digits and dashes).</summary>
    internal static string RolloutRowId(string device) => "rd-" + device;

    /// <summary>The element id of a device's command output in a rollout.</summary>
    internal static string RolloutOutputId(string device) => "ro-" + device;

    /// <summary>A time as the pages show it: UTC, to the second.</summary>
    internal static string RolloutTime(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";

    /// <summary>A device's output of one queue so far, and what the last read added to it.</summary>
    private sealed record RolloutDeviceOutput(string QueueId, QueueView Queue, int Next, string Text, string Added);

    /// <summary>A rollout as the live view reads it, one poll at a time. A read reuses the previous one where nothing can
    /// have changed: a finished queue is read once, its output once; so a poll of a large rollout reads the rollout and
    /// only its active queues.</summary>
    private sealed class RolloutLive
    {
        public required RolloutView Rollout { get; init; }
        public required RolloutProgress Progress { get; init; }
        public required IReadOnlyList<RolloutDeviceRow> Rows { get; init; }
        public required Dictionary<string, RolloutDeviceRow> RowsByDevice { get; init; }
        public required Dictionary<string, RolloutDeviceOutput> Outputs { get; init; }
        public required IReadOnlyList<RolloutFailure> Failures { get; init; }
        public required string FailuresKey { get; init; }

        /// <summary>What decides the buttons shown.</summary>
        public string ActionsKey => $"{Progress.Status}/{Progress.Failed}";

        /// <summary>A queue of the rollout still runs (a cancelled rollout's running commands finish; their output still comes).</summary>
        public bool QueuesActive => Outputs.Values.Any(o => QueueStates.IsActive(o.Queue.Status));

        /// <summary>Digests of what the page shows, by section (summary, buttons, failures, rows, output), passed to the
        /// stream so that it resends only the sections that changed since the page was drawn.</summary>
        public IReadOnlyList<string> Fingerprints =>
        [
            Digest(Progress.ToString()),
            Digest(ActionsKey),
            Digest(FailuresKey),
            Digest(string.Join('|', Rows)),
            Digest(string.Join('|', Outputs.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}:{o.Value.QueueId}:{o.Value.Next}"))),
        ];

        private static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];

        public RolloutPageData PageData() => new(Rollout, Progress, Rows, Failures,
            Outputs.ToDictionary(o => o.Key, o => o.Value.Text, StringComparer.Ordinal),
            RolloutStates.IsActive(Rollout.Status) || QueuesActive ? $"{Prefix}/live/rollouts/{Uri.EscapeDataString(Rollout.Id)}?v={string.Join('.', Fingerprints)}" : null);

        /// <summary>Read the rollout as <paramref name="caller"/> may see it (null when they may not, or it does not exist),
        /// reusing <paramref name="previous"/> for what cannot have changed.</summary>
        public static async Task<RolloutLive?> ReadAsync(Caller caller, OperatorServices services, string id, RolloutLive? previous, CancellationToken ct)
        {
            if (await services.Rollouts.GetAsync(caller, id, ct).ConfigureAwait(false) is not { } rollout)
                return null;
            var mask = services.KnownSecrets;
            var outputs = new Dictionary<string, RolloutDeviceOutput>(StringComparer.Ordinal);
            var rows = new List<RolloutDeviceRow>(rollout.Devices.Count);
            foreach (var d in rollout.Devices.OrderBy(d => d.Wave ?? int.MaxValue).ThenBy(d => d.Position))
            {
                RolloutDeviceOutput? output = null;
                if (d.QueueId is { } queueId)
                {
                    var before = previous?.Outputs.GetValueOrDefault(d.Device);
                    output = before is not null && before.QueueId == queueId && !QueueStates.IsActive(before.Queue.Status)
                        ? before with { Added = "" }
                        : await ReadOutputAsync(caller, services, mask, queueId, before, ct).ConfigureAwait(false);
                    if (output is not null)
                        outputs[d.Device] = output;
                }
                rows.Add(new RolloutDeviceRow(d.Device, d.Wave, d.State ?? d.Status, mask.MaskOrNull(d.Detail), d.QueueId, output?.Queue.Status,
                    output?.Queue.Position ?? 0, output?.Queue.Length ?? 0));
            }
            var failed = rows.Where(r => r.State == RolloutDeviceStates.Failed).ToList();
            var failuresKey = string.Join('|', failed.Select(r => $"{r.Device}:{r.QueueId}:{r.QueueStatus}:{r.Detail}"));
            var failures = previous is not null && previous.FailuresKey == failuresKey
                ? previous.Failures
                : await ReadFailuresAsync(caller, services, mask, failed, previous, ct).ConfigureAwait(false);
            return new RolloutLive
            {
                Rollout = rollout,
                Progress = RolloutProgress.Of(rollout) with { Summary = mask.Mask(rollout.Summary), Error = mask.MaskOrNull(rollout.Error) },
                Rows = rows,
                RowsByDevice = rows.ToDictionary(r => r.Device, StringComparer.Ordinal),
                Outputs = outputs,
                Failures = failures,
                FailuresKey = failuresKey,
            };
        }

        /// <summary>A queue's finished commands after what was read before (all of them for a queue not read yet).</summary>
        private static async Task<RolloutDeviceOutput?> ReadOutputAsync(Caller caller, OperatorServices services, Rig.Model.Domain.SecretMask mask, string queueId, RolloutDeviceOutput? before,
            CancellationToken ct)
        {
            // The queue first, then its commands: a queue read as finished has all its results in.
            if (await services.Queues.GetAsync(caller, queueId, ct).ConfigureAwait(false) is not { } queue)
                return null;
            var same = before?.QueueId == queueId;
            var (entries, next) = await services.Queues.FinishedAfterAsync(caller, queue, same ? before!.Next : 0, ct).ConfigureAwait(false);
            var added = new StringBuilder();
            if (before is not null && !same)
                added.Append(CultureInfo.InvariantCulture, $"--- queue {queue.Id} ({queue.Reason})\n");
            foreach (var e in entries)
            {
                added.Append(CultureInfo.InvariantCulture, $"[{e.Sequence + 1}/{e.Of}] {e.Description}: {e.Status}");
                if (e.ErrorCode is not null || e.Error is not null)
                    added.Append(CultureInfo.InvariantCulture, $" ({e.ErrorCode}: {mask.MaskOrNull(e.Error)})");
                added.Append('\n');
                if (e.Output is { Length: > 0 } output)
                    added.Append(CutRolloutOutput(mask.Mask(output))).Append(output.EndsWith('\n') ? "" : "\n");
            }
            var text = (same ? before!.Text : before is null ? "" : before.Text) + added;
            return new RolloutDeviceOutput(queueId, queue, next, text, added.ToString());
        }

        private static async Task<IReadOnlyList<RolloutFailure>> ReadFailuresAsync(Caller caller, OperatorServices services, Rig.Model.Domain.SecretMask mask,
            IReadOnlyList<RolloutDeviceRow> failed, RolloutLive? previous, CancellationToken ct)
        {
            var known = previous?.Failures.ToDictionary(f => f.Device, StringComparer.Ordinal);
            var failures = new List<RolloutFailure>(failed.Count);
            foreach (var row in failed)
            {
                if (known?.GetValueOrDefault(row.Device) is { } same && same.QueueId == row.QueueId && same.Detail == row.Detail
                    && previous!.RowsByDevice.GetValueOrDefault(row.Device)?.QueueStatus == row.QueueStatus)
                {
                    failures.Add(same);
                    continue;
                }
                var detail = row.QueueId is null ? null : await services.Queues.GetDetailAsync(caller, row.QueueId, ct).ConfigureAwait(false);
                var commands = detail?.Commands.Where(c => c.Status == CommandStates.Failed)
                    .Select(c => new RolloutFailedCommand(c.Sequence, detail.Queue.Length, c.Spec.Describe(), c.Result?.ErrorCode, mask.MaskOrNull(c.Result?.Error),
                        c.Result?.Output is { } o ? CutRolloutOutput(mask.Mask(o)) : null))
                    .ToList() ?? [];
                failures.Add(new RolloutFailure(row.Device, row.Detail, row.QueueId, mask.MaskOrNull(detail?.Queue.Error), commands));
            }
            return failures;
        }

        private static string CutRolloutOutput(string output) => output.Length <= RolloutOutputPerCommand ? output : output[..RolloutOutputPerCommand] + "\n[... cut: the device page has the rest]\n";
    }
}
