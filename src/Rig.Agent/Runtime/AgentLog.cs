using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Rig.Agent.Runtime;

/// <summary>The agent's log: one line per event on standard error with a timestamp and a stable event name
/// (operators grep them), as text or, with <c>--log-format json</c>, as one JSON object per line
/// (<c>{"time","level","device","event","message"}</c>). Kept dependency-free for Native AOT: the JSON is written by
/// <see cref="Utf8JsonWriter"/>, no reflection.</summary>
internal sealed class AgentLog(string device, bool verbose, bool json = false)
{
    private static readonly Lock Gate = new();

    /// <summary>The log formats <c>--log-format</c> accepts.</summary>
    public static readonly IReadOnlyList<string> Formats = ["text", "json"];

    /// <summary>Something worth knowing.</summary>
    public void Info(string evt, string message) => Write("info", evt, message);

    /// <summary>Something went wrong but the agent carries on.</summary>
    public void Warn(string evt, string message) => Write("warn", evt, message);

    /// <summary>Detail, shown with --verbose.</summary>
    public void Debug(string evt, string message)
    {
        if (verbose)
            Write("debug", evt, message);
    }

    /// <summary>The agent stops on an error.</summary>
    public void Error(string evt, string message) => Write("error", evt, message);

    private void Write(string level, string evt, string message)
    {
        var now = DateTimeOffset.UtcNow;
        var line = json ? JsonLine(now, level, device, evt, message) : $"{now:HH:mm:ss.fff} {level} {device} {evt}: {message}";
        lock (Gate)
            Console.Error.WriteLine(line);
    }

    /// <summary>One JSON log line (no line break inside: control characters and quotes are escaped; a log is not HTML,
    /// so quotes and back-ticks in messages are left readable).</summary>
    public static string JsonLine(DateTimeOffset time, string level, string device, string evt, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString("level", level);
            writer.WriteString("device", device);
            writer.WriteString("event", evt);
            writer.WriteString("message", message);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
