using System.Data.Common;
using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Rig.Server.Store;

/// <summary>Which SQL engine a store runs on.</summary>
internal enum StoreEngine
{
    /// <summary>Embedded default: one file, WAL mode.</summary>
    Sqlite,
    /// <summary>Shared database for larger installations.</summary>
    Postgres,
}

/// <summary>The gateway's database: one schema with migrations on SQLite (WAL) or PostgreSQL, chosen by the
/// connection string (<c>Data Source=...</c> is SQLite, <c>Host=...</c> is PostgreSQL). Split into partial
/// files by concern: model, packages, trust, devices, queues.</summary>
internal sealed partial class RigStore : IAsyncDisposable
{
    private readonly NpgsqlDataSource? _postgres;
    private readonly string? _sqlite;
    // SQLite allows one writer; queueing writers here avoids busy-wait retries inside SQLite.
    private readonly SemaphoreSlim _sqliteWriter = new(1, 1);
    private readonly TimeProvider _clock;
    private readonly GroupCommit _groupCommit;
    private readonly int _answerBudget = Rig.Protocol.RigLimits.Default.MaxAnswerBytes;
    private readonly int _installsPerAnswer = Rig.Protocol.RigLimits.Default.MaxInstallsPerAnswer;

    private RigStore(StoreEngine engine, string? sqlite, NpgsqlDataSource? postgres, TimeProvider clock)
    {
        Engine = engine;
        _sqlite = sqlite;
        _postgres = postgres;
        _clock = clock;
        _groupCommit = new GroupCommit(this, postgres is null ? 1 : WriterLanes);
    }

    /// <summary>Group-commit writers on PostgreSQL (SQLite has one writer at a time anyway). Overridable for
    /// measurements with RIG_STORE_LANES.</summary>
    private static int WriterLanes => int.TryParse(Environment.GetEnvironmentVariable("RIG_STORE_LANES"), out var n) && n is >= 1 and <= 64 ? n : Math.Clamp(2 * Environment.ProcessorCount, 2, 16);

    /// <summary>Exchanges, commits and group-commit batches so far.</summary>
    public StoreStats Stats => _groupCommit.Stats;

    /// <summary>The engine in use.</summary>
    public StoreEngine Engine { get; }

    /// <summary>Open a store and bring its schema up to date.</summary>
    public static async Task<RigStore> OpenAsync(string connectionString, TimeProvider? clock = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var store = DetectEngine(connectionString) switch
        {
            StoreEngine.Postgres => new RigStore(StoreEngine.Postgres, null, new NpgsqlDataSourceBuilder(PreparePostgres(connectionString)).Build(), clock ?? TimeProvider.System),
            _ => new RigStore(StoreEngine.Sqlite, PrepareSqlite(connectionString), null, clock ?? TimeProvider.System),
        };
        try
        {
            await store.MigrateAsync(ct).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>True for a database error that waiting can fix: the server cannot be reached, cut the connection, or
    /// is starting up or recovering (SQLSTATE 57P03, and what Npgsql marks transient). Not for SQL errors, bad
    /// credentials or a bad connection string.</summary>
    public static bool IsTransient(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is PostgresException postgres)
                return postgres.IsTransient || postgres.SqlState is "57P03" or "57P01" or "57P02";
            if (inner is NpgsqlException { IsTransient: true } or System.Net.Sockets.SocketException or TimeoutException)
                return true;
        }
        return false;
    }

    /// <summary>PostgreSQL when the connection string names a host, else SQLite.</summary>
    public static StoreEngine DetectEngine(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return builder.ContainsKey("Host") || builder.ContainsKey("Server") ? StoreEngine.Postgres : StoreEngine.Sqlite;
    }

    /// <summary>The exchange runs the same dozen statements over and over: let Npgsql prepare them on the server
    /// (unless the operator's connection string says otherwise).</summary>
    private static string PreparePostgres(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase))
        {
            builder.MaxAutoPrepare = 64;
            builder.AutoPrepareMinUsages = 2;
        }
        return builder.ToString();
    }

    private static string PrepareSqlite(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString)
        {
            Pooling = true,
            DefaultTimeout = 30,
            ForeignKeys = true,
        };
        if (builder.DataSource is { Length: > 0 } path && path != ":memory:")
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        return builder.ToString();
    }

    /// <summary>Current time in Unix milliseconds, from the injected clock.</summary>
    internal long NowMs => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Open a connection (pooled).</summary>
    internal async Task<DbConnection> OpenConnectionAsync(CancellationToken ct)
    {
        if (_postgres is not null)
            return await _postgres.OpenConnectionAsync(ct).ConfigureAwait(false);
        var connection = new SqliteConnection(_sqlite);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Run <paramref name="work"/> in one transaction; committed when it returns, rolled back on
    /// any exception (CHECKLIST 19). On SQLite writers are serialised in-process and take the write lock up front.</summary>
    internal async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct)
    {
        var locked = false;
        if (Engine == StoreEngine.Sqlite)
        {
            await _sqliteWriter.WaitAsync(ct).ConfigureAwait(false);
            locked = true;
        }
        try
        {
            await using var connection = await OpenConnectionAsync(ct).ConfigureAwait(false);
            await using var tx = connection is SqliteConnection sqlite
                ? sqlite.BeginTransaction(deferred: false)
                : await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            var result = await work(connection, tx).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            _groupCommit.CountCommit();
            return result;
        }
        finally
        {
            if (locked)
                _sqliteWriter.Release();
        }
    }

    /// <summary>Run a read on its own connection.</summary>
    internal async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken ct)
    {
        await using var connection = await OpenConnectionAsync(ct).ConfigureAwait(false);
        return await work(connection).ConfigureAwait(false);
    }

    /// <summary>Row lock suffix for a SELECT that will be updated (PostgreSQL only; SQLite's writer lock covers it).</summary>
    internal string ForUpdate => Engine == StoreEngine.Postgres ? " FOR UPDATE" : "";

    /// <summary>Schema version after migrations.</summary>
    public async Task<long> SchemaVersionAsync(CancellationToken ct = default) =>
        await ReadAsync(c => c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken: ct)), ct).ConfigureAwait(false);

    private async Task MigrateAsync(CancellationToken ct)
    {
        if (Engine == StoreEngine.Sqlite)
        {
            await using var connection = await OpenConnectionAsync(ct).ConfigureAwait(false);
            // WAL: readers never block the writer. synchronous=FULL: an acknowledged result survives power loss.
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;").ConfigureAwait(false);
        }

        var folder = Engine == StoreEngine.Postgres ? "postgres" : "sqlite";
        var assembly = typeof(RigStore).Assembly;
        var prefix = $"{assembly.GetName().Name}.Store.Migrations.{folder}.";
        var migrations = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => (Name: n[prefix.Length..], Resource: n))
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .ToList();

        await WriteAsync(async (c, tx) =>
        {
            if (Engine == StoreEngine.Postgres)
                await c.ExecuteAsync("SELECT pg_advisory_xact_lock(7353411)", transaction: tx).ConfigureAwait(false); // several gateways starting at once
            await c.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)", transaction: tx).ConfigureAwait(false);
            var applied = (await c.QueryAsync<long>("SELECT version FROM schema_migrations", transaction: tx).ConfigureAwait(false)).ToHashSet();
            foreach (var (name, resource) in migrations)
            {
                var version = long.Parse(name.AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture);
                if (applied.Contains(version))
                    continue;
                var sql = await ReadResourceAsync(assembly, resource).ConfigureAwait(false);
                await c.ExecuteAsync(sql, transaction: tx).ConfigureAwait(false);
                await c.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @now)", new { version, name, now = NowMs }, tx).ConfigureAwait(false);
            }
            return 0;
        }, ct).ConfigureAwait(false);
    }

    private static async Task<string> ReadResourceAsync(Assembly assembly, string name)
    {
        await using var stream = assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"Migration resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _groupCommit.DisposeAsync().ConfigureAwait(false);
        if (_postgres is not null)
            await _postgres.DisposeAsync().ConfigureAwait(false);
        if (_sqlite is not null)
            SqliteConnection.ClearPool(new SqliteConnection(_sqlite));
        _sqliteWriter.Dispose();
    }
}
