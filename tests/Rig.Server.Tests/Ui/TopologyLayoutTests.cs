using Rig.Model.Domain;
using Rig.Server.Ui;
using D = Rig.Server.Ui.UiEndpoints.Drawing;

namespace Rig.Server.Tests.Ui;

/// <summary>The site drawing must stay readable for 3 devices and for 60: every device drawn once, no box on another,
/// every box inside the drawing, tiers in order (load balancers above web above app above database), rows wrapped so
/// that the drawing stays as wide as a laptop screen, and every link a line between the edges of its two boxes.</summary>
public sealed class TopologyLayoutTests
{
    [Theory]
    [InlineData(1, 2, 0, 0)]     // the smallest site: a load balancer and two web servers
    [InlineData(1, 2, 2, 1)]     // the demo's shape
    [InlineData(2, 30, 20, 8)]   // 60 devices
    [InlineData(0, 0, 0, 0)]     // an empty site still gives a drawing
    public void A_site_is_drawn_with_every_device_once_no_box_overlapping_and_tiers_top_to_bottom(int lbs, int webs, int apps, int dbs)
    {
        var devices = new List<Device>();
        void Add(string tier, int count)
        {
            for (var i = 1; i <= count; i++)
                devices.Add(new Device { Name = $"{tier}-{i}", Site = "big", Tier = tier });
        }
        // In an order the drawing must not depend on.
        Add("db", dbs);
        Add("web", webs);
        Add("lb", lbs);
        Add("app", apps);
        var links = new List<Interconnection>();
        foreach (var lb in devices.Where(d => d.Tier == "lb"))
            links.AddRange(devices.Where(d => d.Tier == "web").Select(w => new Interconnection { From = lb.Name, To = w.Name, Purpose = "http", Port = 80 }));
        foreach (var (web, i) in devices.Where(d => d.Tier == "web").Select((d, i) => (d, i)))
        {
            var app = devices.Where(d => d.Tier == "app").ElementAtOrDefault(i % Math.Max(1, apps));
            if (app is not null)
                links.Add(new Interconnection { From = web.Name, To = app.Name, Purpose = "app", Port = 8080 });
        }
        links.Add(new Interconnection { From = "web-1", To = "not-in-this-site", Purpose = "sql" }); // a link leaving the site is not drawn

        var t = UiEndpoints.Layout(devices, links, _ => "in-sync", name => name == "web-2", _ => ["linux-base"]);

        Assert.Equal(devices.Select(d => d.Name).Order(), t.Nodes.Select(n => n.Name).Order());
        foreach (var n in t.Nodes)
        {
            Assert.True(n.X >= D.Margin + D.LabelWidth && n.X + D.NodeWidth <= t.Width - D.Margin + 0.01, $"{n.Name} at x {n.X} leaves the drawing ({t.Width} wide)");
            Assert.True(n.Y >= D.Margin && n.Y + D.NodeHeight <= t.Height - D.Margin + 0.01, $"{n.Name} at y {n.Y} leaves the drawing ({t.Height} high)");
        }
        foreach (var (a, b) in t.Nodes.SelectMany((a, i) => t.Nodes.Skip(i + 1).Select(b => (a, b))))
        {
            var apart = a.X + D.NodeWidth + D.Gap <= b.X + 0.01 || b.X + D.NodeWidth + D.Gap <= a.X + 0.01
                || a.Y + D.NodeHeight + D.RowGap <= b.Y + 0.01 || b.Y + D.NodeHeight + D.RowGap <= a.Y + 0.01;
            Assert.True(apart, $"{a.Name} ({a.X},{a.Y}) and {b.Name} ({b.X},{b.Y}) are drawn on or against each other");
        }
        // At most PerRow boxes side by side: 60 devices make a taller drawing, never a wider one.
        Assert.All(t.Nodes.GroupBy(n => n.Y), row => Assert.True(row.Count() <= D.PerRow, $"{row.Count()} boxes in the row at y {row.Key}"));
        Assert.True(t.Width <= 1400, $"the drawing is {t.Width} units wide: scaled down to a 1280 px screen its labels would be unreadable");
        // Tiers top to bottom, each labelled once at its first row.
        string[] order = ["lb", "web", "app", "db"];
        var present = order.Where(tier => devices.Any(d => d.Tier == tier)).ToList();
        Assert.Equal(present, t.Rows.Where(r => r.Label is not null).Select(r => r.Label!));
        for (var i = 1; i < present.Count; i++)
        {
            var above = t.Nodes.Where(n => n.Tier == present[i - 1]).Max(n => n.Y);
            var below = t.Nodes.Where(n => n.Tier == present[i]).Min(n => n.Y);
            Assert.True(above < below, $"tier {present[i - 1]} is not drawn above tier {present[i]}");
        }
        // Every link inside the site is a line from the bottom edge of the upper box to the top edge of the lower one.
        Assert.Equal(links.Count(l => l.To != "not-in-this-site"), t.Links.Count);
        var at = t.Nodes.ToDictionary(n => n.Name);
        foreach (var l in t.Links)
        {
            var (from, to) = (at[l.From], at[l.To]);
            Assert.Equal(from.X + D.NodeWidth / 2, l.X1, 3);
            Assert.Equal(to.X + D.NodeWidth / 2, l.X2, 3);
            Assert.Equal(from.Y + D.NodeHeight, l.Y1, 3);
            Assert.Equal(to.Y, l.Y2, 3);
        }
        Assert.All(t.Nodes, n => Assert.Equal(n.Name == "web-2", n.Drifted));
        if (devices.Count == 0)
            Assert.True(t.Width > 0 && t.Height > 0);
    }
}
