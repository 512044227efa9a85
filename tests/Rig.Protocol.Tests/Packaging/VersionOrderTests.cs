using System.Diagnostics;
using CsCheck;
using Rig.Protocol.Packaging;

namespace Rig.Protocol.Tests.Packaging;

/// <summary>The gateway orders versions without a package manager of its own, so its orders are checked against the
/// real ones: <see cref="DebianVersion"/> against <c>dpkg --compare-versions</c>, <see cref="RpmVersion"/> against
/// rpm's own <c>rpm.vercmp</c>. Each pair also carries the order a person reads from deb-version(5) or rpm's rules,
/// so a tool that answered the same for everything could not make the test pass.</summary>
public sealed class VersionOrderTests
{
    [Theory]
    // equal spellings
    [InlineData("1.0", "1.0", 0)]
    [InlineData("1.0", "1.0-0", 0)] // a missing revision is empty, and "0" is empty digits
    [InlineData("0:1.0", "1.0", 0)]
    [InlineData("1.01", "1.1", 0)] // leading zeros are numbers, not text
    [InlineData("1.001-1", "1.1-01", 0)]
    [InlineData("00:1.0", "1.0", 0)]
    // epochs
    [InlineData("1:0.1", "9.9", 1)]
    [InlineData("2:1.0", "10:1.0", -1)]
    [InlineData("1:1.0-1", "1:1.0-2", -1)]
    // tildes: before everything, even the end
    [InlineData("1.0~rc1", "1.0", -1)]
    [InlineData("1.0~~", "1.0~", -1)]
    [InlineData("1.0~~a", "1.0~~", 1)]
    [InlineData("1.0~", "1.0~a", -1)]
    [InlineData("1.0~rc1", "1.0~beta2", 1)]
    [InlineData("2.30~rc1-1", "2.30-0", -1)]
    [InlineData("1.0-1~bpo1", "1.0-1", -1)]
    [InlineData("1.0-1~bpo1", "1.0-0.1", 1)]
    // revisions
    [InlineData("1.0-2", "1.0-10", -1)]
    [InlineData("1.0-1", "1.0", 1)]
    [InlineData("1.0-1.1", "1.0-1", 1)]
    [InlineData("1.0-1+deb12u1", "1.0-1", 1)]
    [InlineData("1.0-1+b1", "1.0-1+deb12u1", -1)] // 'b' before 'd'
    [InlineData("1-2-3", "1-2", 1)] // the last hyphen starts the revision: "1-2" rev "3" vs "1" rev "2"
    [InlineData("1.2-3-4", "1.2-3", 1)]
    // letters, digits, other characters
    [InlineData("1.0a", "1.0", 1)]
    [InlineData("1.0a", "1.0.1", -1)] // letters before non-letters ('.')
    [InlineData("1.0+", "1.0.", -1)] // '+' (43) before '.' (46)
    [InlineData("1.0+1", "1.0.1", -1)]
    [InlineData("1.0a", "1.0+", -1)] // letters before everything but '~'
    [InlineData("1.0Z", "1.0a", -1)] // ASCII order among letters
    [InlineData("1.0", "1.0+dfsg", -1)]
    [InlineData("1.2.10", "1.2.9", 1)]
    [InlineData("1.10", "1.9", 1)]
    [InlineData("10", "9", 1)]
    [InlineData("1.0.0", "1.0", 1)]
    [InlineData("1.00001", "1.1", 0)]
    [InlineData("0.0.1", "0.0.01", 0)]
    [InlineData("2.0.12-1ubuntu1", "2.0.12-1", 1)]
    [InlineData("3.1.3+really3.0-1", "3.1.3-1", 1)]
    [InlineData("9999999999999999999999", "9999999999999999999998", 1)] // past 64 bits: digit by digit
    [InlineData("1:2.36.1-8+deb11u1", "2.36.1-8+deb11u1", 1)]
    public void Debian_versions_order_as_dpkg_compare_versions_does(string left, string right, int expected)
    {
        Assert.Equal(expected, Dpkg(left, right));
        Assert.Equal(expected, Math.Sign(DebianVersion.Compare(left, right)));
        Assert.Equal(-expected, Math.Sign(DebianVersion.Compare(right, left)));
    }

    /// <summary>Versions made of the pieces that decide orders (digits with leading zeros, letters of both cases, the
    /// characters Debian allows, tildes, epochs, revisions), compared with dpkg pair by pair.</summary>
    [Fact]
    public void Generated_debian_versions_order_as_dpkg_does()
    {
        var piece = Gen.OneOf(Gen.Const("0"), Gen.Const("1"), Gen.Const("9"), Gen.Const("00"), Gen.Const("01"), Gen.Const("10"), Gen.Const("a"), Gen.Const("Z"),
            Gen.Const("z"), Gen.Const("."), Gen.Const("+"), Gen.Const("~"), Gen.Const("~~"));
        var upstream = Gen.Select(Gen.Int[0, 9], piece.Array[0, 5], (first, rest) => first + string.Concat(rest));
        var revision = Gen.Select(piece.Array[1, 3], Gen.Bool, (parts, dash) => dash ? "-" + string.Concat(parts) : "");
        var version = Gen.Select(Gen.OneOf(Gen.Const(""), Gen.Const("0:"), Gen.Const("1:")), upstream, revision, (e, u, r) => e + u + r)
            .Where(v => !v.EndsWith('-'));
        // Besides independent pairs: the same version spelled otherwise (leading zeros, an explicit epoch 0), and one
        // a tilde or a letter away, where orders are easiest to get wrong.
        var pair = Gen.Frequency(
            (3, Gen.Select(version, version)),
            (1, version.Select(v => (v, System.Text.RegularExpressions.Regex.Replace(v.Contains(':', StringComparison.Ordinal) ? v : "0:" + v, "(?<![0-9])([0-9])", "0$1")))),
            (1, Gen.Select(version, Gen.OneOf(Gen.Const("~"), Gen.Const("a"), Gen.Const("~1"), Gen.Const(".0")), (v, tail) => (v, v + tail))));
        var orders = new int[3];
        pair.Sample((left, right) =>
        {
            var dpkg = Dpkg(left, right);
            orders[dpkg + 1]++;
            Assert.True(dpkg == Math.Sign(DebianVersion.Compare(left, right)), $"{left} vs {right}: dpkg says {dpkg}, DebianVersion {DebianVersion.Compare(left, right)}");
        }, iter: 300, threads: 1, print: p => $"{p.Item1} vs {p.Item2}");
        Assert.True(orders.All(n => n > 0), $"the generated pairs were older/equal/newer {string.Join("/", orders)}: each order must occur");
    }

    [Theory]
    [InlineData("1.0-1", "1.0-1", 0)]
    [InlineData("1.0-1", "2.0-1", -1)]
    [InlineData("1.10-1", "1.9-1", 1)]
    [InlineData("1.0-2", "1.0-10", -1)]
    [InlineData("1:1.0-1", "2.0-1", 1)]
    [InlineData("0:1.0-1", "1.0-1", 0)]
    [InlineData("1.0~rc1-1", "1.0-1", -1)]
    [InlineData("1.0~rc1-1", "1.0~rc2-1", -1)]
    [InlineData("1.0^git1-1", "1.0-1", 1)]
    [InlineData("1.0^git1-1", "1.0.1-1", -1)]
    [InlineData("1.0a-1", "1.0-1", 1)]
    [InlineData("1.0a-1", "1.0.1-1", -1)]
    [InlineData("1.001-1", "1.1-1", 0)]
    [InlineData("1.0-1.el9", "1.0-1.el10", -1)]
    [InlineData("1.0_1-1", "1.0.1-1", 0)] // separators are all alike to rpm
    [InlineData("a-1", "1-1", -1)] // letters before digits
    [InlineData("2.0.1-1", "2.0a-1", 1)]
    public void Rpm_versions_order_as_rpm_vercmp_does(string left, string right, int expected)
    {
        Assert.Equal(expected, Rpm(left, right));
        Assert.Equal(expected, Math.Sign(RpmVersion.Compare(left, right)));
        Assert.Equal(-expected, Math.Sign(RpmVersion.Compare(right, left)));
    }

    [Fact]
    public void An_rpm_constraint_without_a_release_matches_every_release()
    {
        Assert.Equal(0, RpmVersion.Compare("2.0", "2.0-5"));
        Assert.True(VersionOrder.Satisfies("rpm", "2.0-5", ">=", "2.0"));
        Assert.False(VersionOrder.Satisfies("deb", "2.0", ">=", "2.0-5"));
    }

    /// <summary>-1, 0 or 1 as <c>dpkg --compare-versions</c> orders the two.</summary>
    private static int Dpkg(string left, string right)
    {
        if (Run("dpkg", "--compare-versions", "--", left, "lt", right).ExitCode == 0)
            return -1;
        var eq = Run("dpkg", "--compare-versions", "--", left, "eq", right);
        Assert.True(eq.ExitCode is 0 or 1, $"dpkg --compare-versions '{left}' eq '{right}' failed: {eq.Error}");
        return eq.ExitCode == 0 ? 0 : 1;
    }

    /// <summary>-1, 0 or 1 as rpm's own <c>rpm.vercmp</c> (rpmvercmp over epoch, version and release) orders the two.</summary>
    private static int Rpm(string left, string right)
    {
        var (code, output, error) = Run("rpm", "--eval", $"%{{lua:print(rpm.vercmp(\"{left}\", \"{right}\"))}}");
        Assert.True(code == 0 && int.TryParse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture, out _),
            $"rpm --eval rpm.vercmp('{left}', '{right}') failed ({code}): {output} {error}; install the 'rpm' apt package");
        return Math.Sign(int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture));
    }

    private static (int ExitCode, string Output, string Error) Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        info.Environment["LC_ALL"] = "C";
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error);
    }
}
