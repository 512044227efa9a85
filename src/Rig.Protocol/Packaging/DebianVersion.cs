namespace Rig.Protocol.Packaging;

/// <summary>Debian's version ordering (deb-version(5), dpkg's <c>verrevcmp</c>): epoch numerically, then the
/// upstream version and the revision, each compared as alternating runs of non-digits (letters before other
/// characters, <c>~</c> before everything, even the end) and digits (numerically). The gateway plans with it
/// without a dpkg of its own; the agent asks the device's dpkg.</summary>
public static class DebianVersion
{
    /// <summary>Negative when <paramref name="left"/> is older than <paramref name="right"/>, zero when they are
    /// equal, positive when newer. A missing epoch is 0, a missing revision is empty.</summary>
    public static int Compare(string left, string right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        if (left == right)
            return 0;
        var (leftEpoch, leftUpstream, leftRevision) = Split(left);
        var (rightEpoch, rightUpstream, rightRevision) = Split(right);
        if (leftEpoch != rightEpoch)
            return leftEpoch < rightEpoch ? -1 : 1;
        var result = CompareRun(leftUpstream, rightUpstream);
        return result != 0 ? result : CompareRun(leftRevision, rightRevision);
    }

    private static (long Epoch, string Upstream, string Revision) Split(string version)
    {
        long epoch = 0;
        var colon = version.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && long.TryParse(version.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
        {
            epoch = parsed;
            version = version[(colon + 1)..];
        }
        var dash = version.LastIndexOf('-');
        return dash < 0 ? (epoch, version, "") : (epoch, version[..dash], version[(dash + 1)..]);
    }

    private static int Order(string s, int i)
    {
        if (i >= s.Length)
            return 0;
        var c = s[i];
        if (char.IsAsciiDigit(c))
            return 0;
        if (char.IsAsciiLetter(c))
            return c;
        if (c == '~')
            return -1;
        return c + 256;
    }

    private static int CompareRun(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            var firstDifference = 0;
            while ((i < a.Length && !char.IsAsciiDigit(a[i])) || (j < b.Length && !char.IsAsciiDigit(b[j])))
            {
                var ac = Order(a, i);
                var bc = Order(b, j);
                if (ac != bc)
                    return ac < bc ? -1 : 1;
                i++;
                j++;
            }
            while (i < a.Length && a[i] == '0')
                i++;
            while (j < b.Length && b[j] == '0')
                j++;
            while (i < a.Length && j < b.Length && char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                if (firstDifference == 0)
                    firstDifference = a[i] - b[j];
                i++;
                j++;
            }
            if (i < a.Length && char.IsAsciiDigit(a[i]))
                return 1;
            if (j < b.Length && char.IsAsciiDigit(b[j]))
                return -1;
            if (firstDifference != 0)
                return firstDifference < 0 ? -1 : 1;
        }
        return 0;
    }
}
