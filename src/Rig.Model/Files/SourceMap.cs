namespace Rig.Model.Files;

/// <summary>Where in the model files each object, list element and field was read, by model path
/// (<c>devices/web-1/hardware/nics/0/mac</c>, the same paths <see cref="Planning.ModelError.Where"/> uses).</summary>
public sealed class SourceMap
{
    private readonly Dictionary<string, SourceLocation> _at = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _templateFiles = new(StringComparer.Ordinal);

    /// <summary>Number of positions recorded.</summary>
    public int Count => _at.Count;

    /// <summary>The position of the longest recorded path that is a prefix of <paramref name="where"/> ending at
    /// a '/' or ' ' boundary (<c>links/3 (a -> b)</c> finds <c>links/3</c>, never <c>links/30</c>); null when none is.</summary>
    public SourceLocation? Find(string where)
    {
        ArgumentNullException.ThrowIfNull(where);
        for (var end = where.Length; end > 0; end--)
        {
            if (end < where.Length && where[end] is not ('/' or ' '))
                continue;
            if (_at.TryGetValue(where[..end], out var location))
                return location;
        }
        return null;
    }

    /// <summary>The model-directory file a template's text came from, when it came from a file.</summary>
    public string? TemplateFile(string template) => _templateFiles.GetValueOrDefault(template);

    /// <summary>Record a position; the first one recorded for a path stays.</summary>
    internal void Add(string path, SourceLocation location) => _at.TryAdd(path, location);

    internal void AddTemplateFile(string template, string file) => _templateFiles.TryAdd(template, file);
}
