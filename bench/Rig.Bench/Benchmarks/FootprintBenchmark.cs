using Rig.Bench.Common;

namespace Rig.Bench.Benchmarks;

/// <summary>Not written yet.</summary>
public sealed class FootprintBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "footprint";

    /// <inheritdoc />
    public Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct) => throw new NotImplementedException("footprint is not written yet");
}
