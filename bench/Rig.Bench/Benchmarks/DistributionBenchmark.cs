using Rig.Bench.Common;

namespace Rig.Bench.Benchmarks;

/// <summary>Not written yet.</summary>
public sealed class DistributionBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "distribution";

    /// <inheritdoc />
    public Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct) => throw new NotImplementedException("distribution is not written yet");
}
