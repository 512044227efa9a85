using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>Change review with four-eyes approval, history, the model as of a revision, the audit log.</summary>
[Collection(UiCollection.Name)]
public sealed class ChangePageTests(UiDemo demo)
{
    [Fact]
    public async Task An_os_role_change_is_reviewed_with_its_file_diff_and_approved_by_another_operator_not_by_its_author()
    {
        // A second operator first: a revision made while the gateway has one operator needs no approval.
        var approver = await NewOperatorAsync("approver", ["read", "approve"], scope: null);
        var dns = $"10.20.0.{Random.Shared.Next(100, 200)}";
        var rev = await ApplyAsync("ui review: a resolver for linux-base", ("linux-base", "dns_server", dns));
        Assert.Equal("pending", (await demo.GetAsync($"api/v1/revisions/{rev}/approval")).GetProperty("state").GetString());

        // Its author reviews it: the file diff is shown, no form to approve their own revision.
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync($"/ui/changes/{rev}");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Revision {rev}", Exact = true })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("pre.diff span.add", new() { HasTextString = $"+nameserver {dns}" }).First).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("pre.diff span.del", new() { HasTextString = "-nameserver 10.20.0.2" }).First).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator(".approval .state")).ToHaveTextAsync("pending");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByText("You made this revision")).ToBeVisibleAsync();
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // A forged approval by its author (their own session and anti-forgery token) is refused by the service.
        var csrf = await page.Locator("input[name=_csrf]").First.GetAttributeAsync("value");
        var forged = await page.APIRequest.PostAsync($"/ui/changes/{rev}/approve", new()
        {
            Form = page.Context.APIRequest.CreateFormData().Set("_csrf", csrf!).Set("message", "my own"),
            MaxRedirects = 0,
        });
        Assert.Equal(303, forged.Status);
        await page.GotoAsync($"/ui/changes/{rev}");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("cannot approve their own revision");
        await Assertions.Expect(page.Locator(".approval .state")).ToHaveTextAsync("pending");

        // The list shows it waiting.
        await page.GotoAsync("/ui/changes?approval=pending");
        var row = page.Locator("tr", new() { Has = page.GetByRole(AriaRole.Link, new() { Name = $"Revision {rev}", Exact = true }) });
        await Assertions.Expect(row.Locator(".state")).ToHaveTextAsync("pending");
        await Assertions.Expect(row).ToContainTextAsync("ui review: a resolver for linux-base");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        await page.Context.CloseAsync();

        // Another operator holding approve approves it, with a reason.
        var other = await demo.SignedInPageAsync(approver);
        await other.GotoAsync($"/ui/changes/{rev}");
        var approve = other.Locator("form", new() { Has = other.GetByRole(AriaRole.Button, new() { Name = "Approve" }) });
        await approve.GetByLabel("Why").FillAsync("resolver checked <b>by hand</b>");
        await approve.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(other.GetByRole(AriaRole.Status)).ToContainTextAsync($"Revision {rev} approved");
        await Assertions.Expect(other.Locator(".approval .state")).ToHaveTextAsync("approved");
        await Assertions.Expect(other.Locator(".approval")).ToContainTextAsync("resolver checked <b>by hand</b>"); // encoded, shown as text
        await Assertions.Expect(other.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
        Assert.Equal("approved", (await demo.GetAsync($"api/v1/revisions/{rev}/approval")).GetProperty("state").GetString());
        await other.Context.CloseAsync();

        // At 390 px the review needs no sideways scrolling of the page.
        var narrow = await demo.SignedInPageAsync(width: 390);
        await narrow.GotoAsync($"/ui/changes/{rev}");
        Assert.True(await narrow.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the review page scrolls sideways at 390 px");
        await narrow.Context.CloseAsync();
    }

    [Fact]
    public async Task A_content_team_operator_sees_no_approve_form_and_a_forged_approval_is_refused()
    {
        var approver = await NewOperatorAsync("approver", ["read", "approve"], scope: null);
        var content = await NewOperatorAsync("content", ["read", "edit", "rollout"], new { sites = new[] { "shop" }, kinds = new[] { "content" } });
        var title = $"The Shop {Random.Shared.Next(1000, 9999)}";
        var rev = await ApplyAsync("ui review: title and resolver", ("shop-content", "site_title", title), ("linux-base", "dns_server", $"10.20.0.{Random.Shared.Next(200, 250)}"));
        try
        {
            var page = await demo.SignedInPageAsync(content);
            await page.GotoAsync($"/ui/changes/{rev}");
            await Assertions.Expect(page.Locator(".approval .state")).ToHaveTextAsync("pending");
            await Assertions.Expect(page.Locator("pre.diff span.add", new() { HasTextString = title }).First).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
            await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Reject" })).ToHaveCountAsync(0);
            await AxeCheck.AssertNoSeriousViolationsAsync(page);

            // A hand-made post with their own session and anti-forgery token: the service refuses it.
            var csrf = await page.Locator("input[name=_csrf]").First.GetAttributeAsync("value");
            var forged = await page.APIRequest.PostAsync($"/ui/changes/{rev}/approve", new()
            {
                Form = page.Context.APIRequest.CreateFormData().Set("_csrf", csrf!).Set("message", "forged"),
                MaxRedirects = 0,
            });
            Assert.Equal(303, forged.Status);
            await page.GotoAsync($"/ui/changes/{rev}");
            await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("may not approve");
            await Assertions.Expect(page.Locator(".approval .state")).ToHaveTextAsync("pending");
            Assert.Equal("pending", (await demo.GetAsync($"api/v1/revisions/{rev}/approval")).GetProperty("state").GetString());
            await page.Context.CloseAsync();

            // An operator holding approve may reject it instead, saying why; the decision is listed.
            var other = await demo.SignedInPageAsync(approver);
            await other.GotoAsync($"/ui/changes/{rev}");
            var reject = other.Locator("form", new() { Has = other.GetByRole(AriaRole.Button, new() { Name = "Reject" }) });
            await reject.GetByLabel("Why").FillAsync("not this week");
            await reject.GetByRole(AriaRole.Button, new() { Name = "Reject" }).ClickAsync();
            await Assertions.Expect(other.GetByRole(AriaRole.Status)).ToContainTextAsync($"Revision {rev} rejected");
            await Assertions.Expect(other.Locator(".approval .state")).ToHaveTextAsync("rejected");
            await Assertions.Expect(other.Locator(".approval")).ToContainTextAsync("not this week");
            await Assertions.Expect(other.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeVisibleAsync(); // a rejected revision may still be approved
            await other.Context.CloseAsync();
        }
        finally
        {
            // Leave the demo able to roll out: the approver approves it.
            await demo.PostAsync($"api/v1/revisions/{rev}/approve?message=ui%20test%20cleanup", null, approver);
        }
    }

    [Fact]
    public async Task History_links_each_revision_to_its_diff_and_shows_the_model_as_of_a_revision()
    {
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/history");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Diff of 1 against 0" })).ToBeVisibleAsync();
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        await page.GetByRole(AriaRole.Link, new() { Name = "Diff of 1 against 0" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Revision 1 against 0" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("pre.diff span.add", new() { HasTextString = "linux-base" }).First).ToBeVisibleAsync();
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        await page.GotoAsync("/ui/history");
        await page.GetByLabel("Revision or date and time").FillAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show the model" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Model as of revision 1" })).ToBeVisibleAsync();
        var devices = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Devices (6)" }) });
        foreach (var device in UiDemo.Devices)
            await Assertions.Expect(devices.GetByRole(AriaRole.Cell, new() { Name = device, Exact = true })).ToBeVisibleAsync();
        await page.GetByText("site.yaml").ClickAsync();
        await Assertions.Expect(page.Locator("pre.model-text").First).ToContainTextAsync("shop");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // A revision that does not exist: said so, not a crash.
        Assert.Equal(404, (await page.GotoAsync("/ui/changes/99999"))!.Status);
        Assert.Equal(404, (await page.GotoAsync("/ui/history/99999"))!.Status);
        var missing = await page.GotoAsync("/ui/model?at=99999");
        Assert.Equal(404, missing!.Status);
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("names no revision");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_audit_log_lists_entries_filters_by_operator_and_verifies_its_chain()
    {
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/audit");
        await Assertions.Expect(page.Locator("table.audit tbody tr").First).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Cell, new() { Name = "model.apply", Exact = true }).First).ToBeVisibleAsync();
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // Paged by the log's cursor, oldest first: the next page starts after the last entry shown.
        await page.GotoAsync("/ui/audit?limit=10");
        var rows = page.Locator("table.audit tbody tr");
        var last = long.Parse(await rows.Last.Locator("td").First.InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);
        await page.GetByRole(AriaRole.Link, new() { Name = $"Next page (after entry {last})" }).ClickAsync();
        await page.WaitForURLAsync(u => u.Contains($"limit=10&after={last}", StringComparison.Ordinal)); // the next page, drawn
        Assert.True(long.Parse(await rows.First.Locator("td").First.InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture) > last);

        await page.GetByLabel("Operator").FillAsync("nobody-at-all");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(page.GetByText("No entries you may see.")).ToBeVisibleAsync();
        Assert.Contains("operator=nobody-at-all", page.Url, StringComparison.Ordinal);

        await page.GetByRole(AriaRole.Button, new() { Name = "Verify the chain" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("intact (ok)");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("entries checked");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_operator_who_does_not_read_everything_is_told_why_they_cannot_verify_the_audit_chain()
    {
        var content = await NewOperatorAsync("content", ["read"], new { sites = new[] { "shop" }, kinds = new[] { "content" } });
        var page = await demo.SignedInPageAsync(content);
        await page.GotoAsync("/ui/audit?verify=1");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Verify the chain" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("may not verify the audit log");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        await page.Context.CloseAsync();
    }

    /// <summary>A new operator in a new team granted <paramref name="verbs"/> on <paramref name="scope"/> (null:
    /// everything); their token's secret.</summary>
    private async Task<string> NewOperatorAsync(string prefix, string[] verbs, object? scope)
    {
        var suffix = Guid.NewGuid().ToString("n")[..8];
        var team = $"ui-{prefix}-{suffix}";
        await demo.PostAsync("api/v1/teams", new { name = team });
        await demo.PostAsync("api/v1/grants", new { team, verbs, scope, reason = "ui change review test" });
        var created = await demo.PostAsync("api/v1/tokens", new { name = $"{prefix}-{suffix}", @operator = $"{prefix}-{suffix}", team });
        return created.GetProperty("secret").GetString()!;
    }

    /// <summary>As the admin, set role parameters in the current model and record it; the new revision.</summary>
    private async Task<long> ApplyAsync(string message, params (string Role, string Key, string Value)[] changes)
    {
        using var api = demo.Api();
        var model = JsonNode.Parse(await api.GetStringAsync("api/v1/model"))!.AsObject();
        foreach (var (role, key, value) in changes)
        {
            var node = model["roles"]!.AsArray().Single(r => r!["name"]!.GetValue<string>() == role)!.AsObject();
            if (node["parameters"] is not JsonObject parameters)
                node["parameters"] = parameters = [];
            parameters[key] = value;
        }
        var applied = await demo.PostAsync($"api/v1/apply?message={Uri.EscapeDataString(message)}", model);
        Assert.True(applied.GetProperty("changed").GetBoolean());
        return applied.GetProperty("revision").GetInt64();
    }
}
