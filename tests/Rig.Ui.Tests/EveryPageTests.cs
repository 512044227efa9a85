using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>Every page at once: no serious or critical axe-core violation at 1280 and at 390 px, no page wider than a
/// 390 px phone, the keyboard path in; and the screenshots docs/UI.md shows (written to docs/ui/ by
/// docs/ui/screenshots.sh, to a temporary directory otherwise).</summary>
[Collection(UiCollection.Name)]
public sealed class EveryPageTests(UiDemo demo)
{
    private async Task<IReadOnlyList<string>> PagesAsync()
    {
        var status = await demo.GetAsync("api/v1/status");
        var revision = status.GetProperty("modelRevision").GetInt64();
        return
        [
            "/ui/", "/ui/sites", "/ui/sites/shop", "/ui/devices", "/ui/devices/web-1", "/ui/changes", $"/ui/changes/{revision}",
            "/ui/history", $"/ui/history/{revision}", "/ui/audit", "/ui/rollouts", "/ui/packages", "/ui/trust", "/ui/enrollment", "/ui/no-such-page",
        ];
    }

    [Theory]
    [InlineData(1280)]
    [InlineData(390)]
    public async Task Every_page_has_no_serious_accessibility_violation_and_fits_the_width(int width)
    {
        var page = await demo.SignedInPageAsync(width: width);
        var problems = new List<string>();
        foreach (var path in await PagesAsync())
        {
            var response = await page.GotoAsync(path);
            Assert.True(response!.Status is 200 || path == "/ui/no-such-page" && response.Status == 404, $"{path} answered {response.Status}");
            try
            {
                await AxeCheck.AssertNoSeriousViolationsAsync(page);
            }
            catch (Xunit.Sdk.XunitException e)
            {
                problems.Add(e.Message);
            }
            var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
            if (overflow > 1)
                problems.Add($"{path} at {width} px is {overflow} px wider than the window");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_sign_in_page_has_no_serious_accessibility_violation()
    {
        var context = await demo.NewContextAsync(390);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/ui/sign-in");
        await AxeCheck.AssertNoSeriousViolationsAsync(page);
        await context.CloseAsync();
    }

    [Fact]
    public async Task Every_device_number_on_the_dashboard_opens_a_list_of_that_many_devices()
    {
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/");
        var tiles = new List<(string Href, string Number, string Text)>();
        foreach (var tile in await page.Locator("ul.tiles a[href^='/ui/devices']").AllAsync())
            tiles.Add((await tile.GetAttributeAsync("href") ?? "", (await tile.Locator(".n").InnerTextAsync()).Trim(), await tile.InnerTextAsync()));
        Assert.Contains(tiles, t => t.Text.Contains("agents seen", StringComparison.Ordinal));
        foreach (var (href, number, text) in tiles)
        {
            if (number == "?")
                continue; // drift could not be compared: no number to check
            await page.GotoAsync(href);
            var count = int.Parse(number, System.Globalization.CultureInfo.InvariantCulture);
            await Assertions.Expect(page.GetByRole(AriaRole.Status).First).ToContainTextAsync($"{count} device{(count == 1 ? "" : "s")}");
            await Assertions.Expect(page.Locator("table.devices tbody tr")).ToHaveCountAsync(count);
            Assert.True(count >= 0, text);
        }
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_keyboard_reaches_the_content_and_the_menu()
    {
        var page = await demo.SignedInPageAsync();
        await page.GotoAsync("/ui/");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("Skip to content", await page.EvaluateAsync<string>("() => document.activeElement.textContent"));
        await page.Keyboard.PressAsync("Enter");
        // The skip link's jump is a navigation inside the page: its URL changes when the browser gets to it, not before Enter returns.
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#main$"));
        // The menu is reachable in order and a link follows with Enter.
        await page.GotoAsync("/ui/");
        for (var i = 0; i < 10; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<string>("() => document.activeElement.textContent") == "Devices")
                break;
        }
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync(u => u.EndsWith("/ui/devices", StringComparison.Ordinal));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Screenshots_of_the_main_pages()
    {
        var target = Environment.GetEnvironmentVariable("RIG_UI_SCREENSHOTS") is { Length: > 0 } dir ? dir : Path.Combine(demo.Directory, "screenshots");
        Directory.CreateDirectory(target);
        var status = await demo.GetAsync("api/v1/status");
        var revision = status.GetProperty("modelRevision").GetInt64();
        var rollouts = await demo.GetAsync("api/v1/rollouts");
        var shots = new List<(string Name, string Path, int Width)>
        {
            ("dashboard", "/ui/", 1280),
            ("site-topology", "/ui/sites/shop", 1280),
            ("device", "/ui/devices/web-1", 1280),
            ("change-review", $"/ui/changes/{revision}", 1280),
            ("history", "/ui/history", 1280),
            ("audit", "/ui/audit?verify=1", 1280),
            ("trust", "/ui/trust", 1280),
            ("dashboard-390px", "/ui/", 390),
        };
        if (rollouts.ValueKind == System.Text.Json.JsonValueKind.Array && rollouts.GetArrayLength() > 0)
            shots.Add(("rollout", $"/ui/rollouts/{rollouts[0].GetProperty("id").GetString()}", 1280));
        foreach (var width in shots.Select(s => s.Width).Distinct())
        {
            var page = await demo.SignedInPageAsync(width: width);
            foreach (var (name, path, _) in shots.Where(s => s.Width == width))
            {
                await page.GotoAsync(path);
                // JPEG: the documentation's pictures stay small in the repository (about 100 KB each).
                var file = Path.Combine(target, name + ".jpg");
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, Type = ScreenshotType.Jpeg, Quality = 75 });
                Assert.True(new FileInfo(file).Length > 5_000, $"{file} is nearly empty");
            }
            await page.Context.CloseAsync();
        }
    }
}
