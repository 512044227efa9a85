namespace Rig.Server.Packages;

/// <summary>deb822 text (apt sources, <c>apt-cache show</c> output, dpkg status files): paragraphs separated by blank
/// lines, <c>Field: value</c> lines, continuation lines starting with a blank, <c>#</c> comment lines.</summary>
internal static class DebControl
{
    /// <summary>The paragraphs in order, each as its fields in order (a continued value keeps its line breaks,
    /// without the leading blank of the continuation lines).</summary>
    public static IReadOnlyList<IReadOnlyList<KeyValuePair<string, string>>> Stanzas(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var stanzas = new List<IReadOnlyList<KeyValuePair<string, string>>>();
        var fields = new List<KeyValuePair<string, string>>();
        foreach (var raw in text.Split('\n').Append(""))
        {
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                if (fields.Count > 0)
                    stanzas.Add(fields);
                fields = [];
                continue;
            }
            if (line.StartsWith('#'))
                continue;
            if (line[0] is ' ' or '\t')
            {
                if (fields.Count > 0)
                    fields[^1] = new(fields[^1].Key, fields[^1].Value + "\n" + line.Trim());
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            fields.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }
        return stanzas;
    }

    /// <summary>The paragraphs as dictionaries (the first of a repeated field wins; field names are case-insensitive).</summary>
    public static IEnumerable<Dictionary<string, string>> Paragraphs(string text)
    {
        foreach (var stanza in Stanzas(text))
        {
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, value) in stanza)
                fields.TryAdd(key, value);
            yield return fields;
        }
    }
}
