using System.Globalization;

namespace Rig.Bench.Common;

/// <summary>Command line of rig-bench: <c>rig-bench [dispatch|converge|distribution|plan|footprint|micro|nemesis|ui|all] [--quick]
/// [--out DIR] [--engine sqlite|postgres|both] [--agents 100,1000,10000] [--runs N] [--seed N] [--devices N] [--faults N]</c>.</summary>
internal sealed record BenchOptions
{
    /// <summary>Benchmarks to run.</summary>
    public IReadOnlyList<string> Benchmarks { get; init; } = ["all"];

    /// <summary>Smoke mode for CI: every code path, tiny sizes, no timing judgement.</summary>
    public bool Quick { get; init; }

    /// <summary>Where JSON results go.</summary>
    public string OutputDirectory { get; init; } = "bench/results";

    /// <summary>Database engines for the dispatch benchmark.</summary>
    public IReadOnlyList<string> Engines { get; init; } = ["sqlite", "postgres"];

    /// <summary>Fleet sizes for the dispatch benchmark (null: defaults by mode).</summary>
    public IReadOnlyList<int>? Agents { get; init; }

    /// <summary>Repetitions per measurement (null: defaults by mode).</summary>
    public int? Runs { get; init; }

    /// <summary>Seed of the nemesis' fault schedule (null: a new one, printed).</summary>
    public int? Seed { get; init; }

    /// <summary>Devices of the nemesis' site (null: defaults by mode).</summary>
    public int? Devices { get; init; }

    /// <summary>Faults of each kind the nemesis injects (null: defaults by mode).</summary>
    public int? Faults { get; init; }

    /// <summary>Faults of the named kinds, overriding <see cref="Faults"/> for them (<c>--mix gateway-kill=50,agent-kill=50</c>).</summary>
    public IReadOnlyDictionary<Nemesis.FaultKind, int> FaultMix { get; init; } = new Dictionary<Nemesis.FaultKind, int>();

    /// <summary>True when <c>--engine</c> was given (the nemesis then runs on those engines, else on one by mode).</summary>
    public bool EngineGiven { get; init; }

    /// <summary>Every benchmark name.</summary>
    public static readonly string[] All = ["plan", "dispatch", "distribution", "footprint", "converge", "micro", "nemesis", "ui"];

    /// <summary>True when <paramref name="name"/> should run.</summary>
    public bool Wants(string name) => Benchmarks.Contains("all") || Benchmarks.Contains(name);

    /// <summary>Parse the command line; throws <see cref="FormatException"/> with what is wrong.</summary>
    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        var benchmarks = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--quick":
                    options = options with { Quick = true };
                    break;
                case "--out":
                    options = options with { OutputDirectory = Next() };
                    break;
                case "--engine":
                    var engine = Next();
                    options = options with { Engines = engine == "both" ? ["sqlite", "postgres"] : [engine], EngineGiven = true };
                    if (options.Engines.Any(e => e is not ("sqlite" or "postgres")))
                        throw new FormatException($"--engine '{engine}': use sqlite, postgres or both.");
                    break;
                case "--agents":
                    options = options with { Agents = [.. Next().Split(',').Select(a => int.Parse(a, NumberStyles.None, CultureInfo.InvariantCulture))] };
                    break;
                case "--runs":
                    options = options with { Runs = int.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture) };
                    break;
                case "--seed":
                    options = options with { Seed = int.Parse(Next(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) };
                    break;
                case "--devices":
                    options = options with { Devices = Positive("--devices", Next()) };
                    break;
                case "--faults":
                    options = options with { Faults = Positive("--faults", Next()) };
                    break;
                case "--mix":
                    options = options with { FaultMix = Nemesis.FaultPlan.ParseMix(Next()) };
                    break;
                case var name when All.Contains(name) || name == "all":
                    benchmarks.Add(name);
                    break;
                default:
                    throw new FormatException($"Unknown argument '{args[i]}'. Benchmarks: {string.Join(", ", All)}, all; options: --quick --out DIR --engine sqlite|postgres|both --agents N,N --runs N --seed N --devices N --faults N --mix KIND=N,...");
            }
        }
        return benchmarks.Count == 0 ? options : options with { Benchmarks = benchmarks };
    }

    private static int Positive(string option, string value)
    {
        var n = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
        return n >= 1 ? n : throw new FormatException($"{option} {value}: at least 1.");
    }
}
