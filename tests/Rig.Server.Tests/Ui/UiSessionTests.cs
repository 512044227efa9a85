using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Rig.Server.Tests.Gateway;

namespace Rig.Server.Tests.Ui;

/// <summary>The web UI's door, without a browser: every page needs a session, sessions end with their token, the
/// sign-in form cannot be used to send an operator elsewhere.</summary>
public sealed partial class UiSessionTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-ui-session-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;
    private string _admin = "";

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        _admin = await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [GeneratedRegex("name=\"_signin\" value=\"([^\"]+)\"")]
    private static partial Regex NonceField();

    /// <summary>Sign in through the form as a browser would: the form's cookie and nonce, then the token. Returns the
    /// session cookie ("name=value") and where the browser was sent.</summary>
    private async Task<(string? Cookie, string Location)> SignInAsync(string token, string next = "/ui/")
    {
        using var client = TestClients.Operator(_server, null, redirects: false);
        using var form = await client.GetAsync("ui/sign-in");
        var nonceCookie = form.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-rig-signin=", StringComparison.Ordinal)).Split(';')[0];
        var nonce = NonceField().Match(await form.Content.ReadAsStringAsync()).Groups[1].Value;
        using var post = new HttpRequestMessage(HttpMethod.Post, "ui/sign-in")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["_signin"] = WebUtility.HtmlDecode(nonce), ["token"] = token, ["next"] = next }),
        };
        post.Headers.Add("Cookie", nonceCookie);
        using var answer = await client.SendAsync(post);
        Assert.Equal(HttpStatusCode.SeeOther, answer.StatusCode);
        var session = answer.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies.FirstOrDefault(c => c.StartsWith("__Host-rig-session=", StringComparison.Ordinal) && !c.StartsWith("__Host-rig-session=;", StringComparison.Ordinal))?.Split(';')[0] : null;
        return (session, answer.Headers.Location!.ToString());
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string? cookie)
    {
        using var client = TestClients.Operator(_server, null, redirects: false);
        using var request = new HttpRequestMessage(HttpMethod.Get, path.TrimStart('/'));
        if (cookie is not null)
            request.Headers.Add("Cookie", cookie);
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Every_ui_route_without_a_session_sends_to_sign_in_or_is_refused_and_a_bearer_token_is_not_a_session()
    {
        var routes = _server.UiEndpoints;
        Assert.Contains(("GET", "/ui/"), routes);
        using var client = TestClients.Operator(_server, _admin, redirects: false); // a bearer token does not open UI pages
        foreach (var (method, route) in routes)
        {
            var path = Regex.Replace(route, "\\{[^}]+\\}", "x");
            using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/')) { Content = method == "POST" ? new FormUrlEncodedContent([]) : null };
            using var response = await client.SendAsync(request);
            var status = (int)response.StatusCode;
            if (route.StartsWith("/ui/static", StringComparison.Ordinal) || route.StartsWith("/ui/sign-in", StringComparison.Ordinal))
                continue;
            if (method == "GET" && !route.StartsWith("/ui/live", StringComparison.Ordinal))
            {
                Assert.True(status == 302 && response.Headers.Location!.ToString().StartsWith("/ui/sign-in?next=", StringComparison.Ordinal), $"{method} {route} answered {status}");
            }
            else
            {
                Assert.True(status == 401, $"{method} {route} answered {status}");
            }
        }
    }

    [Theory]
    [InlineData("/UI")]
    [InlineData("/Ui")]
    public async Task The_ui_prefix_in_another_case_is_guarded_like_ui_itself(string prefix)
    {
        using var client = TestClients.Operator(_server, _admin, redirects: false); // a bearer token, no session, no anti-forgery field
        foreach (var (method, route) in _server.UiEndpoints)
        {
            if (route.StartsWith("/ui/static", StringComparison.Ordinal) || route.StartsWith("/ui/sign-in", StringComparison.Ordinal))
                continue;
            var path = prefix + Regex.Replace(route, "\\{[^}]+\\}", "x")[3..];
            using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/'))
            {
                Content = method == "POST" ? new FormUrlEncodedContent(new Dictionary<string, string> { ["name"] = "case-team", ["description"] = "made without a session" }) : null,
            };
            using var response = await client.SendAsync(request);
            var status = (int)response.StatusCode;
            Assert.True(status is 302 or 401 or 404, $"{method} {path} answered {status}");
            if (status != 404)
                Assert.True(response.Headers.Contains("Content-Security-Policy"), $"{method} {path} has no CSP");
        }
        using var teams = await client.GetAsync("api/v1/teams");
        Assert.DoesNotContain("case-team", await teams.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signing_in_again_ends_the_session_the_browser_had()
    {
        var (first, _) = await SignInAsync(_admin);
        Assert.NotNull(first);
        using var client = TestClients.Operator(_server, null, redirects: false);
        using var form = await client.GetAsync("ui/sign-in");
        var nonceCookie = form.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-rig-signin=", StringComparison.Ordinal)).Split(';')[0];
        var nonce = NonceField().Match(await form.Content.ReadAsStringAsync()).Groups[1].Value;
        using var post = new HttpRequestMessage(HttpMethod.Post, "ui/sign-in")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["_signin"] = WebUtility.HtmlDecode(nonce), ["token"] = _admin, ["next"] = "/ui/" }),
        };
        post.Headers.Add("Cookie", $"{nonceCookie}; {first}");
        using var answer = await client.SendAsync(post);
        Assert.Equal(HttpStatusCode.SeeOther, answer.StatusCode);
        using var old = await GetAsync("/ui/", first);
        Assert.Equal(HttpStatusCode.Redirect, old.StatusCode); // the earlier session is over on the gateway, not just replaced in the browser
    }

    [Theory]
    [InlineData("/ui/devices?page=abc")]
    [InlineData("/ui/devices?page=999999999999")]
    [InlineData("/ui/sites/x?page=99999999999")]
    [InlineData("/ui/audit?limit=abc")]
    public async Task A_malformed_parameter_gets_a_page_that_names_it(string path)
    {
        var (cookie, _) = await SignInAsync(_admin);
        using var response = await GetAsync(path, cookie);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(response.Headers.Contains("Content-Security-Policy"), $"{path}: no CSP");
        var html = await response.Content.ReadAsStringAsync();
        var name = path.Split('?')[1].Split('=')[0];
        Assert.Contains(name, html, StringComparison.Ordinal);
        Assert.Contains("<main", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_audit_filter_reaching_before_year_one_means_since_the_beginning()
    {
        using (var admin = TestClients.Operator(_server, _admin))
        using (var team = await admin.PostAsJsonAsync("api/v1/teams", new { name = "audited" }))
            Assert.True(team.IsSuccessStatusCode);
        var (cookie, _) = await SignInAsync(_admin);
        using var response = await GetAsync("/ui/audit?since=9999999d", cookie);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var filtered = await response.Content.ReadAsStringAsync();
        using var unfiltered = await GetAsync("/ui/audit", cookie);
        static int Rows(string html) => Regex.Count(html, "<tr");
        Assert.True(Rows(filtered) > 1, "no audit entry shown");
        Assert.Equal(Rows(await unfiltered.Content.ReadAsStringAsync()), Rows(filtered));
    }

    [Fact]
    public async Task Control_characters_from_the_model_show_as_visible_symbols_on_every_page_that_shows_them()
    {
        const string Planted = "\u001b[2J\u001b]0;pwned\u0007 \u202Eevil";
        using var admin = TestClients.Operator(_server, _admin);
        var model = new System.Text.Json.Nodes.JsonObject
        {
            ["sites"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["name"] = "t", ["description"] = Planted }),
            ["devices"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject
            {
                ["name"] = "dev-1", ["site"] = "t", ["parameters"] = new System.Text.Json.Nodes.JsonObject { ["note"] = Planted },
            }),
        };
        using (var put = await admin.PutAsync($"api/v1/model?message={Uri.EscapeDataString("msg " + Planted)}", new StringContent(model.ToJsonString(), System.Text.Encoding.UTF8, "application/json")))
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var (cookie, _) = await SignInAsync(_admin);
        foreach (var path in new[] { "/ui/devices/dev-1", "/ui/sites/t", "/ui/changes", "/ui/sites" })
        {
            using var response = await GetAsync(path, cookie);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var html = await response.Content.ReadAsStringAsync();
            var decoded = WebUtility.HtmlDecode(html);
            Assert.False(decoded.Any(c => char.IsControl(c) && c is not '\n' and not '\r' and not '\t' || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069'),
                $"{path} holds a control character (raw or as a character reference)");
            Assert.Contains("␛[2J", decoded, StringComparison.Ordinal);
            Assert.Contains("pwned␇", decoded, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_session_ends_when_the_token_it_was_opened_with_is_revoked()
    {
        using var admin = TestClients.Operator(_server, _admin);
        using var made = await admin.PostAsJsonAsync("api/v1/tokens", new { name = "erin-laptop", @operator = "erin", team = "admins" });
        Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        var secret = (await made.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("secret").GetString()!;
        var (cookie, _) = await SignInAsync(secret);
        Assert.NotNull(cookie);
        using (var page = await GetAsync("/ui/", cookie))
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);

        using var revoked = await admin.PostAsync("api/v1/tokens/erin-laptop/revoke", null);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);

        using var after = await GetAsync("/ui/", cookie);
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("/ui/sign-in", after.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://evil.example/ui/")]
    [InlineData("//evil.example/ui/")]
    [InlineData("/ui/\\\\evil.example")]
    [InlineData("javascript:alert(1)")]
    [InlineData("/ui/\r\nX-Injected: 1")]
    [InlineData("/ui/\u0001")]
    public async Task Sign_in_never_sends_the_browser_to_another_site_nor_fails_on_a_crafted_next(string next)
    {
        var (cookie, location) = await SignInAsync(_admin, next);
        Assert.NotNull(cookie);
        Assert.Equal("/ui/", location);
    }

    [Fact]
    public async Task Sign_in_keeps_a_next_with_letters_beyond_ascii_percent_encoded()
    {
        var (cookie, location) = await SignInAsync(_admin, "/ui/devices?q=é");
        Assert.NotNull(cookie);
        Assert.Equal("/ui/devices?q=%C3%A9", location);
    }

    [Fact]
    public async Task A_refused_token_opens_no_session_and_says_why()
    {
        var (cookie, location) = await SignInAsync("rigop_nope");
        Assert.Null(cookie);
        Assert.Contains("error=refused", location, StringComparison.Ordinal);
        using var form = await GetAsync(location, null);
        Assert.Contains("not a live operator token", await form.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_live_device_stream_ends_when_the_watchers_read_grant_is_revoked()
    {
        using var admin = TestClients.Operator(_server, _admin);
        using (var put = await admin.PutAsync("api/v1/model?message=t", new StringContent("""{"sites":[{"name":"t"}],"devices":[{"name":"dev-1","site":"t"}]}""", System.Text.Encoding.UTF8, "application/json")))
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        await _server.Store.CreateQueueAsync("dev-1", [Store.StoreTestData.WriteFile("/etc/x", "x")], "a queue that stays active", 1);
        using (var team = await admin.PostAsJsonAsync("api/v1/teams", new { name = "watchers" }))
            Assert.True(team.IsSuccessStatusCode);
        using var granted = await admin.PostAsJsonAsync("api/v1/grants", new { team = "watchers", verbs = new[] { "read" }, reason = "watch" });
        var grant = (await granted.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetInt64();
        using var made = await admin.PostAsJsonAsync("api/v1/tokens", new { name = "wendy-laptop", @operator = "wendy", team = "watchers" });
        var secret = (await made.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("secret").GetString()!;
        var (cookie, _) = await SignInAsync(secret);

        using var client = TestClients.Operator(_server, null, redirects: false);
        using var request = new HttpRequestMessage(HttpMethod.Get, "ui/live/devices/dev-1");
        request.Headers.Add("Cookie", cookie);
        using var stream = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());

        using (var revoked = await admin.PostAsync($"api/v1/grants/{grant}/revoke?message=no%20longer", null))
            Assert.True(revoked.IsSuccessStatusCode, await revoked.Content.ReadAsStringAsync());

        // The stream ends by itself (the queue stays active): the next poll reads with the rights as they are now.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var lines = new List<string>();
        while (await reader.ReadLineAsync(deadline.Token) is { } line)
        {
            lines.Add(line);
            if (line == "event: end")
                break;
        }
        Assert.Contains("event: end", lines);
    }

    [Fact]
    public async Task A_tampered_or_unknown_session_cookie_is_no_session()
    {
        var (cookie, _) = await SignInAsync(_admin);
        using var tampered = await GetAsync("/ui/", cookie + "x");
        Assert.Equal(HttpStatusCode.Redirect, tampered.StatusCode);
        using var unknown = await GetAsync("/ui/", "__Host-rig-session=rigui_" + new string('a', 43));
        Assert.Equal(HttpStatusCode.Redirect, unknown.StatusCode);
        using var ok = await GetAsync("/ui/", cookie);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
