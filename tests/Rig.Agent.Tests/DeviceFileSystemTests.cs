using Rig.Agent.Platform;
using Rig.Protocol;
using static Rig.Agent.Tests.TestFiles;

namespace Rig.Agent.Tests;

/// <summary>CHECKLIST 11 and 16: device paths map under the root with chroot semantics; nothing resolves
/// outside the root, outside the allowed roots, or through a final link unless asked to.</summary>
public sealed class DeviceFileSystemTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _root;
    private readonly DeviceFileSystem _fs;

    public DeviceFileSystemTests()
    {
        _root = _dir.Sub("root");
        _fs = new DeviceFileSystem(_root, ["/etc", "/opt"], RigLimits.Default);
    }

    public void Dispose() => _dir.Dispose();

    private void AssertUnderRoot(string host) =>
        Assert.StartsWith(_root + "/", host, StringComparison.Ordinal);

    [Fact]
    public void Normal_path_maps_under_the_root()
    {
        Assert.Equal(Path.Combine(_root, "etc", "app", "app.conf"), _fs.Resolve("/etc/app/app.conf", FinalLink.Refuse, allowedRootsOnly: true));
        Assert.Equal(Path.Combine(_root, "etc", "app.conf"), _fs.Resolve("//etc//app.conf", FinalLink.Refuse, allowedRootsOnly: true));
    }

    [Theory]
    [InlineData("etc/app.conf")]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("/etc/../etc/passwd")]
    [InlineData("/../../etc/passwd")]
    [InlineData("/etc/./app.conf")]
    [InlineData("/etc/..")]
    [InlineData("/etc\\app.conf")]
    [InlineData("/etc/app\n.conf")]
    [InlineData("/etc/app\0.conf")]
    [InlineData("/etc/app\u007f.conf")]
    public void Unsafe_device_path_is_refused_as_bad_path(string path)
    {
        foreach (var final in Enum.GetValues<FinalLink>())
            AssertFails("bad-path", () => _fs.Resolve(path, final, allowedRootsOnly: false));
    }

    [Fact]
    public void Path_longer_than_the_limit_is_refused()
    {
        var fs = new DeviceFileSystem(_root, ["/etc"], RigLimits.Default with { MaxPathLength = 32 });
        AssertFails("bad-path", () => fs.Resolve("/etc/" + new string('a', 40), FinalLink.Refuse, allowedRootsOnly: true));
    }

    [Fact]
    public void Symlinked_parent_inside_the_root_is_followed()
    {
        Directory.CreateDirectory(Host(_root, "/usr/bin"));
        Link(_root, "/bin", "usr/bin"); // merged /usr

        Assert.Equal(Path.Combine(_root, "usr", "bin", "tool"), _fs.Resolve("/bin/tool", FinalLink.Refuse, allowedRootsOnly: false));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("../../..")]
    [InlineData("../../../../../../../../../..")]
    [InlineData("/../../..")]
    [InlineData("..")]
    public void Symlinked_parent_pointing_above_the_root_stays_at_the_root(string target)
    {
        Link(_root, "/etc/evil", target);

        foreach (var final in Enum.GetValues<FinalLink>())
        {
            var host = _fs.Resolve("/etc/evil/passwd", final, allowedRootsOnly: false);
            AssertUnderRoot(host);
            Assert.Equal(Path.Combine(_root, "passwd"), host); // '..' at the device root is the device root
        }
    }

    [Fact]
    public void Symlinked_parent_pointing_to_a_host_path_resolves_inside_the_root()
    {
        var outside = _dir.Sub("outside");
        Link(_root, "/etc/escape", outside); // absolute host path: means <root><outside> on the device

        var host = _fs.Resolve("/etc/escape/secret", FinalLink.Refuse, allowedRootsOnly: false);

        AssertUnderRoot(host);
        Assert.Equal(Path.Combine(_root, outside.TrimStart('/'), "secret"), host);
    }

    [Fact]
    public void Absolute_link_target_is_relative_to_the_device_root()
    {
        Link(_root, "/etc/conf.d", "/srv/conf");

        Assert.Equal(Path.Combine(_root, "srv", "conf", "a.conf"), _fs.Resolve("/etc/conf.d/a.conf", FinalLink.Refuse, allowedRootsOnly: false));
    }

    [Fact]
    public void Final_link_is_refused_kept_or_followed_as_asked()
    {
        Put(_root, "/srv/real.conf", "real");
        Link(_root, "/etc/app.conf", "/srv/real.conf");

        var e = AssertFails("link-target", () => _fs.Resolve("/etc/app.conf", FinalLink.Refuse, allowedRootsOnly: false));
        Assert.Contains("/etc/app.conf", e.Message, StringComparison.Ordinal);
        Assert.Equal(Host(_root, "/etc/app.conf"), _fs.Resolve("/etc/app.conf", FinalLink.Keep, allowedRootsOnly: true));
        Assert.Equal(Host(_root, "/srv/real.conf"), _fs.Resolve("/etc/app.conf", FinalLink.Follow, allowedRootsOnly: false));
    }

    [Fact]
    public void Final_link_to_a_directory_is_refused_too()
    {
        Directory.CreateDirectory(Host(_root, "/srv/dir"));
        Link(_root, "/etc/app.d", "/srv/dir");

        AssertFails("link-target", () => _fs.Resolve("/etc/app.d", FinalLink.Refuse, allowedRootsOnly: false));
    }

    [Theory]
    [InlineData("/usr/bin/evil")]
    [InlineData("/etcetera/app.conf")]
    [InlineData("/optional/x")]
    [InlineData("/root/.ssh/authorized_keys")]
    public void Path_outside_the_allowed_roots_is_refused(string path)
    {
        var e = AssertFails("outside-allowed-roots", () => _fs.Resolve(path, FinalLink.Refuse, allowedRootsOnly: true));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        AssertUnderRoot(_fs.Resolve(path, FinalLink.Refuse, allowedRootsOnly: false)); // only the allowed-roots rule refused it
    }

    [Fact]
    public void Allowed_root_itself_and_paths_under_it_are_allowed()
    {
        Assert.Equal(Path.Combine(_root, "etc"), _fs.Resolve("/etc", FinalLink.Refuse, allowedRootsOnly: true));
        Assert.Equal(Path.Combine(_root, "opt", "a", "b"), _fs.Resolve("/opt/a/b", FinalLink.Refuse, allowedRootsOnly: true));
    }

    [Theory]
    [InlineData("/usr/lib")]
    [InlineData("../usr/lib")]
    [InlineData("../../../usr/lib")]
    public void Symlink_inside_an_allowed_root_pointing_outside_it_is_refused(string target)
    {
        Directory.CreateDirectory(Host(_root, "/usr/lib"));
        Link(_root, "/etc/sneaky", target);

        AssertFails("outside-allowed-roots", () => _fs.Resolve("/etc/sneaky/x.conf", FinalLink.Refuse, allowedRootsOnly: true));
        Assert.Equal(Path.Combine(_root, "usr", "lib", "x.conf"), _fs.Resolve("/etc/sneaky/x.conf", FinalLink.Refuse, allowedRootsOnly: false));
    }

    [Fact]
    public void Followed_final_link_pointing_outside_the_allowed_roots_is_refused()
    {
        Link(_root, "/etc/shadow.conf", "/usr/secret");

        AssertFails("outside-allowed-roots", () => _fs.Resolve("/etc/shadow.conf", FinalLink.Follow, allowedRootsOnly: true));
    }

    [Fact]
    public void Symlink_from_outside_into_an_allowed_root_is_allowed()
    {
        Directory.CreateDirectory(Host(_root, "/etc/app"));
        Link(_root, "/config", "/etc/app");

        Assert.Equal(Path.Combine(_root, "etc", "app", "a.conf"), _fs.Resolve("/config/a.conf", FinalLink.Refuse, allowedRootsOnly: true));
    }

    [Fact]
    public void Link_loop_is_refused()
    {
        Link(_root, "/etc/a", "b");
        Link(_root, "/etc/b", "/etc/a");
        Link(_root, "/etc/self", "self");

        AssertFails("link-loop", () => _fs.Resolve("/etc/a/x.conf", FinalLink.Refuse, allowedRootsOnly: false));
        AssertFails("link-loop", () => _fs.Resolve("/etc/a", FinalLink.Follow, allowedRootsOnly: false));
        AssertFails("link-loop", () => _fs.Resolve("/etc/self", FinalLink.Follow, allowedRootsOnly: false));
        Assert.Equal(Host(_root, "/etc/a"), _fs.Resolve("/etc/a", FinalLink.Keep, allowedRootsOnly: false)); // the link itself is fine
    }

    [Fact]
    public void Long_chain_of_links_within_the_limit_resolves()
    {
        Directory.CreateDirectory(Host(_root, "/etc/real"));
        var previous = "/etc/real";
        for (var i = 0; i < 30; i++)
        {
            Link(_root, $"/etc/l{i}", previous);
            previous = $"/etc/l{i}";
        }

        Assert.Equal(Path.Combine(_root, "etc", "real", "x"), _fs.Resolve(previous + "/x", FinalLink.Refuse, allowedRootsOnly: true));
    }

    [Fact]
    public void Internal_path_maps_under_the_root()
    {
        Assert.Equal(Path.Combine(_root, "var", "lib", "rig", "state.json"), _fs.Internal("/var/lib/rig/state.json"));
    }

    [Fact]
    public void WriteAtomically_replaces_the_file_sets_the_mode_and_leaves_no_temp_file()
    {
        var target = Host(_root, "/etc/app/app.conf");
        DeviceFileSystem.WriteAtomically(target, Utf8("first"), (UnixFileMode)Convert.ToInt32("0600", 8));
        DeviceFileSystem.WriteAtomically(target, Utf8("second"), (UnixFileMode)Convert.ToInt32("0640", 8));

        Assert.Equal("second", File.ReadAllText(target));
        Assert.Equal((UnixFileMode)Convert.ToInt32("0640", 8), File.GetUnixFileMode(target));
        Assert.Equal(["app.conf"], Directory.GetFileSystemEntries(Path.GetDirectoryName(target)!).Select(Path.GetFileName));
    }

    [Fact]
    public void WriteAtomically_sets_modes_wider_than_the_umask()
    {
        var target = Host(_root, "/opt/app/run.sh");
        var mode = (UnixFileMode)Convert.ToInt32("0777", 8);

        DeviceFileSystem.WriteAtomically(target, Utf8("#!/bin/sh\n"), mode);

        Assert.Equal(mode, File.GetUnixFileMode(target));
    }

    [Fact]
    public void WriteAtomically_that_fails_removes_its_temp_file_and_keeps_what_was_there()
    {
        var target = Host(_root, "/etc/app.d");
        Put(_root, "/etc/app.d/keep.conf", "keep"); // a non-empty directory cannot be renamed over

        Assert.ThrowsAny<IOException>(() => DeviceFileSystem.WriteAtomically(target, Utf8("x"), (UnixFileMode)Convert.ToInt32("0644", 8)));

        Assert.Equal(["app.d"], Directory.GetFileSystemEntries(Host(_root, "/etc")).Select(Path.GetFileName));
        Assert.Equal("keep", File.ReadAllText(Host(_root, "/etc/app.d/keep.conf")));
    }
}
