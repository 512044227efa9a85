using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rig.Model.Domain;
using Rig.Server.Security;
using Rig.Server.Services;
using Rig.Server.Ui.Components;

namespace Rig.Server.Ui;

/// <summary>A site on the sites page: its customer, its devices counted by state.</summary>
public sealed record SiteSummary(string Name, string? Customer, string? Description, int Devices, IReadOnlyList<(string State, int Count)> States);

/// <summary>A device of a site: where it is drawn and what the table beside the drawing says.</summary>
/// <param name="X">Left edge of its box in the drawing.</param>
/// <param name="Y">Top edge of its box in the drawing.</param>
public sealed record TopologyNode(string Name, string? Tier, string State, bool Drifted, IReadOnlyList<string> Roles, double X, double Y);

/// <summary>An interconnection drawn as a line from the edge of one box to the edge of the other.</summary>
public sealed record TopologyLink(string From, string To, string Purpose, int? Port, double X1, double Y1, double X2, double Y2);

/// <summary>A row of the drawing: the tier's label (on its first row only) and where the row is.</summary>
public sealed record TopologyRow(string? Label, double Y);

/// <summary>A site's topology laid out: rows by tier (wrapped when wide), boxes, lines, and the size of it all.</summary>
public sealed record Topology(double Width, double Height, IReadOnlyList<TopologyRow> Rows, IReadOnlyList<TopologyNode> Nodes, IReadOnlyList<TopologyLink> Links);

/// <summary>The site page: the drawing, and one page of its device table.</summary>
public sealed record SitePageData(Site Site, Topology Topology, IReadOnlyList<TopologyNode> TablePage, int Page, int Pages, string? DriftNote);

/// <summary>One page of the device list with the filters that chose it.</summary>
public sealed record DeviceListData(IReadOnlyList<DeviceStatus> Devices, int Total, int Page, int Pages, string? State, string? Site, bool Drift, string? Query,
    IReadOnlyList<string> Sites, string? DriftNote, int? SeenWithin = null);

/// <summary>The device's part of the model as of a revision: its entry, roles and rendered files.</summary>
/// <param name="Error">Why there is nothing to show (no such revision), or null.</param>
public sealed record DeviceAsOf(string At, long? Revision, DateTimeOffset? CreatedAt, Device? Device, IReadOnlyList<string> Roles, RenderedDevice? Rendered, string? Error);

/// <summary>Everything the device page shows: the device as the API's detail has it, its entry and links in the
/// model (what the operator may read), its drift, and optionally its configuration as of a revision.</summary>
public sealed record DevicePageData(DeviceDetail Detail, Device? Model, IReadOnlyList<Interconnection> Links, DeviceDrift? Drift, string? DriftNote, DeviceAsOf? AsOf);

internal static partial class UiEndpoints
{
    /// <summary>Rows of a device table per page: enough to scan, small enough to draw at once.</summary>
    internal const int DevicesPerPage = 100;

    /// <summary>Tiers in the order a request flows through a site; any other tier comes after, then devices without one.</summary>
    private static readonly string[][] TierOrder =
    [
        ["lb", "loadbalancer", "load-balancer", "load balancer", "lbs", "proxy"],
        ["web", "www", "frontend"],
        ["app", "application", "backend", "api"],
        ["db", "database", "sql", "data"],
    ];

    static partial void MapDevicePages(WebApplication app, OperatorServices services, UiSessions sessions)
    {
        app.MapGet(Prefix + "/sites", (HttpContext context, CancellationToken ct) => SitesAsync(context, services, ct));
        app.MapGet(Prefix + "/sites/{name}", (string name, int? page, HttpContext context, CancellationToken ct) => SiteAsync(context, services, name, page, ct));
        app.MapGet(Prefix + "/devices", (int? page, string? state, string? site, string? drift, string? q, int? seen, HttpContext context, CancellationToken ct) =>
            DevicesAsync(context, services, page, state, site, drift is "1" or "true" or "on", q, seen is > 0 ? seen : null, ct));
        app.MapGet(Prefix + "/devices/{name}", (string name, string? at, HttpContext context, CancellationToken ct) => DeviceAsync(context, services, name, at, ct));
        app.MapGet(Prefix + "/live/devices/{name}", (string name, string? queue, int? from, HttpContext context, CancellationToken ct) =>
            DeviceLiveAsync(context, services, sessions, name, queue, from ?? 0, ct));
        app.MapPost(Prefix + "/devices/{name}/poke", (string name, HttpContext context, CancellationToken ct) =>
            ActAsync(context, services.Audit, "device.poke", name, name, DevicePath(name), async caller =>
                (await services.Devices.PokeAsync(caller, name, ct).ConfigureAwait(false)).Poked
                    ? $"Poked {name}: its agent connects now."
                    : $"{name} was not poked: the gateway knows no poke address for its agent, or nothing answered there. It connects at its next check-in."));
        app.MapPost(Prefix + "/devices/{name}/cancel", (string name, HttpContext context, CancellationToken ct) =>
            ActAsync(context, services.Audit, "device.cancel", name, name, DevicePath(name), async caller =>
                await services.Devices.CancelQueueAsync(caller, name, ct).ConfigureAwait(false) is { } cancelled
                    ? $"Cancelled queue {cancelled.Id} of {name} ({cancelled.Position} of {cancelled.Length} commands had finished; a running command finishes)."
                    : $"{name} has no active queue: nothing was cancelled."));
    }

    internal static string DevicePath(string name) => $"{Prefix}/devices/{Uri.EscapeDataString(name)}";

    // ---- sites ------------------------------------------------------------------------------

    private static async Task<IResult> SitesAsync(HttpContext context, OperatorServices services, CancellationToken ct)
    {
        var caller = CallerOf(context);
        var model = await services.Model.GetAsync(caller, null, ct).ConfigureAwait(false) ?? new RigModel();
        var statuses = await services.Devices.ListAsync(caller, ct).ConfigureAwait(false);
        var bySite = statuses.Where(s => s.Site is not null).ToLookup(s => s.Site!, StringComparer.Ordinal);
        var sites = model.Sites.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s =>
        {
            var devices = bySite[s.Name].ToList();
            return new SiteSummary(s.Name, s.Customer, s.Description, devices.Count,
                [.. devices.GroupBy(d => d.State, StringComparer.Ordinal).OrderBy(g => StateRank(g.Key)).Select(g => (g.Key, g.Count()))]);
        }).ToList();
        return Page<SitesPage>(context, new Dictionary<string, object?> { ["Sites"] = sites });
    }

    private static async Task<IResult> SiteAsync(HttpContext context, OperatorServices services, string name, int? page, CancellationToken ct)
    {
        var caller = CallerOf(context);
        var model = await services.Model.GetAsync(caller, null, ct).ConfigureAwait(false) ?? new RigModel();
        var site = model.Sites.FirstOrDefault(s => s.Name == name)
            ?? throw new NotVisibleException("unknown-site", $"There is no site '{name}'.", "The sites page lists the sites you may see.");
        var states = (await services.Devices.ListAsync(caller, ct).ConfigureAwait(false)).ToDictionary(s => s.Name, StringComparer.Ordinal);
        var devices = model.Devices.Where(d => d.Site == name && states.ContainsKey(d.Name)).ToList();
        var drifted = new HashSet<string>(StringComparer.Ordinal);
        string? driftNote = null;
        if (devices.Count > 0)
        {
            var (drift, why) = await services.Model.DriftAsync(caller, $"site={name}", ct).ConfigureAwait(false);
            drifted.UnionWith(drift?.Devices.Where(d => d.Outcome == DriftOutcome.Drift).Select(d => d.Device) ?? []);
            driftNote = why;
        }
        var roles = model.Assignments.ToLookup(a => a.Device, a => a.Role, StringComparer.Ordinal);
        var topology = Layout(devices, model.Links, name => states[name].State, drifted.Contains, name => [.. roles[name]]);
        var pages = Math.Max(1, (topology.Nodes.Count + DevicesPerPage - 1) / DevicesPerPage);
        var current = Math.Clamp(page ?? 1, 1, pages);
        return Page<SitePage>(context, new Dictionary<string, object?>
        {
            ["Data"] = new SitePageData(site, topology, [.. topology.Nodes.Skip((current - 1) * DevicesPerPage).Take(DevicesPerPage)], current, pages, driftNote),
        });
    }

    /// <summary>Where a tier's row comes: lb, web, app, db, then any other tier (by name), then no tier.</summary>
    private static (int Rank, string Name) TierRank(string? tier)
    {
        if (string.IsNullOrWhiteSpace(tier))
            return (int.MaxValue, "");
        var lower = tier.Trim().ToLowerInvariant();
        for (var i = 0; i < TierOrder.Length; i++)
        {
            if (TierOrder[i].Contains(lower, StringComparer.Ordinal))
                return (i, lower);
        }
        return (TierOrder.Length, lower);
    }

    /// <summary>Box size and spacing of the drawing (in SVG units; the drawing scales to its container).</summary>
    internal static class Drawing
    {
        public const double NodeWidth = 132, NodeHeight = 46, Gap = 18, RowGap = 56, LabelWidth = 96, Margin = 16;

        /// <summary>Boxes per row before a tier wraps: 8 keeps a row readable when the drawing is scaled to a laptop screen.</summary>
        public const int PerRow = 8;

        /// <summary>Link purposes are written beside the lines up to this many links; beyond, each line carries its purpose as a tooltip only.</summary>
        public const int LabelledLinks = 16;

        /// <summary>Beyond this many devices the drawing is left out (a few hundred boxes are no longer a picture anyone
        /// reads, and the page would grow by megabytes); the table below lists them a page at a time.</summary>
        public const int MaxDrawn = 300;
    }

    /// <summary>Lay out a site: a row per tier in request order, wrapped every <see cref="Drawing.PerRow"/> boxes; each link a
    /// line between the facing edges of its two boxes. The drawing's size follows from the rows, so 3 devices give a
    /// small drawing and 60 a tall one.</summary>
    internal static Topology Layout(IReadOnlyList<Device> devices, IReadOnlyList<Interconnection> links, Func<string, string> stateOf, Func<string, bool> drifted, Func<string, IReadOnlyList<string>> rolesOf)
    {
        var rows = new List<TopologyRow>();
        var nodes = new List<TopologyNode>();
        var y = Drawing.Margin;
        var tiers = devices.GroupBy(d => TierRank(d.Tier)).OrderBy(g => g.Key.Rank).ThenBy(g => g.Key.Name, StringComparer.Ordinal)
            .Select(g => (Label: g.First().Tier is { Length: > 0 } t ? t : "no tier", Members: g.OrderBy(d => d.Name, StringComparer.Ordinal).ToList())).ToList();
        var widest = Math.Max(1, tiers.Select(t => Math.Min(t.Members.Count, Drawing.PerRow)).DefaultIfEmpty(1).Max());
        foreach (var (label, members) in tiers)
        {
            for (var start = 0; start < members.Count; start += Drawing.PerRow)
            {
                rows.Add(new TopologyRow(start == 0 ? label : null, y));
                var row = members.Skip(start).Take(Drawing.PerRow).ToList();
                // A short row is centred under the widest, so a load balancer sits above the servers it feeds.
                var left = Drawing.Margin + Drawing.LabelWidth + (widest - row.Count) * (Drawing.NodeWidth + Drawing.Gap) / 2;
                for (var i = 0; i < row.Count; i++)
                {
                    var d = row[i];
                    nodes.Add(new TopologyNode(d.Name, d.Tier, stateOf(d.Name), drifted(d.Name), rolesOf(d.Name), left + i * (Drawing.NodeWidth + Drawing.Gap), y));
                }
                y += Drawing.NodeHeight + Drawing.RowGap;
            }
        }
        var at = nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var lines = new List<TopologyLink>();
        foreach (var link in links)
        {
            if (!at.TryGetValue(link.From, out var a) || !at.TryGetValue(link.To, out var b))
                continue;
            var (x1, y1, x2, y2) = Edges(a, b);
            lines.Add(new TopologyLink(link.From, link.To, link.Purpose, link.Port, x1, y1, x2, y2));
        }
        var width = Drawing.Margin * 2 + Drawing.LabelWidth + widest * Drawing.NodeWidth + (widest - 1) * Drawing.Gap;
        var height = nodes.Count == 0 ? Drawing.Margin * 2 + Drawing.NodeHeight : y - Drawing.RowGap + Drawing.Margin;
        return new Topology(width, height, rows, nodes, lines);

        static (double, double, double, double) Edges(TopologyNode a, TopologyNode b)
        {
            double cx(TopologyNode n) => n.X + Drawing.NodeWidth / 2;
            if (a.Y < b.Y)
                return (cx(a), a.Y + Drawing.NodeHeight, cx(b), b.Y);
            if (a.Y > b.Y)
                return (cx(a), a.Y, cx(b), b.Y + Drawing.NodeHeight);
            return a.X < b.X
                ? (a.X + Drawing.NodeWidth, a.Y + Drawing.NodeHeight / 2, b.X, b.Y + Drawing.NodeHeight / 2)
                : (a.X, a.Y + Drawing.NodeHeight / 2, b.X + Drawing.NodeWidth, b.Y + Drawing.NodeHeight / 2);
        }
    }

    /// <summary>A number for an SVG attribute (invariant culture, no exponent).</summary>
    internal static string Svg(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>Order of the states in counts: what needs a look first.</summary>
    internal static int StateRank(string state) => state switch
    {
        DeviceStates.Failed => 0,
        DeviceStates.Changing => 1,
        DeviceStates.NotSeen => 2,
        DeviceStates.NotConverged => 3,
        DeviceStates.NeverEnrolled => 4,
        DeviceStates.InSync => 5,
        _ => 6,
    };

    // ---- device list ------------------------------------------------------------------------

    private static async Task<IResult> DevicesAsync(HttpContext context, OperatorServices services, int? page, string? state, string? site, bool drift, string? q, int? seen, CancellationToken ct)
    {
        var caller = CallerOf(context);
        var all = await services.Devices.ListAsync(caller, ct).ConfigureAwait(false);
        state = string.IsNullOrWhiteSpace(state) ? null : state.Trim();
        site = string.IsNullOrWhiteSpace(site) ? null : site.Trim();
        q = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        IEnumerable<DeviceStatus> chosen = all;
        if (state is not null)
            chosen = chosen.Where(d => d.State == state);
        if (site is not null)
            chosen = chosen.Where(d => d.Site == site);
        if (q is not null)
            chosen = chosen.Where(d => d.Name.Contains(q, StringComparison.OrdinalIgnoreCase));
        if (seen is { } window)
        {
            // The dashboard's "agents seen in the last N s": devices whose agent talked to the gateway that recently.
            var since = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(window);
            chosen = chosen.Where(d => d.LastSeenAt >= since);
        }
        string? driftNote = null;
        if (drift)
        {
            // One comparison for every device, only when asked for: drift reads each device's inventory.
            var (report, why) = await services.Model.DriftAsync(caller, null, ct).ConfigureAwait(false);
            var drifted = new HashSet<string>(report?.Devices.Where(d => d.Outcome == DriftOutcome.Drift).Select(d => d.Device) ?? [], StringComparer.Ordinal);
            chosen = chosen.Where(d => drifted.Contains(d.Name));
            driftNote = why;
        }
        var list = chosen.ToList();
        var pages = Math.Max(1, (list.Count + DevicesPerPage - 1) / DevicesPerPage);
        var current = Math.Clamp(page ?? 1, 1, pages);
        var sites = all.Select(d => d.Site).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return Page<DevicesPage>(context, new Dictionary<string, object?>
        {
            ["Data"] = new DeviceListData([.. list.Skip((current - 1) * DevicesPerPage).Take(DevicesPerPage)], list.Count, current, pages, state, site, drift, q, sites, driftNote, seen),
        });
    }

    /// <summary>The device list's address with its filters and another page.</summary>
    internal static string DevicesQuery(DeviceListData data, int page)
    {
        var parts = new List<string>();
        if (data.State is not null)
            parts.Add("state=" + Uri.EscapeDataString(data.State));
        if (data.Site is not null)
            parts.Add("site=" + Uri.EscapeDataString(data.Site));
        if (data.Drift)
            parts.Add("drift=1");
        if (data.Query is not null)
            parts.Add("q=" + Uri.EscapeDataString(data.Query));
        if (data.SeenWithin is { } seen)
            parts.Add("seen=" + seen.ToString(CultureInfo.InvariantCulture));
        if (page > 1)
            parts.Add("page=" + page.ToString(CultureInfo.InvariantCulture));
        return Prefix + "/devices" + (parts.Count == 0 ? "" : "?" + string.Join("&", parts));
    }

    // ---- one device -------------------------------------------------------------------------

    private static async Task<IResult> DeviceAsync(HttpContext context, OperatorServices services, string name, string? at, CancellationToken ct)
    {
        var caller = CallerOf(context);
        var detail = await services.Devices.GetAsync(caller, name, ct).ConfigureAwait(false) ?? throw NotVisibleException.Device(name);
        var model = await services.Model.GetAsync(caller, null, ct).ConfigureAwait(false) ?? new RigModel();
        var device = model.Devices.FirstOrDefault(d => d.Name == name);
        var links = model.Links.Where(l => l.From == name || l.To == name).ToList();
        DeviceDrift? drift = null;
        string? driftNote = null;
        if (device is not null)
        {
            var (report, why) = await services.Model.DriftAsync(caller, name, ct).ConfigureAwait(false);
            drift = report?.Devices.FirstOrDefault(d => d.Device == name);
            driftNote = why;
        }
        DeviceAsOf? asOf = null;
        if (!string.IsNullOrWhiteSpace(at))
        {
            at = at.Trim();
            var (snapshot, currentRev) = await services.Model.AsOfAsync(caller, at, ct).ConfigureAwait(false);
            asOf = snapshot is null
                ? new DeviceAsOf(at, null, null, null, [], null, $"'{at}' names no revision: give a revision number from 1 to {currentRev}, or a date after the first revision (2026-12-01 or 2026-12-01T12:00:00Z).")
                : new DeviceAsOf(at, snapshot.Revision, snapshot.CreatedAt, snapshot.Model.Devices.FirstOrDefault(d => d.Name == name),
                    [.. snapshot.Model.Assignments.Where(a => a.Device == name).Select(a => a.Role)], snapshot.Devices.FirstOrDefault(d => d.Device == name), null);
        }
        return Page<DevicePage>(context, new Dictionary<string, object?> { ["Data"] = new DevicePageData(detail, device, links, drift, driftNote, asOf) });
    }

    /// <summary>The commands at the start of a queue that have finished, in order: what its output log shows (the same
    /// rule as the API's log cursor, so the live stream goes on from there without sending a line twice).</summary>
    internal static int FinishedPrefix(IReadOnlyList<CommandView> commands)
    {
        var next = 0;
        foreach (var c in commands.OrderBy(c => c.Sequence))
        {
            if (c.Sequence != next || c.Status is not (CommandStates.Succeeded or CommandStates.Failed))
                break;
            next++;
        }
        return next;
    }

    /// <summary>A finished command's part of the output log: a header line, then its output and error.</summary>
    internal static string LogText(int sequence, int of, string kind, string description, string status, string? output, string? error)
    {
        var text = new StringBuilder().Append("── ").Append(sequence + 1).Append('/').Append(of).Append(' ').Append(kind).Append(": ")
            .Append(description).Append(" — ").Append(status).Append(" ──\n");
        if (!string.IsNullOrEmpty(output))
            text.Append(output.EndsWith('\n') ? output : output + "\n");
        if (!string.IsNullOrEmpty(error))
            text.Append("error: ").Append(error).Append('\n');
        return Printable(text.ToString());
    }

    /// <summary>Control characters (an escape sequence's ESC, a bell) made visible as their Unicode pictures (␛[31m), so
    /// output shows what the command wrote instead of hiding or acting on it; line breaks and tabs stay.</summary>
    internal static string Printable(string text)
    {
        if (!text.Any(c => char.IsControl(c) && c is not '\n' and not '\t'))
            return text;
        var printable = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            printable.Append(c switch
            {
                '\n' or '\t' => c,
                < ' ' => (char)(0x2400 + c),
                '\u007f' => '\u2421',
                _ when char.IsControl(c) => '\ufffd',
                _ => c,
            });
        }
        return printable.ToString();
    }

    /// <summary>A device's live queue: each command whose status changed is drawn again, each command that finished
    /// appends its output to the log (from the cursor the page was drawn at, the API's log rule: nothing is sent twice),
    /// and the stream ends when the queue does.</summary>
    private static async Task DeviceLiveAsync(HttpContext context, OperatorServices services, UiSessions sessions, string name, string? queueId, int from, CancellationToken ct)
    {
        var caller = CallerOf(context);
        var (queue, next, refusal) = await services.Queues.ResolveLogAsync(caller, name, queueId, queueId is null ? null : $"{queueId}:{Math.Max(0, from).ToString(CultureInfo.InvariantCulture)}", ct).ConfigureAwait(false);
        if (refusal is LogRefusal.UnknownDevice)
            throw NotVisibleException.Device(name);
        var live = await UiLive.StartAsync(context, sessions).ConfigureAwait(false);
        if (queue is null)
        {
            await live.EndAsync("no-queue").ConfigureAwait(false);
            return;
        }
        var shown = new Dictionary<int, string>();
        var first = true;
        do
        {
            caller = live.Caller; // rights as of this poll: a revoked grant ends what the stream shows
            if (!OperatorAccess.MaySee(caller, name))
            {
                await live.EndAsync("gone").ConfigureAwait(false);
                return;
            }
            var current = await services.Queues.GetAsync(caller, queue.Id, ct).ConfigureAwait(false);
            if (current is null)
            {
                await live.EndAsync("gone").ConfigureAwait(false);
                return;
            }
            // The queue's state before its commands: when it reads as finished, every result is already there.
            var detail = await services.Queues.GetDetailAsync(caller, queue.Id, ct).ConfigureAwait(false);
            foreach (var command in detail?.Commands ?? [])
            {
                if (shown.TryGetValue(command.Sequence, out var was) && was == command.Status)
                    continue;
                if (!first || command.Sequence >= next)
                {
                    await live.ReplaceAsync(CommandRowId(command), await UiLive.RenderAsync<DeviceCommandRow>(context, new Dictionary<string, object?> { ["Command"] = command }).ConfigureAwait(false)).ConfigureAwait(false);
                }
                shown[command.Sequence] = command.Status;
            }
            first = false;
            var (entries, after) = await services.Queues.FinishedAfterAsync(caller, current, next, ct).ConfigureAwait(false);
            foreach (var entry in entries)
                await live.AppendAsync(QueueLogId(queue.Id), LogText(entry.Sequence, entry.Of, entry.Kind, entry.Description, entry.Status, entry.Output, entry.Error)).ConfigureAwait(false);
            next = after;
            if (!QueueStates.IsActive(current.Status))
            {
                await live.ReplaceAsync(QueueStatusId(queue.Id), await UiLive.RenderAsync<QueueStatusLine>(context, new Dictionary<string, object?> { ["Queue"] = current }).ConfigureAwait(false)).ConfigureAwait(false);
                await live.EndAsync("queue-ended").ConfigureAwait(false);
                return;
            }
        }
        while (await live.WaitAsync(ct).ConfigureAwait(false));
    }

    internal static string CommandRowId(CommandView command) => $"cmd-{command.QueueId}-{command.Sequence.ToString(CultureInfo.InvariantCulture)}";

    internal static string QueueLogId(string queueId) => $"log-{queueId}";

    internal static string QueueStatusId(string queueId) => $"queue-{queueId}";

    /// <summary>The live stream's address for a queue, going on after the commands the page already shows.</summary>
    internal static string DeviceLivePath(string device, string queueId, int from) =>
        $"{Prefix}/live/devices/{Uri.EscapeDataString(device)}?queue={Uri.EscapeDataString(queueId)}&from={from.ToString(CultureInfo.InvariantCulture)}";
}
