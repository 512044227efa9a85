namespace Rig.Server.Packages;

/// <summary>The Debian mirrors the gateway host's own apt uses (<c>/etc/apt/sources.list</c> and
/// <c>sources.list.d</c>, one-line and deb822 forms), read once to choose a fetch's default mirror: a host that
/// reaches Debian through a local mirror or proxy should fetch through it too. Read only, never changed.</summary>
internal static class HostAptSources
{
    /// <summary>Debian's own redirector, when the host names no Debian mirror.</summary>
    public const string DefaultArchive = "http://deb.debian.org/debian";

    /// <summary>Debian's security archive on the redirector.</summary>
    public const string DefaultSecurity = "http://deb.debian.org/debian-security";

    /// <summary>One <c>deb</c> source: its URI and suites.</summary>
    public sealed record Entry(string Uri, IReadOnlyList<string> Suites);

    /// <summary>The host's binary sources, or none when it has no apt configuration.</summary>
    public static IReadOnlyList<Entry> Read(string etcApt = "/etc/apt")
    {
        var entries = new List<Entry>();
        try
        {
            var list = Path.Combine(etcApt, "sources.list");
            if (File.Exists(list))
                entries.AddRange(ParseOneLine(File.ReadAllText(list)));
            var parts = Path.Combine(etcApt, "sources.list.d");
            if (Directory.Exists(parts))
            {
                foreach (var file in Directory.GetFiles(parts).Order(StringComparer.Ordinal))
                {
                    if (file.EndsWith(".list", StringComparison.Ordinal))
                        entries.AddRange(ParseOneLine(File.ReadAllText(file)));
                    else if (file.EndsWith(".sources", StringComparison.Ordinal))
                        entries.AddRange(ParseDeb822(File.ReadAllText(file)));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unreadable host configuration only means the default mirror is used.
        }
        return entries;
    }

    /// <summary>The archive and security mirrors for <paramref name="distro"/>: the host's entry for that suite, else
    /// any host entry that is a Debian archive (a Debian mirror serves every suite), else Debian's redirector.</summary>
    public static (string Archive, string Security) Mirrors(IReadOnlyList<Entry> entries, string distro)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var usable = entries.Where(e => IsHttp(e.Uri)).ToList();
        var archive = usable.FirstOrDefault(e => e.Suites.Any(s => s == distro || s == distro + "-updates"))?.Uri
            ?? usable.FirstOrDefault(e => !e.Suites.Any(s => s.EndsWith("-security", StringComparison.Ordinal)) && e.Uri.TrimEnd('/').EndsWith("/debian", StringComparison.Ordinal))?.Uri
            ?? DefaultArchive;
        var security = usable.FirstOrDefault(e => e.Suites.Contains(distro + "-security"))?.Uri
            ?? usable.FirstOrDefault(e => e.Suites.Any(s => s.EndsWith("-security", StringComparison.Ordinal)) && e.Uri.TrimEnd('/').EndsWith("/debian-security", StringComparison.Ordinal))?.Uri
            ?? DefaultSecurity;
        return (archive.TrimEnd('/'), security.TrimEnd('/'));
    }

    /// <summary><c>deb [options] URI SUITE COMPONENT...</c> lines; <c>deb-src</c> and comments are skipped.</summary>
    public static IReadOnlyList<Entry> ParseOneLine(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var entries = new List<Entry>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Split('#')[0].Trim();
            if (!line.StartsWith("deb ", StringComparison.Ordinal) && !line.StartsWith("deb\t", StringComparison.Ordinal))
                continue;
            var rest = line[3..].Trim();
            if (rest.StartsWith('['))
            {
                var end = rest.IndexOf(']', StringComparison.Ordinal);
                if (end < 0)
                    continue;
                rest = rest[(end + 1)..].Trim();
            }
            if (rest.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is [var uri, var suite, ..])
                entries.Add(new Entry(uri, [suite]));
        }
        return entries;
    }

    /// <summary>deb822 paragraphs (<c>Types: deb</c>, <c>URIs</c>, <c>Suites</c>, <c>Enabled</c>).</summary>
    public static IReadOnlyList<Entry> ParseDeb822(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var entries = new List<Entry>();
        foreach (var paragraph in DebControl.Paragraphs(text))
        {
            var types = paragraph.GetValueOrDefault("Types", "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (!types.Contains("deb") || paragraph.GetValueOrDefault("Enabled", "yes").Trim() == "no")
                continue;
            var suites = paragraph.GetValueOrDefault("Suites", "").Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            foreach (var uri in paragraph.GetValueOrDefault("URIs", "").Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries))
                entries.Add(new Entry(uri, suites));
        }
        return entries;
    }

    private static bool IsHttp(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps);
}
