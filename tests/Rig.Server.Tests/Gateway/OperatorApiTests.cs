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

    private HttpClient Client(string? token)
    {
        var ca = X509CertificateLoader.LoadCertificate(_server.Authority.Certificate.RawData);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        var handler = new SocketsHttpHandler { SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy, RemoteCertificateValidationCallback = (_, _, _, e) => e == SslPolicyErrors.None } };
        var client = new HttpClient(handler) { BaseAddress = _server.ApiUrl };
        if (token is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

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
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var codes = body.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("code").GetString()).ToList();
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
            Assert.Contains("bad-model", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Empty(await _server.Store.RevisionsAsync());
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
