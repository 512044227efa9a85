namespace Rig.Agent.Platform.Linux;

/// <summary>Debian control files (deb-control(5)). Their relationship fields are read with the shared
/// <see cref="Rig.Protocol.Packaging.PackageRelations.ParseDebianField"/>, as the gateway reads them.</summary>
internal static class DebianControl
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
}
