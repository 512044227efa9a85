using Rig.Agent.Platform.Linux;

namespace Rig.Agent.Tests.Linux;

/// <summary>Control files as <c>dpkg-deb --field</c> prints them. Version orders and relation fields are shared with
/// the gateway and tested in Rig.Protocol.Tests (Packaging), against dpkg and rpm themselves.</summary>
public sealed class DebianControlTests
{
    [Fact]
    public void Control_fields_are_read_with_continuation_lines()
    {
        var fields = DebianControl.ParseControl("Package: hello\nVersion: 2.10-3\nDepends: libc6 (>= 2.34),\n foo\nDescription: x\n more\n");

        Assert.Equal("hello", fields["Package"]);
        Assert.Equal("2.10-3", fields["version"]);
        Assert.Equal("libc6 (>= 2.34), foo", fields["Depends"]);
    }
}
