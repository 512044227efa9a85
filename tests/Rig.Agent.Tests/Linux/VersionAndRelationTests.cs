using Rig.Protocol.Packaging;
using Rig.Agent.Platform.Linux;

namespace Rig.Agent.Tests.Linux;

/// <summary>The pure parts of the native installers: RPM's version order (checked against rpm itself in
/// RpmInstallerTests through up- and downgrades) and Debian relationship fields.</summary>
public sealed class VersionAndRelationTests
{
    [Theory]
    [InlineData("1.0-1", "1.0-1", 0)]
    [InlineData("1.0-1", "2.0-1", -1)]
    [InlineData("1.10-1", "1.9-1", 1)]
    [InlineData("1.0-2", "1.0-10", -1)]
    [InlineData("1:1.0-1", "2.0-1", 1)]
    [InlineData("0:1.0-1", "1.0-1", 0)]
    [InlineData("1.0~rc1-1", "1.0-1", -1)]
    [InlineData("1.0^git1-1", "1.0-1", 1)]
    [InlineData("1.0a-1", "1.0-1", 1)]
    [InlineData("1.0a-1", "1.0.1-1", -1)]
    [InlineData("1.001-1", "1.1-1", 0)]
    [InlineData("2.0", "2.0-5", 0)]
    public void Rpm_versions_order_as_rpmvercmp_does(string left, string right, int expected)
    {
        Assert.Equal(expected, Math.Sign(RpmVersion.Compare(left, right)));
        Assert.Equal(-expected, Math.Sign(RpmVersion.Compare(right, left)));
    }

    [Fact]
    public void Debian_relations_parse_groups_alternatives_versions_and_architecture_qualifiers()
    {
        var groups = DebianDependencies.Parse("libc6 (>= 2.34), default-mta | mail-transport-agent, python3:any (<< 3.12~), perl:native");

        Assert.Equal(4, groups.Count);
        Assert.Equal([new DebianRelation("libc6", ">=", "2.34")], groups[0]);
        Assert.Equal([new DebianRelation("default-mta", null, null), new DebianRelation("mail-transport-agent", null, null)], groups[1]);
        Assert.Equal([new DebianRelation("python3", "<<", "3.12~")], groups[2]);
        Assert.Equal([new DebianRelation("perl", null, null)], groups[3]);
        Assert.Equal("libc6 (>= 2.34)", groups[0][0].ToString());
        Assert.Empty(DebianDependencies.Parse(null));
        Assert.Empty(DebianDependencies.Parse("  "));
    }

    [Fact]
    public void A_relation_that_is_not_one_is_refused_with_the_offending_text()
    {
        var error = Assert.Throws<FormatException>(() => DebianDependencies.Parse("libc6 (>= 2.34, bad name"));

        Assert.Contains("'libc6 (>= 2.34'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Control_fields_are_read_with_continuation_lines()
    {
        var fields = DebianDependencies.ParseControl("Package: hello\nVersion: 2.10-3\nDepends: libc6 (>= 2.34),\n foo\nDescription: x\n more\n");

        Assert.Equal("hello", fields["Package"]);
        Assert.Equal("2.10-3", fields["version"]);
        Assert.Equal("libc6 (>= 2.34), foo", fields["Depends"]);
    }
}
