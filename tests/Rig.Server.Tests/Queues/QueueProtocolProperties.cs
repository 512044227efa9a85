using System.Globalization;
using CsCheck;
using Microsoft.Data.Sqlite;
using Rig.Server.Tests.Postgres;
using Rig.Server.Tests.Store;
using Xunit.Abstractions;

namespace Rig.Server.Tests.Queues;

/// <summary>How many generated runs each property test plays. The defaults keep the whole suite under a minute on a
/// loaded two-core machine; for a long run by hand set <c>RIG_PROPERTY_CASES</c> (e.g. <c>RIG_PROPERTY_CASES=5000</c>)
/// to play that many runs in every test of this folder. A failure prints CsCheck's seed; replay it with
/// <c>CsCheck_Seed=&lt;seed&gt; dotnet test tests/Rig.Server.Tests --filter FullyQualifiedName~Queues</c>.</summary>
internal static class PropertyCases
{
    public static long Count(long usual) =>
        long.TryParse(Environment.GetEnvironmentVariable("RIG_PROPERTY_CASES"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : usual;

    /// <summary>Steps per run before the drain (the drain adds the deliveries needed to finish).</summary>
    public const int MaxSteps = 40;

    /// <summary>Play <paramref name="cases"/> runs, each against a new target from <paramref name="target"/>.</summary>
    public static Task PlayAsync(long cases, Func<IExchangeTarget> target, int threads) =>
        QueueRunGen.Runs(MaxSteps).SampleAsync(async run =>
        {
            await using var t = target();
            await new QueueRunner(run, t).RunAsync();
        }, iter: cases, threads: threads, print: run => run.ToString());

    /// <summary>Play <paramref name="cases"/> runs one after another against one shared target (a store over one database:
    /// each run has its own devices and command ids; a gateway crash in one run restarts the store for the next ones too).</summary>
    public static async Task PlayAsync(long cases, IExchangeTarget shared)
    {
        await using (shared)
        {
            await QueueRunGen.Runs(MaxSteps).SampleAsync(run => new QueueRunner(run, shared).RunAsync(), iter: cases, threads: 1, print: run => run.ToString());
        }
    }
}

/// <summary>The reference model with simulated agents under every fault: the spec itself keeps its promises (no command
/// runs twice, no acknowledged result is lost, queues never interleave, failures stop their queue, nothing stays stuck).</summary>
public sealed class QueueModelProperties
{
    [Fact]
    public Task The_reference_model_keeps_every_promise_under_duplicates_replays_reorders_and_crashes() =>
        PropertyCases.PlayAsync(PropertyCases.Count(500), () => new ModelTarget(), threads: 2);
}

/// <summary>The real store on SQLite (group commit, transactions, restarts that dispose and reopen it), run for run
/// against the reference model. One database for all runs (each run has its own devices and command ids); it lives in
/// /dev/shm where there is one, since what is tested is the logic, not the disk.</summary>
public sealed class SqliteQueueProperties : IDisposable
{
    private readonly string _directory = Directory.Exists("/dev/shm")
        ? Directory.CreateDirectory(Path.Combine("/dev/shm", $"rig-props-{Guid.NewGuid():n}")).FullName
        : Directory.CreateTempSubdirectory("rig-props-").FullName;
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task The_sqlite_store_answers_as_the_model_and_keeps_every_promise_under_faults()
    {
        var connection = $"Data Source={Path.Combine(_directory, "rig.db")}";
        await PropertyCases.PlayAsync(PropertyCases.Count(100), await StoreTarget.OpenAsync(connection, _clock));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>The real store on PostgreSQL (row locks, pipelined group commit), fewer runs: each exchange is a network round trip.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresQueueProperties(PostgresServer server) : IAsyncLifetime
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private string? _database;

    public async Task InitializeAsync() => _database = await server.CreateDatabaseAsync();

    public async Task DisposeAsync()
    {
        if (_database is not null)
            await server.DropDatabaseAsync(_database);
    }

    [Fact]
    public async Task The_postgres_store_answers_as_the_model_and_keeps_every_promise_under_faults()
    {
        var connection = server.ConnectionString(_database!);
        await PropertyCases.PlayAsync(PropertyCases.Count(20), await StoreTarget.OpenAsync(connection, _clock));
    }
}

/// <summary>The pure <see cref="Rig.Server.Gateway.QueueMachine"/> over in-memory tables, run for run against the reference
/// model: many more runs than the stores, since nothing touches a database.</summary>
public sealed class QueueMachineProperties(ITestOutputHelper output)
{
    [Fact]
    public async Task The_queue_machine_answers_as_the_model_and_keeps_every_promise_under_faults()
    {
        await PropertyCases.PlayAsync(PropertyCases.Count(2_000), () => new MachineTarget(), threads: 2);

        // The runs must reach the paths the promises depend on (F2's missing results, the delivery cap, reboots,
        // failures, cancels); the tally is of every run in this process, so other tests' runs only add to it.
        var tally = QueueRunner.Tally;
        output.WriteLine(string.Join(Environment.NewLine, tally.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}: {t.Value}")));
        Assert.All(["refused missing-results", "answer RebootAcknowledged", "queue failed", "queue failed (delivery cap)", "queue cancelled", "queue succeeded"],
            what => Assert.True(tally.GetValueOrDefault(what) > 0, $"no run reached '{what}'"));
    }

    [Fact]
    public async Task An_agent_that_journaled_an_answer_ending_in_a_reboot_and_lost_its_report_marks_is_asked_for_the_results_before_the_reboot()
    {
        // F2 as the fault runs found it (issue 9): the answer [install, write, reboot] is run and journaled, the agent dies
        // before reporting, and its journal (an older agent's, without report marks) reports only the reboot.
        var run = new QueueRun([[[PlannedCommand.Install, PlannedCommand.Write, PlannedCommand.Reboot, PlannedCommand.Write]]], Batch: 32, MaxDeliveries: 5,
            [new Step(StepKind.AgentCrashAfterJournalWithoutReportMarks, 0, 0)]);
        var runner = new QueueRunner(run, new MachineTarget());

        await runner.RunAsync();

        Assert.Contains(runner.Trace, line => line.EndsWith("results d0q0c2-reboot=Rebooting, report only -> refused missing-results [d0q0c0-install, d0q0c1-write]", StringComparison.Ordinal));
    }
}
