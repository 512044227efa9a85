using Rig.Protocol.Packaging;

namespace Rig.Protocol.Tests.Packaging;

/// <summary>Package relations as gateway and agent share them: Debian's field syntax read into the canonical form,
/// the canonical form read back, RPM's sense flags, and constraints checked with each format's version order.</summary>
public sealed class PackageRelationTests
{
    [Fact]
    public void Debian_fields_parse_groups_alternatives_versions_and_drop_architecture_qualifiers()
    {
        var groups = PackageRelations.ParseDebianField("libc6 (>= 2.34), default-mta | mail-transport-agent, python3:any (<< 3.12~), perl:native");

        Assert.Equal(4, groups.Count);
        Assert.Equal([new PackageRelation("libc6", ">=", "2.34")], groups[0]);
        Assert.Equal([new PackageRelation("default-mta"), new PackageRelation("mail-transport-agent")], groups[1]);
        Assert.Equal([new PackageRelation("python3", "<<", "3.12~")], groups[2]);
        Assert.Equal([new PackageRelation("perl")], groups[3]);
        Assert.Equal("libc6 (>= 2.34)", groups[0][0].ToString());
        Assert.Equal("default-mta | mail-transport-agent", PackageRelations.Format(groups[1]));
        Assert.Empty(PackageRelations.ParseDebianField(null));
        Assert.Empty(PackageRelations.ParseDebianField("  "));
    }

    [Fact]
    public void Debian_fields_folded_over_lines_with_restrictions_and_obsolete_operators_read_canonically()
    {
        var groups = PackageRelations.ParseDebianField("foo (<2.0),\n bar (> 1) [amd64 i386] <!nocheck>,\n  baz(=1:2.0-1)");

        Assert.Equal(["foo (<= 2.0)", "bar (>= 1)", "baz (= 1:2.0-1)"], groups.Select(PackageRelations.Format));
    }

    [Fact]
    public void A_debian_relation_that_is_not_one_is_refused_with_the_offending_text()
    {
        var error = Assert.Throws<FormatException>(() => PackageRelations.ParseDebianField("libc6 (>= 2.34, bad name"));

        Assert.Contains("'libc6 (>= 2.34'", error.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => PackageRelations.ParseDebianField("Upper-Case"));
        Assert.Throws<FormatException>(() => PackageRelations.ParseDebianField("foo (~= 1)"));
    }

    [Theory]
    [InlineData("libc6", "libc6", null, null)]
    [InlineData("libc6 (>= 2.34)", "libc6", ">=", "2.34")]
    [InlineData("libc.so.6(GLIBC_2.34)(64bit)", "libc.so.6(GLIBC_2.34)(64bit)", null, null)]
    [InlineData("perl(Foo::Bar) (>= 1.2)", "perl(Foo::Bar)", ">=", "1.2")]
    [InlineData("/usr/bin/python3", "/usr/bin/python3", null, null)]
    [InlineData("rigt-older (<= 1:2.0-1)", "rigt-older", "<=", "1:2.0-1")]
    public void Canonical_relations_round_trip(string text, string name, string? op, string? version)
    {
        var relation = PackageRelations.Parse(text);

        Assert.Equal(new PackageRelation(name, op, version), relation);
        Assert.Equal(text, relation.ToString());
        Assert.True(PackageRelations.IsValid(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a (>= )")]
    [InlineData("a (>=1)")]
    [InlineData("a (< 1)")]
    [InlineData("a, b")]
    [InlineData("(a or b)")]
    public void Text_that_is_not_a_canonical_relation_is_refused(string text)
    {
        Assert.False(PackageRelations.IsValid(text));
        Assert.Throws<FormatException>(() => PackageRelations.Parse(text));
    }

    [Fact]
    public void Groups_hold_alternatives_separated_by_a_bar()
    {
        Assert.Equal([new PackageRelation("a", ">=", "1"), new PackageRelation("b")], PackageRelations.ParseGroup("a (>= 1) | b"));
        Assert.True(PackageRelations.IsValidGroup("a (>= 1) | b"));
        Assert.False(PackageRelations.IsValidGroup("a (>= 1) | "));
        Assert.False(PackageRelations.IsValidGroup(null));
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(2, "<<")]
    [InlineData(10, "<=")]
    [InlineData(8, "=")]
    [InlineData(12, ">=")]
    [InlineData(4, ">>")]
    [InlineData(16777226, "<=")] // RPMSENSE_RPMLIB | LESS | EQUAL
    [InlineData(1024, null)] // RPMSENSE_SCRIPT_PRE: a requirement without a version
    [InlineData(6, null)] // LESS | GREATER: no comparison rpm writes
    public void Rpm_sense_flags_give_the_canonical_operator(int flags, string? op)
    {
        Assert.Equal(op, PackageRelations.RpmOperator(flags));
    }

    [Theory]
    [InlineData("deb", "1.0~rc1-1", ">=", "1.0", false)]
    [InlineData("deb", "1:0.5", ">>", "2.0", true)]
    [InlineData("rpm", "1.0^git1-1", ">>", "1.0-1", true)]
    [InlineData("rpm", "2.0-5", "=", "2.0", true)] // no release in the constraint: any release
    [InlineData("deb", "2.0-5", "=", "2.0", false)]
    public void Constraints_are_checked_with_the_formats_own_order(string format, string version, string op, string wanted, bool allowed)
    {
        Assert.Equal(allowed, new PackageRelation("x", op, wanted).Allows(version, format));
        Assert.True(new PackageRelation("x").Allows(null, format));
        Assert.False(new PackageRelation("x", op, wanted).Allows(null, format));
    }
}
