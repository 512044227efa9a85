using System.Text.Json;
using Rig.Cli.Operator;

namespace Rig.Cli;

/// <summary>Machine output: one JSON object as the single last line of standard output.</summary>
public static class Output
{
    /// <summary>Write <paramref name="value"/> as one JSON line.</summary>
    public static void JsonLine<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, OperatorClient.Json));

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
