using System.Text.Json;
using Rig.Cli.Operator;
using Spectre.Console;

namespace Rig.Cli;

/// <summary>Machine output: one JSON object as the single last line of standard output.</summary>
internal static class Output
{
    /// <summary>Write <paramref name="value"/> as one JSON line.</summary>
    public static void JsonLine<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, OperatorClient.Json));

    /// <summary>Width of a console that is not a terminal: wide enough that no line is ever hard-wrapped (a CA pin or a
    /// suggested command split across lines cannot be copied); a terminal keeps its own width.</summary>
    public const int RedirectedWidth = 4096;

    /// <summary><paramref name="console"/>, with lines never wrapped when it writes to a file or a pipe (Spectre
    /// assumes 80 columns there) unless COLUMNS says otherwise.</summary>
    public static IAnsiConsole Unwrapped(IAnsiConsole console, bool redirected)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (redirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("COLUMNS")))
            console.Profile.Width = RedirectedWidth;
        return console;
    }

    /// <summary>True when lines are not wrapped (standard output is a file or pipe).</summary>
    public static bool Wide => AnsiConsole.Profile.Width >= RedirectedWidth;

    /// <summary>A section heading: a rule across a terminal, a plain line elsewhere (a rule 4096 columns wide helps
    /// nobody).</summary>
    public static void Heading(string markup)
    {
        if (Wide)
            AnsiConsole.MarkupLine($"── {markup} ──");
        else
            AnsiConsole.Write(new Rule(markup).LeftJustified());
    }

    /// <summary>Shorten a digest for tables.</summary>
    public static string Short(string sha256) => sha256.Length > 12 ? sha256[..12] : sha256;

    /// <summary>Human size.</summary>
    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.0} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / 1024.0 / 1024:0.0} MiB",
        _ => $"{bytes / 1024.0 / 1024 / 1024:0.00} GiB",
    };
}
