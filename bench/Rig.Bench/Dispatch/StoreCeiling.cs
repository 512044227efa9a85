using System.Diagnostics;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Bench.Dispatch;

/// <summary>The database's share of dispatch: exchanges straight into the store (no TLS, no HTTP), many devices at
/// once, so the group commit batches them as under real load. What is left above this ceiling is transport.</summary>
internal static class StoreCeiling
{
    /// <summary>What one run of the store alone measured: exchanges per second, and the database work per exchange and
    /// per group-commit batch (statements and round trips through <see cref="StoreCounters"/>).</summary>
    public sealed record Result(double PerSecond, double CommitsPerExchange, double StatementsPerExchange, double RoundTripsPerExchange,
        double StatementsPerBatch, double RoundTripsPerBatch, double ExchangesPerBatch);

    /// <summary>Exchanges per second for <paramref name="devices"/> devices with <paramref name="commands"/> each.</summary>
    public static async Task<Result> MeasureAsync(string connectionString, int devices, int commands, CancellationToken ct)
    {
        await using var store = await RigStore.OpenAsync(connectionString, ct: ct).ConfigureAwait(false);
        var names = Enumerable.Range(0, devices).Select(i => $"c{i:00000}").ToArray();
        var queues = names.Select(n => (n, (IReadOnlyList<NewCommand>)[.. Enumerable.Range(0, commands).Select(i =>
            new NewCommand(Guid.CreateVersion7().ToString("n"), new ServiceCommand($"svc{i}", ServiceAction.Restart), "bench", "os", "bench"))])).ToList();
        await store.CreateQueuesAsync(queues, "store ceiling", 1, ct).ConfigureAwait(false);
        var before = store.Stats;
        var (statementsBefore, roundTripsBefore) = (StoreCounters.Statements, StoreCounters.RoundTrips);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(names.Select(async device =>
        {
            var request = Request(device, null);
            while (true)
            {
                var response = await store.ExchangeAsync(device, request, 5, ct).ConfigureAwait(false);
                if (response.Command is not { } command)
                    return;
                request = Request(device, new CommandResult { CommandId = command.Id, Outcome = CommandOutcome.Succeeded });
            }
        })).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        var after = store.Stats;
        var exchanges = after.Exchanges - before.Exchanges;
        var statements = (double)(StoreCounters.Statements - statementsBefore);
        var roundTrips = (double)(StoreCounters.RoundTrips - roundTripsBefore);
        var batches = Math.Max(1, after.Batches - before.Batches);
        return new Result(exchanges / seconds, (after.Commits - before.Commits) / (double)exchanges, statements / exchanges, roundTrips / exchanges,
            statements / batches, roundTrips / batches, exchanges / (double)batches);
    }

    private static ExchangeRequest Request(string device, CommandResult? result) => new()
    {
        ProtocolVersion = ProtocolInfo.Version, Device = device, RequestId = "bench", Reason = result is null ? InquiryReason.Poke : InquiryReason.Continue, Result = result,
    };
}
