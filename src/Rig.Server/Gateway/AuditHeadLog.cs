using Microsoft.Extensions.Logging;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>Writes the audit log's newest seq and hash to the gateway's log (event 1802) every
/// <see cref="Rig.Protocol.RigLimits.AuditHeadLogInterval"/> and at stop (not at start, where the first line is
/// <c>rig gateway listening</c>, which scripts read). The log lives outside the database (journald, a
/// collector): someone who rewrites the whole tail of the chain, hashes recomputed, still cannot change the heads already
/// logged, so <c>rig audit verify</c>'s head can be compared with them. Time comes from the gateway's
/// <see cref="TimeProvider"/>, so tests move it instead of waiting.</summary>
internal sealed class AuditHeadLog(RigStore store, TimeSpan interval, TimeProvider clock, ILogger logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    /// <summary>Log the head at every interval from now.</summary>
    public void Start() => _loop = RunAsync(_stop.Token);

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, clock, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await LogHeadAsync(stop).ConfigureAwait(false);
        }
    }

    /// <summary>Read the head and log it; a database that does not answer is logged too (event 1804), never thrown.</summary>
    public async Task LogHeadAsync(CancellationToken ct)
    {
        try
        {
            var head = await store.AuditHeadAsync(ct).ConfigureAwait(false);
            ServerLog.AuditHead(logger, head.Seq, head.Hash);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or IOException or TimeoutException)
        {
            ServerLog.AuditHeadUnreadable(logger, e.Message);
        }
    }

    /// <summary>Stop the loop and log the head a last time (call before the store is closed).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        await LogHeadAsync(CancellationToken.None).ConfigureAwait(false);
        _stop.Dispose();
    }
}
