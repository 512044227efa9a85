using System.Text;
using CsCheck;

namespace Rig.Server.Tests.Queues;

/// <summary>A command in a generated queue. <see cref="Fail"/> is a write-file the simulated device fails.</summary>
internal enum PlannedCommand { Write, Install, Reboot, Fail }

/// <summary>What happens at one step of a run.</summary>
internal enum StepKind
{
    /// <summary>The agent sends its request and gets the answer.</summary>
    Deliver,
    /// <summary>The gateway records the request but the answer is lost: the agent sends the same request again later.</summary>
    LoseResponse,
    /// <summary>The request reaches the gateway twice; the agent sees the second answer.</summary>
    Duplicate,
    /// <summary>An earlier request of the device reaches the gateway again (its answer goes nowhere).</summary>
    ReplayOld,
    /// <summary>The request is held up in the network; the agent times out and sends it again (two copies in flight).</summary>
    Delay,
    /// <summary>The held-up copy arrives now, after whatever was sent since (reordered; its answer goes nowhere).</summary>
    ReleaseDelayed,
    /// <summary>The agent process dies between steps and starts again.</summary>
    AgentCrash,
    /// <summary>The agent gets an answer, runs its commands and dies before journaling them.</summary>
    AgentCrashBeforeJournal,
    /// <summary>The agent gets an answer, runs and journals it, and dies before reporting (F2).</summary>
    AgentCrashAfterJournal,
    /// <summary>As <see cref="AgentCrashAfterJournal"/>, with a journal of an agent that kept no report marks (F2 as found).</summary>
    AgentCrashAfterJournalWithoutReportMarks,
    /// <summary>The gateway records the request, dies before answering, and starts again.</summary>
    GatewayCrashAfterCommit,
    /// <summary>The gateway dies and starts again (the request in flight never arrived: the agent retries it).</summary>
    GatewayCrash,
    /// <summary>An operator creates the device's next queue (blocked while one is active).</summary>
    CreateQueue,
    /// <summary>An operator cancels the device's active queue.</summary>
    Cancel,
}

/// <summary>One step: what happens, to which device (modulo the run's devices), and a free argument (which old request to replay).</summary>
internal sealed record Step(StepKind Kind, int Device, int Arg)
{
    public override string ToString() => Kind == StepKind.ReplayOld ? $"d{Device}:{Kind}#{Arg}" : $"d{Device}:{Kind}";
}

/// <summary>A generated run: per device its queues (the first created at the start, the others by <see cref="StepKind.CreateQueue"/>
/// steps or once the device is free at the end), how many commands the agents take per answer, the delivery cap, and the steps.</summary>
internal sealed record QueueRun(PlannedCommand[][][] Devices, int Batch, int MaxDeliveries, Step[] Steps)
{
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"batch {Batch}, max deliveries {MaxDeliveries}; ");
        for (var d = 0; d < Devices.Length; d++)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"d{d}: {string.Join(" then ", Devices[d].Select(q => "[" + string.Join(" ", q) + "]"))}; ");
        text.Append("steps: ").Append(string.Join(", ", Steps.Select((s, i) => $"{i}:{s with { Device = s.Device % Devices.Length }}")));
        return text.ToString();
    }
}

/// <summary>Generators of runs: 1-3 devices with 1-3 queues of 1-8 commands (writes, installs, reboots, failures), and
/// steps mixing normal deliveries with every fault the protocol must survive.</summary>
internal static class QueueRunGen
{
    private static readonly Gen<PlannedCommand> Command = Gen.Frequency(
        (5, PlannedCommand.Write), (2, PlannedCommand.Install), (2, PlannedCommand.Reboot), (1, PlannedCommand.Fail));

    private static readonly Gen<StepKind> Kind = Gen.Frequency(
        (12, StepKind.Deliver),
        (2, StepKind.LoseResponse),
        (1, StepKind.Duplicate),
        (2, StepKind.ReplayOld),
        (1, StepKind.Delay),
        (1, StepKind.ReleaseDelayed),
        (1, StepKind.AgentCrash),
        (1, StepKind.AgentCrashBeforeJournal),
        (2, StepKind.AgentCrashAfterJournal),
        (1, StepKind.AgentCrashAfterJournalWithoutReportMarks),
        (1, StepKind.GatewayCrashAfterCommit),
        (1, StepKind.GatewayCrash),
        (2, StepKind.CreateQueue),
        (1, StepKind.Cancel));

    private static readonly Gen<Step> AnyStep = Gen.Select(Kind, Gen.Int[0, 2], Gen.Int[0, 1000]).Select((k, d, a) => new Step(k, d, a));

    /// <summary>Runs of up to <paramref name="maxSteps"/> steps (the drain at the end adds what is needed to finish).</summary>
    public static Gen<QueueRun> Runs(int maxSteps) => Gen.Select(
            Command.Array[1, 8].Array[1, 3].Array[1, 3],
            Gen.Frequency((4, 1), (2, 2), (1, 3), (2, 32)),
            Gen.Frequency((6, 5), (2, 3), (1, 2)),
            AnyStep.Array[0, maxSteps])
        .Select((devices, batch, maxDeliveries, steps) => new QueueRun(devices, batch, maxDeliveries, steps));
}
