using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using Measurement = Rig.Bench.Common.Measurement;
using BenchmarkDotNet.Running;
using Rig.Bench.Common;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Bench.Benchmarks;

/// <summary>BenchmarkDotNet micro-benchmarks of the hot path's pure parts: the exchange's JSON, one device's
/// desired state and plan (templates rendered), the contract checks. Quick mode runs them once (dry job).</summary>
internal sealed class MicroBenchmarks : IBenchmark
{
    /// <inheritdoc />
    public string Name => "micro";

    /// <inheritdoc />
    public Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        var job = options.Quick ? Job.Dry : Job.ShortRun;
        // In-process: no separate build of the benchmark project (its assembly is rig-bench, not Rig.Bench).
        var config = ManualConfig.CreateMinimumViable().AddJob(job.WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance).WithId(options.Quick ? "dry" : "short")).AddLogger(NullLogger.Instance)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.JoinSummary)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "rig-bench-bdn"));
        var summary = BenchmarkRunner.Run<HotPath>(config);
        var measurements = summary.Reports
            .Where(r => r.ResultStatistics is not null)
            .Select(r => new Measurement(r.BenchmarkCase.Descriptor.WorkloadMethod.Name, "ns", r.ResultStatistics!.Median, r.ResultStatistics.Min, r.ResultStatistics.Max,
                [.. r.ResultStatistics.OriginalValues], $"allocated {r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase) ?? 0} B/op"))
            .ToList();
        if (measurements.Count != typeof(HotPath).GetMethods().Count(m => m.GetCustomAttributes(typeof(BenchmarkAttribute), false).Length > 0))
            throw new InvalidOperationException("Some micro-benchmarks did not produce results: " + string.Join("; ", summary.ValidationErrors.Select(e => e.Message)));
        return Task.FromResult(new BenchReport(Name, DateTimeOffset.UtcNow, BenchReport.Revision(), options.Quick, MachineInfo.Current(Path.GetTempPath()),
            new Dictionary<string, string> { ["job"] = options.Quick ? "Dry (one invocation, smoke only)" : "ShortRun" }, measurements, ["Per operation, in-process, BenchmarkDotNet."]));
    }
}

/// <summary>The pure parts of an exchange and of planning.</summary>
[MemoryDiagnoser]
public class HotPath
{
    private readonly byte[] _request;
    private readonly ExchangeResponse _response;
    private readonly DesiredStateBuilder _builder;
    private readonly ModelIndex _index;

    /// <summary>Set up once.</summary>
    public HotPath()
    {
        _request = JsonSerializer.SerializeToUtf8Bytes(new ExchangeRequest
        {
            ProtocolVersion = 1, Device = "web-1", RequestId = Guid.NewGuid().ToString("n"), Reason = InquiryReason.Continue,
            Result = new CommandResult { CommandId = Guid.NewGuid().ToString("n"), Outcome = CommandOutcome.Succeeded, Output = "wrote /etc/nginx/nginx.conf (812 bytes, 0644)", DurationMs = 2 },
        }, RigJson.Default.ExchangeRequest);
        _response = new ExchangeResponse
        {
            Answer = ExchangeAnswer.Command,
            Command = new Command { Id = Guid.NewGuid().ToString("n"), QueueId = Guid.NewGuid().ToString("n"), Sequence = 3, QueueLength = 11, Spec = new WriteFileCommand("/etc/nginx/nginx.conf", new string('x', 800), new string('a', 64), "0644", "root", "root") },
        };
        var model = FleetModel.Build(100);
        _index = new ModelIndex(model);
        _builder = new DesiredStateBuilder(_index);
    }

    /// <summary>Parse and check an agent's exchange request.</summary>
    [Benchmark]
    public ExchangeRequest ParseExchangeRequest() => RigJson.Parse(_request, RigJson.Default.ExchangeRequest, "request");

    /// <summary>Write a command answer.</summary>
    [Benchmark]
    public byte[] WriteExchangeResponse() => JsonSerializer.SerializeToUtf8Bytes(_response, RigJson.Default.ExchangeResponse);

    /// <summary>Desired state (3 roles, templates rendered with interconnections) and plan of one device.</summary>
    [Benchmark]
    public DevicePlan PlanOneDevice() => Planner.Plan(_builder.Build("d0"), RecordedState.Empty, _index.KindOrder);
}
