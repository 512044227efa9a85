using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>Sites and their topology, the device list, a device's page (facts, roles, queues, live output).</summary>
[Collection(UiCollection.Name)]
public sealed class DevicePageTests(UiDemo demo)
{
    [Fact]
    public async Task The_topology_of_site_shop_draws_every_device_as_a_link_to_its_page_and_every_interconnection_as_a_line()
    {
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/sites");
        await page.GetByRole(AriaRole.Link, new() { Name = "shop", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(u => u.EndsWith("/ui/sites/shop", StringComparison.Ordinal));

        var svg = page.Locator("svg.topology");
        await Assertions.Expect(svg.Locator("title").First).ToContainTextAsync("Topology of site shop");
        var nodes = svg.Locator("a");
        await Assertions.Expect(nodes).ToHaveCountAsync(UiDemo.Devices.Length);
        foreach (var device in UiDemo.Devices)
        {
            var node = svg.Locator($"a[href='/ui/devices/{device}']");
            await Assertions.Expect(node).ToHaveCountAsync(1);
            await Assertions.Expect(node.Locator("g.node")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("state-(in-sync|changing|failed|not-seen|never-enrolled|not-converged)"));
            await Assertions.Expect(node).ToContainTextAsync(device);
        }
        // The demo's interconnections: lb-1 to both webs, each web to both apps, each app to the database.
        await Assertions.Expect(svg.Locator("line.link")).ToHaveCountAsync(8);
        await Assertions.Expect(svg.Locator("g.edge title").Filter(new() { HasText = "lb-1 → web-1: http" })).ToHaveCountAsync(1);
        await Assertions.Expect(svg.Locator("g.edge title").Filter(new() { HasText = "app-2 → db-1: sql" })).ToHaveCountAsync(1);
        // The same devices as a table, for keyboards and screen readers.
        await Assertions.Expect(page.Locator("section:has(#devices-h) tbody tr")).ToHaveCountAsync(UiDemo.Devices.Length);
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        await svg.Locator("a[href='/ui/devices/db-1']").ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Device db-1" })).ToBeVisibleAsync();
        await page.GotoAsync("/ui/sites");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_device_page_shows_the_discovered_facts_beside_the_model_and_the_roles_with_their_versions()
    {
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/devices/web-1");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Device web-1" })).ToBeVisibleAsync();

        // Each model fact has its row with the discovered value beside it (the sandbox agent discovers no hardware or
        // OS release, so those read "—"); what the agent did report is shown below it.
        var facts = page.Locator("table.facts");
        foreach (var fact in new[] { "osFamily", "architecture", "cpuCount", "memoryMiB" })
            await Assertions.Expect(facts.Locator("th", new() { HasTextString = fact }).First).ToBeVisibleAsync();
        await Assertions.Expect(facts.Locator("tr", new() { HasText = "memoryMiB" }).Locator("td[data-label='Model']")).ToHaveTextAsync("4096 MiB");
        var inventory = page.Locator("dl.inventory");
        await Assertions.Expect(inventory).ToContainTextAsync("sandbox");
        await Assertions.Expect(inventory).ToContainTextAsync("web-1");
        await page.GetByText("Rig packages").ClickAsync();
        await Assertions.Expect(page.Locator("table.packages")).ToContainTextAsync("shop-content");
        // A row that differs says so in words, not by colour alone.
        foreach (var differs in await facts.Locator("tr.differs").AllAsync())
            await Assertions.Expect(differs).ToContainTextAsync("differs");

        var roles = page.Locator("table.roles");
        foreach (var role in new[] { "linux-base", "web", "shop-content" })
            await Assertions.Expect(roles.Locator("tr", new() { Has = page.Locator("td", new() { HasTextString = role }) }).First).ToBeVisibleAsync();
        await Assertions.Expect(roles).ToContainTextAsync("2026.11.1");
        await Assertions.Expect(page.Locator("dl.agent")).ToContainTextAsync("Certificate serial");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Poke" })).ToBeVisibleAsync();
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        // Poke posts the form (with its anti-forgery token) and comes back with the outcome.
        await page.GetByRole(AriaRole.Button, new() { Name = "Poke" }).ClickAsync();
        await Assertions.Expect(page.Locator("p.flash")).ToContainTextAsync("web-1");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Device web-1" })).ToBeVisibleAsync();

        // An unknown device is the same 404 as one the operator may not see.
        var missing = await page.GotoAsync("/ui/devices/no-such-device");
        Assert.Equal(404, missing!.Status);
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("There is no device 'no-such-device'");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_device_list_filters_by_state_and_by_name()
    {
        var states = await demo.GetAsync("api/v1/devices");
        var inSync = states.EnumerateArray().Count(d => d.GetProperty("state").GetString() == "in-sync");
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/devices");
        await Assertions.Expect(page.Locator("table.devices tbody tr")).ToHaveCountAsync(states.GetArrayLength());

        await page.GetByLabel("State").SelectOptionAsync("in-sync");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await page.WaitForURLAsync(u => u.Contains("state=in-sync", StringComparison.Ordinal));
        var rows = page.Locator("table.devices tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(inSync);
        foreach (var row in await rows.AllAsync())
            await Assertions.Expect(row.Locator("td[data-label='State']")).ToHaveTextAsync("in sync");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);

        await page.GotoAsync("/ui/devices?state=never-enrolled");
        await Assertions.Expect(page.Locator("table.devices tbody tr")).ToHaveCountAsync(states.EnumerateArray().Count(d => d.GetProperty("state").GetString() == "never-enrolled"));

        // Drifted devices only: the demo's devices are as the model wants them.
        await page.GotoAsync("/ui/devices?drift=1");
        await Assertions.Expect(page.GetByLabel("Drifted only")).ToBeCheckedAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("match");

        await page.GotoAsync("/ui/devices?q=WEB-");
        await Assertions.Expect(page.Locator("table.devices tbody tr")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator("table.devices")).ToContainTextAsync("web-2");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_script_tag_put_into_the_model_shows_on_the_device_page_as_text_and_never_runs()
    {
        const string Evil = "<script>alert(1)</script>";
        using var api = demo.Api();
        var original = await api.GetStringAsync("api/v1/model");
        var model = JsonNode.Parse(original)!;
        var device = model["devices"]!.AsArray().First(d => d!["name"]!.GetValue<string>() == "app-1")!;
        var parameters = device["parameters"] as JsonObject ?? [];
        parameters["ui_note"] = Evil;
        device["parameters"] = parameters.DeepClone();
        await PutModelAsync(api, model.ToJsonString(), "ui test: markup in a device parameter");
        try
        {
            var page = await demo.SignedInPageAsync();
            var dialogs = new List<string>();
            page.Dialog += (_, dialog) =>
            {
                dialogs.Add(dialog.Message);
                _ = dialog.DismissAsync();
            };
            await page.GotoAsync("/ui/devices/app-1");
            var value = page.Locator("table.model-values tr", new() { HasText = "ui_note" }).Locator("td[data-label='Value']");
            await Assertions.Expect(value).ToHaveTextAsync(Evil);
            Assert.Equal(0, await page.Locator("main script").CountAsync());
            Assert.Empty(dialogs);
            await page.Context.CloseAsync();
        }
        finally
        {
            await PutModelAsync(api, original, "ui test: restore the model");
        }
    }

    [Fact]
    public async Task A_command_holding_an_escape_sequence_shows_it_as_visible_text_in_the_output_log()
    {
        const string Reason = "\u001b[31mred alert\u001b[0m";
        using var api = demo.Api();
        using var saved = await api.PutAsJsonAsync("api/v1/scripts/ui-escape", new JsonObject
        {
            ["description"] = "a reboot whose reason holds an escape sequence",
            ["commands"] = new JsonArray(new JsonObject { ["kind"] = "reboot", ["reason"] = Reason }, new JsonObject { ["kind"] = "inventory" }),
        });
        Assert.True(saved.IsSuccessStatusCode, $"PUT the script answered {(int)saved.StatusCode}: {await saved.Content.ReadAsStringAsync()}");
        var page = await demo.SignedInPageAsync();
        var queue = page.Locator("section:has(#queue-h)");
        var log = queue.Locator("pre.output").First;
        // app-2's agent is frozen until the page is drawn: the page certainly shows the queue still running and follows it.
        using (demo.FreezeAgent("app-2"))
        {
            await demo.PostAsync("api/v1/scripts/ui-escape/run", new { devices = "app-2" });
            await page.GotoAsync("/ui/devices/app-2");
            Assert.NotNull(await log.GetAttributeAsync("data-live"));
            await Assertions.Expect(log).ToHaveAttributeAsync("data-live-state", "open");
        }
        // Followed live while the queue runs: the log shows the ESC as ␛.
        await Assertions.Expect(log).ToContainTextAsync("reboot (␛[31mred alert␛[0m)", new() { Timeout = 90_000 });
        await Assertions.Expect(queue.Locator("p[id^='queue-'] .state").First).ToHaveTextAsync("succeeded", new() { Timeout = 90_000 });
        Assert.DoesNotContain('\u001b', await log.TextContentAsync() ?? "");
        await Assertions.Expect(log).ToHaveAttributeAsync("data-live-state", "ended", new() { Timeout = 30_000 }); // the stream ended with the queue
        await Assertions.Expect(queue.Locator("table.commands").First).ToContainTextAsync("␛[31m");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        await page.Context.CloseAsync();
    }

    private static async Task PutModelAsync(HttpClient api, string json, string message)
    {
        using var response = await api.PutAsync($"api/v1/model?message={Uri.EscapeDataString(message)}", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, $"PUT api/v1/model answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
