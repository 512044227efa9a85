namespace Rig.Protocol.Packaging;

/// <summary>RPM's version ordering (<c>rpmvercmp</c> over epoch, version and release), to tell an upgrade from
/// a downgrade before choosing <c>rpm -U --oldpackage</c>.</summary>
public static class RpmVersion
{
    /// <summary>Compare two full versions <c>[epoch:]version[-release]</c>: negative when <paramref name="left"/>
    /// is older, zero when equal, positive when newer. A missing epoch is 0; a missing release compares equal to
    /// any release (as rpm does for a dependency without one).</summary>
    public static int Compare(string left, string right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        var (leftEpoch, leftVersion, leftRelease) = Split(left);
        var (rightEpoch, rightVersion, rightRelease) = Split(right);
        var result = leftEpoch.CompareTo(rightEpoch);
        if (result == 0)
            result = CompareSegment(leftVersion, rightVersion);
        if (result == 0 && leftRelease is not null && rightRelease is not null)
            result = CompareSegment(leftRelease, rightRelease);
        return result;
    }

    private static (long Epoch, string Version, string? Release) Split(string text)
    {
        long epoch = 0;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && long.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
        {
            epoch = parsed;
            text = text[(colon + 1)..];
        }
        var dash = text.LastIndexOf('-');
        return dash < 0 ? (epoch, text, null) : (epoch, text[..dash], text[(dash + 1)..]);
    }

    /// <summary>rpmvercmp: runs of digits compare numerically, runs of letters as strings, a digit run beats a
    /// letter run, <c>~</c> sorts before everything (even the end), <c>^</c> after the end but before anything else.</summary>
    public static int CompareSegment(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a == b)
            return 0;
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            while (i < a.Length && !char.IsAsciiLetterOrDigit(a[i]) && a[i] is not ('~' or '^'))
                i++;
            while (j < b.Length && !char.IsAsciiLetterOrDigit(b[j]) && b[j] is not ('~' or '^'))
                j++;
            var ca = i < a.Length ? a[i] : '\0';
            var cb = j < b.Length ? b[j] : '\0';
            if (ca == '~' || cb == '~')
            {
                if (ca != '~')
                    return 1;
                if (cb != '~')
                    return -1;
                i++;
                j++;
                continue;
            }
            if (ca == '^' || cb == '^')
            {
                if (i >= a.Length)
                    return -1;
                if (j >= b.Length)
                    return 1;
                if (ca != '^')
                    return 1;
                if (cb != '^')
                    return -1;
                i++;
                j++;
                continue;
            }
            if (i >= a.Length || j >= b.Length)
                break;

            var numeric = char.IsAsciiDigit(a[i]);
            var startA = i;
            var startB = j;
            Func<char, bool> run = numeric ? char.IsAsciiDigit : char.IsAsciiLetter;
            while (i < a.Length && run(a[i]))
                i++;
            while (j < b.Length && run(b[j]))
                j++;
            if (j == startB)
                return numeric ? 1 : -1; // different kinds of run: a number is newer
            var segA = a[startA..i];
            var segB = b[startB..j];
            if (numeric)
            {
                segA = segA.TrimStart('0');
                segB = segB.TrimStart('0');
                if (segA.Length != segB.Length)
                    return segA.Length > segB.Length ? 1 : -1;
            }
            var cmp = string.CompareOrdinal(segA, segB);
            if (cmp != 0)
                return cmp < 0 ? -1 : 1;
        }
        if (i >= a.Length && j >= b.Length)
            return 0;
        return i >= a.Length ? -1 : 1;
    }
}
