using System.Text.RegularExpressions;

namespace Rig.Model.Domain;

/// <summary>Chooses devices: comma-separated terms, a device matches when any term matches. A term is a name
/// or a glob (<c>web-*</c>, <c>app-?</c>), or <c>key=value</c> with key <c>site</c>, <c>tier</c>, <c>role</c>,
/// <c>os</c> (OS family) or <c>arch</c> (value may be a glob), or <c>all</c>.</summary>
public sealed class DeviceSelector
{
    private static readonly string[] Keys = ["site", "tier", "role", "os", "arch"];
    private readonly List<(string? Key, Regex Pattern)> _terms;

    private DeviceSelector(string text, List<(string?, Regex)> terms)
    {
        Text = text;
        _terms = terms;
    }

    /// <summary>The selector as written.</summary>
    public string Text { get; }

    /// <summary>Every device.</summary>
    public static DeviceSelector All { get; } = Parse("all");

    /// <summary>Parse a selector; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static DeviceSelector Parse(string? text)
    {
        var value = string.IsNullOrWhiteSpace(text) ? "all" : text.Trim();
        var terms = new List<(string?, Regex)>();
        foreach (var raw in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (raw == "all")
            {
                terms.Add((null, new Regex(".*", RegexOptions.CultureInvariant)));
                continue;
            }
            string? key = null;
            var pattern = raw;
            var eq = raw.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                key = raw[..eq].Trim();
                pattern = raw[(eq + 1)..].Trim();
                if (!Keys.Contains(key))
                    throw new FormatException($"Selector term '{raw}': '{key}' is not a selector key; use one of {string.Join(", ", Keys)}, or a device name or glob.");
            }
            if (pattern.Length == 0 || pattern.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '*' or '?')))
                throw new FormatException($"Selector term '{raw}' is not a name or a glob of letters, digits, '-', '_', '.', '*' and '?'.");
            terms.Add((key, new Regex("^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "\\z", RegexOptions.CultureInvariant)));
        }
        if (terms.Count == 0)
            throw new FormatException($"Selector '{text}' selects nothing; give device names, globs or key=value terms.");
        return new DeviceSelector(value, terms);
    }

    /// <summary>True when <paramref name="device"/> (with its assigned <paramref name="roles"/>) matches.</summary>
    public bool Matches(Device device, IEnumerable<string> roles)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(roles);
        foreach (var (key, pattern) in _terms)
        {
            var hit = key switch
            {
                null => pattern.IsMatch(device.Name),
                "site" => pattern.IsMatch(device.Site),
                "tier" => device.Tier is { } tier && pattern.IsMatch(tier),
                "role" => roles.Any(pattern.IsMatch),
                "os" => pattern.IsMatch(device.OsFamily),
                "arch" => pattern.IsMatch(device.Architecture),
                _ => false,
            };
            if (hit)
                return true;
        }
        return false;
    }

    /// <summary>The devices of <paramref name="model"/> this selector chooses, by name.</summary>
    public IReadOnlyList<Device> Select(RigModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var roles = model.Assignments.ToLookup(a => a.Device, a => a.Role);
        return [.. model.Devices.Where(d => Matches(d, roles[d.Name])).OrderBy(d => d.Name, StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}
