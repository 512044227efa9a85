using Rig.Bench;
using Rig.Bench.Benchmarks;
using Rig.Bench.Common;
using Spectre.Console;

if (args is [Rig.Bench.Dispatch.FloorServer.Verb, ..])
    return await Rig.Bench.Dispatch.FloorServer.RunAsync(args[1..]); // a child process of the dispatch benchmark

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (FormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

if (Console.IsOutputRedirected)
    AnsiConsole.Profile.Width = 180;
var failures = new List<string>();
var machine = MachineInfo.Current(Path.GetTempPath());
AnsiConsole.MarkupLine($"[bold]rig-bench[/] {(options.Quick ? "(quick)" : "")} on {Markup.Escape(machine.Cpu)}, {machine.Cores} cores, {machine.MemoryGiB} GiB, {Markup.Escape(machine.Os)}, {Markup.Escape(machine.DotNet)}");
IBenchmark[] benchmarks = [new PlanBenchmark(), new DispatchBenchmark(), new DistributionBenchmark(), new FootprintBenchmark(), new ConvergeBenchmark(), new MicroBenchmarks(), new NemesisBenchmark(), new UiBenchmark()];
foreach (var benchmark in benchmarks.Where(b => options.Wants(b.Name)))
{
    AnsiConsole.Write(new Rule($"[bold]{benchmark.Name}[/]").LeftJustified());
    try
    {
        var report = await benchmark.RunAsync(options, CancellationToken.None);
        report.Print();
        AnsiConsole.MarkupLine($"  [grey]results: {Markup.Escape(report.Save(options.OutputDirectory))}[/]");
    }
    catch (Exception e) when (e is not OutOfMemoryException)
    {
        failures.Add($"{benchmark.Name}: {e.Message}");
        AnsiConsole.MarkupLine($"[red]{Markup.Escape(benchmark.Name)} failed:[/] {Markup.Escape(e.ToString())}");
    }
}
if (failures.Count > 0)
{
    Console.Error.WriteLine($"{failures.Count} benchmark(s) failed:\n  " + string.Join("\n  ", failures));
    return 1;
}
return 0;

namespace Rig.Bench
{
    /// <summary>One benchmark: runs and reports.</summary>
    internal interface IBenchmark
    {
        /// <summary>Its name on the command line and in results.</summary>
        string Name { get; }

        /// <summary>Run it (quick: every code path, tiny sizes).</summary>
        Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct);
    }
}
