using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Rig.Server.Tests.Gateway;

/// <summary>Operator tokens through the real API over TLS: named, shown once, expiring, rotated and revoked; an
/// operator without grants may do nothing; only manage-trust makes tokens for others.</summary>
public sealed class TokenLifecycleTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-tokens-{Guid.NewGuid():n}");
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

    private HttpClient Client(string token) => TestClients.Operator(_server, token);

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static string Code(JsonElement body) => body.GetProperty("error").GetProperty("code").GetString()!;

    [Fact]
    public async Task A_token_is_shown_once_expires_rotates_and_revokes_and_an_operator_without_grants_may_do_nothing()
    {
        using var admin = Client(_admin);
        var (status, made) = await SendAsync(admin, HttpMethod.Post, "api/v1/tokens", new { name = "dave-laptop", @operator = "dave", expires = "30d" });
        Assert.Equal(HttpStatusCode.Created, status);
        var secret = made.GetProperty("secret").GetString()!;
        Assert.StartsWith("rigop_", secret, StringComparison.Ordinal);
        Assert.Equal("dave", made.GetProperty("token").GetProperty("operator").GetString());

        // Listed without its secret; dave is in no team, so he may do nothing and sees nothing.
        var (_, list) = await SendAsync(admin, HttpMethod.Get, "api/v1/tokens");
        Assert.Contains(list.EnumerateArray(), t => t.GetProperty("name").GetString() == "dave-laptop" && t.GetProperty("state").GetString() == "live");
        Assert.DoesNotContain(secret, list.GetRawText(), StringComparison.Ordinal);
        using (var dave = Client(secret))
        {
            var (me, whoami) = await SendAsync(dave, HttpMethod.Get, "api/v1/whoami");
            Assert.Equal(HttpStatusCode.OK, me);
            Assert.Empty(whoami.GetProperty("grants").EnumerateArray());
            var (devices, rows) = await SendAsync(dave, HttpMethod.Get, "api/v1/devices");
            Assert.Equal(HttpStatusCode.Forbidden, devices);
            Assert.Equal("forbidden", Code(rows));
            var (forOthers, refused) = await SendAsync(dave, HttpMethod.Post, "api/v1/tokens", new { name = "erin", @operator = "erin" });
            Assert.Equal(HttpStatusCode.Forbidden, forOthers);
            Assert.Contains("manage-trust", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

            // His own: rotate. The old secret is refused at once, the new one works.
            var (rotatedStatus, rotated) = await SendAsync(dave, HttpMethod.Post, "api/v1/tokens/dave-laptop/rotate?expires=7d");
            Assert.Equal(HttpStatusCode.OK, rotatedStatus);
            var (old, oldBody) = await SendAsync(dave, HttpMethod.Get, "api/v1/whoami");
            Assert.Equal((HttpStatusCode.Unauthorized, "token-refused"), (old, Code(oldBody)));
            secret = rotated.GetProperty("secret").GetString()!;
        }
        using (var dave = Client(secret))
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(dave, HttpMethod.Get, "api/v1/whoami")).Status);
            // Another operator's token is not his to revoke: answered as unknown.
            var (other, otherBody) = await SendAsync(dave, HttpMethod.Post, "api/v1/tokens/admin-init/revoke");
            Assert.Equal((HttpStatusCode.NotFound, "unknown-token"), (other, Code(otherBody)));
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Post, "api/v1/tokens/dave-laptop/revoke")).Status);
            var (revoked, revokedBody) = await SendAsync(dave, HttpMethod.Get, "api/v1/whoami");
            Assert.Equal((HttpStatusCode.Unauthorized, "token-refused"), (revoked, Code(revokedBody)));
        }

        // A token past its expiry is refused as expired.
        var (_, brief) = await SendAsync(admin, HttpMethod.Post, "api/v1/tokens", new { name = "brief", @operator = "dave", expires = "1s" });
        using var briefClient = Client(brief.GetProperty("secret").GetString()!);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var (expired, expiredBody) = await SendAsync(briefClient, HttpMethod.Get, "api/v1/whoami");
        Assert.Equal((HttpStatusCode.Unauthorized, "token-expired"), (expired, Code(expiredBody)));
        var (_, all) = await SendAsync(admin, HttpMethod.Get, "api/v1/tokens");
        Assert.Contains(all.EnumerateArray(), t => t.GetProperty("name").GetString() == "brief" && t.GetProperty("state").GetString() == "expired");

        // Bad input is refused with what was wrong.
        var (tooLong, tooLongBody) = await SendAsync(admin, HttpMethod.Post, "api/v1/tokens", new { name = "forever", expires = "9999d" });
        Assert.Equal((HttpStatusCode.BadRequest, "bad-expiry"), (tooLong, Code(tooLongBody)));
        var (taken, takenBody) = await SendAsync(admin, HttpMethod.Post, "api/v1/tokens", new { name = "brief", @operator = "dave" });
        Assert.Equal((HttpStatusCode.Conflict, "token-exists"), (taken, Code(takenBody)));
    }

    [Fact]
    public async Task Grants_need_known_verbs_scopes_and_a_reason_and_give_rights_at_the_next_request()
    {
        using var admin = Client(_admin);
        var model = new Rig.Model.Domain.RigModel
        {
            Customers = [new Rig.Model.Domain.Customer { Name = "acme" }],
            Sites = [new Rig.Model.Domain.Site { Name = "shop", Customer = "acme" }, new Rig.Model.Domain.Site { Name = "infra" }],
            Devices = [new Rig.Model.Domain.Device { Name = "web-1", Site = "shop" }, new Rig.Model.Domain.Device { Name = "mon-1", Site = "infra" }],
        };
        using (var put = new HttpRequestMessage(HttpMethod.Put, "api/v1/model") { Content = new StringContent(JsonSerializer.Serialize(model, Rig.Model.ModelJson.Default.RigModel), System.Text.Encoding.UTF8, "application/json") })
            Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(put)).StatusCode);

        Assert.Equal(HttpStatusCode.Created, (await SendAsync(admin, HttpMethod.Post, "api/v1/teams", new { name = "acme-ro" })).Status);
        var (_, made) = await SendAsync(admin, HttpMethod.Post, "api/v1/tokens", new { name = "fay", @operator = "fay", team = "acme-ro" });
        using var fay = Client(made.GetProperty("secret").GetString()!);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(fay, HttpMethod.Get, "api/v1/devices")).Status);

        var (badVerb, badVerbBody) = await SendAsync(admin, HttpMethod.Post, "api/v1/grants", new { team = "acme-ro", verbs = new[] { "reed" }, reason = "typo" });
        Assert.Equal((HttpStatusCode.BadRequest, "bad-verb"), (badVerb, Code(badVerbBody)));
        var (badScope, badScopeBody) = await SendAsync(admin, HttpMethod.Post, "api/v1/grants", new { team = "acme-ro", verbs = new[] { "read" }, scope = new { customers = new[] { "acne" } }, reason = "typo" });
        Assert.Equal((HttpStatusCode.BadRequest, "bad-scope"), (badScope, Code(badScopeBody)));
        Assert.Contains("acne", badScopeBody.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var (noReason, noReasonBody) = await SendAsync(admin, HttpMethod.Post, "api/v1/grants", new { team = "acme-ro", verbs = new[] { "read" }, reason = " " });
        Assert.Equal((HttpStatusCode.BadRequest, "reason-required"), (noReason, Code(noReasonBody)));

        var (granted, grant) = await SendAsync(admin, HttpMethod.Post, "api/v1/grants", new { team = "acme-ro", verbs = new[] { "read" }, scope = new { customers = new[] { "acme" } }, reason = "acme's auditors" });
        Assert.Equal(HttpStatusCode.Created, granted);
        var (_, devices) = await SendAsync(fay, HttpMethod.Get, "api/v1/devices");
        Assert.Equal(["web-1"], devices.EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        var (hidden, hiddenBody) = await SendAsync(fay, HttpMethod.Get, "api/v1/devices/mon-1");
        var (missing, missingBody) = await SendAsync(fay, HttpMethod.Get, "api/v1/devices/no-such-device");
        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (hidden, missing));
        Assert.Equal(missingBody.GetRawText().Replace("no-such-device", "X", StringComparison.Ordinal), hiddenBody.GetRawText().Replace("mon-1", "X", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(fay, HttpMethod.Post, "api/v1/devices/web-1/poke")).Status);

        var id = grant.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(admin, HttpMethod.Post, $"api/v1/grants/{id}/revoke")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, HttpMethod.Post, $"api/v1/grants/{id}/revoke?message=audit%20over")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(fay, HttpMethod.Get, "api/v1/devices")).Status);
        var (_, history) = await SendAsync(admin, HttpMethod.Get, "api/v1/grants?history=true");
        Assert.Contains(history.EnumerateArray(), g => g.GetProperty("id").GetInt64() == id && g.GetProperty("revokeReason").GetString() == "audit over" && g.GetProperty("revokedBy").GetString() == "admin");
    }
}
