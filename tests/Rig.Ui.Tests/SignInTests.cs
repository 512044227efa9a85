using System.Net;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>Signing in and out, the session cookie, anti-forgery.</summary>
[Collection(UiCollection.Name)]
public sealed class SignInTests(UiDemo demo)
{
    [Fact]
    public async Task Signing_in_with_the_token_opens_the_dashboard_and_the_session_cookie_is_httponly_secure_and_strict()
    {
        var context = await demo.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync("/ui/devices");
        Assert.Contains("/ui/sign-in", page.Url, StringComparison.Ordinal); // not signed in: sent to the form
        await page.GetByLabel("Operator token").FillAsync(demo.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(u => u.EndsWith("/ui/devices", StringComparison.Ordinal), new() { WaitUntil = WaitUntilState.Commit }); // back where it was going
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Devices" })).ToBeVisibleAsync();

        var session = Assert.Single(await context.CookiesAsync(), c => c.Name == "__Host-rig-session");
        Assert.True(session.HttpOnly);
        Assert.True(session.Secure);
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);
        Assert.InRange(session.Expires - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 20 * 60, 40 * 60); // short-lived: 30 minutes idle (the browser's clock counts)
        await context.CloseAsync();
    }

    [Fact]
    public async Task A_wrong_token_is_refused_with_a_message_and_no_session()
    {
        var context = await demo.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync("/ui/sign-in");
        await page.GetByLabel("Operator token").FillAsync("rigop_not-a-real-token");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("refused");
        Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "__Host-rig-session");
        await context.CloseAsync();
    }

    [Fact]
    public async Task Sign_out_ends_the_session_on_the_gateway_not_only_in_the_browser()
    {
        var page = await demo.SignedInPageAsync();
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "__Host-rig-session");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("signed out");

        // The old cookie, replayed by hand, no longer opens a page.
        using var client = RawClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, demo.BaseUrl + "/ui/devices");
        request.Headers.Add("Cookie", $"__Host-rig-session={cookie.Value}");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains("/ui/sign-in", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_form_posted_without_or_with_a_wrong_anti_forgery_token_is_refused_and_does_nothing()
    {
        var page = await demo.SignedInPageAsync();
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "__Host-rig-session");
        using var client = RawClient();
        foreach (var form in new[] { "", "_csrf=forged" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, demo.BaseUrl + "/ui/sign-out") { Content = new StringContent(form, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded") };
            request.Headers.Add("Cookie", $"__Host-rig-session={cookie.Value}");
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("anti-forgery", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // Still signed in: the forged sign-out did nothing.
        await page.GotoAsync("/ui/");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Every_ui_answer_carries_a_content_security_policy_without_inline_script()
    {
        var page = await demo.SignedInPageAsync();
        var response = await page.GotoAsync("/ui/");
        var csp = (await response!.AllHeadersAsync())["content-security-policy"];
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    private static HttpClient RawClient() => new(new HttpClientHandler
    {
        ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
        AllowAutoRedirect = false,
        UseCookies = false,
    });
}
