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
}
