using Rig.Bench.Common;

namespace Rig.Bench.Benchmarks;

/// <summary>Not written yet.</summary>
public sealed class ConvergeBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "converge";

    /// <inheritdoc />
    public Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct) => throw new NotImplementedException("converge is not written yet");
}
