using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>Rollouts in the browser: start one from the form, watch it live without reloading, pause and cancel it, and
/// read a failed device's command error on the rollout's page. Every model change made here is valid and is rolled out
/// (or reverted and rolled out) before the test ends, so the demo stays in sync for the other tests.</summary>
[Collection(UiCollection.Name)]
public sealed class RolloutPageTests(UiDemo demo)
{
    /// <summary>The machine running the tests is slow and shared: a rollout of the demo can take a while.</summary>
    private static readonly LocatorAssertionsToContainTextOptions Slow = new() { Timeout = 120_000 };

    [Fact]
    public async Task A_rollout_started_from_the_form_is_followed_live_to_the_end_without_reloading_the_page()
    {
        var title = $"Shop {Guid.NewGuid():n}"[..13];
        await ApplyAsync(model => ContentRole(model)["parameters"]!["site_title"] = title, "ui rollout test: new site title");
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/rollouts");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // web-2's agent is frozen until the page is drawn: its row is then certainly drawn before its wave ran, and the
        // stream must replace it (a quiet machine could otherwise finish the whole rollout before the page is drawn).
        using (demo.FreezeAgent("web-2"))
        {
            await StartFromFormAsync(page, devices: "tier=web", canary: "1", batch: "1", reason: "ui live test");
            // The page as drawn: a marker that a reload would lose, and elements the stream should replace (web-2's row)
            // or leave alone (the failures block, as nothing fails).
            await page.EvaluateAsync("() => { window.__marker = 'still here'; window.__row = document.getElementById('rd-web-2'); window.__failures = document.getElementById('rollout-failures'); }");
            await Assertions.Expect(page.Locator("#rd-web-2")).Not.ToContainTextAsync("succeeded");
        }

        await Assertions.Expect(page.Locator("#rd-web-1")).ToContainTextAsync("succeeded", Slow);
        await Assertions.Expect(page.Locator("#rd-web-2")).ToContainTextAsync("succeeded", Slow);
        await Assertions.Expect(page.Locator("#rollout-summary")).ToContainTextAsync("2/2 done, 0 failed", Slow);
        await Assertions.Expect(page.Locator("#rollout-summary .state")).ToHaveTextAsync("succeeded", new() { Timeout = 120_000 });
        // The commands' output arrived on this page: the content file each web server was given.
        await Assertions.Expect(page.Locator("#ro-web-1")).ToContainTextAsync("/srv/www/config.js", Slow);
        await Assertions.Expect(page.Locator("#ro-web-2")).ToContainTextAsync("succeeded", Slow);
        await Assertions.Expect(page.Locator(".rollout-live")).ToHaveAttributeAsync("data-live-state", "ended", new() { Timeout = 60_000 });
        Assert.Equal("still here", await page.EvaluateAsync<string>("() => window.__marker")); // never reloaded
        Assert.True(await page.EvaluateAsync<bool>("() => window.__row !== document.getElementById('rd-web-2')"), "web-2's row was not replaced by the stream");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__failures === document.getElementById('rollout-failures')"), "the unchanged failures block was sent again");
        await page.Locator("details.rollout-output > summary").Filter(new() { HasText = "web-1" }).ClickAsync(); // the output's disclosure opens
        await Assertions.Expect(page.Locator("#ro-web-1")).ToBeVisibleAsync();
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // The list shows it, newest first, with its progress.
        await page.GotoAsync("/ui/rollouts");
        await Assertions.Expect(page.Locator("tbody tr").First).ToContainTextAsync("2/2 done, 0 failed");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_rollout_in_small_waves_can_be_paused_then_cancelled_from_its_page()
    {
        // A change on every device that needs no reboot: the http port (lb, web), the app's log level, the database's connections.
        await ApplyAsync(model =>
        {
            static string Next(JsonNode node, string key, string one, string other) => (string?)node[key] == one ? other : one;
            var site = model["sites"]![0]!["parameters"]!;
            site["http_port"] = Next(site, "http_port", "8080", "80");
            var app = ((JsonArray)model["roles"]!).First(r => (string?)r!["name"] == "app")!["parameters"]!;
            app["log_level"] = Next(app, "log_level", "debug", "info");
            model["parameters"]!["db_max_connections"] = Next(model["parameters"]!, "db_max_connections", "150", "100");
        }, "ui rollout test: port, log level, connections");
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/rollouts");
        // Every agent is frozen while the buttons are used: the rollout stays in its first wave, so Pause finds it
        // running (on a quick machine it could otherwise end before the click, and the button with it).
        using (demo.FreezeAgents(UiDemo.Devices))
        {
            await StartFromFormAsync(page, devices: "", canary: "1", batch: "1", reason: "ui pause test", maxParallel: "1");
            var url = page.Url;

            await page.GetByRole(AriaRole.Button, new() { Name = "Pause" }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("paused");
            await Assertions.Expect(page.Locator("#rollout-summary .state")).ToHaveTextAsync("paused");
            await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Resume" })).ToBeVisibleAsync();
            await AxeCheck.AssertNoSeriousViolationsAsync(page);

            string? asked = null;
            page.Dialog += (_, dialog) =>
            {
                asked = dialog.Message;
                _ = dialog.AcceptAsync();
            };
            await page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
            await Assertions.Expect(page.Locator("#rollout-summary .state")).ToHaveTextAsync("cancelled");
            Assert.StartsWith("Cancel rollout", asked, StringComparison.Ordinal); // asked first, even though the buttons were redrawn live
            await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Pause" })).ToHaveCountAsync(0);
            await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel" })).ToHaveCountAsync(0);
            Assert.Equal(url, page.Url);
        }

        // Deliver the change everywhere so the demo is in sync again.
        await RollOutAndWaitAsync(page, null);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_failed_devices_command_error_is_shown_on_the_rollout_page()
    {
        var original = await demo.GetAsync("api/v1/model");
        var page = await demo.SignedInPageAsync();
        try
        {
            // A file outside the agent's allowed roots: a valid model, refused on the device by the agent.
            await ApplyAsync(model =>
            {
                var kinds = model["roleKinds"] as JsonArray ?? [];
                kinds.Add("ui-check");
                model["roleKinds"] = kinds;
                ((JsonArray)model["roles"]!).Add(new JsonObject
                {
                    ["name"] = "ui-failing",
                    ["kind"] = "ui-check",
                    ["version"] = "1",
                    ["items"] = new JsonArray(new JsonObject { ["type"] = "file", ["path"] = "/root/rig-ui-failing.conf", ["template"] = "motd" }),
                });
                ((JsonArray)model["assignments"]!).Add(new JsonObject { ["device"] = "web-2", ["role"] = "ui-failing" });
            }, "ui rollout test: a file the agent refuses");
            await page.GotoAsync("/ui/rollouts");
            await StartFromFormAsync(page, devices: "web-2", canary: "0", batch: "100%", reason: "ui failure test");

            await Assertions.Expect(page.Locator("#rd-web-2")).ToContainTextAsync("failed", Slow);
            var failures = page.Locator("#rollout-failures");
            await Assertions.Expect(failures).ToContainTextAsync("web-2", Slow);
            await Assertions.Expect(failures).ToContainTextAsync("outside-allowed-roots", Slow);
            await Assertions.Expect(failures).ToContainTextAsync("/root/rig-ui-failing.conf", Slow);
            await Assertions.Expect(page.Locator("#ro-web-2")).ToContainTextAsync("outside-allowed-roots", Slow);
            await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Retry failed" })).ToBeVisibleAsync(new() { Timeout = 120_000 });
            await AxeCheck.AssertNoSeriousViolationsAsync(page);
        }
        finally
        {
            // The failing rollout may have paused itself: cancel it, so its device can be rolled out again.
            using (var api = demo.Api())
            {
                foreach (var active in (await demo.GetAsync("api/v1/rollouts?active=true")).EnumerateArray())
                    (await api.PostAsync($"api/v1/rollouts/{active.GetProperty("id").GetString()}/cancel", null)).Dispose();
            }
            // Back to the model as it was, with a new site title so web-2 runs a queue that succeeds.
            var restored = (JsonObject)JsonNode.Parse(original.GetRawText())!;
            ContentRole(restored)["parameters"]!["site_title"] = $"Shop {Guid.NewGuid():n}"[..13];
            await demo.PostAsync("api/v1/apply?message=ui%20rollout%20test%3A%20restore", restored);
            await RollOutAndWaitAsync(page, "tier=web");
            await page.Context.CloseAsync();
        }
    }

    [Fact]
    public async Task A_refused_start_comes_back_as_an_error_on_the_rollouts_page()
    {
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/rollouts");
        await StartFromFormAsync(page, devices: "no-such-device-*", canary: "0", batch: "100%", reason: "ui refusal test", expectRollout: false);
        Assert.EndsWith("/ui/rollouts", page.Url, StringComparison.Ordinal);
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("No device");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_operator_who_may_only_read_sees_rollouts_without_the_start_form_or_buttons()
    {
        var suffix = Guid.NewGuid().ToString("n")[..8];
        await demo.PostAsync("api/v1/teams", new TeamCreateRequest($"readers-{suffix}"));
        await demo.PostAsync("api/v1/grants", new GrantRequest($"readers-{suffix}", ["read"], new ScopeView(), "ui rollout test: read only"));
        var token = (await demo.PostAsync("api/v1/tokens", new TokenCreateRequest($"reader-{suffix}", $"reader-{suffix}", $"readers-{suffix}"))).GetProperty("secret").GetString()!;
        var rollout = await demo.PostAsync("api/v1/rollouts", new { devices = "web-1" }); // nothing to change: finished at once
        var page = await demo.SignedInPageAsync(token);

        await page.GotoAsync("/ui/rollouts");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Rollouts, newest first" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Start a rollout" })).ToHaveCountAsync(0);
        await page.GotoAsync($"/ui/rollouts/{rollout.GetProperty("id").GetString()}");
        await Assertions.Expect(page.Locator("#rollout-summary")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#rollout-actions button")).ToHaveCountAsync(0);
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        var missing = await page.GotoAsync("/ui/rollouts/no-such-rollout");
        Assert.Equal(404, missing!.Status);
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("There is no rollout 'no-such-rollout'");
        await page.Context.CloseAsync();
    }

    private async Task StartFromFormAsync(IPage page, string devices, string canary, string batch, string reason, string maxParallel = "50", bool expectRollout = true)
    {
        await page.GetByLabel("Devices", new() { Exact = true }).FillAsync(devices);
        await page.GetByLabel("Canary devices").FillAsync(canary);
        await page.GetByLabel("Batch size").FillAsync(batch);
        await page.GetByLabel("Max parallel").FillAsync(maxParallel);
        await page.GetByLabel("Reason").FillAsync(reason);
        await page.GetByRole(AriaRole.Button, new() { Name = "Start rollout" }).ClickAsync();
        if (expectRollout)
        {
            await page.WaitForURLAsync(u => u.Contains("/ui/rollouts/", StringComparison.Ordinal), new() { Timeout = 60_000 });
            await Assertions.Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync("started");
        }
        else
        {
            await page.WaitForLoadStateAsync();
        }
    }

    /// <summary>Roll the current revision out to <paramref name="devices"/> through the API and watch its page until it succeeded.</summary>
    private async Task RollOutAndWaitAsync(IPage page, string? devices)
    {
        var rollout = await demo.PostAsync("api/v1/rollouts", new { devices, maxParallel = 6 });
        await page.GotoAsync($"/ui/rollouts/{rollout.GetProperty("id").GetString()}");
        await Assertions.Expect(page.Locator("#rollout-summary .state")).ToHaveTextAsync("succeeded", new() { Timeout = 180_000 });
    }

    private async Task ApplyAsync(Action<JsonObject> edit, string message)
    {
        var model = (JsonObject)JsonNode.Parse((await demo.GetAsync("api/v1/model")).GetRawText())!;
        edit(model);
        await demo.PostAsync($"api/v1/apply?message={Uri.EscapeDataString(message)}", model);
    }

    private static JsonObject ContentRole(JsonObject model) =>
        (JsonObject)((JsonArray)model["roles"]!).First(r => (string?)r!["name"] == "shop-content")!;
}
