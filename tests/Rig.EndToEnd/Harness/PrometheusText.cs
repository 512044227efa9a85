using System.Globalization;
using System.Text;

namespace Rig.EndToEnd.Harness;

/// <summary>A strict reader of the Prometheus text exposition format (0.0.4): every line must be a HELP or TYPE line, a
/// comment, blank, or a sample of a family whose TYPE came before it, with well-formed names, quoted and escaped label
/// values and a float value; a series may appear once. Anything else fails the test that reads it.</summary>
internal sealed class PrometheusText
{
    private static readonly HashSet<string> Kinds = ["counter", "gauge", "histogram", "summary", "untyped"];

    private PrometheusText()
    {
    }

    /// <summary>Family name to its type.</summary>
    public Dictionary<string, string> Types { get; } = new(StringComparer.Ordinal);

    /// <summary>Every sample: name, labels, value.</summary>
    public List<(string Name, IReadOnlyDictionary<string, string> Labels, double Value)> Samples { get; } = [];

    /// <summary>Parse a scrape; throws <see cref="FormatException"/> naming the line that is not the format.</summary>
    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new PrometheusText();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            try
            {
                if (line.Length == 0)
                    continue;
                if (line.StartsWith('#'))
                {
                    var parts = line.Split(' ', 4);
                    if (parts.Length >= 3 && parts[1] == "TYPE")
                    {
                        if (parts.Length != 4 || !IsMetricName(parts[2]) || !Kinds.Contains(parts[3]))
                            throw new FormatException("a TYPE line is '# TYPE name counter|gauge|histogram|summary|untyped'");
                        if (!result.Types.TryAdd(parts[2], parts[3]))
                            throw new FormatException($"a second TYPE line for {parts[2]}");
                    }
                    else if (parts.Length >= 3 && parts[1] == "HELP" && !IsMetricName(parts[2]))
                    {
                        throw new FormatException("a HELP line names no metric");
                    }
                    continue;
                }
                var (name, labels, value) = ParseSample(line);
                var family = result.FamilyOf(name) ?? throw new FormatException($"sample {name} has no TYPE line before it");
                if (result.Types[family] == "histogram" && name == family + "_bucket" && !labels.ContainsKey("le"))
                    throw new FormatException("a histogram bucket without 'le'");
                var key = name + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
                if (!seen.Add(key))
                    throw new FormatException($"series {key} appears twice");
                result.Samples.Add((name, labels, value));
            }
            catch (FormatException e)
            {
                throw new FormatException($"line {i + 1} is not Prometheus text ({e.Message}): {line}", e);
            }
        }
        return result;
    }

    /// <summary>The value of the one series named <paramref name="name"/> carrying <paramref name="labels"/> (and maybe others).</summary>
    public double Value(string name, params (string Name, string Value)[] labels)
    {
        var matches = Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).ToList();
        return matches.Count switch
        {
            1 => matches[0].Value,
            0 => throw new Xunit.Sdk.XunitException($"no series {name}{{{string.Join(",", labels.Select(l => $"{l.Name}=\"{l.Value}\""))}}}; the series named {name}: " +
                string.Join("; ", Samples.Where(s => s.Name == name).Select(s => string.Join(",", s.Labels.Select(l => $"{l.Key}={l.Value}"))))),
            _ => throw new Xunit.Sdk.XunitException($"{matches.Count} series {name} match {string.Join(",", labels)}: give more labels"),
        };
    }

    private string? FamilyOf(string name)
    {
        if (Types.ContainsKey(name))
            return name;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count", "_total", "_created" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && Types.ContainsKey(name[..^suffix.Length]))
                return name[..^suffix.Length];
        }
        return null;
    }

    private static (string Name, Dictionary<string, string> Labels, double Value) ParseSample(string line)
    {
        var i = 0;
        while (i < line.Length && line[i] is not ('{' or ' '))
            i++;
        var name = line[..i];
        if (!IsMetricName(name))
            throw new FormatException($"'{name}' is not a metric name");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}')
                {
                    i++;
                    break;
                }
                var start = i;
                while (i < line.Length && line[i] != '=')
                    i++;
                var label = line[start..i];
                if (!IsLabelName(label) || i + 1 >= line.Length || line[i + 1] != '"')
                    throw new FormatException($"label '{label}' is not name=\"value\"");
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length)
                        throw new FormatException("a label value is not closed");
                    var c = line[i++];
                    if (c == '"')
                        break;
                    if (c == '\\')
                    {
                        if (i >= line.Length)
                            throw new FormatException("a label value ends in a backslash");
                        value.Append(line[i++] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            var other => throw new FormatException($"'\\{other}' is not an escape of the format"),
                        });
                    }
                    else
                    {
                        value.Append(c);
                    }
                }
                if (!labels.TryAdd(label, value.ToString()))
                    throw new FormatException($"label '{label}' twice");
                if (i < line.Length && line[i] == ',')
                    i++;
                else if (i >= line.Length || line[i] != '}')
                    throw new FormatException("labels are separated by ',' and closed by '}'");
            }
        }
        if (i >= line.Length || line[i] != ' ')
            throw new FormatException("no value after the name");
        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2 || (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
            throw new FormatException("a sample is 'name{labels} value [timestamp]'");
        var number = rest[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var v when double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            var v => throw new FormatException($"'{v}' is not a float"),
        };
        return (name, labels, number);
    }

    private static bool IsMetricName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] is '_' or ':') && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    private static bool IsLabelName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
