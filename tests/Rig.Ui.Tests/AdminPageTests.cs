using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>The admin pages: package store, teams/grants/tokens, enrollment tokens.</summary>
[Collection(UiCollection.Name)]
public sealed class AdminPageTests(UiDemo demo)
{
    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():n}"[..(prefix.Length + 9)];

    [Fact]
    public async Task A_token_made_in_the_ui_is_shown_once_signs_in_and_once_revoked_in_the_ui_is_refused()
    {
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/trust");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        var name = Unique("ui-op");
        var op = Unique("newop");
        await page.GetByLabel("Token name").FillAsync(name);
        await page.GetByLabel("Operator", new() { Exact = true }).FillAsync(op);
        await page.GetByLabel("Expires in").FillAsync("1d");
        await page.GetByRole(AriaRole.Button, new() { Name = "Make token" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("will not be shown again");
        var secret = await page.GetByLabel(new Regex($"^Token {Regex.Escape(name)}")).InputValueAsync();
        Assert.StartsWith("rigop_", secret, StringComparison.Ordinal);
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // Loaded again, the page has the token listed but never its secret, and no flash carries it either.
        await page.GotoAsync(page.Url);
        await Assertions.Expect(page.GetByRole(AriaRole.Cell, new() { Name = name, Exact = true })).ToBeVisibleAsync();
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
        await page.GotoAsync("/ui/trust");
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
        await Assertions.Expect(page.GetByText("will not be shown again")).ToHaveCountAsync(0);

        // The new operator signs in with it in a browser of their own.
        var theirs = await (await demo.NewContextAsync()).NewPageAsync();
        await UiDemo.SignInAsync(theirs, secret);
        await Assertions.Expect(theirs.Locator("header .who")).ToContainTextAsync(op);
        await theirs.Context.CloseAsync();

        // Revoked in the UI, it no longer signs in.
        await page.GetByRole(AriaRole.Button, new() { Name = $"Revoke token {name}" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("revoked");
        var again = await (await demo.NewContextAsync()).NewPageAsync();
        await again.GotoAsync("/ui/sign-in");
        await again.GetByLabel("Operator token").FillAsync(secret);
        await again.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(again.GetByRole(AriaRole.Alert)).ToContainTextAsync("refused");
        Assert.DoesNotContain(await again.Context.CookiesAsync(), c => c.Name == "__Host-rig-session");
        await again.Context.CloseAsync();
        await page.Context.CloseAsync();

        // Both actions are in the audit log as the API's would be, and the secret is not.
        var audit = await AuditSinceAsync(since);
        Assert.Contains(audit, e => e.Action == "token.create" && e.Target == $"name={name}" && e.Outcome == "ok" && e.Operator == "admin");
        Assert.Contains(audit, e => e.Action == "token.revoke" && e.Target == $"name={name}" && e.Outcome == "ok");
        Assert.DoesNotContain(audit, e => (e.Detail ?? "").Contains(secret, StringComparison.Ordinal) || e.Target.Contains(secret, StringComparison.Ordinal));
    }

    private async Task<List<(string? Operator, string Action, string Target, string Outcome, string? Detail)>> AuditSinceAsync(DateTimeOffset since)
    {
        var page = await demo.GetAsync($"api/v1/audit?since={Uri.EscapeDataString(since.ToString("O"))}&limit=1000");
        return [.. page.GetProperty("entries").EnumerateArray().Select(e => (
            e.GetProperty("operator").GetString(), e.GetProperty("action").GetString()!, e.GetProperty("target").GetString()!,
            e.GetProperty("outcome").GetString()!, e.TryGetProperty("detail", out var d) ? d.GetString() : null))];
    }

    [Fact]
    public async Task An_operator_without_manage_trust_sees_only_their_tokens_and_no_forms_and_a_forged_post_changes_nothing()
    {
        var team = Unique("ui-readers");
        var op = Unique("reader");
        await demo.PostAsync("api/v1/teams", new { name = team });
        await demo.PostAsync("api/v1/grants", new { team, verbs = new[] { "read" }, reason = "UI test: a reader" });
        var created = await demo.PostAsync("api/v1/tokens", new { name = Unique("reader-tok"), @operator = op, team, expires = "1d" });
        var secret = created.GetProperty("secret").GetString()!;
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);

        var page = await (await demo.NewContextAsync()).NewPageAsync();
        await page.GotoAsync("/ui/sign-in");
        await page.GetByLabel("Operator token").FillAsync(secret);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await page.GotoAsync("/ui/trust");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Your tokens" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("form[action^='/ui/trust']")).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Teams", Exact = true })).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("manage-trust");
        await Assertions.Expect(page.Locator("main table tbody tr")).ToHaveCountAsync(1); // their own token, no one else's
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // Forged posts with their own valid anti-forgery token: each refused, nothing made.
        var csrf = await page.Locator("header input[name=_csrf]").InputValueAsync();
        var forgedTeam = Unique("forged");
        var forgedToken = Unique("forged-tok");
        var posts = new (string Path, Dictionary<string, string> Form)[]
        {
            ("/ui/trust/teams", new() { ["_csrf"] = csrf, ["name"] = forgedTeam }),
            ("/ui/trust/tokens", new() { ["_csrf"] = csrf, ["name"] = forgedToken, ["operator"] = "admin", ["team"] = team }),
            ("/ui/trust/grants", new() { ["_csrf"] = csrf, ["team"] = team, ["verbs"] = "manage-trust", ["reason"] = "forged" }),
        };
        foreach (var (path, form) in posts)
        {
            var data = page.Context.APIRequest.CreateFormData();
            foreach (var (key, value) in form)
                data.Set(key, value);
            var response = await page.Context.APIRequest.PostAsync(path, new() { Form = data });
            var body = await response.TextAsync();
            Assert.True(response.Status == 403 || body.Contains("class=\"flash error\"", StringComparison.Ordinal), $"POST {path} answered {response.Status}: {body}");
        }
        var teams = await demo.GetAsync("api/v1/teams");
        Assert.DoesNotContain(teams.EnumerateArray(), t => t.GetProperty("name").GetString() == forgedTeam);
        var tokens = await demo.GetAsync("api/v1/tokens");
        Assert.DoesNotContain(tokens.EnumerateArray(), t => t.GetProperty("name").GetString() == forgedToken);
        var grants = await demo.GetAsync("api/v1/grants");
        Assert.DoesNotContain(grants.EnumerateArray(), g => g.GetProperty("reason").GetString() == "forged");
        var audit = await AuditSinceAsync(since);
        foreach (var action in new[] { "team.create", "token.create", "grant.add" })
            Assert.Contains(audit, e => e.Action == action && e.Operator == op && e.Outcome == "refused");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_enrollment_page_makes_a_token_for_a_device_and_shows_the_enroll_command_once()
    {
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/enrollment");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        await page.GetByLabel("Device", new() { Exact = true }).SelectOptionAsync("web-2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Make enrollment token" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("will not be shown again");
        var token = await page.GetByLabel("One-time token").InputValueAsync();
        Assert.StartsWith("rigenroll_", token, StringComparison.Ordinal);
        var pin = await page.GetByLabel("CA pin").InputValueAsync();
        Assert.StartsWith("sha256:", pin, StringComparison.Ordinal);
        var commands = await page.Locator("pre.admin-command").InnerTextAsync();
        Assert.Matches(new Regex($@"rig-agent enroll --state /var/lib/rig-agent --gateway https://\S+ --device web-2 --token-file /root/web-2\.token --ca-pin {Regex.Escape(pin)}"), commands);
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        await page.GotoAsync("/ui/enrollment");
        Assert.DoesNotContain(token, await page.ContentAsync(), StringComparison.Ordinal);
        await page.Context.CloseAsync();
        var audit = await AuditSinceAsync(since);
        Assert.Contains(audit, e => e.Action == "device.token" && e.Target == "name=web-2" && e.Outcome == "ok");
        Assert.DoesNotContain(audit, e => (e.Detail ?? "").Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_packages_page_lists_the_demo_packages_and_filters_them()
    {
        var packages = await demo.GetAsync("api/v1/packages");
        var names = packages.EnumerateArray().Select(p => p.GetProperty("name").GetString()!).Distinct().ToList();
        Assert.NotEmpty(names);
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/packages");
        foreach (var name in names.Take(10))
            await Assertions.Expect(page.GetByRole(AriaRole.Cell, new() { Name = name, Exact = true }).First).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("rig package add");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        await page.GetByLabel("Filter").FillAsync(names[0]);
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Cell, new() { Name = names[0], Exact = true }).First).ToBeVisibleAsync();
        foreach (var other in names.Where(n => !n.Contains(names[0], StringComparison.OrdinalIgnoreCase)).Take(3))
            await Assertions.Expect(page.GetByRole(AriaRole.Cell, new() { Name = other, Exact = true })).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_admin_pages_fit_a_390_pixel_wide_screen()
    {
        var page = await demo.SignedInPageAsync(width: 390);
        foreach (var path in new[] { "/ui/trust", "/ui/packages", "/ui/enrollment" })
        {
            await page.GotoAsync(path);
            var width = await page.EvaluateAsync<int>("document.documentElement.scrollWidth");
            Assert.True(width <= 390, $"{path} is {width} px wide at 390 px");
        }
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_admin_makes_a_team_adds_a_member_grants_and_revokes_a_right_with_a_reason_all_in_the_ui()
    {
        var team = Unique("ui-team");
        var member = Unique("member");
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/trust");
        await page.GetByLabel("Team name").FillAsync(team);
        await page.GetByRole(AriaRole.Button, new() { Name = "Make team" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Team '{team}' made");

        await page.GetByLabel($"Operator to add to {team}").FillAsync(member);
        await page.GetByLabel($"Operator to add to {team}").PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"{member} is now a member of team '{team}'");

        var form = page.Locator("form[action='/ui/trust/grants']");
        await form.GetByLabel("Team", new() { Exact = true }).SelectOptionAsync(team);
        await form.GetByLabel("Sites").FillAsync("shop");
        await form.GetByLabel("read", new() { Exact = true }).CheckAsync();
        await form.GetByLabel("rollout", new() { Exact = true }).CheckAsync();
        await form.GetByLabel("Reason").FillAsync("UI test: shop operators");
        await form.GetByRole(AriaRole.Button, new() { Name = "Add grant" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"team '{team}' may read, rollout");
        var grants = await demo.GetAsync("api/v1/grants");
        var grant = Assert.Single(grants.EnumerateArray(), g => g.GetProperty("team").GetString() == team);
        Assert.Equal(["shop"], grant.GetProperty("scope").GetProperty("sites").EnumerateArray().Select(x => x.GetString()));
        var id = grant.GetProperty("id").GetInt64();

        await page.GetByLabel($"Reason to revoke grant {id}").FillAsync("UI test over");
        await page.GetByLabel($"Reason to revoke grant {id}").PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Grant {id} of team '{team}' revoked");
        await Assertions.Expect(page.GetByLabel($"Reason to revoke grant {id}")).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Link, new() { Name = "Show revoked grants too" }).ClickAsync();
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("revoked");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("UI test over");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        await page.GotoAsync("/ui/trust");
        await page.GetByRole(AriaRole.Button, new() { Name = $"Remove {member} from {team}" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"{member} is no longer a member of team '{team}'");
        await page.Context.CloseAsync();
    }
}
