using Rig.Testing;

namespace Rig.Server.Tests.Postgres;

/// <summary>A gateway started while its PostgreSQL is down (or still recovering) waits for it instead of exiting: a
/// gateway and its database started together, or the database restarting after a crash, need nobody to restart the
/// gateway (CHECKLIST 18, 19).</summary>
public sealed class DatabaseStartupTests : IAsyncLifetime
{
    private readonly PostgresCluster _cluster = new();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-dbstart-{Guid.NewGuid():n}");

    public Task InitializeAsync() => _cluster.StartClusterAsync();

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_gateway_started_while_postgresql_is_down_starts_once_the_database_is_back()
    {
        var database = await _cluster.CreateDatabaseAsync();
        var options = new ServerOptions
        {
            DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None",
            ConnectionString = _cluster.ConnectionString(database),
        };
        await GatewayServer.InitializeAsync(options);
        await _cluster.StopImmediateAsync();

        var starting = GatewayServer.StartAsync(options);
        await Task.Delay(TimeSpan.FromSeconds(3)); // several attempts against a closed port
        Assert.False(starting.IsCompleted, starting.Exception?.ToString() ?? "the gateway must wait for its database");
        await _cluster.StartAgainAsync();

        await using var server = await starting.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Null(await server.Store.GetLatestQueueAsync("web-1")); // the store answers: migrated and connected
    }

    [Fact]
    public async Task Readiness_says_not_ready_while_postgresql_is_down_and_ready_again_when_it_is_back()
    {
        var database = await _cluster.CreateDatabaseAsync();
        var options = new ServerOptions
        {
            DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None",
            ConnectionString = _cluster.ConnectionString(database),
        };
        await GatewayServer.InitializeAsync(options);
        await using var server = await GatewayServer.StartAsync(options);
        var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(server.Authority.Certificate.RawData);
        var policy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
        {
            TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
            RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(ca);
        using var client = new HttpClient(new SocketsHttpHandler { SslOptions = new() { CertificateChainPolicy = policy } }) { BaseAddress = server.ApiUrl };

        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("readyz")).StatusCode);
        await _cluster.StopImmediateAsync();
        using (var down = await client.GetAsync("readyz"))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.Equal("not ready: the database does not answer\n", await down.Content.ReadAsStringAsync());
        }
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("healthz")).StatusCode); // the process itself answers
        await _cluster.StartAgainAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await client.GetAsync("readyz")).StatusCode != System.Net.HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, "not ready 60 s after PostgreSQL is back");
            await Task.Delay(200);
        }
    }
}
