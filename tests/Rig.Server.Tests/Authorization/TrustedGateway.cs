using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Security;

namespace Rig.Server.Tests.Authorization;

/// <summary>The operators of the shared hosting gateway the authorization tests run against.</summary>
public enum Persona
{
    /// <summary>The init token: everything.</summary>
    Admin,
    /// <summary>Provider OS team: read, plan, edit, approve, rollout on kinds [os], every customer.</summary>
    Os,
    /// <summary>acme's content team: read, plan, edit, rollout on sites [shop] kinds [content].</summary>
    AcmeContent,
    /// <summary>acme read-only: read on customers [acme].</summary>
    AcmeRead,
    /// <summary>globex's operator: read, edit, rollout on customers [globex].</summary>
    Globex,
    /// <summary>An operator in no team.</summary>
    Nobody,
    /// <summary>A token whose expiry has passed.</summary>
    Expired,
    /// <summary>A revoked token.</summary>
    Revoked,
}

/// <summary>A real gateway (TLS, SQLite or PostgreSQL) seeded with the provider's site <c>infra</c>, customer acme
/// (sites shop, blog) and customer globex (site store), an <c>os</c> role on every device, a content role per customer
/// site, links; and one token per <see cref="Persona"/>, all made through the API as admin (the expired token is
/// written to the store with an expiry in the past: deterministic, no waiting).</summary>
internal sealed class TrustedGateway : IAsyncDisposable
{
    public static readonly string[] AllDevices = ["infra-1", "shop-web-1", "shop-web-2", "shop-db-1", "blog-web-1", "store-web-1", "store-db-1"];
    public static readonly string[] ShopDevices = ["shop-db-1", "shop-web-1", "shop-web-2"];
    public static readonly string[] AcmeDevices = ["blog-web-1", "shop-db-1", "shop-web-1", "shop-web-2"];
    public static readonly string[] GlobexDevices = ["store-db-1", "store-web-1"];

    private readonly string _dir;
    private readonly string? _connectionString;
    private readonly Dictionary<Persona, string> _tokens = [];

    private TrustedGateway(string dir, string? connectionString)
    {
        _dir = dir;
        _connectionString = connectionString;
    }

    public GatewayServer Server { get; private set; } = null!;

    /// <summary>Grant ids by team, as made at seeding.</summary>
    public Dictionary<string, long> GrantIds { get; } = new(StringComparer.Ordinal);

    public ServerOptions Options => new() { DataDirectory = _dir, ConnectionString = _connectionString, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };

    /// <summary>Start a gateway and seed it (model, teams, grants, tokens).</summary>
    public static async Task<TrustedGateway> StartAsync(string? connectionString = null)
    {
        var gateway = new TrustedGateway(Path.Combine(Path.GetTempPath(), $"rig-authz-{Guid.NewGuid():n}"), connectionString);
        var options = gateway.Options;
        gateway._tokens[Persona.Admin] = await GatewayServer.InitializeAsync(options);
        gateway.Server = await GatewayServer.StartAsync(options);
        await gateway.SeedAsync();
        return gateway;
    }

    /// <summary>Stop the gateway and start it again on the same data (rollouts resume from the database).</summary>
    public async Task RestartAsync(Func<Rig.Server.Store.RigStore, Task>? whileDown = null)
    {
        await Server.DisposeAsync();
        if (whileDown is not null)
        {
            await using var store = await Rig.Server.Store.RigStore.OpenAsync(Options.EffectiveConnectionString);
            await whileDown(store);
        }
        Server = await GatewayServer.StartAsync(Options);
    }

    public string Token(Persona persona) => _tokens[persona];

    public static RigModel SeedModel()
    {
        static Device D(string name, string site, string tier) => new() { Name = name, Site = site, Tier = tier };
        static Role Content(string name, string customer, string site) => new()
        {
            Name = name, Kind = BuiltInRoleKinds.Content, Customer = customer,
            Items = [new FileItem($"/srv/{site}/index.html", $"{site}-index")],
            Parameters = new Dictionary<string, string> { ["title"] = $"{site} home" },
        };
        return new RigModel
        {
            Customers = [new Customer { Name = "acme" }, new Customer { Name = "globex" }],
            Sites = [new Site { Name = "infra" }, new Site { Name = "shop", Customer = "acme" }, new Site { Name = "blog", Customer = "acme" }, new Site { Name = "store", Customer = "globex" }],
            Devices =
            [
                D("infra-1", "infra", "mgmt"), D("shop-web-1", "shop", "web"), D("shop-web-2", "shop", "web"), D("shop-db-1", "shop", "db"),
                D("blog-web-1", "blog", "web"), D("store-web-1", "store", "web"), D("store-db-1", "store", "db"),
            ],
            Links =
            [
                new Interconnection { From = "shop-web-1", To = "shop-db-1", Purpose = "sql", Port = 5432 },
                new Interconnection { From = "shop-web-2", To = "shop-db-1", Purpose = "sql", Port = 5432 },
                new Interconnection { From = "store-web-1", To = "store-db-1", Purpose = "sql", Port = 5432 },
            ],
            Roles =
            [
                new Role { Name = "base-os", Kind = BuiltInRoleKinds.Os, Items = [new FileItem("/etc/motd", "motd")] },
                Content("shop-content", "acme", "shop"), Content("blog-content", "acme", "blog"), Content("store-content", "globex", "store"),
            ],
            Assignments =
            [
                .. AllDevices.Select(d => new RoleAssignment(d, "base-os")),
                new RoleAssignment("shop-web-1", "shop-content"), new RoleAssignment("shop-web-2", "shop-content"),
                new RoleAssignment("blog-web-1", "blog-content"), new RoleAssignment("store-web-1", "store-content"),
            ],
            Templates =
            [
                new ConfigTemplate("motd", "managed by rig\n"),
                new ConfigTemplate("shop-index", "<h1>{{ params.title }}</h1>\n"),
                new ConfigTemplate("blog-index", "<h1>{{ params.title }}</h1>\n"),
                new ConfigTemplate("store-index", "<h1>{{ params.title }}</h1>\n"),
            ],
        };
    }

    private async Task SeedAsync()
    {
        using var admin = Client(Persona.Admin);
        await Ok(await admin.PutAsync("api/v1/model?message=seed", ModelContent(SeedModel())));
        await MakePersonaAsync(admin, Persona.Os, "provider-os", ["read", "plan", "edit", "approve", "rollout"], new ScopeView(Kinds: ["os"]));
        await MakePersonaAsync(admin, Persona.AcmeContent, "acme-content", ["read", "plan", "edit", "rollout"], new ScopeView(Sites: ["shop"], Kinds: ["content"]));
        await MakePersonaAsync(admin, Persona.AcmeRead, "acme-readonly", ["read"], new ScopeView(Customers: ["acme"]));
        await MakePersonaAsync(admin, Persona.Globex, "globex-ops", ["read", "edit", "rollout"], new ScopeView(Customers: ["globex"]));
        _tokens[Persona.Nobody] = (await CreateTokenAsync(admin, new TokenCreateRequest("nobody-token", "nobody"))).Secret;
        _tokens[Persona.Revoked] = (await CreateTokenAsync(admin, new TokenCreateRequest("revoked-token", "globex-op", "globex-ops"))).Secret;
        await Ok(await admin.PostAsync("api/v1/tokens/revoked-token/revoke", null));
        var expired = Tokens.Create("rigop_");
        Assert.Null(await Server.Store.CreateOperatorTokenAsync(Tokens.Hash(expired), "expired-token", "globex-op", "globex-ops", DateTimeOffset.UtcNow.AddHours(-1), "admin"));
        _tokens[Persona.Expired] = expired;
    }

    /// <summary>The operator name behind a persona's token.</summary>
    public static string OperatorOf(Persona persona) => persona switch
    {
        Persona.Admin => "admin",
        Persona.Os => "olga",
        Persona.AcmeContent => "carla",
        Persona.AcmeRead => "rita",
        Persona.Nobody => "nobody",
        _ => "gus",
    };

    private async Task MakePersonaAsync(HttpClient admin, Persona persona, string team, string[] verbs, ScopeView scope)
    {
        await Ok(await admin.PostAsJsonAsync("api/v1/teams", new TeamCreateRequest(team)));
        var grant = await Ok<GrantView>(await admin.PostAsJsonAsync("api/v1/grants", new GrantRequest(team, verbs, scope, $"seed {team}")));
        GrantIds[team] = grant.Id;
        var operatorName = OperatorOf(persona);
        _tokens[persona] = (await CreateTokenAsync(admin, new TokenCreateRequest($"{operatorName}-token", operatorName, team))).Secret;
        using var self = Client(persona);
        var whoami = await Ok<WhoAmIView>(await self.GetAsync("api/v1/whoami"));
        Assert.Equal([team], whoami.Teams);
    }

    private static async Task<TokenCreated> CreateTokenAsync(HttpClient admin, TokenCreateRequest request) =>
        await Ok<TokenCreated>(await admin.PostAsJsonAsync("api/v1/tokens", request));

    public HttpClient Client(Persona persona) => Client(_tokens[persona]);

    public HttpClient Client(string? token)
    {
        var ca = X509CertificateLoader.LoadCertificate(Server.Authority.Certificate.RawData);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        var handler = new SocketsHttpHandler { SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy, RemoteCertificateValidationCallback = (_, _, _, e) => e == SslPolicyErrors.None } };
        var client = new HttpClient(handler) { BaseAddress = Server.ApiUrl };
        if (token is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static StringContent ModelContent(RigModel model) => new(JsonSerializer.Serialize(model, ModelJson.Default.RigModel), Encoding.UTF8, "application/json");

    public static async Task<RigModel> ReadModelAsync(HttpResponseMessage response)
    {
        var body = await Ok(response);
        return JsonSerializer.Deserialize(body, ModelJson.Default.RigModel)!;
    }

    public static async Task<string> Ok(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {body}");
        response.Dispose();
        return body;
    }

    public static async Task<T> Ok<T>(HttpResponseMessage response) => JsonSerializer.Deserialize<T>(await Ok(response), JsonSerializerOptions.Web)!;

    /// <summary>The <c>error</c> object of the one error shape.</summary>
    public static async Task<JsonElement> ErrorOfAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        var root = JsonDocument.Parse(body).RootElement;
        Assert.True(root.TryGetProperty("error", out var error), $"not the error shape: {body}");
        return error.Clone();
    }

    public static HttpStatusCode Status(HttpResponseMessage response) => response.StatusCode;

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }
}
