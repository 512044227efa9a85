using System.Formats.Tar;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Sandbox;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;
using static Rig.Agent.Tests.TestFiles;

namespace Rig.Agent.Tests;

/// <summary>Regression tests from the security and durability review: each proves a defect it found stays fixed.</summary>
public sealed class ReviewFindingsTests : IDisposable
{
    private static readonly RigLimits Limits = RigLimits.Default;
    private readonly TempDirectory _dir = new();
    private readonly string _root;
    private readonly string _blobs;
    private readonly SandboxPlatform _platform;
    private readonly IPackageInstaller _installer;
    private int _commands;

    public ReviewFindingsTests()
    {
        _root = _dir.Sub("root");          // like the agent's default sandbox root: <state>/root
        _blobs = _dir.Sub("blobs");
        _platform = new SandboxPlatform(_root, "dev1", ["/etc", "/opt"], Limits);
        _installer = _platform.Installers[PackageFormats.RigArchive];
    }

    public void Dispose() => _dir.Dispose();

    private Task<string> InstallAsync(string name, byte[] archive)
    {
        var blob = Store(_blobs, name, "1.0", archive);
        return _installer.InstallAsync(blob.Package, blob.Path, _platform.Files.Internal($"/var/lib/rig/staging/cmd-{++_commands}"), CancellationToken.None);
    }

    /// <summary>Package 1 ships the harmless link /a -> . ; package 2 ships a link /a/x/up -> ../.. (lexically inside
    /// the root: depth 2) that the installer places at /x/up (resolved through /a), where "../.." leaves the root, then
    /// a file /x/up/escaped.txt that the pre-install checks resolved before the link existed.</summary>
    [Fact]
    public async Task Two_packages_cannot_write_outside_the_sandbox_root()
    {
        await InstallAsync("p1", new HandMadeArchive().Entry(TarEntryType.SymbolicLink, "files/a", ".").Build("p1", "1.0"));
        try
        {
            await InstallAsync("p2", new HandMadeArchive()
                .Entry(TarEntryType.SymbolicLink, "files/a/x/up", "../..")
                .File("files/x/up/escaped.txt", "written outside the device root")
                .Build("p2", "1.0"));
        }
        catch (CommandFailedException)
        {
            // refusing the package is the right answer
        }
        Assert.False(File.Exists(Path.Combine(_dir.Path, "escaped.txt")), "package p2 wrote a file OUTSIDE the sandbox root (next to agent.json, ca.crt)");
    }

    /// <summary>Same root cause without leaving the root: a package overwrites another package's file, bypassing the
    /// "a file of another package is never overwritten" check.</summary>
    [Fact]
    public async Task A_package_cannot_overwrite_another_packages_file_through_its_own_new_link()
    {
        await InstallAsync("p0", new HandMadeArchive().Entry(TarEntryType.SymbolicLink, "files/a", ".").Build("p0", "1.0"));
        await InstallAsync("victim", new HandMadeArchive().File("files/usr/bin/tool", "victim's tool").Build("victim", "1.0"));
        try
        {
            await InstallAsync("evil", new HandMadeArchive()
                .Entry(TarEntryType.SymbolicLink, "files/a/opt/l", "../usr/bin")
                .File("files/opt/l/tool", "evil's tool")
                .Build("evil", "1.0"));
        }
        catch (CommandFailedException)
        {
        }
        Assert.Equal("victim's tool", File.ReadAllText(Host(_root, "/usr/bin/tool")));
    }

    /// <summary>The agent journaled "end: Rebooting" but died (crash, SIGTERM while retrying the report) before the
    /// gateway acknowledged and before any reboot happened. On restart the journal claims a reboot to report.</summary>
    [Fact]
    public void A_process_restart_is_not_mistaken_for_a_reboot()
    {
        var path = Path.Combine(_dir.Path, "journal.jsonl");
        using (var journal = new Journal(path, TimeProvider.System))
        {
            journal.Begin("r1", "reboot");
            journal.End("r1", new CommandResult { CommandId = "r1", Outcome = CommandOutcome.Rebooting });
        } // process dies here: no RebootAcknowledged, no reboot
        using var reopened = new Journal(path, TimeProvider.System);
        Assert.Null(reopened.PendingReboot);
    }
}
