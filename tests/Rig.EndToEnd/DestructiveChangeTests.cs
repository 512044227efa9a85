using System.Text.Json;
using Rig.EndToEnd.Harness;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Api;

namespace Rig.EndToEnd;

/// <summary>Changes that remove something are explicit: `rig apply` and `rig device decommission` show their impact and
/// ask (or want --yes without a terminal); a saved plan records exactly what was planned, or nothing when the model or
/// a device it changes moved since. The real rig CLI (its standard streams are pipes here: no terminal) against a real
/// gateway process.</summary>
public sealed class DestructiveChangeTests
{
    private static string[] Connection(LiveSite live) =>
        ["--server", live.Gateway.ApiUrl.ToString(), "--token", live.Gateway.Token, "--ca", live.Gateway.CaPath];

    private static string WriteModel(LiveSite live, string name, RigModel model)
    {
        var path = Path.Combine(live.Directory.Path, name + ".json");
        File.WriteAllText(path, JsonSerializer.Serialize(model, ModelJson.Default.RigModel));
        return path;
    }

    private static async Task<List<RevisionView>> RevisionsAsync(LiveSite live) =>
        await live.Site.Api.GetAsync<List<RevisionView>>("api/v1/revisions");

    /// <summary>rig's output on one line: a message may be wrapped at the console width.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RigAsync(params string[] args)
    {
        var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), args);
        return (code, System.Text.RegularExpressions.Regex.Replace(stdout, @"\s+", " "), System.Text.RegularExpressions.Regex.Replace(stderr, @"\s+", " "));
    }

    [Fact]
    public async Task Apply_that_removes_a_device_refuses_without_yes_when_not_on_a_terminal_and_records_nothing()
    {
        await using var live = await LiveSite.StartAsync();
        var both = WriteModel(live, "both", Models.Site(["web-1", "web-2"]));
        var (code, stdout, stderr) = await RigAsync(["apply", both, "-m", "two web servers", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr); // adds only: nothing to confirm
        Assert.Contains("web-2", stdout, StringComparison.Ordinal); // the impact names the devices it adds

        var one = WriteModel(live, "one", Models.Site(["web-1"]));
        (code, stdout, stderr) = await RigAsync(["apply", one, "-m", "drop web-2", .. Connection(live)]);
        Assert.Equal(1, code);
        Assert.Contains("device web-2", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("--yes", stdout + stderr, StringComparison.Ordinal);
        Assert.Single(await RevisionsAsync(live));

        (code, stdout, _) = await RigAsync(["apply", one, "-m", "drop web-2", .. Connection(live), "--json"]);
        Assert.Equal(1, code);
        var error = JsonDocument.Parse(stdout).RootElement.GetProperty("error"); // one JSON document, nothing else
        Assert.Contains("web-2", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Single(await RevisionsAsync(live));

        (code, stdout, stderr) = await RigAsync(["apply", one, "-m", "drop web-2", "--yes", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr);
        var revisions = await RevisionsAsync(live);
        Assert.Equal(2, revisions[0].Revision);
        Assert.Equal("drop web-2", revisions[0].Message);
        var model = JsonSerializer.Deserialize((await live.Site.Api.GetAsync<JsonElement>("api/v1/model")).GetRawText(), ModelJson.Default.RigModel)!;
        Assert.Equal(["web-1"], model.Devices.Select(d => d.Name));
    }

    [Fact]
    public async Task Model_load_that_removes_a_device_refuses_without_yes_when_not_on_a_terminal()
    {
        await using var live = await LiveSite.StartAsync();
        await live.Site.ApplyAsync(Models.Site(["web-1", "web-2"]), "first");
        var one = WriteModel(live, "one", Models.Site(["web-1"]));

        var (code, stdout, stderr) = await RigAsync(["model", "load", one, "-m", "drop web-2", .. Connection(live)]);
        Assert.Equal(1, code);
        Assert.Contains("device web-2", stdout + stderr, StringComparison.Ordinal);
        Assert.Single(await RevisionsAsync(live));

        (code, stdout, stderr) = await RigAsync(["model", "load", one, "-m", "drop web-2", "--yes", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(2, (await RevisionsAsync(live))[0].Revision);
    }

    [Fact]
    public async Task Saved_plan_applies_exactly_when_nothing_moved_and_refuses_after_another_apply()
    {
        await using var live = await LiveSite.StartAsync();
        await live.Site.ApplyAsync(Models.Site(["web-1", "web-2"]), "first");
        var changed = WriteModel(live, "changed", Models.Site(["web-1", "web-2"], osFiles: 3));
        var planFile = Path.Combine(live.Directory.Path, "plan.json");
        var (code, stdout, stderr) = await RigAsync(["plan", changed, "-o", planFile, .. Connection(live)]);
        Assert.True(code == 2, stdout + stderr);
        var saved = JsonDocument.Parse(File.ReadAllText(planFile)).RootElement;
        Assert.Equal("rig-plan", saved.GetProperty("format").GetString());
        Assert.Equal(1, saved.GetProperty("version").GetInt32());
        Assert.Equal(1, saved.GetProperty("baseRevision").GetInt64());
        Assert.Equal(["web-1", "web-2"], saved.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("device").GetString()));

        // The model directory changes after the plan was saved: the plan still records what it planned.
        File.WriteAllText(changed, JsonSerializer.Serialize(Models.Site(["web-1", "web-2"], osFiles: 5), ModelJson.Default.RigModel));
        (code, stdout, stderr) = await RigAsync(["apply", planFile, "-m", "a third base file", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr);
        var revisions = await RevisionsAsync(live);
        Assert.Equal((2, "a third base file"), (revisions[0].Revision, revisions[0].Message));
        var plan = await live.Site.StoredPlanAsync();
        Assert.Contains(plan.Devices.Single(d => d.Device == "web-1").Commands, c => c.Description == "write /etc/base/f002.conf");
        Assert.DoesNotContain(plan.Devices.Single(d => d.Device == "web-1").Commands, c => c.Description == "write /etc/base/f003.conf");

        // Another plan, then another apply in between: the saved plan is refused, naming the revisions, and nothing is recorded.
        (code, stdout, stderr) = await RigAsync(["plan", changed, "-o", planFile, .. Connection(live)]);
        Assert.True(code == 2, stdout + stderr);
        await live.Site.ApplyAsync(Models.Site(["web-1", "web-2"], osFiles: 4), "someone else's change");
        (code, stdout, stderr) = await RigAsync(["apply", planFile, "-m", "five base files", .. Connection(live)]);
        Assert.Equal(1, code);
        Assert.Contains("revision 3 now", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("made on revision 2", stdout + stderr, StringComparison.Ordinal);
        Assert.Equal(3, (await RevisionsAsync(live))[0].Revision);
    }

    [Fact]
    public async Task Saved_plan_refuses_after_a_device_it_changes_had_its_recorded_state_changed_naming_the_device()
    {
        await using var live = await LiveSite.StartAsync();
        var site = live.Site;
        await site.ApplyAsync(Models.Site(["web-1", "web-2"]), "first");
        await site.StartAgentAsync("web-1");
        var changed = WriteModel(live, "changed", Models.Site(["web-1", "web-2"], osFiles: 3));
        var planFile = Path.Combine(live.Directory.Path, "plan.json");
        var (code, stdout, stderr) = await RigAsync(["plan", changed, "-o", planFile, .. Connection(live)]);
        Assert.True(code == 2, stdout + stderr);

        // web-1 is provisioned with the current revision after the plan was made: what the gateway recorded for it changed.
        await site.ConvergeAsync("web-1");
        Assert.Equal("succeeded", (await site.WaitForQueueAsync("web-1")).Status.Queue!.Status);

        (code, stdout, stderr) = await RigAsync(["apply", planFile, "-m", "a third base file", .. Connection(live)]);
        Assert.Equal(1, code);
        Assert.Contains("device 'web-1' changed", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("device 'web-2'", stdout + stderr, StringComparison.Ordinal);
        Assert.Single(await RevisionsAsync(live));

        // Planned again, it applies.
        (code, stdout, stderr) = await RigAsync(["plan", changed, "-o", planFile, .. Connection(live)]);
        Assert.True(code == 2, stdout + stderr);
        (code, stdout, stderr) = await RigAsync(["apply", planFile, "-m", "a third base file", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(2, (await RevisionsAsync(live))[0].Revision);
    }

    [Fact]
    public async Task Decommission_shows_its_plan_and_refuses_without_yes_when_not_on_a_terminal()
    {
        await using var live = await LiveSite.StartAsync();
        await live.Site.ApplyAsync(Models.Site(["web-1", "web-2"]), "first");

        var (code, stdout, stderr) = await RigAsync(["device", "decommission", "web-2", "-m", "retire", .. Connection(live)]);
        Assert.Equal(1, code);
        Assert.Contains("device web-2", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("--yes", stdout + stderr, StringComparison.Ordinal);
        Assert.Single(await RevisionsAsync(live));

        (code, stdout, stderr) = await RigAsync(["device", "decommission", "web-2", "-m", "retire", "--yes", "--no-wait", .. Connection(live)]);
        Assert.True(code == 0, stdout + stderr);
        var revisions = await RevisionsAsync(live);
        Assert.Equal((2, "retire"), (revisions[0].Revision, revisions[0].Message));
    }
}
