using Rig.Bench.Common;

namespace Rig.Bench.Benchmarks;

/// <summary>Not written yet.</summary>
public sealed class DispatchBenchmark : IBenchmark
{
    /// <inheritdoc />
    public string Name => "dispatch";

    /// <inheritdoc />
    public Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct) => throw new NotImplementedException("dispatch is not written yet");
}
