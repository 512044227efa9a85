using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Rig.Model.Files;

/// <summary>A node of a parsed YAML document with its 1-based position.</summary>
internal abstract class YNode(int line, int column)
{
    public int Line { get; } = line;
    public int Column { get; } = column;

    /// <summary>"a map", "a list", "text": for "must be X, not Y" messages.</summary>
    public abstract string Describe { get; }
}

/// <summary>A scalar's text exactly as written (never converted by YAML's type rules: <c>0644</c> stays "0644").</summary>
internal sealed partial class YScalar(int line, int column, string value, bool plain) : YNode(line, column)
{
    public string Value { get; } = value;

    /// <summary>Written without quotes.</summary>
    public bool Plain { get; } = plain;

    /// <summary>YAML's null: an unquoted empty value, <c>~</c> or <c>null</c>.</summary>
    public bool IsNull => Plain && Value is "" or "~" or "null" or "Null" or "NULL";

    public override string Describe => IsNull ? "empty" : $"the text '{Value}'";
}

/// <summary>A sequence.</summary>
internal sealed class YList(int line, int column, IReadOnlyList<YNode> items) : YNode(line, column)
{
    public IReadOnlyList<YNode> Items { get; } = items;

    public override string Describe => "a list";
}

/// <summary>A mapping with plain-text keys, in file order; a repeated key is left out of <see cref="Entries"/>
/// and kept in <see cref="Duplicates"/> for the reader to report with its model path.</summary>
internal sealed class YMap(int line, int column, IReadOnlyList<(YScalar Key, YNode Value)> entries, IReadOnlyList<(YScalar Again, YScalar First)> duplicates) : YNode(line, column)
{
    public IReadOnlyList<(YScalar Key, YNode Value)> Entries { get; } = entries;

    public IReadOnlyList<(YScalar Again, YScalar First)> Duplicates { get; } = duplicates;

    public override string Describe => "a map";
}

/// <summary>A node that could not be read; its error is already reported, so readers skip it silently.</summary>
internal sealed class YBad(int line, int column) : YNode(line, column)
{
    public override string Describe => "an unreadable value";
}

/// <summary>Parses YAML text into <see cref="YNode"/> trees with YamlDotNet's parser, reporting syntax errors,
/// duplicate keys, aliases and excessive nesting with their positions instead of throwing.</summary>
internal static partial class YamlTree
{
    /// <summary>The documents of <paramref name="text"/> (empty documents left out). On a syntax error the
    /// documents read so far are returned; the error is in <paramref name="errors"/>.</summary>
    public static IReadOnlyList<YNode> Parse(string file, string text, int maxDepth, List<ModelFileError> errors)
    {
        var documents = new List<YNode>();
        var parser = new Parser(new StringReader(text));
        var last = (Line: 1, Column: 1);
        try
        {
            Next();
            while (Next() is DocumentStart)
            {
                var root = Read(Next(), 1);
                Next(); // DocumentEnd
                if (root is not YScalar { IsNull: true })
                    documents.Add(root);
            }
        }
        catch (YamlException e)
        {
            errors.Add(new ModelFileError(ModelFileCodes.YamlSyntax, Location(e.Start.Line > 0 ? ((int)e.Start.Line, (int)e.Start.Column) : last), "",
                $"This is not valid YAML: {Clean(e.Message)}. Check the indentation and quoting here (strings with ': ', '#' or starting with a special character need quotes)."));
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this on some malformed flow collections (e.g. an unclosed '[').
            errors.Add(new ModelFileError(ModelFileCodes.YamlSyntax, Location(last), "",
                "This is not valid YAML: the parser stopped after this position. Look for an unclosed '[', '{' or quote."));
        }
        catch (ArgumentException e)
        {
            // YamlDotNet's parser throws this for a malformed tag (an empty verbatim tag `!<>`, a global tag that is
            // not a URI); found by fuzzing. The tag is at or just after the last event read.
            errors.Add(new ModelFileError(ModelFileCodes.YamlSyntax, Location(last), "",
                $"This is not valid YAML: a tag here cannot be read ({Clean(e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal))}). Model files need no tags: remove the '!...' before the value."));
        }
        catch (TooDeepException e)
        {
            errors.Add(new ModelFileError(ModelFileCodes.TooDeep, Location((e.Line, e.Column)), "",
                $"The YAML nests deeper than {maxDepth} levels here; a model file nests about 8. Flatten the structure."));
        }
        return documents;

        SourceLocation Location((int Line, int Column) at) => new(file, at.Line, at.Column);

        ParsingEvent Next()
        {
            if (!parser.MoveNext())
                throw new YamlException("the text ends in the middle of a value");
            var e = parser.Current!;
            last = ((int)e.Start.Line, (int)e.Start.Column);
            return e;
        }

        YNode Read(ParsingEvent e, int depth)
        {
            var (line, column) = ((int)e.Start.Line, (int)e.Start.Column);
            if (depth > maxDepth)
                throw new TooDeepException(line, column);
            switch (e)
            {
                case Scalar s:
                    return new YScalar(line, column, s.Value, s.Style is ScalarStyle.Plain or ScalarStyle.Any);
                case AnchorAlias a:
                    errors.Add(new ModelFileError(ModelFileCodes.YamlAlias, Location((line, column)), "",
                        $"The alias '*{a.Value}' is not supported in model files: write the value out, or share it the Rig way (a bundle for items, parameters for values)."));
                    return new YBad(line, column);
                case SequenceStart:
                {
                    var items = new List<YNode>();
                    for (var next = Next(); next is not SequenceEnd; next = Next())
                        items.Add(Read(next, depth + 1));
                    return new YList(line, column, items);
                }
                case MappingStart:
                {
                    var entries = new List<(YScalar, YNode)>();
                    var duplicates = new List<(YScalar, YScalar)>();
                    var seen = new Dictionary<string, YScalar>(StringComparer.Ordinal);
                    for (var next = Next(); next is not MappingEnd; next = Next())
                    {
                        var key = Read(next, depth + 1);
                        var value = Read(Next(), depth + 1);
                        if (key is not YScalar k || k.IsNull)
                        {
                            if (key is not YBad)
                                errors.Add(new ModelFileError(ModelFileCodes.WrongType, Location((key.Line, key.Column)), "",
                                    $"A key must be a plain name, not {key.Describe}; write `name: value`."));
                        }
                        else if (seen.TryGetValue(k.Value, out var first))
                        {
                            duplicates.Add((k, first));
                        }
                        else
                        {
                            seen.Add(k.Value, k);
                            entries.Add((k, value));
                        }
                    }
                    return new YMap(line, column, entries, duplicates);
                }
                default:
                    throw new YamlException(e.Start, e.End, $"unexpected {e.GetType().Name}");
            }
        }
    }

    /// <summary>YamlDotNet may prefix its message with the positions; the error carries them already.</summary>
    private static string Clean(string message)
    {
        var text = PositionPrefix().Replace(message, "").Trim();
        return text.TrimEnd('.');
    }

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\):\s*", RegexOptions.CultureInvariant)]
    private static partial Regex PositionPrefix();

    private sealed class TooDeepException(int line, int column) : Exception(string.Create(CultureInfo.InvariantCulture, $"too deep at {line}:{column}"))
    {
        public int Line { get; } = line;
        public int Column { get; } = column;
    }
}
