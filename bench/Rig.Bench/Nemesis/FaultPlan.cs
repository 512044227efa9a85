using System.Globalization;

namespace Rig.Bench.Nemesis;

/// <summary>What the nemesis does.</summary>
internal enum FaultKind
{
    /// <summary>kill -9 the gateway, start it again after a while.</summary>
    GatewayKill,
    /// <summary>SIGSTOP the gateway, SIGCONT after a while.</summary>
    GatewayPause,
    /// <summary>kill -9 an agent (its supervisor too), start a new supervisor on the same state after a while.</summary>
    AgentKill,
    /// <summary>SIGSTOP an agent, SIGCONT after a while.</summary>
    AgentPause,
    /// <summary>The proxy holds every byte for a while (a black-holed link).</summary>
    ProxyPause,
    /// <summary>The proxy closes every open connection (FIN).</summary>
    ProxyCut,
    /// <summary>The proxy resets every open connection (RST).</summary>
    ProxyReset,
    /// <summary>The proxy holds back every chunk a few ms, for a while.</summary>
    ProxySlow,
    /// <summary>The small disk of one device is filled to the last byte, then freed.</summary>
    DiskFull,
    /// <summary><c>pg_ctl restart -m immediate</c> (postgres mode).</summary>
    DatabaseRestart,
}

/// <summary>One planned fault: after <paramref name="Gap"/> seconds (from the previous fault's start), do
/// <paramref name="Kind"/> to <paramref name="Device"/> (agent faults) for <paramref name="Seconds"/> (faults that
/// last), with <paramref name="DelayMs"/> per chunk (slow proxy).</summary>
internal sealed record PlannedFault(int Index, FaultKind Kind, double Gap, string? Device, double Seconds, int DelayMs)
{
    /// <summary>One line for the log.</summary>
    public string Describe() => Kind switch
    {
        FaultKind.GatewayKill => string.Create(CultureInfo.InvariantCulture, $"kill -9 the gateway, restart after {Seconds:0.0} s"),
        FaultKind.GatewayPause => string.Create(CultureInfo.InvariantCulture, $"SIGSTOP the gateway for {Seconds:0.0} s"),
        FaultKind.AgentKill => string.Create(CultureInfo.InvariantCulture, $"kill -9 {Device}'s agent, restart after {Seconds:0.0} s"),
        FaultKind.AgentPause => string.Create(CultureInfo.InvariantCulture, $"SIGSTOP {Device}'s agent for {Seconds:0.0} s"),
        FaultKind.ProxyPause => string.Create(CultureInfo.InvariantCulture, $"proxy holds every byte for {Seconds:0.0} s"),
        FaultKind.ProxyCut => "proxy closes every connection",
        FaultKind.ProxyReset => "proxy resets every connection",
        FaultKind.ProxySlow => string.Create(CultureInfo.InvariantCulture, $"proxy delays every chunk {DelayMs} ms for {Seconds:0.0} s"),
        FaultKind.DiskFull => string.Create(CultureInfo.InvariantCulture, $"fill {Device}'s disk for {Seconds:0.0} s"),
        FaultKind.DatabaseRestart => "pg_ctl restart -m immediate",
        _ => Kind.ToString(),
    };

    /// <summary>What it must not overlap with: faults on the same target run one after the other.</summary>
    public string Target => Kind switch
    {
        FaultKind.GatewayKill or FaultKind.GatewayPause => "gateway",
        FaultKind.AgentKill or FaultKind.AgentPause => "agent:" + Device,
        FaultKind.ProxyPause or FaultKind.ProxyCut or FaultKind.ProxyReset or FaultKind.ProxySlow => "proxy",
        FaultKind.DiskFull => "disk",
        _ => "database",
    };
}

/// <summary>The fault schedule, drawn entirely from one seeded <see cref="Random"/> before anything runs: the same
/// seed and options give the same faults in the same order with the same gaps, targets and durations.</summary>
internal static class FaultPlan
{
    /// <summary>A kind's name on the command line: <c>gateway-kill</c>, <c>proxy-cut</c>, <c>database-restart</c>...</summary>
    public static string Name(FaultKind kind) => string.Concat(kind.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>Parse <c>--mix gateway-kill=50,agent-kill=50</c>; an unknown kind or a count below 0 is refused.</summary>
    public static IReadOnlyDictionary<FaultKind, int> ParseMix(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var names = Enum.GetValues<FaultKind>().ToDictionary(Name, k => k, StringComparer.Ordinal);
        var mix = new Dictionary<FaultKind, int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2);
            if (pair.Length != 2 || !names.TryGetValue(pair[0], out var kind) || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
                throw new FormatException($"--mix '{part}': use KIND=N with KIND one of {string.Join(", ", names.Keys)}.");
            mix[kind] = count;
        }
        return mix;
    }

    /// <summary>The mix as it is given on the command line (empty when none).</summary>
    public static string Describe(IReadOnlyDictionary<FaultKind, int> mix) => string.Join(',', mix.OrderBy(m => m.Key).Select(m => $"{Name(m.Key)}={m.Value}"));

    /// <summary>The small-disk device and, of each of <paramref name="kinds"/>, <paramref name="perKind"/> faults (or as many
    /// as <paramref name="mix"/> names), shuffled.</summary>
    public static (string DiskDevice, IReadOnlyList<PlannedFault> Faults) Create(int seed, IReadOnlyList<string> devices, IReadOnlyList<FaultKind> kinds, int perKind, bool quick,
        IReadOnlyDictionary<FaultKind, int>? mix = null)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(kinds);
        var random = new Random(seed);
        var diskDevice = devices[random.Next(devices.Count)];
        var order = kinds.SelectMany(k => Enumerable.Repeat(k, mix is not null && mix.TryGetValue(k, out var n) ? n : perKind)).ToArray();
        random.Shuffle(order);
        double Between(double min, double max) => min + random.NextDouble() * (max - min);
        var faults = new List<PlannedFault>();
        for (var i = 0; i < order.Length; i++)
        {
            // Every fault draws the same numbers whatever its kind, so one kind's parameters never shift another's.
            var gap = quick ? Between(0.3, 1.2) : Between(1.0, 5.0);
            var device = devices[random.Next(devices.Count)];
            var span = random.NextDouble();
            var delay = 10 + random.Next(140);
            var kind = order[i];
            var seconds = kind switch
            {
                FaultKind.GatewayKill => quick ? 0.5 + span * 2.0 : 0.5 + span * 4.5,
                FaultKind.GatewayPause or FaultKind.AgentPause => quick ? 0.5 + span * 1.5 : 0.5 + span * 3.5,
                FaultKind.AgentKill => quick ? 0.2 + span * 1.3 : 0.2 + span * 2.8,
                FaultKind.ProxyPause => quick ? 0.5 + span * 1.5 : 0.5 + span * 2.5,
                FaultKind.ProxySlow => quick ? 1.0 + span * 1.5 : 1.0 + span * 3.0,
                FaultKind.DiskFull => quick ? 1.0 + span * 2.0 : 1.0 + span * 4.0,
                _ => 0,
            };
            faults.Add(new PlannedFault(i + 1, kind, gap, kind is FaultKind.AgentKill or FaultKind.AgentPause ? device : kind == FaultKind.DiskFull ? diskDevice : null,
                seconds, kind == FaultKind.ProxySlow ? delay : 0));
        }
        return (diskDevice, faults);
    }
}
