using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;
using Xunit.Abstractions;

namespace Rig.Server.Tests.Authorization;

/// <summary>One seeded gateway for the matrix: a converge queue on a globex device, a stored script, a rollout of
/// globex's site by admin and one of acme's shop web tier by acme's content team, a token for admin to revoke.</summary>
public sealed class AuthorizationMatrixFixture : IAsyncLifetime
{
    internal TrustedGateway Gateway { get; private set; } = null!;
    internal string StoreQueue { get; private set; } = "";
    internal string StoreRollout { get; private set; } = "";
    internal string ShopRollout { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Gateway = await TrustedGateway.StartAsync();
        using var admin = Gateway.Client(Persona.Admin);
        var converged = await TrustedGateway.Ok<ConvergeResponse>(await admin.PostAsJsonAsync("api/v1/converge", new ConvergeRequest(["store-db-1"], "matrix")));
        StoreQueue = Assert.Single(converged.Devices).QueueId!;
        await TrustedGateway.Ok(await admin.PutAsync("api/v1/scripts/hello", new StringContent("""{"description":"hi","commands":[{"kind":"inventory"}]}""", Encoding.UTF8, "application/json")));
        StoreRollout = (await TrustedGateway.Ok<RolloutView>(await admin.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "site=store")))).Id;
        using var content = Gateway.Client(Persona.AcmeContent);
        ShopRollout = (await TrustedGateway.Ok<RolloutView>(await content.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "shop-web-1,shop-web-2")))).Id; // the content team acts on devices with content only
        await TrustedGateway.Ok(await admin.PostAsJsonAsync("api/v1/tokens", new TokenCreateRequest("victim")));
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>Every operator endpoint (walked from the gateway's own endpoint table: an endpoint this table does not
/// declare fails the test) x every persona: the status, and for lists the exact rows each persona sees.</summary>
public sealed class AuthorizationMatrixTests(AuthorizationMatrixFixture fixture, ITestOutputHelper output) : IClassFixture<AuthorizationMatrixFixture>
{
    /// <summary>Non-admins first, so admin's real effects (revoking, cancelling) come after everyone else's attempt.</summary>
    private static readonly Persona[] Order = [Persona.Nobody, Persona.Globex, Persona.AcmeRead, Persona.AcmeContent, Persona.Os, Persona.Admin];

    private static readonly Dictionary<Persona, string[]> VisibleDevices = new()
    {
        [Persona.Admin] = TrustedGateway.AllDevices,
        [Persona.Os] = TrustedGateway.AllDevices,
        [Persona.AcmeContent] = TrustedGateway.ShopDevices,
        [Persona.AcmeRead] = TrustedGateway.AcmeDevices,
        [Persona.Globex] = TrustedGateway.GlobexDevices,
    };

    private static readonly Dictionary<Persona, string[]> VisibleRoles = new()
    {
        [Persona.Admin] = ["base-os", "blog-content", "shop-content", "store-content"],
        [Persona.Os] = ["base-os"],
        [Persona.AcmeContent] = ["shop-content"],
        [Persona.AcmeRead] = ["base-os", "blog-content", "shop-content"],
        [Persona.Globex] = ["base-os", "store-content"],
    };

    private static readonly string[] SeedTeams = ["acme-content", "acme-readonly", "admins", "globex-ops", "provider-os"];
    private static readonly string[] Operators = ["admin", "carla", "globex-op", "gus", "nobody", "olga", "rita"];

    private TrustedGateway Gateway => fixture.Gateway;

    /// <summary>How one endpoint is called and what each persona gets: statuses in the order Admin, Os, AcmeContent,
    /// AcmeRead, Globex, Nobody; <paramref name="Rows"/> checks a successful answer's rows.</summary>
    private sealed record Cell(string Method, string Route, Func<Persona, HttpClient, Task<HttpRequestMessage>> Request, int[] Statuses, Action<Persona, JsonElement>? Rows = null)
    {
        public int Expected(Persona persona) => Statuses[persona switch
        {
            Persona.Admin => 0,
            Persona.Os => 1,
            Persona.AcmeContent => 2,
            Persona.AcmeRead => 3,
            Persona.Globex => 4,
            _ => 5,
        }];
    }

    private static int[] S(params int[] statuses) => statuses.Length == 6 ? statuses : throw new ArgumentException("six statuses");

    private static Func<Persona, HttpClient, Task<HttpRequestMessage>> Get(string path) => (_, _) => Task.FromResult(new HttpRequestMessage(HttpMethod.Get, path));

    private static Func<Persona, HttpClient, Task<HttpRequestMessage>> Send(HttpMethod method, string path, string? json = null) =>
        (_, _) => Task.FromResult(new HttpRequestMessage(method, path) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") });

    private static Func<Persona, HttpClient, Task<HttpRequestMessage>> Send(HttpMethod method, Func<Persona, string> path, string? json = null) =>
        (p, _) => Task.FromResult(new HttpRequestMessage(method, path(p)) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") });

    /// <summary>The persona's own view of the model (their projection), sent back unchanged: an edit that changes nothing.</summary>
    private static async Task<string> OwnModelAsync(Persona persona, HttpClient client)
    {
        if (persona is Persona.Nobody)
            return JsonSerializer.Serialize(new RigModel(), ModelJson.Default.RigModel);
        using var response = await client.GetAsync("api/v1/model");
        return await response.Content.ReadAsStringAsync();
    }

    private static void Same(IEnumerable<string> expected, IEnumerable<string?> actual, string what) =>
        Assert.True(expected.Order(StringComparer.Ordinal).SequenceEqual(actual.Select(a => a ?? "(null)").Distinct().Order(StringComparer.Ordinal)),
            $"{what}: expected [{string.Join(", ", expected.Order(StringComparer.Ordinal))}], got [{string.Join(", ", actual.Distinct().Order(StringComparer.Ordinal))}]");

    private static IEnumerable<string?> Strings(JsonElement array, string property) => array.EnumerateArray().Select(e => e.GetProperty(property).GetString());

    private static Action<Persona, JsonElement> DeviceRows(Func<JsonElement, JsonElement> list, string property) =>
        (p, json) => Same(VisibleDevices[p], Strings(list(json), property), $"devices seen by {p}");

    private List<Cell> Table()
    {
        var f = fixture;
        var del = HttpMethod.Delete;
        var post = HttpMethod.Post;
        var put = HttpMethod.Put;
        long scratchGrant = 0;
        return
        [
            // ---- reads and lists -----------------------------------------------------------------------------------
            new("GET", "/api/v1/status", Get("api/v1/status"), S(200, 200, 200, 200, 200, 403),
                (p, j) => Assert.Equal(VisibleDevices[p].Length, j.GetProperty("devices").GetInt32())),
            new("GET", "/api/v1/devices", Get("api/v1/devices"), S(200, 200, 200, 200, 200, 403), DeviceRows(j => j, "name")),
            new("GET", "/api/v1/devices/{name}", Get("api/v1/devices/shop-web-1"), S(200, 200, 200, 200, 404, 404)),
            new("GET", "/api/v1/queues/{id}", Get($"api/v1/queues/{f.StoreQueue}"), S(200, 200, 404, 404, 200, 403)),
            new("GET", "/api/v1/devices/{name}/log", Get("api/v1/devices/store-db-1/log"), S(200, 200, 404, 404, 200, 404)),
            new("GET", "/api/v1/devices/{name}/decommission-plan", Get("api/v1/devices/shop-web-1/decommission-plan"), S(200, 200, 200, 403, 404, 404)),
            new("GET", "/api/v1/model", Get("api/v1/model"), S(200, 200, 200, 200, 200, 403), (p, j) =>
            {
                Same(VisibleDevices[p], Strings(j.GetProperty("devices"), "name"), $"model devices seen by {p}");
                Same(VisibleRoles[p], Strings(j.GetProperty("roles"), "name"), $"model roles seen by {p}");
                Assert.All(j.GetProperty("assignments").EnumerateArray(), a => Assert.Contains(a.GetProperty("device").GetString(), VisibleDevices[p]));
            }),
            new("GET", "/api/v1/model/as-of", Get("api/v1/model/as-of?at=1"), S(200, 200, 200, 200, 200, 403), (p, j) =>
            {
                Same(VisibleDevices[p], Strings(j.GetProperty("devices"), "device"), $"rendered devices seen by {p}");
                Same(VisibleDevices[p], Strings(j.GetProperty("model").GetProperty("devices"), "name"), $"as-of model devices seen by {p}");
            }),
            new("GET", "/api/v1/plan", Get("api/v1/plan"), S(200, 200, 200, 403, 403, 403), DeviceRows(j => j.GetProperty("devices"), "device")),
            new("POST", "/api/v1/plan", Send(post, "api/v1/plan", JsonSerializer.Serialize(TrustedGateway.SeedModel(), ModelJson.Default.RigModel)),
                S(200, 200, 200, 403, 403, 403), DeviceRows(j => j.GetProperty("devices"), "device")),
            new("GET", "/api/v1/drift", Get("api/v1/drift"), S(200, 200, 200, 200, 200, 403), DeviceRows(j => j.GetProperty("devices"), "device")),
            new("GET", "/api/v1/revisions", Get("api/v1/revisions"), S(200, 200, 200, 200, 200, 403),
                (p, j) => Assert.Equal([1L], j.EnumerateArray().Select(r => r.GetProperty("revision").GetInt64()))),
            new("GET", "/api/v1/revisions/{rev}/approval", Get("api/v1/revisions/1/approval"), S(200, 200, 200, 200, 200, 403)),
            // The seed revision was made by the admin (who may not approve their own: 403) when it was the only operator:
            // it needs no approval (409), and only those holding 'approve' get that far.
            new("POST", "/api/v1/revisions/{rev}/approve", Send(post, "api/v1/revisions/1/approve?message=matrix"), S(403, 409, 403, 403, 403, 403)),
            new("POST", "/api/v1/revisions/{rev}/reject", Send(post, "api/v1/revisions/1/reject?message=matrix"), S(403, 409, 403, 403, 403, 403)),
            new("GET", "/api/v1/audit", Get("api/v1/audit?limit=1000"), S(200, 200, 200, 200, 200, 403), (p, j) =>
            {
                // About a device: only devices the persona sees; about none: only by the persona itself, unless it reads everything.
                foreach (var entry in j.GetProperty("entries").EnumerateArray())
                {
                    if (p == Persona.Admin)
                        continue;
                    if (entry.TryGetProperty("device", out var d) && d.ValueKind == JsonValueKind.String)
                        Assert.Contains(d.GetString(), VisibleDevices[p]);
                    else
                        Assert.Equal(TrustedGateway.OperatorOf(p), entry.GetProperty("operator").GetString());
                }
            }),
            new("GET", "/api/v1/audit/verify", Get("api/v1/audit/verify"), S(200, 403, 403, 403, 403, 403)),
            new("GET", "/api/v1/revisions/diff", Get("api/v1/revisions/diff?from=0&to=1"), S(200, 200, 200, 200, 200, 403),
                (p, j) => Same(VisibleDevices[p], j.EnumerateArray().Where(e => e.GetProperty("kind").GetString() == "device").Select(e => e.GetProperty("name").GetString()), $"diff devices seen by {p}")),
            new("GET", "/api/v1/rollouts", Get("api/v1/rollouts"), S(200, 200, 200, 200, 200, 403), (p, j) =>
            {
                string[] expected = p switch
                {
                    Persona.Admin or Persona.Os => [f.StoreRollout, f.ShopRollout],
                    Persona.Globex => [f.StoreRollout],
                    _ => [f.ShopRollout],
                };
                Same(expected, Strings(j, "id"), $"rollouts seen by {p}");
                foreach (var rollout in j.EnumerateArray())
                    Assert.All(Strings(rollout.GetProperty("devices"), "device"), d => Assert.Contains(d, VisibleDevices[p]));
            }),
            new("GET", "/api/v1/rollouts/{id}", Get($"api/v1/rollouts/{f.StoreRollout}"), S(200, 200, 404, 404, 200, 403)),
            new("GET", "/api/v1/packages", Get("api/v1/packages"), S(200, 200, 200, 200, 200, 403), (_, j) => Assert.Equal(0, j.GetArrayLength())),
            new("GET", "/api/v1/scripts", Get("api/v1/scripts"), S(200, 200, 200, 200, 200, 403), (_, j) => Same(["hello"], Strings(j, "name"), "scripts")),
            new("GET", "/api/v1/scripts/{name}", Get("api/v1/scripts/hello"), S(200, 200, 200, 200, 200, 403)),
            new("GET", "/api/v1/whoami", Get("api/v1/whoami"), S(200, 200, 200, 200, 200, 200)),
            new("GET", "/api/v1/tokens", Get("api/v1/tokens"), S(200, 200, 200, 200, 200, 200), (p, j) =>
            {
                string[] expected = p switch
                {
                    Persona.Admin => Operators,
                    Persona.Os => ["olga"],
                    Persona.AcmeContent => ["carla"],
                    Persona.AcmeRead => ["rita"],
                    Persona.Globex => ["gus"],
                    _ => ["nobody"],
                };
                Same(expected, Strings(j, "operator"), $"token owners seen by {p}");
            }),
            new("GET", "/api/v1/teams", Get("api/v1/teams"), S(200, 403, 403, 403, 403, 403), (_, j) => Same(SeedTeams, Strings(j, "name"), "teams")),
            new("GET", "/api/v1/grants", Get("api/v1/grants"), S(200, 403, 403, 403, 403, 403), (_, j) => Same(SeedTeams, Strings(j, "team"), "grants' teams")),

            // ---- edits that change nothing: each persona sends back its own view ----------------------------------------
            new("PUT", "/api/v1/model", async (p, c) => new HttpRequestMessage(HttpMethod.Put, "api/v1/model") { Content = new StringContent(await OwnModelAsync(p, c), Encoding.UTF8, "application/json") },
                S(200, 200, 200, 403, 200, 403), (_, j) => Assert.False(j.GetProperty("changed").GetBoolean())),
            new("POST", "/api/v1/apply", async (p, c) => new HttpRequestMessage(HttpMethod.Post, "api/v1/apply") { Content = new StringContent(await OwnModelAsync(p, c), Encoding.UTF8, "application/json") },
                S(200, 200, 200, 403, 200, 403), (_, j) => Assert.False(j.GetProperty("changed").GetBoolean())),
            new("POST", "/api/v1/plans/apply", async (p, c) => new HttpRequestMessage(HttpMethod.Post, "api/v1/plans/apply")
            {
                Content = new StringContent($$"""{"format":"{{SavedPlan.FormatName}}","version":{{SavedPlan.CurrentVersion}},"baseRevision":1,"model":{{await OwnModelAsync(p, c)}},"devices":[]}""", Encoding.UTF8, "application/json"),
            }, S(200, 200, 200, 403, 200, 403)),

            // ---- rollouts: a revision that does not exist (the verb gate), then the seeded ones ---------------------------
            new("POST", "/api/v1/rollouts", Send(post, "api/v1/rollouts", """{"revision":99}"""), S(404, 404, 404, 403, 404, 403)),
            new("POST", "/api/v1/rollouts/{id}/pause", Send(post, $"api/v1/rollouts/{f.StoreRollout}/pause"), S(409, 409, 409, 403, 200, 403)),
            new("POST", "/api/v1/rollouts/{id}/resume", Send(post, $"api/v1/rollouts/{f.StoreRollout}/resume"), S(409, 409, 409, 403, 200, 403)),
            new("POST", "/api/v1/rollouts/{id}/cancel", Send(post, $"api/v1/rollouts/{f.ShopRollout}/cancel"), S(409, 409, 200, 403, 409, 403)),
            new("POST", "/api/v1/rollouts/{id}/retry", Send(post, $"api/v1/rollouts/{f.ShopRollout}/retry"), S(409, 409, 409, 403, 404, 403)),

            // ---- devices ---------------------------------------------------------------------------------------------------
            new("POST", "/api/v1/devices/{name}/poke", Send(post, "api/v1/devices/shop-db-1/poke"), S(200, 200, 403, 403, 404, 404)), // acme's content team acts only on devices with content: shop-db-1 has none
            new("POST", "/api/v1/devices/{name}/cancel", Send(post, "api/v1/devices/shop-db-1/cancel"), S(404, 404, 403, 403, 404, 404)),
            new("POST", "/api/v1/converge", Send(post, "api/v1/converge", """{"devices":["shop-db-1"]}"""), S(200, 200, 403, 403, 404, 403)),
            new("POST", "/api/v1/devices/{name}/enrollment-token", Send(post, "api/v1/devices/shop-web-1/enrollment-token"), S(200, 403, 403, 403, 404, 404)),
            new("POST", "/api/v1/devices/{name}/revoke", Send(post, "api/v1/devices/shop-web-1/revoke"), S(200, 403, 403, 403, 404, 404)),
            new("POST", "/api/v1/devices/{name}/clone", Send(post, "api/v1/devices/shop-web-1/clone", """{"name":"shop-web-2"}"""), S(400, 403, 403, 403, 404, 404)),
            new("POST", "/api/v1/devices/{name}/decommission", Send(post, "api/v1/devices/shop-web-1/decommission?baseRevision=0"), S(409, 403, 403, 403, 404, 404)),
            new("POST", "/api/v1/devices/{name}/rebuild", Send(post, p => $"api/v1/devices/{(p == Persona.Admin ? "ghost" : "shop-web-1")}/rebuild"), S(404, 403, 403, 403, 404, 404)),

            // ---- the provider's own objects: scripts, packages ----------------------------------------------------------
            new("PUT", "/api/v1/scripts/{name}", Send(put, "api/v1/scripts/hello", """{"description":"hi","commands":[{"kind":"inventory"}]}"""), S(200, 403, 403, 403, 403, 403)),
            new("DELETE", "/api/v1/scripts/{name}", Send(del, "api/v1/scripts/nope"), S(404, 403, 403, 403, 403, 403)),
            new("POST", "/api/v1/scripts/{name}/run", Send(post, "api/v1/scripts/nope/run", """{"devices":"site=shop"}"""), S(404, 403, 403, 403, 403, 403)),
            new("POST", "/api/v1/packages", (_, _) => Task.FromResult(new HttpRequestMessage(HttpMethod.Post, "api/v1/packages?filename=junk.deb") { Content = new ByteArrayContent("not a package"u8.ToArray()) }),
                S(400, 403, 403, 403, 403, 403)),
            new("POST", "/api/v1/packages/fetch", Send(post, "api/v1/packages/fetch", """{"packages":[],"distro":"","architecture":""}"""), S(400, 403, 403, 403, 403, 403)),

            // ---- trust ------------------------------------------------------------------------------------------------------
            new("POST", "/api/v1/tokens", (p, _) => Task.FromResult(new HttpRequestMessage(HttpMethod.Post, "api/v1/tokens")
            {
                Content = JsonContent.Create(new TokenCreateRequest($"self-{p.ToString().ToLowerInvariant()}")),
            }), S(201, 201, 201, 201, 201, 201)),
            new("POST", "/api/v1/tokens/{name}/rotate", Send(post, "api/v1/tokens/victim/rotate"), S(200, 404, 404, 404, 404, 404)),
            new("POST", "/api/v1/tokens/{name}/revoke", Send(post, "api/v1/tokens/victim/revoke"), S(200, 404, 404, 404, 404, 404)),
            new("POST", "/api/v1/teams", Send(post, "api/v1/teams", """{"name":"scratch"}"""), S(201, 403, 403, 403, 403, 403)),
            new("POST", "/api/v1/grants", async (_, _) =>
            {
                await Task.CompletedTask;
                return new HttpRequestMessage(HttpMethod.Post, "api/v1/grants") { Content = JsonContent.Create(new GrantRequest("scratch", ["read"], new ScopeView(Customers: ["globex"]), "matrix")) };
            }, S(201, 403, 403, 403, 403, 403), (_, j) => scratchGrant = j.GetProperty("id").GetInt64()),
            new("POST", "/api/v1/grants/{id}/revoke", (_, _) => Task.FromResult(new HttpRequestMessage(HttpMethod.Post, $"api/v1/grants/{(scratchGrant == 0 ? 424242 : scratchGrant)}/revoke?message=done")),
                S(200, 403, 403, 403, 403, 403)),
            new("PUT", "/api/v1/teams/{name}/members/{operator}", Send(put, "api/v1/teams/scratch/members/nobody"), S(200, 403, 403, 403, 403, 403)),
            new("DELETE", "/api/v1/teams/{name}/members/{operator}", Send(del, "api/v1/teams/scratch/members/nobody"), S(200, 403, 403, 403, 403, 403)),
            new("DELETE", "/api/v1/teams/{name}", Send(del, "api/v1/teams/scratch"), S(204, 403, 403, 403, 403, 403)),
        ];
    }

    [Fact]
    public async Task Every_endpoint_answers_every_persona_as_declared_and_lists_show_exactly_their_rows()
    {
        var clock = Stopwatch.StartNew();
        var table = Table();
        var declared = table.Select(c => (c.Method, c.Route)).ToHashSet();
        var endpoints = Gateway.Server.OperatorRouteEndpoints
            .Where(e => !(e.RoutePattern.RawText ?? "").StartsWith("/openapi", StringComparison.Ordinal)) // the API's documentation, open to any token
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Method: m, Route: e.RoutePattern.RawText ?? "")))
            .ToHashSet();
        var undeclared = endpoints.Except(declared).ToList();
        Assert.True(undeclared.Count == 0, $"endpoints without a declared right in the authorization matrix: {string.Join(", ", undeclared.Select(e => $"{e.Method} {e.Route}"))}");
        var stale = declared.Except(endpoints).ToList();
        Assert.True(stale.Count == 0, $"the matrix declares endpoints the gateway does not have: {string.Join(", ", stale.Select(e => $"{e.Method} {e.Route}"))}");

        var failures = new List<string>();
        // Expired and revoked tokens first: refused everywhere, before anything else has happened.
        foreach (var persona in new[] { Persona.Expired, Persona.Revoked })
        {
            using var client = Gateway.Client(persona);
            foreach (var cell in table)
            {
                using var request = await cell.Request(persona, client);
                using var response = await client.SendAsync(request);
                if (response.StatusCode != HttpStatusCode.Unauthorized)
                    failures.Add($"{cell.Method} {cell.Route} as {persona}: {(int)response.StatusCode}, expected 401");
            }
        }
        var clients = Order.ToDictionary(p => p, Gateway.Client);
        try
        {
            foreach (var cell in table)
            {
                foreach (var persona in Order)
                {
                    var client = clients[persona];
                    using var request = await cell.Request(persona, client);
                    var path = request.RequestUri;
                    using var response = await client.SendAsync(request);
                    var body = await response.Content.ReadAsStringAsync();
                    if ((int)response.StatusCode != cell.Expected(persona))
                    {
                        failures.Add($"{cell.Method} {cell.Route} ({path}) as {persona}: {(int)response.StatusCode}, expected {cell.Expected(persona)}: {Trim(body)}");
                        continue;
                    }
                    if (cell.Rows is not null && response.IsSuccessStatusCode)
                    {
                        try
                        {
                            cell.Rows(persona, JsonDocument.Parse(body).RootElement);
                        }
                        catch (Exception e) when (e is Xunit.Sdk.XunitException or KeyNotFoundException or InvalidOperationException)
                        {
                            failures.Add($"{cell.Method} {cell.Route} as {persona}: rows: {e.Message}");
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var client in clients.Values)
                client.Dispose();
        }
        output.WriteLine($"{table.Count} endpoints x {Order.Length + 2} personas in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.Count == 0, $"{failures.Count} cell(s) differ:\n{string.Join("\n", failures)}");
    }

    private static string Trim(string body) => body.Length > 300 ? body[..300] + "..." : body;

    /// <summary>A probe of an object the persona may not see, and the same probe of a name that exists nowhere.</summary>
    public static TheoryData<Persona, string, string, string> InvisibleProbes => new()
    {
        { Persona.Globex, "GET", "api/v1/devices/{0}", "shop-web-1" },
        { Persona.Globex, "GET", "api/v1/devices/{0}/log", "shop-web-1" },
        { Persona.Globex, "GET", "api/v1/devices/{0}/decommission-plan", "shop-web-1" },
        { Persona.Globex, "POST", "api/v1/devices/{0}/poke", "shop-web-1" },
        { Persona.Globex, "POST", "api/v1/devices/{0}/enrollment-token", "shop-web-1" },
        { Persona.AcmeContent, "GET", "api/v1/devices/{0}", "blog-web-1" },
        { Persona.AcmeContent, "GET", "api/v1/devices/{0}", "infra-1" },
        { Persona.AcmeRead, "GET", "api/v1/devices/{0}", "store-web-1" },
        { Persona.AcmeRead, "GET", "api/v1/devices/{0}/log", "store-db-1" },
        { Persona.AcmeContent, "GET", "api/v1/queues/{0}", "store-queue" },
        { Persona.AcmeRead, "GET", "api/v1/queues/{0}", "store-queue" },
        { Persona.AcmeContent, "GET", "api/v1/rollouts/{0}", "store-rollout" },
        { Persona.AcmeRead, "GET", "api/v1/rollouts/{0}", "store-rollout" },
    };

    [Theory]
    [MemberData(nameof(InvisibleProbes))]
    public async Task An_invisible_object_is_answered_word_for_word_like_one_that_does_not_exist(Persona persona, string method, string route, string name)
    {
        name = name switch { "store-queue" => fixture.StoreQueue, "store-rollout" => fixture.StoreRollout, _ => name };
        const string Ghost = "ghost-0000000000";
        using var client = Gateway.Client(persona);
        async Task<(int Status, string Code, string Message, string Hint)> ProbeAsync(string target)
        {
            using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), string.Format(System.Globalization.CultureInfo.InvariantCulture, route, target)));
            var error = await TrustedGateway.ErrorOfAsync(response);
            string Text(string p) => (error.TryGetProperty(p, out var v) ? v.GetString() ?? "" : "").Replace(target, "NAME", StringComparison.Ordinal);
            return ((int)response.StatusCode, Text("code"), Text("message"), Text("hint"));
        }
        var invisible = await ProbeAsync(name);
        var missing = await ProbeAsync(Ghost);
        Assert.Equal(404, invisible.Status);
        Assert.Equal(missing, invisible);
    }
}
