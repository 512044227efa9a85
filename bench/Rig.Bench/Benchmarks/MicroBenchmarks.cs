using Rig.Bench.Common;

namespace Rig.Bench.Benchmarks;

/// <summary>Not written yet.</summary>
public sealed class MicroBenchmarks : IBenchmark
{
    /// <inheritdoc />
    public string Name => "micro";

    /// <inheritdoc />
    public Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct) => throw new NotImplementedException("micro is not written yet");
}
