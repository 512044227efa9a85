using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Rig.Model.Files;

/// <summary>Writes one YAML document through YamlDotNet's emitter, choosing each scalar's style so that the
/// reader gets the exact text back: values YAML would read as another type (<c>1.10</c>, <c>0644</c>,
/// <c>true</c>, <c>null</c>, "") are double-quoted, multi-line texts are literal blocks when that is exact.</summary>
internal sealed partial class YamlOut
{
    private static readonly EmitterSettings Settings = EmitterSettings.Default
        .WithBestIndent(2)
        .WithBestWidth(10_000)
        .WithIndentedSequences()
        .WithNewLine("\n");

    private readonly StringWriter _text = new(CultureInfo.InvariantCulture);
    private readonly Emitter _emitter;

    public YamlOut()
    {
        _emitter = new Emitter(_text, Settings);
        _emitter.Emit(new StreamStart());
        _emitter.Emit(new DocumentStart());
        BeginMap();
    }

    /// <summary>End the document and return its text.</summary>
    public string Finish()
    {
        EndMap();
        _emitter.Emit(new DocumentEnd(isImplicit: true));
        _emitter.Emit(new StreamEnd());
        return _text.ToString();
    }

    public void BeginMap(bool flow = false) => _emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, flow ? MappingStyle.Flow : MappingStyle.Block));

    public void EndMap() => _emitter.Emit(new MappingEnd());

    public void BeginList(bool flow = false) => _emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, flow ? SequenceStyle.Flow : SequenceStyle.Block));

    public void EndList() => _emitter.Emit(new SequenceEnd());

    /// <summary>A key of the current map.</summary>
    public void Key(string key) => Text(key);

    /// <summary>A text value in the style that reads back exactly.</summary>
    public void Text(string value) => _emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, value, StyleOf(value), true, true));

    /// <summary>A number or boolean, written plain.</summary>
    public void Plain(string value) => _emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, value, ScalarStyle.Plain, true, false));

    /// <summary><c>key: value</c> when the value is not null.</summary>
    public void Field(string key, string? value)
    {
        if (value is null)
            return;
        Key(key);
        Text(value);
    }

    public void Field(string key, long value)
    {
        Key(key);
        Plain(value.ToString(CultureInfo.InvariantCulture));
    }

    public void Field(string key, bool value)
    {
        Key(key);
        Plain(value ? "true" : "false");
    }

    /// <summary>A map of texts; nothing when empty.</summary>
    public void Map(string key, IReadOnlyDictionary<string, string> values, bool flow = false)
    {
        if (values.Count == 0)
            return;
        Key(key);
        BeginMap(flow);
        foreach (var (k, v) in values)
        {
            Key(k);
            Text(v);
        }
        EndMap();
    }

    /// <summary>A flow list of texts; nothing when empty.</summary>
    public void List(string key, IEnumerable<string> values)
    {
        var list = values.ToList();
        if (list.Count == 0)
            return;
        Key(key);
        BeginList(flow: true);
        foreach (var v in list)
            Text(v);
        EndList();
    }

    private static ScalarStyle StyleOf(string value)
    {
        if (value.Contains('\n', StringComparison.Ordinal) || value.Contains('\r', StringComparison.Ordinal))
            return LiteralReadsBack(value) ? ScalarStyle.Literal : ScalarStyle.DoubleQuoted;
        if (value.Length == 0 || value == Domain.SecretParameters.Placeholder || OtherType().IsMatch(value) || value.Any(char.IsControl))
            return ScalarStyle.DoubleQuoted;
        return ScalarStyle.Any; // plain when the emitter can, quoted when it cannot (': ', '#', leading '-'...)
    }

    /// <summary>Literal blocks cannot hold every text exactly (carriage returns, only line breaks, some leading
    /// or trailing whitespace): write one and read it back to decide.</summary>
    private static bool LiteralReadsBack(string value)
    {
        if (value.Contains('\r', StringComparison.Ordinal))
            return false;
        try
        {
            var text = new StringWriter(CultureInfo.InvariantCulture);
            var emitter = new Emitter(text, Settings);
            emitter.Emit(new StreamStart());
            emitter.Emit(new DocumentStart());
            emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));
            emitter.Emit(new Scalar("k"));
            emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, value, ScalarStyle.Literal, true, true));
            emitter.Emit(new MappingEnd());
            emitter.Emit(new DocumentEnd(isImplicit: true));
            emitter.Emit(new StreamEnd());
            var parser = new Parser(new StringReader(text.ToString()));
            var scalars = 0;
            while (parser.MoveNext())
            {
                if (parser.Current is Scalar s && ++scalars == 2)
                    return s.Value == value;
            }
            return false;
        }
        catch (YamlException)
        {
            return false;
        }
    }

    /// <summary>Plain scalars that YAML 1.1 or 1.2 tools read as null, booleans, numbers or timestamps.</summary>
    [GeneratedRegex(@"^(~|null|Null|NULL|(?i:y|n|yes|no|true|false|on|off)|[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(:[0-5]?[0-9])*|([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+|\.(inf|Inf|INF))|\.(nan|NaN|NAN)|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex OtherType();
}
