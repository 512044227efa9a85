using System.Collections;
using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;
using Dapper;
using Npgsql;

namespace Rig.Server.Store;

/// <summary>The statements of one transaction. When <c>pipelined</c> (PostgreSQL, the group writer's fast path), writes
/// are held back and sent together with the next read, or at <see cref="FlushAsync"/> before the commit, in one
/// <see cref="NpgsqlBatch"/>: one network round trip where there were several. A read always sees every earlier write
/// of the transaction, so the result is the same as running each statement at once; only an error surfaces later (the
/// group writer then runs the batch again statement by statement, see <see cref="GroupCommit"/>). Otherwise (SQLite
/// is in-process; operator paths) every statement runs at once through Dapper.</summary>
internal sealed class Statements(DbConnection connection, DbTransaction? transaction, bool pipelined = false)
{
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> ParameterProperties = new();
    private readonly List<NpgsqlBatchCommand> _pending = [];

    /// <summary>The connection (for statements that need it directly).</summary>
    public DbConnection Connection => connection;

    /// <summary>The transaction, if any.</summary>
    public DbTransaction? Transaction => transaction;

    /// <summary>Run a write; <paramref name="param"/> may be a list (one execution per element, as in Dapper).</summary>
    public Task ExecuteAsync(string sql, object? param, CancellationToken ct)
    {
        var count = param is IEnumerable many and not string and not IDictionary<string, object?> ? many.Cast<object?>().Count() : 1;
        StoreCounters.Statement(count, pipelined ? 0 : count); // Dapper runs a list one execution (one round trip) per element
        if (!pipelined)
            return connection.ExecuteAsync(new CommandDefinition(sql, param, transaction, cancellationToken: ct));
        if (param is IEnumerable list and not string and not IDictionary<string, object?>)
        {
            foreach (var each in list)
                _pending.Add(Batched(sql, each));
        }
        else
        {
            _pending.Add(Batched(sql, param));
        }
        return Task.CompletedTask;
    }

    /// <summary>Run a read (after any writes held back, in the same round trip).</summary>
    public async Task<List<T>> QueryAsync<T>(string sql, object? param, CancellationToken ct)
    {
        StoreCounters.Statement(1, 1); // pipelined: the writes held back ride in this round trip
        if (!pipelined)
            return (await connection.QueryAsync<T>(new CommandDefinition(sql, param, transaction, cancellationToken: ct)).ConfigureAwait(false)).AsList();
        await using var batch = new NpgsqlBatch((NpgsqlConnection)connection, (NpgsqlTransaction?)transaction);
        foreach (var write in _pending)
            batch.BatchCommands.Add(write);
        _pending.Clear();
        batch.BatchCommands.Add(Batched(sql, param));
        await using var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var rows = await ReadAsync<T>(reader, ct).ConfigureAwait(false);
        while (await reader.NextResultAsync(ct).ConfigureAwait(false))
        {
        }
        return rows;
    }

    /// <summary>Two independent reads in one round trip (after any writes held back); without pipelining, one after the
    /// other. <paramref name="second"/> null: only the first runs.</summary>
    public async Task<(List<T1> First, List<T2> Second)> QueryAsync<T1, T2>(string first, object? firstParam, string? second, object? secondParam, CancellationToken ct)
    {
        if (!pipelined || second is null)
        {
            var one = await QueryAsync<T1>(first, firstParam, ct).ConfigureAwait(false);
            return (one, second is null ? [] : await QueryAsync<T2>(second, secondParam, ct).ConfigureAwait(false));
        }
        StoreCounters.Statement(2, 1);
        await using var batch = new NpgsqlBatch((NpgsqlConnection)connection, (NpgsqlTransaction?)transaction);
        foreach (var write in _pending)
            batch.BatchCommands.Add(write);
        _pending.Clear();
        batch.BatchCommands.Add(Batched(first, firstParam));
        batch.BatchCommands.Add(Batched(second, secondParam));
        await using var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        var a = await ReadAsync<T1>(reader, ct).ConfigureAwait(false);
        if (!await reader.NextResultAsync(ct).ConfigureAwait(false))
            throw new InvalidOperationException("The second read of a batch returned no result set.");
        var b = await ReadAsync<T2>(reader, ct).ConfigureAwait(false);
        while (await reader.NextResultAsync(ct).ConfigureAwait(false))
        {
        }
        return (a, b);
    }

    /// <summary>The rows of the current result set (skipping those of writes, which have no columns).</summary>
    private static async Task<List<T>> ReadAsync<T>(DbDataReader reader, CancellationToken ct)
    {
        while (reader.FieldCount == 0 && await reader.NextResultAsync(ct).ConfigureAwait(false))
        {
        }
        var rows = new List<T>();
        var parse = reader.GetRowParser<T>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
            rows.Add(parse(reader));
        return rows;
    }

    /// <summary>Several reads in one round trip, after any writes held back; <paramref name="each"/> gets each read's
    /// index and its result set, in order. PostgreSQL only (the batched exchange path).</summary>
    public async Task ReadManyAsync(IReadOnlyList<(string Sql, object? Param)> reads, Action<int, DbDataReader> each, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch((NpgsqlConnection)connection, (NpgsqlTransaction?)transaction);
        foreach (var write in _pending)
            batch.BatchCommands.Add(write);
        _pending.Clear();
        foreach (var (sql, param) in reads)
            batch.BatchCommands.Add(Batched(sql, param));
        await using var reader = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
        for (var i = 0; i < reads.Count; i++)
        {
            while (reader.FieldCount == 0)
            {
                if (!await reader.NextResultAsync(ct).ConfigureAwait(false))
                    throw new InvalidOperationException($"Read {i + 1} of {reads.Count} of a batch returned no result set.");
            }
            each(i, reader);
            if (!await reader.NextResultAsync(ct).ConfigureAwait(false) && i < reads.Count - 1)
                throw new InvalidOperationException($"Read {i + 2} of {reads.Count} of a batch returned no result set.");
        }
    }

    /// <summary>The rows of the reader's current result set (synchronously: the batch's rows are already buffered).</summary>
    public static List<T> Rows<T>(DbDataReader reader)
    {
        var rows = new List<T>();
        var parse = reader.GetRowParser<T>();
        while (reader.Read())
            rows.Add(parse(reader));
        return rows;
    }

    /// <summary>One row or none (more than one is a bug in the query).</summary>
    public async Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? param, CancellationToken ct)
    {
        var rows = await QueryAsync<T>(sql, param, ct).ConfigureAwait(false);
        return rows.Count switch
        {
            0 => default,
            1 => rows[0],
            _ => throw new InvalidOperationException($"Expected at most one row, got {rows.Count}: {sql}"),
        };
    }

    /// <summary>Send the writes held back (before the commit).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        if (_pending.Count == 0)
            return;
        StoreCounters.Statement(0, 1);
        await using var batch = new NpgsqlBatch((NpgsqlConnection)connection, (NpgsqlTransaction?)transaction);
        foreach (var write in _pending)
            batch.BatchCommands.Add(write);
        _pending.Clear();
        await batch.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>A batch command with the members of <paramref name="param"/> as named parameters (as Dapper binds them).</summary>
    private static NpgsqlBatchCommand Batched(string sql, object? param)
    {
        var command = new NpgsqlBatchCommand(sql);
        if (param is null)
            return command;
        if (param is IDictionary<string, object?> named)
        {
            foreach (var (name, value) in named)
                command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
            return command;
        }
        foreach (var property in ParameterProperties.GetOrAdd(param.GetType(), t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)))
            command.Parameters.Add(new NpgsqlParameter(property.Name, property.GetValue(param) ?? DBNull.Value));
        return command;
    }
}

/// <summary>Statements and database round trips run through <see cref="Statements"/> since the process started (every
/// exchange and group commit goes through it; operator paths that use Dapper directly are not counted). For SQLite,
/// in-process, a "round trip" is one call into the engine. The commit of a transaction is not counted here: it is
/// <see cref="StoreStats.Commits"/>. Read by the dispatch benchmark (per exchange, per group-commit batch) and exported
/// as <c>rig.store.statements</c> and <c>rig.store.round_trips</c>.</summary>
internal static class StoreCounters
{
    private static long _statements;
    private static long _roundTrips;

    /// <summary>SQL statements executed (a write of a list counts each element).</summary>
    public static long Statements => Interlocked.Read(ref _statements);

    /// <summary>Database round trips (a pipelined batch of statements is one).</summary>
    public static long RoundTrips => Interlocked.Read(ref _roundTrips);

    internal static void Statement(int statements, int roundTrips)
    {
        Interlocked.Add(ref _statements, statements);
        if (roundTrips != 0)
            Interlocked.Add(ref _roundTrips, roundTrips);
    }
}
