using System.Globalization;
using System.Text;
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

    /// <summary>A value from outside the CLI (the gateway, a device, a file) as markup: control characters made
    /// visible (<see cref="Visible"/>), then markup escaped. Null prints as nothing.</summary>
    public static string Safe(string? text) => Markup.Escape(Visible(text));

    /// <summary>Multi-line text from outside the CLI as markup: <see cref="VisibleBlock"/>, then markup escaped.</summary>
    public static string SafeBlock(string? text) => Markup.Escape(VisibleBlock(text));

    /// <summary>One line of text a terminal cannot act on: every C0 control (line ends and tabs too) becomes its
    /// Control Picture (ESC as ␛, BEL as ␇, LF as ␊), DEL becomes ␡, and C1 controls and the bidirectional overrides
    /// and isolates become a visible <c>\uXXXX</c>, so no text can clear the screen, set the title or reorder what
    /// follows. Null prints as nothing.</summary>
    public static string Visible(string? text) => Visible(text, keepLines: false);

    /// <summary>Multi-line text (command output) made safe as <see cref="Visible"/>, keeping line ends and tabs (CR LF
    /// becomes LF; a lone CR, which could overwrite a line, is shown as ␍).</summary>
    public static string VisibleBlock(string? text) => Visible(text, keepLines: true);

    /// <summary>True for a character a terminal acts on or that reorders text: C0, DEL, C1, bidi overrides and
    /// isolates.</summary>
    public static bool IsUnsafe(char c) => c < 0x20 || c is >= '\u007f' and <= '\u009f' or >= '\u202a' and <= '\u202e' or >= '\u2066' and <= '\u2069';

    private static string Visible(string? text, bool keepLines)
    {
        if (string.IsNullOrEmpty(text) || !text.Any(IsUnsafe))
            return text ?? "";
        var builder = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!IsUnsafe(c))
                builder.Append(c);
            else if (keepLines && c is '\n' or '\t')
                builder.Append(c);
            else if (keepLines && c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                continue; // CR LF: the LF ends the line
            else if (c < 0x20)
                builder.Append((char)(0x2400 + c));
            else if (c == '\u007f')
                builder.Append('\u2421');
            else
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
        }
        return builder.ToString();
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
