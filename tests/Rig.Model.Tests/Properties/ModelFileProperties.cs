using System.Text;
using System.Text.Json;
using CsCheck;
using Rig.Model.Domain;
using Rig.Model.Files;

namespace Rig.Model.Tests.Properties;

/// <summary>CHECKLIST 27, as properties: whatever text a model file holds, <see cref="ModelFiles.Read(IReadOnlyList{ModelSourceFile})"/>
/// returns a model or errors that each name a file of the input and a line and column inside it; it never throws.</summary>
public sealed class ModelFileProperties
{
    private static readonly IReadOnlyList<ModelSourceFile> SampleFiles = ModelFiles.Write(SampleModel.Build());

    /// <summary>Read, and prove the result is a model without errors or errors without a model, every error placed in
    /// one of the files read.</summary>
    private static bool ReadsOrReportsWithFileAndLine(IReadOnlyList<ModelSourceFile> files)
    {
        var result = ModelFiles.Read(files);
        Assert.True((result.Model is null) != (result.Errors.Count == 0), $"model {(result.Model is null ? "absent" : "present")} with {result.Errors.Count} errors");
        foreach (var error in result.Errors)
        {
            var file = files.SingleOrDefault(f => f.Path == error.Location.File);
            Assert.True(file is not null, $"error in unknown file '{error.Location.File}': {error}");
            var lines = file.Text.Split('\n').Length;
            Assert.True(error.Location.Line >= 1 && error.Location.Line <= lines + 1 && error.Location.Column >= 1,
                $"error at line {error.Location.Line}, column {error.Location.Column} of a {lines}-line file: {error}");
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
        return result.Model is not null;
    }

    private static readonly string[] Pieces =
    [
        ":", ": ", "-", "- ", "#", "[", "]", "{", "}", ",", "'", "\"", "\\", "|", ">", "&a ", "*a", "!!str ", "!tag ", "%YAML 1.2\n", "---\n", "...\n",
        "\n", "\n  ", "\t", "  ", "~", "null", "true", "0x1F", "1e999", "99999999999999999999", "-0", "0644", "\u00e9", "\uFEFF", "\0", "\u0085", "\u2028",
        "name", "site", "devices", "roles", "items", "package", "version", "template", "parameters", "hardware", "cpuCount", "web-1", "shop",
    ];

    /// <summary>One sample file damaged: a YAML piece inserted, a range removed, a line repeated or moved, a line's
    /// indentation changed, or the file cut short.</summary>
    private static readonly Gen<(string Path, string Text, string How)> DamagedSample =
        Gen.Select(Gen.Int[0, SampleFiles.Count - 1], Gen.Int[0, 5], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.Int[0, Pieces.Length - 1]).Select((f, how, p1, p2, piece) =>
        {
            var (path, text) = (SampleFiles[f].Path, SampleFiles[f].Text);
            var at = text.Length == 0 ? 0 : p1 % text.Length;
            var lines = text.Split('\n').ToList();
            var line = p1 % lines.Count;
            string damaged;
            switch (how)
            {
                case 0:
                    damaged = text.Insert(at, Pieces[piece]);
                    break;
                case 1:
                    damaged = text.Remove(at, Math.Min(text.Length - at, 1 + (p2 % 12)));
                    break;
                case 2:
                    lines.Insert(p2 % lines.Count, lines[line]);
                    damaged = string.Join('\n', lines);
                    break;
                case 3:
                    var moved = lines[line];
                    lines.RemoveAt(line);
                    lines.Insert(p2 % (lines.Count + 1), moved);
                    damaged = string.Join('\n', lines);
                    break;
                case 4:
                    lines[line] = new string(' ', p2 % 9) + lines[line].TrimStart(' ');
                    damaged = string.Join('\n', lines);
                    break;
                default:
                    damaged = text[..at];
                    break;
            }
            return (path, damaged, $"{path}: {(new[] { "insert " + Pieces[piece], "remove", "repeat line", "move line", "indent line", "cut" })[how]} at {at}/{line}/{p2}");
        });

    [Fact]
    public void A_damaged_model_file_loads_or_yields_errors_with_file_and_line()
    {
        var outcomes = new int[2];
        DamagedSample.Sample(damaged =>
        {
            var files = SampleFiles.Select(f => f.Path == damaged.Path ? f with { Text = damaged.Text } : f).ToList();
            Interlocked.Increment(ref outcomes[ReadsOrReportsWithFileAndLine(files) ? 0 : 1]);
        }, iter: 1500, print: d => $"{d.How}\n{d.Text}");
        Assert.True(outcomes.All(n => n > 0), $"loaded {outcomes[0]}, refused {outcomes[1]}: both outcomes should occur");
    }

    /// <summary>A YAML-like tree over the model's own vocabulary: scalars, lists and maps.</summary>
    private abstract record Node;
    private sealed record Scalar(string Text) : Node;
    private sealed record ListNode(Node[] Items) : Node;
    private sealed record MapNode((string Key, Node Value)[] Entries) : Node;

    private static readonly string[] Keys =
    [
        "parameters", "sites", "devices", "links", "templates", "bundles", "roleKinds", "roles", "assignments", "packages", "name", "site", "hardware",
        "cpuCount", "memoryMiB", "nics", "addresses", "tier", "facts", "items", "package", "version", "file", "template", "service", "kind", "from",
        "to", "purpose", "port", "text", "sha256", "device", "role", "mode", "owner", "running", "enabled", "pins", "x-unknown", "name",
    ];

    private static readonly string[] Values =
    [
        "web-1", "shop", "web", "os", "app", "8080", "-1", "0", "65536", "true", "no", "null", "~", "''", "\"\"", "0644", "1.24.0", "/etc/motd", "*a", "&a x",
        "!!int 3", "!!binary aGk=", "'it''s'", "\"a\\tb\"", "\"\\x00\"", "1e999", "99999999999999999999", "a: b", "[1, [2, [3]]]", "{a: {b: c}}", "|", ">-",
        "2026-01-01", "0x10", ".inf", "\u00e9t\u00e9", "{{ device.name }}", "{% if x %}", "!<> x", "!<a:b> x", "!e!x y", "%TAG ! x",
    ];

    private static Gen<Node> NodeGen(int depth) => depth == 0
        ? Gen.Int[0, Values.Length - 1].Select(i => (Node)new Scalar(Values[i]))
        : Gen.Frequency(
            (3, Gen.Int[0, Values.Length - 1].Select(i => (Node)new Scalar(Values[i]))),
            (2, NodeGen(depth - 1).Array[0, 3].Select(items => (Node)new ListNode(items))),
            (3, Gen.Select(Gen.Int[0, Keys.Length - 1], NodeGen(depth - 1)).Array[0, 4].Select(entries => (Node)new MapNode([.. entries.Select(e => (Keys[e.Item1], e.Item2))]))));

    private static void Render(StringBuilder text, Node node, int indent, bool flow)
    {
        switch (node)
        {
            case Scalar s:
                text.Append(s.Text);
                break;
            case ListNode { Items.Length: 0 }:
                text.Append("[]");
                break;
            case MapNode { Entries.Length: 0 }:
                text.Append("{}");
                break;
            case ListNode l when flow:
                text.Append('[');
                for (var i = 0; i < l.Items.Length; i++)
                {
                    if (i > 0)
                        text.Append(", ");
                    Render(text, l.Items[i], indent, flow);
                }
                text.Append(']');
                break;
            case MapNode m when flow:
                text.Append('{');
                for (var i = 0; i < m.Entries.Length; i++)
                {
                    if (i > 0)
                        text.Append(", ");
                    text.Append(m.Entries[i].Key).Append(": ");
                    Render(text, m.Entries[i].Value, indent, flow);
                }
                text.Append('}');
                break;
            case ListNode l:
                foreach (var item in l.Items)
                {
                    text.Append('\n').Append(' ', indent).Append("- ");
                    Render(text, item, indent + 2, flow);
                }
                break;
            case MapNode m:
                foreach (var (key, value) in m.Entries)
                {
                    text.Append('\n').Append(' ', indent).Append(key).Append(": ");
                    Render(text, value, indent + 2, flow);
                }
                break;
        }
    }

    [Fact]
    public void Generated_yaml_over_the_model_vocabulary_loads_or_yields_errors_with_file_and_line()
    {
        Gen.Select(NodeGen(4).Array[1, 2], Gen.Bool).Select((documents, flow) =>
        {
            var text = new StringBuilder();
            foreach (var document in documents)
            {
                text.Append("---");
                Render(text, document, 0, flow);
                text.Append('\n');
            }
            return text.ToString();
        }).Sample(yaml => { ReadsOrReportsWithFileAndLine([new ModelSourceFile("generated.yaml", yaml)]); }, iter: 1500, print: yaml => yaml);
    }

    /// <summary>Parameter values with everything YAML reads specially: indicators, quotes, line breaks, leading and
    /// trailing spaces, words YAML reads as null, booleans or numbers, non-ASCII text.</summary>
    private static readonly Gen<string> ParameterValue = Gen.Frequency(
        (3, Gen.Char["ab -:#'\"\\[]{},&*!|>%@`?~\t\n\u00e9\u4e2d"].Array[0, 20].Select(a => new string(a))),
        (1, Gen.Int[0, Values.Length - 1].Select(i => Values[i])),
        (1, Gen.OneOf(Gen.Const("null"), Gen.Const("~"), Gen.Const(""), Gen.Const("  "), Gen.Const("yes"), Gen.Const("0o17"), Gen.Const("- x"), Gen.Const("a\n\nb\n"))));

    [Fact]
    public void Any_parameter_text_survives_write_then_read()
    {
        var model = SampleModel.Build();
        Gen.Select(Gen.Int[0, 999], ParameterValue).Array[1, 6].Sample(parameters =>
        {
            var changed = model with { Parameters = parameters.DistinctBy(p => p.Item1).ToDictionary(p => $"p{p.Item1}", p => p.Item2) };
            var files = ModelFiles.Write(changed);

            var result = ModelFiles.Read(files);

            Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors) + "\n" + string.Join("\n", files.Select(f => $"--- {f.Path}\n{f.Text}")));
            Assert.Equal(JsonSerializer.Serialize(changed, ModelJson.Default.RigModel), JsonSerializer.Serialize(result.Model!, ModelJson.Default.RigModel));
        }, iter: 400, print: ps => string.Join(", ", ps.Select(p => $"p{p.Item1}={JsonSerializer.Serialize(p.Item2)}")));
    }
}
