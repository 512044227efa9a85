using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace Rig.Bench.Common;

/// <summary>The machine a result was measured on.</summary>
internal sealed record MachineInfo(string Cpu, int Cores, double MemoryGiB, string Kernel, string Os, string DotNet, string Filesystem)
{
    /// <summary>Read it from /proc.</summary>
    public static MachineInfo Current(string directory)
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";
        var memKb = File.Exists("/proc/meminfo")
            ? long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)
            : 0;
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"') ?? "linux"
            : RuntimeInformation.OSDescription;
        return new MachineInfo(cpu, Environment.ProcessorCount, Math.Round(memKb / 1024.0 / 1024.0, 1), Environment.OSVersion.Version.ToString(), os,
            RuntimeInformation.FrameworkDescription, Filesystems.Describe(directory));
    }
}

/// <summary>One measured quantity over repeated runs: median and spread.</summary>
internal sealed record Measurement(string Name, string Unit, double Median, double Min, double Max, IReadOnlyList<double> Runs, string? Note = null)
{
    /// <summary>Summarise repeated runs.</summary>
    public static Measurement Of(string name, string unit, IEnumerable<double> runs, string? note = null)
    {
        var values = runs.ToList();
        return new Measurement(name, unit, Stats.Median(values), values.Min(), values.Max(), values, note);
    }

    /// <summary>A single value.</summary>
    public static Measurement Single(string name, string unit, double value, string? note = null) => Of(name, unit, [value], note);
}

/// <summary>A benchmark's results, written as JSON next to the others (bench/results/NAME.json).</summary>
internal sealed record BenchReport(string Benchmark, DateTimeOffset Date, string GitRevision, bool Quick, MachineInfo Machine,
    IReadOnlyDictionary<string, string> Parameters, IReadOnlyList<Measurement> Measurements, IReadOnlyList<string> Notes)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Write the JSON file; returns its path.</summary>
    public string Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{Benchmark}{(Quick ? "-quick" : "")}.json");
        File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");
        return path;
    }

    /// <summary>Print a human table.</summary>
    public void Print()
    {
        var table = new Table().Title($"[bold]{Benchmark}[/]{(Quick ? " (quick: smoke test, figures not meaningful)" : "")}")
            .AddColumns("measurement", "median", "min", "max", "unit", "runs", "note");
        foreach (var m in Measurements)
        {
            table.AddRow(Markup.Escape(m.Name), Format(m.Median), Format(m.Min), Format(m.Max), Markup.Escape(m.Unit),
                m.Runs.Count.ToString(CultureInfo.InvariantCulture), Markup.Escape(m.Note ?? ""));
        }
        AnsiConsole.Write(table);
        foreach (var note in Notes)
            AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(note)}[/]");
    }

    private static string Format(double v) => Math.Abs(v) >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Short git revision of the working tree (with + when dirty), or "unknown".</summary>
    public static string Revision()
    {
        try
        {
            var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in (string[])["describe", "--always", "--dirty=+", "--abbrev=12"])
                info.ArgumentList.Add(a);
            using var git = Process.Start(info)!;
            var output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 && output.Length > 0 ? output : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}

/// <summary>Medians and percentiles.</summary>
internal static class Stats
{
    /// <summary>Median of values.</summary>
    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    /// <summary>Nearest-rank percentile (p in 0..100).</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
            return double.NaN;
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}

/// <summary>What file system a directory is on (benchmarks state it, ext4 without a journal behaves differently).</summary>
internal static class Filesystems
{
    /// <summary>"ext4 (/dev/vda on /)" and friends, from /proc/mounts.</summary>
    public static string Describe(string directory)
    {
        if (!File.Exists("/proc/mounts"))
            return "unknown";
        var full = Path.GetFullPath(directory);
        var best = ("", "", "", "");
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var parts = line.Split(' ');
            if (parts.Length < 4)
                continue;
            var mount = parts[1].Replace("\\040", " ", StringComparison.Ordinal);
            if ((full == mount || full.StartsWith(mount.TrimEnd('/') + "/", StringComparison.Ordinal)) && mount.Length >= best.Item2.Length)
                best = (parts[0], mount, parts[2], parts[3]);
        }
        return best.Item3.Length == 0 ? "unknown" : $"{best.Item3} ({best.Item1} on {best.Item2})";
    }
}
