using System.Globalization;

namespace Rig.Model.Files;

/// <summary>One YAML map read as one model object: the keys it may have, its model path (for the
/// <see cref="SourceMap"/> and error keys), and typed accessors that report wrong types with positions.</summary>
internal sealed class Fields(ModelFileReader reader, YMap map, string path, string what, IReadOnlyList<string> known)
{
    /// <summary>The map read.</summary>
    public YMap Map { get; } = map;

    /// <summary>Model path of the object (<c>devices/web-1</c>).</summary>
    public string Path { get; private set; } = path;

    /// <summary>The object for messages (<c>device 'web-1'</c>).</summary>
    public string What { get; private set; } = what;

    /// <summary>Give the object its final path and name once its name is read.</summary>
    public void Rename(string newPath, string newWhat)
    {
        Path = newPath;
        What = newWhat;
    }

    /// <summary>Record the object's and every known key's position; report unknown and repeated keys.</summary>
    public void Check()
    {
        reader.Record(Path, Map);
        foreach (var (again, first) in Map.Duplicates)
        {
            reader.Error(ModelFileCodes.DuplicateKey, again, Key(again.Value),
                $"`{again.Value}` is given twice in {What} (first at line {first.Line}); keep one of them.");
        }
        foreach (var (key, _) in Map.Entries)
        {
            if (known.Contains(key.Value, StringComparer.Ordinal))
            {
                reader.Record(Key(key.Value), key);
                continue;
            }
            var suggestion = Suggestions.Closest(key.Value, known);
            reader.Error(ModelFileCodes.UnknownKey, key, Key(key.Value),
                $"Unknown key `{key.Value}` in {What}; " + (suggestion is null ? "" : $"did you mean `{suggestion}`? ") +
                $"Known keys here: {string.Join(", ", known)}.");
        }
    }

    /// <summary>Model path of a key of this object.</summary>
    public string Key(string key) => Path.Length == 0 ? key : $"{Path}/{key}";

    /// <summary>The value of a key, or null when absent.</summary>
    public YNode? Node(string key)
    {
        foreach (var (k, v) in Map.Entries)
        {
            if (k.Value == key)
                return v;
        }
        return null;
    }

    /// <summary>The key node itself (for positions), or null.</summary>
    public YScalar? KeyNode(string key)
    {
        foreach (var (k, _) in Map.Entries)
        {
            if (k.Value == key)
                return k;
        }
        return null;
    }

    /// <summary>Whether the key is present.</summary>
    public bool Has(string key) => KeyNode(key) is not null;

    /// <summary>A text value as written; null when absent or empty. A required key that is absent or empty is
    /// reported with <paramref name="hint"/> saying what to write.</summary>
    public string? String(string key, bool required = false, string? hint = null)
    {
        var node = Node(key);
        if (node is null)
        {
            if (required)
                reader.Error(ModelFileCodes.MissingKey, Map, Key(key), $"{Capital(What)} needs `{key}:`" + (hint is null ? "." : $" ({hint})."));
            return null;
        }
        if (node is YScalar { IsNull: true })
        {
            if (required)
                reader.Error(ModelFileCodes.MissingKey, node, Key(key), $"`{key}` of {What} has no value" + (hint is null ? "." : $"; write {hint}."));
            return null;
        }
        return Scalar(node, key, "text", "")?.Value;
    }

    /// <summary>A text value, or <paramref name="fallback"/> when absent or empty.</summary>
    public string StringOr(string key, string fallback) => String(key) ?? fallback;

    /// <summary>A whole number, or null when absent or wrong (reported).</summary>
    public long? Long(string key, long min = long.MinValue, long max = long.MaxValue)
    {
        if (Node(key) is not { } node || node is YScalar { IsNull: true })
            return null;
        if (Scalar(node, key, "a whole number", " (like 8)") is not { } s)
            return null;
        if (!IsInteger(s.Value) || !long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            reader.Error(ModelFileCodes.NotANumber, s, Key(key),
                $"`{key}` of {What} must be a whole number" + (max < long.MaxValue ? $" up to {max}" : "") + $", not '{s.Value}'.");
            return null;
        }
        return value;
    }

    /// <summary>A whole number that fits an int.</summary>
    public int? Int(string key) => (int?)Long(key, int.MinValue, int.MaxValue);

    /// <summary><c>true</c> or <c>false</c>, or null when absent or wrong (reported).</summary>
    public bool? Bool(string key)
    {
        if (Node(key) is not { } node || node is YScalar { IsNull: true })
            return null;
        if (Scalar(node, key, "true or false", "") is not { } s)
            return null;
        switch (s.Value)
        {
            case "true" or "True" or "TRUE":
                return true;
            case "false" or "False" or "FALSE":
                return false;
            default:
                reader.Error(ModelFileCodes.NotABool, s, Key(key), $"`{key}` of {What} must be true or false, not '{s.Value}'.");
                return null;
        }
    }

    /// <summary>A map of texts (parameters, facts, attributes, pins), each entry's position recorded. An empty
    /// value is the empty text.</summary>
    public IReadOnlyDictionary<string, string> StringMap(string key)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Node(key) is not { } node || node is YScalar { IsNull: true })
            return result;
        if (node is not YMap map)
        {
            WrongType(node, key, "a map", " like `{name: value}`");
            return result;
        }
        var path = Key(key);
        foreach (var (again, first) in map.Duplicates)
            reader.Error(ModelFileCodes.DuplicateKey, again, $"{path}/{again.Value}", $"`{again.Value}` is given twice in `{key}` of {What} (first at line {first.Line}); keep one of them.");
        foreach (var (k, v) in map.Entries)
        {
            reader.Record($"{path}/{k.Value}", k);
            switch (v)
            {
                case YScalar s:
                    result[k.Value] = s.IsNull ? "" : s.Value;
                    break;
                case YBad:
                    break;
                default:
                    reader.Error(ModelFileCodes.WrongType, v, $"{path}/{k.Value}", $"`{k.Value}` in `{key}` of {What} must be text, not {v.Describe}; quote it if it should be text.");
                    break;
            }
        }
        return result;
    }

    /// <summary>A list of texts with each element's node, positions recorded as <c>path/key/i</c>.</summary>
    public IReadOnlyList<(string Value, YScalar Node)> StringList(string key, string example)
    {
        var result = new List<(string, YScalar)>();
        if (List(key, example) is not { } list)
            return result;
        for (var i = 0; i < list.Items.Count; i++)
        {
            var item = list.Items[i];
            reader.Record($"{Key(key)}/{i}", item);
            if (item is YScalar { IsNull: false } s)
                result.Add((s.Value, s));
            else if (item is not YBad)
                reader.Error(ModelFileCodes.WrongType, item, $"{Key(key)}/{i}", $"Entry {i} of `{key}` of {What} must be text, not {(item is YScalar ? "empty" : item.Describe)}.");
        }
        return result;
    }

    /// <summary>A list, or null when absent, empty or not a list (reported).</summary>
    public YList? List(string key, string example)
    {
        if (Node(key) is not { } node || node is YScalar { IsNull: true })
            return null;
        if (node is YList list)
            return list;
        WrongType(node, key, "a list", $" like `{key}: {example}`");
        return null;
    }

    /// <summary>A nested object (a device's hardware), or null when absent or not a map (reported).</summary>
    public Fields? Object(string key, string what, IReadOnlyList<string> keys)
    {
        if (Node(key) is not { } node || node is YScalar { IsNull: true })
            return null;
        if (node is not YMap map)
        {
            WrongType(node, key, "a map", "");
            return null;
        }
        var fields = new Fields(reader, map, Key(key), what, keys);
        fields.Check();
        return fields;
    }

    private YScalar? Scalar(YNode node, string key, string expected, string example)
    {
        if (node is YScalar s)
            return s;
        if (node is not YBad)
            WrongType(node, key, expected, example);
        return null;
    }

    private void WrongType(YNode node, string key, string expected, string example) =>
        reader.Error(ModelFileCodes.WrongType, node, Key(key), $"`{key}` of {What} must be {expected}{example}, not {node.Describe}.");

    private static bool IsInteger(string text)
    {
        var digits = text.StartsWith('-') ? text.AsSpan(1) : text.AsSpan();
        if (digits.Length == 0)
            return false;
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
                return false;
        }
        return true;
    }

    private static string Capital(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}

/// <summary>"Did you mean" for unknown keys.</summary>
internal static class Suggestions
{
    /// <summary>The known word closest to <paramref name="word"/> (edit distance, ignoring case, or a shared
    /// start of 3 letters), or null when none is close.</summary>
    public static string? Closest(string word, IEnumerable<string> known)
    {
        string? best = null;
        var bestScore = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = Distance(word.ToLowerInvariant(), candidate.ToLowerInvariant());
            var close = distance <= Math.Max(2, word.Length / 3) || CommonPrefix(word, candidate) >= 3;
            if (close && distance < bestScore)
            {
                best = candidate;
                bestScore = distance;
            }
        }
        return best;
    }

    private static int CommonPrefix(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && char.ToLowerInvariant(a[n]) == char.ToLowerInvariant(b[n]))
            n++;
        return n;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
            previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
