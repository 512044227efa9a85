using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>Hostile values in the model reach every page as text, and a secret value reaches none.</summary>
[Collection(UiCollection.Name)]
public sealed class SafetyTests(UiDemo demo)
{
    private const string Script = "<script>alert(1)</script>";
    private const string Image = "<img src=x onerror=alert(2)>";
    private const string Secret = "s3cr3t-UI-value-42";

    [Fact]
    public async Task Markup_in_model_values_shows_as_text_on_every_page_and_no_secret_value_is_rendered()
    {
        var original = await demo.ModelAsync();
        var model = original.DeepClone().AsObject();
        var shop = model["sites"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == "shop")!.AsObject();
        shop["description"] = Script + Image;
        var web1 = model["devices"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == "web-1")!.AsObject();
        var facts = web1["facts"] as JsonObject ?? new JsonObject();
        facts["note"] = Script + "\u001b[31mred";
        web1["facts"] = facts;
        model["secrets"] = new JsonArray("ui_test_secret");
        var parameters = model["parameters"] as JsonObject ?? new JsonObject();
        parameters["ui_test_secret"] = Secret;
        model["parameters"] = parameters;
        var revision = await demo.PutModelAsync(model, "UI test: hostile values " + Script);
        try
        {
            var page = await demo.SignedInPageAsync();
            var dialogs = new List<string>();
            page.Dialog += (_, dialog) =>
            {
                dialogs.Add(dialog.Message);
                _ = dialog.DismissAsync();
            };
            var shown = new List<string>();
            foreach (var path in new[]
            {
                "/ui/", "/ui/sites", "/ui/sites/shop", "/ui/devices", "/ui/devices/web-1", "/ui/changes", $"/ui/changes/{revision}",
                "/ui/history", $"/ui/history/{revision}", $"/ui/model?at={revision}", "/ui/audit",
            })
            {
                var response = await page.GotoAsync(path);
                Assert.True(response!.Status == 200, $"{path} answered {response.Status}");
                var html = await page.ContentAsync();
                Assert.DoesNotContain(Secret, html, StringComparison.Ordinal);
                Assert.Equal(0, await page.Locator("img[src=x]").CountAsync());
                if ((await page.Locator("main").InnerTextAsync()).Contains(Script, StringComparison.Ordinal))
                    shown.Add(path);
            }
            Assert.Empty(dialogs);
            Assert.Contains("/ui/sites/shop", shown); // the description is shown, as text
            Assert.Contains("/ui/devices/web-1", shown); // the fact is shown, as text
            await page.Context.CloseAsync();
        }
        finally
        {
            await demo.PutModelAsync(original, "UI test: hostile values removed");
        }
    }
}
