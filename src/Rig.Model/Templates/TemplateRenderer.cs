using System.Text.Encodings.Web;
using Fluid;
using Fluid.Values;
using Rig.Model.Domain;

namespace Rig.Model.Templates;

/// <summary>Renders configuration templates with Fluid (sandboxed Liquid). Templates see <c>device</c>,
/// <c>site</c>, <c>params</c>, <c>role</c>, <c>links</c> (outgoing interconnections, each with the peer's
/// name, hostname, address, tier and the link's purpose and port) and <c>linked_from</c> (incoming).
/// Parameter values are data: template syntax inside them is output as text, never evaluated (CHECKLIST 15).</summary>
public sealed class TemplateRenderer
{
    private static readonly FluidParser Parser = new();
    private readonly TemplateOptions _options;
    // Thread-safe: a fleet is planned in parallel with one renderer (parsed templates are immutable).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (IFluidTemplate? Template, string? Error)> _parsed = new(StringComparer.Ordinal);

    /// <summary>A renderer for one model's templates; parsed templates are cached.</summary>
    public TemplateRenderer(IReadOnlyDictionary<string, ConfigTemplate> templates)
    {
        ArgumentNullException.ThrowIfNull(templates);
        Templates = templates;
        _options = new TemplateOptions { MaxSteps = 1_000_000, MaxRecursion = 32 };
    }

    /// <summary>The templates by name.</summary>
    public IReadOnlyDictionary<string, ConfigTemplate> Templates { get; }

    /// <summary>Parse a template text; the error names line and column.</summary>
    public static bool TryParse(string text, out string? error)
    {
        var ok = Parser.TryParse(text, out _, out var message);
        error = ok ? null : Flatten(message);
        return ok;
    }

    /// <summary>Parse error of a named template, or null when it parses (cached).</summary>
    public string? ParseError(string name) => Parse(name).Error;

    /// <summary>Render a template for a device. Returns the text, or the errors (syntax with line, missing
    /// parameters by name).</summary>
    public TemplateResult Render(string templateName, TemplateScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var (template, parseError) = Parse(templateName);
        if (template is null)
            return new TemplateResult(null, [parseError!]);

        var context = new TemplateContext(_options);
        var missing = new List<string>();
        context.SetValue("device", scope.Device);
        context.SetValue("site", scope.Site);
        context.SetValue("role", scope.Role);
        context.SetValue("links", scope.Links);
        context.SetValue("linked_from", scope.LinkedFrom);
        context.SetValue("params", new DictionaryValue(new RecordingParameters(scope.Parameters, missing)));
        string text;
        try
        {
            text = template.Render(context, NullEncoder.Default);
        }
        catch (Exception e) when (e is FluidException or InvalidOperationException or ArgumentException)
        {
            return new TemplateResult(null, [$"rendering failed: {e.Message}"]);
        }
        if (missing.Count > 0)
        {
            var names = string.Join(", ", missing.Distinct(StringComparer.Ordinal).Select(m => $"'{m}'"));
            return new TemplateResult(null, [$"reads parameter {names}, which is not set for device '{scope.DeviceName}' at any layer; set it in the global, site, role or device parameters"]);
        }
        return new TemplateResult(text, []);
    }

    private (IFluidTemplate? Template, string? Error) Parse(string name) => _parsed.GetOrAdd(name, n =>
        !Templates.TryGetValue(n, out var t)
            ? (null, $"template '{n}' does not exist")
            : Parser.TryParse(t.Text, out var parsed, out var error) ? (parsed, null) : (null, $"syntax error: {Flatten(error)}"));

    private static string Flatten(string? message) => (message ?? "unknown error").ReplaceLineEndings(" ").Trim();

    /// <summary>Parameters as Fluid sees them: every read of a name that is not set is recorded.</summary>
    private sealed class RecordingParameters(IReadOnlyDictionary<string, string> values, List<string> missing) : IFluidIndexable
    {
        public int Count => values.Count;
        public IEnumerable<string> Keys => values.Keys;

        public bool TryGetValue(string name, out FluidValue value)
        {
            if (values.TryGetValue(name, out var s))
            {
                value = StringValue.Create(s);
                return true;
            }
            missing.Add(name);
            value = NilValue.Instance;
            return false;
        }
    }
}

/// <summary>What rendering produced: text, or errors.</summary>
public sealed record TemplateResult(string? Text, IReadOnlyList<string> Errors)
{
    /// <summary>True when rendering worked.</summary>
    public bool Succeeded => Text is not null;
}
