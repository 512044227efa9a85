using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Security;

namespace Rig.Server.Tests.Gateway;

/// <summary>The operator API on a real Kestrel over real TLS.</summary>
public sealed class OperatorApiTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-api-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        _token = await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private HttpClient Client(string? token) => TestClients.Operator(_server, token);

    [Fact]
    public async Task Every_operator_endpoint_demands_a_valid_token()
    {
        var endpoints = _server.OperatorEndpoints;
        Assert.True(endpoints.Count >= 10, $"only {endpoints.Count} endpoints found");
        foreach (var token in new[] { null, "rigop_wrong", Tokens.Create("rigop_") })
        {
            using var client = Client(token);
            foreach (var (method, route) in endpoints)
            {
                var path = route.Replace("{name}", "web-1", StringComparison.Ordinal);
                using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/')) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
                using var response = await client.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {route} with token '{token}' answered {(int)response.StatusCode}");
            }
        }
    }

    [Theory]
    [InlineData("bearer")]
    [InlineData("BEARER")]
    [InlineData("Bearer")]
    public async Task The_bearer_scheme_name_is_case_insensitive(string scheme)
    {
        using var client = Client(null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/status");
        request.Headers.TryAddWithoutValidation("Authorization", $"{scheme} {_token}");
        using var response = await client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"'{scheme} <token>' answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Head_without_a_token_is_refused_with_401_over_each_http_version(int major)
    {
        using var client = Client(null);
        foreach (var path in new[] { "api/v1/status", "api/v1/devices/web-1", "openapi/v1.json" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Head, path) { Version = new Version(major, major == 1 ? 1 : 0), VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await client.SendAsync(request);
            Assert.Equal(major, response.Version.Major);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"HEAD {path} over HTTP/{request.Version} answered {(int)response.StatusCode}");
            Assert.Contains(response.Headers.WwwAuthenticate, c => c.Scheme == "Bearer");
        }
    }

    [Fact]
    public async Task A_wrong_token_is_refused_as_such_while_a_missing_one_is_asked_for()
    {
        using (var client = Client(null))
        {
            using var response = await client.GetAsync("api/v1/status");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = await ErrorOfAsync(response);
            Assert.Equal("unauthorized", error.GetProperty("code").GetString());
            Assert.StartsWith("An operator token is required", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        using (var client = Client("rigop_wrong"))
        {
            using var response = await client.GetAsync("api/v1/status");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = await ErrorOfAsync(response);
            Assert.Equal("token-refused", error.GetProperty("code").GetString());
            Assert.StartsWith("The token was refused", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains("RIG_TOKEN", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("GET", "api/v1/devices/ghost", null, null, 404, "unknown-device")]
    [InlineData("GET", "api/v1/rollouts/nope", null, null, 404, "unknown-rollout")]
    [InlineData("GET", "api/v1/no-such-thing", null, null, 404, "not-found")]
    [InlineData("DELETE", "api/v1/status", null, null, 405, "method-not-allowed")]
    [InlineData("GET", "api/v1/revisions?limit=many", null, null, 400, "bad-request")]
    [InlineData("GET", "api/v1/model/as-of", null, null, 400, "bad-request")]
    [InlineData("GET", "api/v1/model?at=yesterday", null, null, 400, "bad-revision")]
    [InlineData("POST", "api/v1/converge", "application/json", "{\"devices\":7}", 400, "bad-request")]
    [InlineData("POST", "api/v1/converge", "application/json", "", 400, "bad-request")]
    [InlineData("POST", "api/v1/converge", "text/plain", "{}", 415, "unsupported-media-type")]
    [InlineData("POST", "api/v1/rollouts", "application/json", "{\"revision\":99}", 404, "unknown-revision")]
    [InlineData("PUT", "api/v1/model", "application/json", "{\"sites\":[],\"colour\":\"red\"}", 400, "bad-model")]
    public async Task Every_error_answer_has_the_one_error_shape(string method, string path, string? contentType, string? body, int status, string code)
    {
        using var client = Client(_token);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (contentType is not null)
            request.Content = new StringContent(body ?? "", Encoding.UTF8, contentType);
        using var response = await client.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        var error = await ErrorOfAsync(response);
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        if (error.TryGetProperty("hint", out var hint))
            Assert.False(string.IsNullOrWhiteSpace(hint.GetString()));
    }

    [Fact]
    public async Task An_invalid_model_error_carries_every_model_error_and_a_hint_inside_the_error()
    {
        using var client = Client(_token);
        var model = new RigModel { Sites = [new Site { Name = "s" }], Devices = [new Device { Name = "web-1", Site = "nowhere" }] };
        using var response = await client.PostAsync("api/v1/apply?message=x", new StringContent(JsonSerializer.Serialize(model, ModelJson.Default.RigModel), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorOfAsync(response);
        Assert.Equal("invalid-model", error.GetProperty("code").GetString());
        var first = error.GetProperty("errors").EnumerateArray().First();
        Assert.Equal("site.unknown", first.GetProperty("code").GetString());
        Assert.Equal("devices/web-1/site", first.GetProperty("where").GetString());
        Assert.Contains("errors", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
    }

    /// <summary>The <c>error</c> object of the one error shape, <c>{"error":{"code","message","hint"?,"errors"?}}</c>.</summary>
    private static async Task<JsonElement> ErrorOfAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(body).RootElement;
        Assert.True(root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object, $"not the error shape: {body}");
        Assert.Single(root.EnumerateObject());
        return error.Clone();
    }

    [Fact]
    public async Task Health_and_readiness_answer_without_a_token_and_reveal_nothing_else()
    {
        using var client = Client(null);
        foreach (var path in new[] { "healthz", "readyz" })
        {
            using var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ok\n", await response.Content.ReadAsStringAsync());
            using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        }
        // Only those two, only GET and HEAD: anything else still wants a token.
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("readyz", new StringContent(""))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("healthz/x")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/v1/status")).StatusCode);
    }

    [Fact]
    public async Task A_device_whose_inventory_was_dropped_shows_why_in_its_detail()
    {
        using var client = Client(_token);
        using (var put = await client.PutAsync("api/v1/model", new StringContent(JsonSerializer.Serialize(new RigModel { Sites = [new Site { Name = "s" }], Devices = [new Device { Name = "web-1", Site = "s" }] }, ModelJson.Default.RigModel), Encoding.UTF8, "application/json")))
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        var checkIn = new Rig.Protocol.Messages.ExchangeRequest
        {
            ProtocolVersion = Rig.Protocol.ProtocolInfo.Version, Device = "web-1", RequestId = Guid.NewGuid().ToString("n"), Reason = Rig.Protocol.Messages.InquiryReason.CheckIn,
            Inventory = new Rig.Protocol.Messages.InventoryReport { Hostname = "web-1", Packages = [new("tool\u001b[2J", "1.0", "rig", new string('a', 64))] },
        };
        var answer = await _server.Gateway.ExchangeAsync("web-1", checkIn, "127.0.0.1", CancellationToken.None);
        Assert.Equal(Rig.Protocol.Messages.ExchangeAnswer.NoCommand, answer.Answer); // the check-in itself is answered

        using var response = await client.GetAsync("api/v1/devices/web-1");
        var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains("control character", detail.GetProperty("inventoryNote").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("inventory").ValueKind);
    }

    [Fact]
    public async Task Invalid_model_is_refused_with_every_error_and_nothing_is_saved()
    {
        using var client = Client(_token);
        var model = new RigModel
        {
            Sites = [new Site { Name = "s" }],
            Devices = [new Device { Name = "web-1", Site = "nowhere" }, new Device { Name = "web-1", Site = "s" }],
            Links = [new Interconnection { From = "web-1", To = "ghost", Purpose = "http" }],
        };
        using var response = await client.PutAsync("api/v1/model", new StringContent(JsonSerializer.Serialize(model, ModelJson.Default.RigModel), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorOfAsync(response);
        Assert.Equal("invalid-model", error.GetProperty("code").GetString());
        var codes = error.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("code").GetString()).ToList();
        Assert.Contains("site.unknown", codes);
        Assert.Contains("name.duplicate", codes);
        Assert.Contains("link.unknown-device", codes);
        Assert.Empty(await _server.Store.RevisionsAsync());
    }

    [Fact]
    public async Task Model_with_unknown_keys_or_duplicate_keys_is_refused()
    {
        using var client = Client(_token);
        foreach (var json in new[] { """{"sites":[],"colour":"red"}""", """{"sites":[],"sites":[]}""", """{"devices":[{"name":"a","site":1}]}""" })
        {
            using var response = await client.PutAsync("api/v1/model", new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("bad-model", (await ErrorOfAsync(response)).GetProperty("code").GetString());
        }
        Assert.Empty(await _server.Store.RevisionsAsync());
    }

    [Fact]
    public async Task Operator_actions_through_the_api_are_in_the_audit_log_and_the_chain_verifies()
    {
        using var client = Client(_token);
        using (var put = await client.PutAsync("api/v1/model?message=first", new StringContent(JsonSerializer.Serialize(new RigModel { Sites = [new Site { Name = "s" }], Devices = [new Device { Name = "web-1", Site = "s" }] }, ModelJson.Default.RigModel), Encoding.UTF8, "application/json")))
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        using (var revoke = await client.PostAsync("api/v1/devices/web-9/revoke", null))
            Assert.Equal(HttpStatusCode.NotFound, revoke.StatusCode);
        using (var read = await client.GetAsync("api/v1/devices"))
            Assert.True(read.IsSuccessStatusCode); // a read: not audited

        var page = JsonDocument.Parse(await client.GetStringAsync("api/v1/audit")).RootElement;
        var entries = page.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(2, entries.Count);
        Assert.Equal(JsonValueKind.Null, page.GetProperty("next").ValueKind);
        var (put1, revoke1) = (entries[0], entries[1]);
        Assert.Equal(("model.put", "ok", "admin"), (put1.GetProperty("action").GetString(), put1.GetProperty("outcome").GetString(), put1.GetProperty("operator").GetString()));
        Assert.Contains("\"revision\":\"1\"", put1.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("\"message\":\"first\"", put1.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(("device.revoke", "refused", "web-9", "name=web-9"),
            (revoke1.GetProperty("action").GetString(), revoke1.GetProperty("outcome").GetString(), revoke1.GetProperty("device").GetString(), revoke1.GetProperty("target").GetString()));
        Assert.Equal(put1.GetProperty("hash").GetString(), revoke1.GetProperty("prevHash").GetString());

        var byDevice = JsonDocument.Parse(await client.GetStringAsync("api/v1/audit?device=web-9&limit=1")).RootElement;
        Assert.Equal(2, byDevice.GetProperty("entries")[0].GetProperty("seq").GetInt64());
        Assert.Equal(2, byDevice.GetProperty("next").GetInt64()); // a full page: there may be more
        var verify = JsonDocument.Parse(await client.GetStringAsync("api/v1/audit/verify")).RootElement;
        Assert.True(verify.GetProperty("ok").GetBoolean(), verify.ToString());
        Assert.Equal((2L, revoke1.GetProperty("hash").GetString()), (verify.GetProperty("checked").GetInt64(), verify.GetProperty("headHash").GetString()));

        using var bad = await client.GetAsync("api/v1/audit?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("bad-since", (await ErrorOfAsync(bad)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Operator_api_listens_only_on_loopback_by_default()
    {
        Assert.Equal("127.0.0.1", _server.Options.ApiListenAddress);
        Assert.Equal(IPAddress.Loopback.ToString(), _server.ApiUrl.Host);
        Assert.NotEqual(_server.ApiUrl.Port, _server.AgentUrl.Port);

        // The agent port does not serve the operator API, even with a valid token.
        using var client = Client(_token);
        client.BaseAddress = new Uri($"https://127.0.0.1:{_server.AgentUrl.Port}/");
        using var response = await client.GetAsync("api/v1/status");
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
    }
}
