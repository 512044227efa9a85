using System.Text.RegularExpressions;
using Rig.Protocol.Messages;

namespace Rig.Protocol.Packaging;

/// <summary>One relation between packages: a name (a package, a virtual package, or for RPM a capability such as
/// <c>libc.so.6()(64bit)</c> or a file path) and optionally a version constraint. Operators are written the Debian
/// way for both formats: <c>&lt;&lt; &lt;= = &gt;= &gt;&gt;</c>.</summary>
/// <param name="Name">What is required, provided or conflicted with.</param>
/// <param name="Operator">The constraint's operator, or null when any version will do.</param>
/// <param name="Version">The version the operator compares with, or null.</param>
public sealed record PackageRelation(string Name, string? Operator = null, string? Version = null)
{
    /// <summary>The operators in their canonical spelling.</summary>
    public static IReadOnlyList<string> Operators { get; } = ["<<", "<=", "=", ">=", ">>"];

    /// <summary>True when a package or capability at <paramref name="version"/> meets the constraint (always when
    /// there is none), compared the way <paramref name="format"/> orders versions.</summary>
    public bool Allows(string? version, string format) =>
        Operator is null || (version is not null && VersionOrder.Satisfies(format, version, Operator, Version!));

    /// <inheritdoc />
    public override string ToString() => Operator is null ? Name : $"{Name} ({Operator} {Version})";
}

/// <summary>Relation fields as Rig keeps them in the package catalog and in inventories: a dependency is a list of
/// groups, each group one string of alternatives separated by <c> | </c> (<c>default-mta | mail-transport-agent</c>),
/// each alternative <c>name</c> or <c>name (op version)</c>; Provides and Conflicts are lists of single relations.
/// Debian's own field syntax (architecture qualifiers, restriction lists, the obsolete <c>&lt;</c> and
/// <c>&gt;</c>) is read by <see cref="ParseDebianField"/> and written back in this canonical form.</summary>
public static partial class PackageRelations
{
    /// <summary>The alternatives of one canonical group string.</summary>
    /// <exception cref="FormatException">An alternative that is not <c>name</c> or <c>name (op version)</c>.</exception>
    public static IReadOnlyList<PackageRelation> ParseGroup(string group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var alternatives = new List<PackageRelation>();
        foreach (var text in group.Split(" | ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            alternatives.Add(Parse(text));
        if (alternatives.Count == 0)
            throw new FormatException($"'{group}' names no package");
        return alternatives;
    }

    /// <summary>One canonical relation, <c>name</c> or <c>name (op version)</c>.</summary>
    /// <exception cref="FormatException">Anything else.</exception>
    public static PackageRelation Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var match = CanonicalRegex().Match(text.Trim());
        if (!match.Success)
            throw new FormatException($"'{text}' is not a package relation (name, or name (op version) with op one of << <= = >= >>)");
        return new PackageRelation(match.Groups["name"].Value,
            match.Groups["op"].Success ? match.Groups["op"].Value : null,
            match.Groups["version"].Success ? match.Groups["version"].Value : null);
    }

    /// <summary>True when <paramref name="text"/> is a canonical relation.</summary>
    public static bool IsValid(string? text) => text is not null && text.Length <= 512 && CanonicalRegex().IsMatch(text.Trim());

    /// <summary>True when every alternative of <paramref name="group"/> is a canonical relation.</summary>
    public static bool IsValidGroup(string? group)
    {
        if (group is null || group.Length > 4096)
            return false;
        var parts = group.Split(" | ", StringSplitOptions.TrimEntries);
        return parts.Length > 0 && parts.All(IsValid);
    }

    /// <summary>A group written back as one canonical string.</summary>
    public static string Format(IEnumerable<PackageRelation> group) => string.Join(" | ", group);

    /// <summary>The groups of a Debian relationship field (Depends, Pre-Depends, Conflicts, Breaks, Provides) as
    /// deb-control(5) writes them: comma-separated groups of <c>|</c>-separated alternatives, each
    /// <c>name[:arch] [(op version)] [arch list] [&lt;profiles&gt;]</c>. Architecture qualifiers are dropped (a device
    /// has one architecture), the obsolete <c>&lt;</c> and <c>&gt;</c> read as <c>&lt;=</c> and <c>&gt;=</c>.
    /// Empty for a missing or blank field.</summary>
    /// <exception cref="FormatException">An alternative that is not a Debian relation.</exception>
    public static IReadOnlyList<IReadOnlyList<PackageRelation>> ParseDebianField(string? field)
    {
        if (string.IsNullOrWhiteSpace(field))
            return [];
        var groups = new List<IReadOnlyList<PackageRelation>>();
        foreach (var group in field.Replace('\n', ' ').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var alternatives = new List<PackageRelation>();
            foreach (var text in group.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var match = DebianRegex().Match(text);
                if (!match.Success)
                    throw new FormatException($"'{text}' is not a Debian relation (name[:arch] [(op version)])");
                var op = match.Groups["op"].Success ? match.Groups["op"].Value switch { "<" => "<=", ">" => ">=", var o => o } : null;
                alternatives.Add(new PackageRelation(match.Groups["name"].Value, op, match.Groups["version"].Success ? match.Groups["version"].Value : null));
            }
            if (alternatives.Count > 0)
                groups.Add(alternatives);
        }
        return groups;
    }

    /// <summary>The canonical operator of RPM's sense flags (RPMSENSE_LESS 2, GREATER 4, EQUAL 8), or null when the
    /// flags carry no comparison.</summary>
    public static string? RpmOperator(int flags) => (flags & 0b1110) switch
    {
        2 => "<<",
        2 | 8 => "<=",
        8 => "=",
        4 | 8 => ">=",
        4 => ">>",
        _ => null,
    };

    // name (no blanks, no '|' or ','), optional " (op version)".
    [GeneratedRegex(@"^(?<name>[^\s|,()][^\s|,]*?)(\s\((?<op><<|<=|=|>=|>>)\s(?<version>[^\s()|,]+)\))?$")]
    private static partial Regex CanonicalRegex();

    // name, optional :arch qualifier (any, native, amd64: dropped), optional (op version), optional [arch restrictions]
    // and <build profiles> (source packages only; tolerated).
    [GeneratedRegex(@"^(?<name>[a-z0-9][a-z0-9+.\-]*)(:[a-z0-9\-]+)?\s*(\(\s*(?<op><<|<=|=|>=|>>|<|>)\s*(?<version>[^\s)]+)\s*\))?\s*(\[[^\]]*\])?\s*(<[^>]*>\s*)*$")]
    private static partial Regex DebianRegex();
}

/// <summary>Version order per package format.</summary>
public static class VersionOrder
{
    /// <summary>Compare two versions the way <paramref name="format"/>'s package manager does (RPM's rpmvercmp for
    /// <c>rpm</c>, Debian's order for everything else).</summary>
    public static int Compare(string format, string left, string right) =>
        format == PackageFormats.Rpm ? RpmVersion.Compare(left, right) : DebianVersion.Compare(left, right);

    /// <summary>True when <paramref name="version"/> <paramref name="op"/> <paramref name="wanted"/> holds.</summary>
    /// <exception cref="ArgumentException">An operator that is not canonical.</exception>
    public static bool Satisfies(string format, string version, string op, string wanted)
    {
        var c = Compare(format, version, wanted);
        return op switch
        {
            "<<" => c < 0,
            "<=" => c <= 0,
            "=" => c == 0,
            ">=" => c >= 0,
            ">>" => c > 0,
            _ => throw new ArgumentException($"'{op}' is not a version operator (<< <= = >= >>).", nameof(op)),
        };
    }
}
