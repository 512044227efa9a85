using Rig.Protocol.Archives;

namespace Rig.Protocol.Tests.Archives;

/// <summary>CHECKLIST 10, 11, 16: the pure path rules behind archive extraction and file commands.</summary>
public sealed class ArchivePathsTests
{
    [Theory]
    [InlineData("files/etc/a", "files/etc/a")]
    [InlineData("./files//etc/a/", "files/etc/a")]
    [InlineData("files/./etc/./a", "files/etc/a")]
    [InlineData("rig.json", "rig.json")]
    public void Entry_names_are_normalised(string name, string expected) =>
        Assert.Equal(expected, ArchivePaths.NormalizeEntryName(name, 1024));

    [Theory]
    [InlineData("", "bad-path")]
    [InlineData(".", "bad-path")]
    [InlineData("./", "bad-path")]
    [InlineData("//", "absolute-path")]
    [InlineData("files/../etc", "path-traversal")]
    [InlineData("..", "path-traversal")]
    [InlineData("files/..", "path-traversal")]
    [InlineData("/files/a", "absolute-path")]
    [InlineData("c:/a", "absolute-path")]
    [InlineData("Z:a", "absolute-path")]
    [InlineData("files\\a", "bad-path")]
    [InlineData("files/a\0b", "bad-path")]
    [InlineData("files/a\u001bb", "bad-path")]
    public void Unsafe_entry_names_are_refused_with_their_code(string name, string code)
    {
        var e = Assert.Throws<ArchiveRejectedException>(() => ArchivePaths.NormalizeEntryName(name, 1024));

        Assert.Equal(code, e.Code);
    }

    [Fact]
    public void An_entry_name_longer_than_the_limit_is_refused()
    {
        Assert.Equal(new string('a', 16), ArchivePaths.NormalizeEntryName(new string('a', 16), 16));
        var e = Assert.Throws<ArchiveRejectedException>(() => ArchivePaths.NormalizeEntryName(new string('a', 17), 16));
        Assert.Equal("bad-path", e.Code);
        Assert.Contains("17", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_very_long_offending_name_is_shortened_in_the_message()
    {
        var name = "files/" + new string('a', 5000) + "/../x";

        var e = Assert.Throws<ArchiveRejectedException>(() => ArchivePaths.NormalizeEntryName(name, 10_000));

        Assert.True(e.Message.Length < 400, e.Message);
        Assert.Contains("...", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("usr/lib/libx.so", "libx.so.1")]
    [InlineData("usr/lib/x", "../../etc/x")]
    [InlineData("usr/lib/x", "../share/x")]
    [InlineData("usr/lib/x", "./libx.so.1")]
    [InlineData("usr/lib/x", "sub/dir/y")]
    [InlineData("a/b", "..")]
    public void Link_targets_that_stay_inside_the_root_are_allowed(string link, string target) =>
        Assert.True(ArchivePaths.LinkStaysInside(link, target));

    [Theory]
    [InlineData("x", "..")]
    [InlineData("etc/x", "../../etc/shadow")]
    [InlineData("etc/x", "../../../../etc/shadow")]
    [InlineData("etc/x", "/etc/shadow")]
    [InlineData("etc/x", "")]
    [InlineData("etc/x", "a\\b")]
    [InlineData("etc/x", "a\0b")]
    public void Link_targets_that_leave_the_root_or_are_malformed_are_refused(string link, string target) =>
        Assert.False(ArchivePaths.LinkStaysInside(link, target));

    [Theory]
    [InlineData("escape", "d/up/..")]          // d/up may itself be a link to the root
    [InlineData("a/b", "c/../..")]
    [InlineData("usr/lib/x", "../lib/y/../../z")]
    public void Link_targets_that_climb_after_descending_are_refused(string link, string target) =>
        Assert.False(ArchivePaths.LinkStaysInside(link, target));

    [Theory]
    [InlineData("/etc/app.conf", new[] { "etc", "app.conf" })]
    [InlineData("//etc//app.conf", new[] { "etc", "app.conf" })]
    [InlineData("/x", new[] { "x" })]
    public void Device_paths_are_split_into_segments(string path, string[] segments) =>
        Assert.Equal(segments, ArchivePaths.SplitDevicePath(path, 1024));

    [Theory]
    [InlineData("")]
    [InlineData("etc/app.conf")]
    [InlineData("/")]
    [InlineData("///")]
    [InlineData("/etc/../shadow")]
    [InlineData("/etc/./app.conf")]
    [InlineData("/etc\\app.conf")]
    [InlineData("/etc/app\n.conf")]
    [InlineData("/etc/app\0.conf")]
    public void Unsafe_device_paths_are_refused(string path)
    {
        var e = Assert.Throws<ArgumentException>(() => ArchivePaths.SplitDevicePath(path, 1024));

        Assert.Equal("path", e.ParamName);
    }

    [Fact]
    public void A_device_path_longer_than_the_limit_is_refused()
    {
        Assert.Single(ArchivePaths.SplitDevicePath("/" + new string('a', 15), 16));
        Assert.Throws<ArgumentException>(() => ArchivePaths.SplitDevicePath("/" + new string('a', 16), 16));
    }
}
