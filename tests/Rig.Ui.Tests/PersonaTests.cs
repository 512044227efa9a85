using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>A customer's content team in the UI: sees only its site, has no controls it may not use, and a form it
/// forges anyway is refused, as through the API.</summary>
[Collection(UiCollection.Name)]
public sealed class PersonaTests(UiDemo demo)
{
    [Fact]
    public async Task A_content_team_sees_only_its_site_has_no_controls_beyond_its_rights_and_a_forged_post_is_refused()
    {
        var original = await demo.ModelAsync();
        var model = original.DeepClone().AsObject();
        model["sites"]!.AsArray().Add(new JsonObject { ["name"] = "lab", ["description"] = "another customer's site" });
        model["devices"]!.AsArray().Add(new JsonObject { ["name"] = "lab-1", ["site"] = "lab", ["tier"] = "web" });
        await demo.PutModelAsync(model, "UI test: a second site");
        try
        {
            var token = await demo.OperatorAsync("carol",
                (["read"], new { sites = new[] { "shop" } }),
                (["read", "plan", "edit", "rollout"], new { sites = new[] { "shop" }, kinds = new[] { "content" } }));
            var page = await demo.SignedInPageAsync(token);

            // Only its site and its devices exist for it.
            await page.GotoAsync("/ui/devices");
            foreach (var device in UiDemo.Devices)
                await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = device, Exact = true })).ToBeVisibleAsync();
            Assert.Equal(0, await page.GetByText("lab-1").CountAsync());
            var hidden = await page.GotoAsync("/ui/devices/lab-1");
            var missing = await page.GotoAsync("/ui/devices/no-such-device");
            Assert.Equal(404, hidden!.Status);
            Assert.Equal(404, missing!.Status);
            await page.GotoAsync("/ui/devices/lab-1");
            var hiddenText = await page.Locator("main").InnerTextAsync();
            await page.GotoAsync("/ui/devices/no-such-device");
            Assert.Equal(hiddenText.Replace("lab-1", "X", StringComparison.Ordinal), (await page.Locator("main").InnerTextAsync()).Replace("no-such-device", "X", StringComparison.Ordinal));
            await page.GotoAsync("/ui/sites");
            Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "lab", Exact = true }).CountAsync());
            Assert.Equal(404, (await page.GotoAsync("/ui/sites/lab"))!.Status);

            // No controls beyond its rights: no enrollment (manage-devices), no trust forms (manage-trust).
            await page.GotoAsync("/ui/devices/web-1");
            Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "Enrollment" }).CountAsync());
            await page.GotoAsync("/ui/trust");
            Assert.Equal(0, await page.Locator("main form").CountAsync());

            // A forged post with a valid session and anti-forgery token is refused by the service, nothing done.
            var csrf = await page.Locator("input[name=_csrf]").First.InputValueAsync();
            var form = page.APIRequest.CreateFormData();
            form.Set("_csrf", csrf);
            form.Set("device", "web-1");
            var forged = await page.APIRequest.PostAsync("/ui/enrollment", new() { Form = form, MaxRedirects = 0 });
            Assert.True(forged.Status is 303 or 403, $"forged enrollment answered {forged.Status}");
            Assert.DoesNotContain("rigenroll_", await forged.TextAsync(), StringComparison.Ordinal);
            if (forged.Status == 403)
            {
                Assert.Contains("may not", await forged.TextAsync(), StringComparison.Ordinal);
            }
            else
            {
                await page.GotoAsync("/ui/devices/web-1"); // the refusal is the next page's message
                await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("may not");
            }
            var audit = await demo.GetAsync("api/v1/audit?operator=carol");
            Assert.Contains(audit.GetProperty("entries").EnumerateArray(), e => e.GetProperty("action").GetString() == "device.token" && e.GetProperty("outcome").GetString() == "refused");
            await page.Context.CloseAsync();
        }
        finally
        {
            await demo.PutModelAsync(original, "UI test: the second site removed");
        }
    }
}
