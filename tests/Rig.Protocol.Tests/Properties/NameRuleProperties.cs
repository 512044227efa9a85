using CsCheck;

namespace Rig.Protocol.Tests.Properties;

/// <summary>CHECKLIST 14, as properties: every <c>Names.IsValid*</c> rule agrees with a character-by-character
/// reading of its documented alphabet, and none ever accepts a value that an argument vector or a shell could read
/// as an option or as syntax.</summary>
public sealed class NameRuleProperties
{
    private const string Alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>Each rule with its oracle: allowed first characters, allowed further characters, length bounds,
    /// whether the last character must be in a set of its own.</summary>
    private sealed record Rule(string Name, Func<string?, bool> IsValid, string First, string Rest, int MaxLength, string? Last = null, int MinLength = 1)
    {
        public bool Oracle(string value) =>
            value.Length >= MinLength && value.Length <= MaxLength
            && First.Contains(value[0], StringComparison.Ordinal)
            && value.Skip(1).All(c => Rest.Contains(c, StringComparison.Ordinal))
            && (Last is null || Last.Contains(value[^1], StringComparison.Ordinal));
    }

    private static readonly Rule[] Rules =
    [
        new("package name", Names.IsValidPackageName, Alnum, Alnum + "+._-", 128),
        new("version", Names.IsValidVersion, Alnum, Alnum + ".+~:_-", 128),
        new("object name", Names.IsValidObjectName, "abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789-", 63, "abcdefghijklmnopqrstuvwxyz0123456789"),
        new("parameter name", Names.IsValidParameterName, Alnum[..52] + "_", Alnum + "_", 128),
        new("sha256", Names.IsValidSha256, "0123456789abcdef", "0123456789abcdef", 64, MinLength: 64),
        new("service name", Names.IsValidServiceName, Alnum, Alnum + "@._:-", 128),
        new("interface name", NetworkRules.IsValidInterfaceName, Alnum, Alnum + "_.-", 15),
    ];

    private static readonly Gen<Rule> AnyRule = Gen.Int[0, Rules.Length - 1].Select(i => Rules[i]);

    /// <summary>What can turn an argument into an option, or text into shell syntax or a second line.</summary>
    private static readonly string[] Hostile =
        ["-", "--", ";", "$(", "${", "`", "\n", "\r", "\0", " ", "\t", "|", "&", ">", "<", "'", "\"", "\\", "/", "*", "?", "!", "#", "=", "%", "..", "\u00a0", "\u2028", "\uff1b", "\u0430"];

    /// <summary>Strings mostly from the rules' own alphabets, with a few characters from anywhere.</summary>
    private static readonly Gen<string> Candidates = MessageGen.Str(Gen.Frequency(
        (10, Gen.Char[Alnum + "+._-~:@"]),
        (2, Gen.Char["ABCDEFabcdef0123456789"]),
        (1, Gen.Char[";$(`\n\r\0 \t|&><'\"\\/*?!#=%"]),
        (1, Gen.Char)), 0, 140);

    [Fact]
    public void Every_name_rule_agrees_with_its_documented_alphabet()
    {
        Gen.Select(AnyRule, Gen.Frequency((4, Candidates), (1, Gen.Char["0123456789abcdef"].Array[64].Select(a => new string(a)))))
            .Sample((rule, value) => Assert.True(rule.IsValid(value) == rule.Oracle(value), $"{rule.Name}: '{value}' gives {rule.IsValid(value)}"), iter: 20_000);
    }

    [Fact]
    public void No_name_rule_accepts_a_leading_dash_or_shell_syntax_anywhere()
    {
        Gen.Select(AnyRule, MessageGen.Str(Gen.Char[Alnum], 0, 20), Gen.Int[0, Hostile.Length - 1], MessageGen.Str(Gen.Char[Alnum], 0, 20), Gen.Bool)
            .Sample((rule, before, hostile, after, leading) =>
            {
                var piece = Hostile[hostile];
                // An inner '-' or '..' is fine in versions and package names; only a leading one is hostile.
                var value = leading || piece is "-" or "--" or ".." ? piece + before + after : before + piece + after;
                Assert.False(rule.IsValid(value), $"{rule.Name} accepts '{value}'");
            }, iter: 20_000);
    }

    [Fact]
    public void A_value_made_only_of_a_rules_alphabet_within_its_length_is_accepted()
    {
        AnyRule.SelectMany(rule => Gen.Int[rule.MinLength, rule.MaxLength].SelectMany(length =>
                Gen.Select(Gen.Char[rule.First], MessageGen.Str(Gen.Char[rule.Rest], length - 1, length - 1), Gen.Char[rule.Last ?? rule.Rest],
                    (first, rest, last) => length == 1 || rule.Last is null ? first + rest : first + rest[..^1] + last))
            .Select(value => (rule, value)))
            .Sample(t => Assert.True(t.rule.IsValid(t.value), $"{t.rule.Name} refuses '{t.value}'"), iter: 5_000);
    }
}
