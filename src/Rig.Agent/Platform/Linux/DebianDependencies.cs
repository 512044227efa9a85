using System.Text.RegularExpressions;

namespace Rig.Agent.Platform.Linux;

/// <summary>One alternative of a Debian relationship field: <c>name[:arch] [(op version)]</c>.</summary>
/// <param name="Name">Package (or virtual package) name.</param>
/// <param name="Operator">One of <c>&lt;&lt; &lt;= = &gt;= &gt;&gt;</c> (or the obsolete <c>&lt; &gt;</c>), or null when any version will do.</param>
/// <param name="Version">The version the operator compares with, or null.</param>
public sealed record DebianRelation(string Name, string? Operator, string? Version)
{
    /// <inheritdoc />
    public override string ToString() => Operator is null ? Name : $"{Name} ({Operator} {Version})";
}

/// <summary>Debian control fields and relationship fields (Depends, Pre-Depends, Provides) as deb-control(5)
/// describes them: comma-separated groups of <c>|</c>-separated alternatives.</summary>
public static partial class DebianDependencies
{
    /// <summary>The fields of a control file (<c>dpkg-deb --field</c> output); continuation lines are joined with
    /// a space.</summary>
    public static Dictionary<string, string> ParseControl(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? last = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            if (line[0] is ' ' or '\t')
            {
                if (last is not null)
                    fields[last] = fields[last] + " " + line.Trim();
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            last = line[..colon].Trim();
            fields[last] = line[(colon + 1)..].Trim();
        }
        return fields;
    }

    /// <summary>Groups of alternatives of a relationship field (empty for a missing or blank field).</summary>
    /// <exception cref="FormatException">An alternative that is not <c>name[:arch] [(op version)]</c>.</exception>
    public static IReadOnlyList<IReadOnlyList<DebianRelation>> Parse(string? field)
    {
        if (string.IsNullOrWhiteSpace(field))
            return [];
        var groups = new List<IReadOnlyList<DebianRelation>>();
        foreach (var group in field.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var alternatives = new List<DebianRelation>();
            foreach (var text in group.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var match = RelationRegex().Match(text);
                if (!match.Success)
                    throw new FormatException($"'{text}' is not a Debian relation (name[:arch] [(op version)])");
                alternatives.Add(new DebianRelation(
                    match.Groups["name"].Value,
                    match.Groups["op"].Success ? match.Groups["op"].Value : null,
                    match.Groups["version"].Success ? match.Groups["version"].Value : null));
            }
            if (alternatives.Count > 0)
                groups.Add(alternatives);
        }
        return groups;
    }

    // name, optional :arch qualifier (any, native, amd64: ignored, one architecture per device), optional
    // (op version), optional [arch restrictions] and <build profiles> (source packages only; tolerated).
    [GeneratedRegex(@"^(?<name>[a-z0-9][a-z0-9+.\-]*)(:[a-z0-9\-]+)?\s*(\(\s*(?<op><<|<=|=|>=|>>|<|>)\s*(?<version>[^\s)]+)\s*\))?\s*(\[[^\]]*\])?\s*(<[^>]*>\s*)*$")]
    private static partial Regex RelationRegex();
}
