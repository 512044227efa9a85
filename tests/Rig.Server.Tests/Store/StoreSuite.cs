using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using Rig.Server.Store;
using Rig.Server.Tests.Postgres;

namespace Rig.Server.Tests.Store;

/// <summary>The store's behaviour, proved the same way on every engine: each concrete subclass gives every test
/// a fresh, empty database of its engine (<see cref="SqliteStoreTests"/>, <see cref="PostgresStoreTests"/>).
/// Split by concern: model and packages, trust and devices, queues, concurrency, transactions.</summary>
public abstract partial class StoreSuite : IAsyncLifetime
{
    /// <summary>Delivery cap passed to <see cref="RigStore.ExchangeAsync"/> unless a test is about the cap.</summary>
    protected const int MaxDeliveries = 5;

    private RigStore? _store;

    /// <summary>The store's clock; tests move it by hand.</summary>
    protected ManualClock Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Connection string of this test's own database.</summary>
    protected string ConnectionString { get; private set; } = "";

    /// <summary>The store under test, opened on this test's database.</summary>
    private protected RigStore Store => _store ?? throw new InvalidOperationException("The store is not open.");

    /// <summary>The engine the subclass must produce (guards against a connection string that silently picks the other one).</summary>
    private protected abstract StoreEngine ExpectedEngine { get; }

    /// <summary>Create a fresh, empty database and return its connection string.</summary>
    protected abstract Task<string> CreateDatabaseAsync();

    /// <summary>Remove the database made by <see cref="CreateDatabaseAsync"/>.</summary>
    protected abstract Task DropDatabaseAsync();

    public async Task InitializeAsync()
    {
        ConnectionString = await CreateDatabaseAsync();
        _store = await OpenStoreAsync();
        Assert.Equal(ExpectedEngine, _store.Engine);
    }

    public async Task DisposeAsync()
    {
        if (_store is not null)
            await _store.DisposeAsync();
        await DropDatabaseAsync();
    }

    /// <summary>Open another store on this test's database (as a restarted or second gateway would).</summary>
    private protected Task<RigStore> OpenStoreAsync() => RigStore.OpenAsync(ConnectionString, Clock);

    /// <summary>A raw connection to this test's database, bypassing the store, to look at rows directly.</summary>
    protected async Task<DbConnection> OpenRawAsync()
    {
        DbConnection connection = ExpectedEngine == StoreEngine.Postgres
            ? new NpgsqlConnection(ConnectionString)
            : new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>One number from a raw query.</summary>
    protected async Task<long> ScalarAsync(string sql, object? parameters = null)
    {
        await using var connection = await OpenRawAsync();
        return await connection.ExecuteScalarAsync<long>(sql, parameters);
    }

    /// <summary>Rows from a raw query.</summary>
    protected async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = await OpenRawAsync();
        return [.. await connection.QueryAsync<T>(sql, parameters)];
    }

    /// <summary>A raw statement.</summary>
    protected async Task<int> ExecuteAsync(string sql, object? parameters = null)
    {
        await using var connection = await OpenRawAsync();
        return await connection.ExecuteAsync(sql, parameters);
    }
}

/// <summary>The store suite on SQLite: a new database file in its own temp directory per test.</summary>
public sealed class SqliteStoreTests : StoreSuite
{
    private readonly string _directory = Directory.CreateTempSubdirectory("rig-store-").FullName;

    private protected override StoreEngine ExpectedEngine => StoreEngine.Sqlite;

    protected override Task<string> CreateDatabaseAsync() =>
        Task.FromResult($"Data Source={Path.Combine(_directory, "rig.db")}");

    protected override Task DropDatabaseAsync()
    {
        using (var raw = new SqliteConnection(ConnectionString))
            SqliteConnection.ClearPool(raw); // the raw connections' pool; the store clears its own on dispose
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }
}

/// <summary>The store suite on a real PostgreSQL server: a new database per test on the shared throwaway server.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PostgresServer server) : StoreSuite
{
    private string? _database;

    private protected override StoreEngine ExpectedEngine => StoreEngine.Postgres;

    protected override async Task<string> CreateDatabaseAsync()
    {
        _database = await server.CreateDatabaseAsync();
        return server.ConnectionString(_database);
    }

    protected override async Task DropDatabaseAsync()
    {
        if (_database is not null)
            await server.DropDatabaseAsync(_database);
    }
}
