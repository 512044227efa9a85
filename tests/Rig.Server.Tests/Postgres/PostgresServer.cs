using Rig.Testing;

namespace Rig.Server.Tests.Postgres;

/// <summary>Every PostgreSQL test of the assembly shares one throwaway server (<see cref="PostgresServer"/>).</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    /// <summary>Collection name for <c>[Collection(PostgresCollection.Name)]</c>.</summary>
    public const string Name = "postgres";
}

/// <summary>The tests' throwaway PostgreSQL server (fsync off; see <see cref="PostgresCluster"/>), one fresh
/// database per test. Missing binaries fail the tests, never skip them.</summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly PostgresCluster _cluster = new(durable: false);

    /// <summary>The loopback TCP port the server listens on.</summary>
    public int Port => _cluster.Port;

    /// <summary>The server's version.</summary>
    public string ServerVersion => _cluster.ServerVersion;

    /// <summary>Create a fresh, empty database and return its name.</summary>
    public Task<string> CreateDatabaseAsync() => _cluster.CreateDatabaseAsync();

    /// <summary>Drop a database made by <see cref="CreateDatabaseAsync"/>.</summary>
    public Task DropDatabaseAsync(string name) => _cluster.DropDatabaseAsync(name);

    /// <summary>Connection string for <paramref name="database"/>.</summary>
    public string ConnectionString(string database) => _cluster.ConnectionString(database);

    public Task InitializeAsync() => _cluster.StartClusterAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();
}
