using System.Globalization;
using System.Text;

namespace Rig.Model;

/// <summary>Durations as operators write them on a command line: a whole number with a unit, or several
/// (<c>90s</c>, <c>30m</c>, <c>2h</c>, <c>1d</c>, <c>1h30m</c>). Pure.</summary>
public static class Durations
{
    /// <summary>Parse <paramref name="text"/>; on failure <paramref name="error"/> says what was wrong and what is expected.</summary>
    public static bool TryParse(string? text, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        error = "";
        var s = text?.Trim() ?? "";
        if (s.Length == 0)
        {
            error = "an empty duration; give a number with a unit: s, m, h or d (e.g. 30m, 90s, 1h30m)";
            return false;
        }
        var total = 0L;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
                i++;
            if (i == start || i == s.Length || i - start > 9 || !char.IsAsciiLetter(s[i]))
            {
                error = $"'{text}' is not a duration; give a number with a unit: s, m, h or d (e.g. 30m, 90s, 1h30m)";
                return false;
            }
            var number = long.Parse(s.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture);
            long seconds = s[i] switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400, _ => 0 };
            if (seconds == 0)
            {
                error = $"'{text}' has an unknown unit '{s[i]}'; use s, m, h or d (e.g. 30m, 90s, 1h30m)";
                return false;
            }
            total += number * seconds;
            i++;
        }
        value = TimeSpan.FromSeconds(total);
        return true;
    }

    /// <summary>A duration the way <see cref="TryParse"/> reads it, largest units first (<c>1h30m</c>, <c>45s</c>).</summary>
    public static string Format(TimeSpan value)
    {
        var seconds = (long)Math.Round(value.TotalSeconds);
        if (seconds <= 0)
            return "0s";
        var text = new StringBuilder();
        foreach (var (unit, size) in new[] { ("d", 86400L), ("h", 3600L), ("m", 60L), ("s", 1L) })
        {
            if (seconds >= size)
            {
                text.Append((seconds / size).ToString(CultureInfo.InvariantCulture)).Append(unit);
                seconds %= size;
            }
        }
        return text.ToString();
    }
}
