using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;

namespace Rig.Server.Store;

/// <summary>Counters of the store, for benchmarks and the status endpoint.</summary>
/// <paramref name="RetriedBatches"/>: batches that failed on the fast path and were run again exchange by exchange.
internal sealed record StoreStats(long Exchanges, long Commits, long Batches, long LargestBatch, long RetriedBatches = 0);

/// <summary>Group commit for exchanges: a writer drains whatever exchanges are waiting into one transaction, commits
/// once, then answers them all. There is no fixed wait: a lone exchange is committed at once; under load, batches grow
/// by themselves. Every answer leaves only after the commit, so an acknowledged result is durable. On PostgreSQL
/// several writers (lanes) run side by side, each owning the devices that hash to it: one database session executes
/// one statement at a time, so a single writer leaves the server's other cores idle. Lanes never touch the same
/// device's rows, so they do not wait on each other's locks.</summary>
internal sealed class GroupCommit : IAsyncDisposable
{
    /// <summary>Most exchanges in one transaction (bounds the time a batch holds the write lock).</summary>
    private const int MaxBatch = 512;

    private readonly RigStore _store;
    private readonly Channel<Work>[] _lanes;
    private readonly Task[] _writers;
    private long _exchanges;
    private long _commits;
    private long _batches;
    private long _largest;
    private long _retried;

    private sealed record Work(string Device, ExchangeRequest Request, int MaxDeliveries, TaskCompletionSource<ExchangeOutcome> Done);

    public GroupCommit(RigStore store, int lanes)
    {
        _store = store;
        _lanes = [.. Enumerable.Range(0, lanes).Select(_ => Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true }))];
        _writers = [.. _lanes.Select(lane => Task.Run(() => RunAsync(lane.Reader)))];
    }

    /// <summary>Writers running side by side.</summary>
    public int Lanes => _lanes.Length;

    public StoreStats Stats => new(Interlocked.Read(ref _exchanges), Interlocked.Read(ref _commits), Interlocked.Read(ref _batches), Interlocked.Read(ref _largest), Interlocked.Read(ref _retried));

    /// <summary>Count a commit made outside the group writer.</summary>
    public void CountCommit() => Interlocked.Increment(ref _commits);

    public Task<ExchangeOutcome> SubmitAsync(string device, ExchangeRequest request, int maxDeliveries, CancellationToken ct)
    {
        var done = new TaskCompletionSource<ExchangeOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lane = _lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(device) % (uint)_lanes.Length)];
        if (!lane.Writer.TryWrite(new Work(device, request, maxDeliveries, done)))
            done.SetException(new ObjectDisposedException(nameof(RigStore), "The store is closing."));
        // The caller may stop waiting; the exchange itself still commits or not as a whole.
        return ct.CanBeCanceled ? done.Task.WaitAsync(ct) : done.Task;
    }

    private async Task RunAsync(ChannelReader<Work> queue)
    {
        var batch = new List<Work>(MaxBatch);
        var results = new List<(Work Work, ExchangeOutcome? Response, Exception? Error)>(MaxBatch);
        while (await queue.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && queue.TryRead(out var work))
                batch.Add(work);
            if (batch.Count == 0)
                continue;
            results.Clear();
            try
            {
                await RunBatchAsync(batch, results, careful: false).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Something failed: an exchange halfway through (a bug, bad data) or the commit itself. Run the batch
                // again with a savepoint per exchange, so that only a failing exchange is undone; if the database
                // itself fails again, nothing of the batch is durable and nobody is told it was.
                results.Clear();
                Interlocked.Increment(ref _retried);
                try
                {
                    await RunBatchAsync(batch, results, careful: true).ConfigureAwait(false);
                }
                catch (Exception again) when (again is not OutOfMemoryException)
                {
                    FailAll(batch, again);
                    continue;
                }
            }
            Interlocked.Add(ref _exchanges, batch.Count);
            Interlocked.Increment(ref _batches);
            InterlockedMax(ref _largest, batch.Count);
            foreach (var (work, response, error) in results)
            {
                if (error is not null)
                    work.Done.TrySetException(error);
                else
                    work.Done.TrySetResult(response!);
            }
        }
    }

    private async Task RunBatchAsync(List<Work> batch, List<(Work Work, ExchangeOutcome? Response, Exception? Error)> results, bool careful)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await _store.WriteAsync(async (c, tx) =>
        {
            // The fast path pipelines PostgreSQL's writes (see Statements); the careful path runs each statement at once,
            // so an error belongs to the exchange that caused it.
            var statements = new Statements(c, tx, pipelined: !careful && _store.Engine == StoreEngine.Postgres);
            if (!careful && _store.Engine == StoreEngine.Postgres)
            {
                // One round trip reads for the whole batch, one carries its writes (with the commit's).
                var outcomes = await _store.ExchangeBatchAsync(statements, [.. batch.Select(w => (w.Device, w.Request, w.MaxDeliveries))], CancellationToken.None).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                    results.Add((batch[i], outcomes[i].Outcome, outcomes[i].Refusal));
            }
            else
            {
                for (var i = 0; i < batch.Count; i++)
                    results.Add(careful ? await RunCarefullyAsync(statements, batch[i], i).ConfigureAwait(false) : await RunOneAsync(statements, batch[i]).ConfigureAwait(false));
            }
            await statements.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        }, CancellationToken.None).ConfigureAwait(false);
        // What every exchange of the batch waited for: the whole transaction, commit (fsync) included.
        var path = new KeyValuePair<string, object?>("path", careful ? "careful" : "fast");
        Gateway.GatewayTelemetry.StoreCommitDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, path);
        Gateway.GatewayTelemetry.StoreCommitExchanges.Record(batch.Count, path);
    }

    private static void FailAll(List<Work> batch, Exception e)
    {
        foreach (var work in batch)
            work.Done.TrySetException(e);
    }

    /// <summary>The fast path: a refusal is raised before the exchange writes anything, so it needs no savepoint.</summary>
    private async Task<(Work, ExchangeOutcome?, Exception?)> RunOneAsync(Statements s, Work work)
    {
        try
        {
            return (work, await _store.ExchangeCoreAsync(s, work.Device, work.Request, work.MaxDeliveries, CancellationToken.None).ConfigureAwait(false), null);
        }
        catch (ExchangeRefusedException e)
        {
            return (work, null, e);
        }
    }

    /// <summary>The slow path after an unexpected failure: each exchange under its own savepoint.</summary>
    private async Task<(Work, ExchangeOutcome?, Exception?)> RunCarefullyAsync(Statements s, Work work, int index)
    {
        var (c, tx) = (s.Connection, s.Transaction);
        var savepoint = $"x{index}";
        await c.ExecuteAsync($"SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
        try
        {
            var response = await _store.ExchangeCoreAsync(s, work.Device, work.Request, work.MaxDeliveries, CancellationToken.None).ConfigureAwait(false);
            await c.ExecuteAsync($"RELEASE SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
            return (work, response, null);
        }
        catch (Exception e) when (e is ExchangeRefusedException or ArgumentException or InvalidOperationException or System.Text.Json.JsonException or DbException)
        {
            await c.ExecuteAsync($"ROLLBACK TO SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
            await c.ExecuteAsync($"RELEASE SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
            return (work, null, e);
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        for (var seen = Interlocked.Read(ref target); value > seen; seen = Interlocked.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
                return;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes)
            lane.Writer.TryComplete();
        await Task.WhenAll(_writers).ConfigureAwait(false);
    }
}
