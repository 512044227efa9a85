using System.Data.Common;
using System.Threading.Channels;
using Dapper;
using Rig.Protocol.Messages;

namespace Rig.Server.Store;

/// <summary>Counters of the store, for benchmarks and the status endpoint.</summary>
public sealed record StoreStats(long Exchanges, long Commits, long Batches, long LargestBatch);

/// <summary>Group commit for exchanges: one writer drains whatever exchanges are waiting into one transaction
/// (each under its own savepoint, so one refused exchange does not undo the others), commits once, then answers
/// them all. There is no fixed wait: a lone exchange is committed at once; under load, batches grow by
/// themselves. Every answer leaves only after the commit, so an acknowledged result is durable.</summary>
internal sealed class GroupCommit : IAsyncDisposable
{
    /// <summary>Most exchanges in one transaction (bounds the time a batch holds the write lock).</summary>
    private const int MaxBatch = 512;

    private readonly RigStore _store;
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private long _exchanges;
    private long _commits;
    private long _batches;
    private long _largest;

    private sealed record Work(string Device, ExchangeRequest Request, int MaxDeliveries, TaskCompletionSource<ExchangeResponse> Done);

    public GroupCommit(RigStore store)
    {
        _store = store;
        _writer = Task.Run(RunAsync);
    }

    public StoreStats Stats => new(Interlocked.Read(ref _exchanges), Interlocked.Read(ref _commits), Interlocked.Read(ref _batches), Interlocked.Read(ref _largest));

    /// <summary>Count a commit made outside the group writer.</summary>
    public void CountCommit() => Interlocked.Increment(ref _commits);

    public Task<ExchangeResponse> SubmitAsync(string device, ExchangeRequest request, int maxDeliveries, CancellationToken ct)
    {
        var done = new TaskCompletionSource<ExchangeResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Work(device, request, maxDeliveries, done)))
            done.SetException(new ObjectDisposedException(nameof(RigStore), "The store is closing."));
        // The caller may stop waiting; the exchange itself still commits or not as a whole.
        return ct.CanBeCanceled ? done.Task.WaitAsync(ct) : done.Task;
    }

    private async Task RunAsync()
    {
        var batch = new List<Work>(MaxBatch);
        var results = new List<(Work Work, ExchangeResponse? Response, Exception? Error)>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var work))
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
            if (batch.Count > Interlocked.Read(ref _largest))
                Interlocked.Exchange(ref _largest, batch.Count);
            foreach (var (work, response, error) in results)
            {
                if (error is not null)
                    work.Done.TrySetException(error);
                else
                    work.Done.TrySetResult(response!);
            }
        }
    }

    private Task RunBatchAsync(List<Work> batch, List<(Work Work, ExchangeResponse? Response, Exception? Error)> results, bool careful) =>
        _store.WriteAsync(async (c, tx) =>
        {
            for (var i = 0; i < batch.Count; i++)
                results.Add(careful ? await RunCarefullyAsync(c, tx, batch[i], i).ConfigureAwait(false) : await RunOneAsync(c, tx, batch[i]).ConfigureAwait(false));
            return 0;
        }, CancellationToken.None);

    private static void FailAll(List<Work> batch, Exception e)
    {
        foreach (var work in batch)
            work.Done.TrySetException(e);
    }

    /// <summary>The fast path: a refusal is raised before the exchange writes anything, so it needs no savepoint.</summary>
    private async Task<(Work, ExchangeResponse?, Exception?)> RunOneAsync(DbConnection c, DbTransaction tx, Work work)
    {
        try
        {
            return (work, await _store.ExchangeCoreAsync(c, tx, work.Device, work.Request, work.MaxDeliveries, CancellationToken.None).ConfigureAwait(false), null);
        }
        catch (GatewayRefusedException e)
        {
            return (work, null, e);
        }
    }

    /// <summary>The slow path after an unexpected failure: each exchange under its own savepoint.</summary>
    private async Task<(Work, ExchangeResponse?, Exception?)> RunCarefullyAsync(DbConnection c, DbTransaction tx, Work work, int index)
    {
        var savepoint = $"x{index}";
        await c.ExecuteAsync($"SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
        try
        {
            var response = await _store.ExchangeCoreAsync(c, tx, work.Device, work.Request, work.MaxDeliveries, CancellationToken.None).ConfigureAwait(false);
            await c.ExecuteAsync($"RELEASE SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
            return (work, response, null);
        }
        catch (Exception e) when (e is GatewayRefusedException or ArgumentException or InvalidOperationException or System.Text.Json.JsonException or DbException)
        {
            await c.ExecuteAsync($"ROLLBACK TO SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
            await c.ExecuteAsync($"RELEASE SAVEPOINT {savepoint}", transaction: tx).ConfigureAwait(false);
            return (work, null, e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }
}
