using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Protocol.Archives;
using Rig.Server.Api;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>Packages on the way to a device: verified by digest before anything is unpacked, archives
/// checked entry by entry before anything is written (CHECKLIST 10-13).</summary>
public sealed class PackageTests
{
    [Fact]
    public async Task Blob_with_the_wrong_digest_is_refused_and_nothing_is_installed()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        var package = await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await site.StartAgentAsync("web-1");

        // Corrupt the stored blob (same length, other bytes): what the gateway serves no longer matches the digest.
        var blob = Path.Combine(gateway.DataDirectory, "blobs", "sha256", package.Sha256[..2], package.Sha256);
        var bytes = await File.ReadAllBytesAsync(blob);
        bytes[^8] ^= 0xFF;
        await File.WriteAllBytesAsync(blob, bytes);
        var served = Convert.ToHexStringLower(SHA256.HashData(bytes));

        await site.ConvergeAsync("web-1");
        var detail = await site.WaitForQueueAsync("web-1");

        Assert.Equal(QueueStates.Failed, detail.Status.Queue!.Status);
        var install = detail.Commands.Single(c => c.Kind == "install");
        Assert.Equal(CommandStates.Failed, install.Status);
        Assert.Equal("digest-mismatch", install.Result!.ErrorCode);
        Assert.Contains(package.Sha256, install.Result.Error, StringComparison.Ordinal);
        Assert.Contains(served, install.Result.Error, StringComparison.Ordinal);
        Assert.Contains(package.Sha256, detail.Status.Queue.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(site.Root("web-1"), "usr", "bin", "tool")));
        Assert.Empty(Directory.GetFiles(Path.Combine(site.State("web-1"), "downloads")));
        Assert.Empty(Directory.GetFiles(Path.Combine(site.State("web-1"), "cache")));
        Assert.All(detail.Commands.Where(c => c.Sequence > install.Sequence), c => Assert.Equal(CommandStates.Pending, c.Status));
    }

    public static TheoryData<string, string> HostileArchives => new()
    {
        { "dotdot", "path-traversal" },
        { "escaping-symlink", "link-escape" },
    };

    [Theory]
    [MemberData(nameof(HostileArchives))]
    public async Task Hostile_archive_is_refused_at_import_and_by_the_agent_and_nothing_is_written(string kind, string code)
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        var archive = HostileArchive(kind);
        var file = Path.Combine(dir.Path, $"evil_{kind}.rig.tar.gz");
        await File.WriteAllBytesAsync(file, archive);

        // 1. The store refuses it at import, through the CLI, with the reason.
        var (exit, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(1), "package", "add", file, "--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json");
        Assert.Equal(1, exit);
        Assert.Contains(code, stdout, StringComparison.Ordinal);
        Assert.Empty(await site.Api.GetAsync<List<PackageInfo>>("api/v1/packages"));

        // 2. Suppose it reached the store anyway (a compromised store): the agent refuses it before writing anything.
        var sha = Convert.ToHexStringLower(SHA256.HashData(archive));
        var blob = Path.Combine(gateway.DataDirectory, "blobs", "sha256", sha[..2], sha);
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        await File.WriteAllBytesAsync(blob, archive);
        await using (var store = await RigStore.OpenAsync($"Data Source={gateway.DatabasePath}"))
        {
            var (outcome, _) = await store.AddPackageAsync(new PackageInfo { Name = "evil", Version = "1.0", Format = "rig", Sha256 = sha, Size = archive.Length }, "{}");
            Assert.Equal(PackageAddOutcome.Added, outcome);
        }
        var model = Models.Site(["web-1"]) with
        {
            Bundles = [],
            Roles = [new Role { Name = "base", Kind = BuiltInRoleKinds.Os, Items = [new PackageItem("evil", "1.0")] }],
            Assignments = [new RoleAssignment("web-1", "base")],
        };
        await site.SaveModelAsync(model);
        await site.StartAgentAsync("web-1");
        var before = Snapshot(dir.Path);

        await site.ConvergeAsync("web-1");
        var detail = await site.WaitForQueueAsync("web-1");

        Assert.Equal(QueueStates.Failed, detail.Status.Queue!.Status);
        var install = detail.Commands.Single(c => c.Kind == "install");
        Assert.Equal(code, install.Result!.ErrorCode);
        Assert.Contains("nothing was installed", install.Result.Error, StringComparison.Ordinal);
        var after = Snapshot(dir.Path);
        var written = after.Except(before).Where(p => !IsBookkeeping(p)).ToList();
        Assert.True(written.Count == 0, "written: " + string.Join(", ", written));
        Assert.False(File.Exists(Path.Combine(dir.Path, "devices", "evil")));
        Assert.False(File.Exists(Path.Combine(dir.Path, "evil")));
        Assert.False(Directory.Exists(Path.Combine(site.Root("web-1"), "var", "lib", "rig", "staging", install.Id)));
    }

    private static bool IsBookkeeping(string path) =>
        path.Contains("/gateway/", StringComparison.Ordinal) || path.Contains("/agents/", StringComparison.Ordinal) || path.EndsWith("/var/lib/rig/state.json", StringComparison.Ordinal);

    private static HashSet<string> Snapshot(string root) =>
        [.. Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })];

    /// <summary>A Rig archive with a valid manifest and one hostile entry, built by hand.</summary>
    private static byte[] HostileArchive(string kind)
    {
        var payload = Encoding.UTF8.GetBytes("owned\n");
        var path = kind == "dotdot" ? "/x" : "/etc/evil";
        var manifest = new RigArchiveManifest { Name = "evil", Version = "1.0", Files = kind == "dotdot" ? [new RigArchiveFile("/../../evil", Convert.ToHexStringLower(SHA256.HashData(payload)))] : [] };
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "rig.json") { DataStream = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, Protocol.RigJson.Default.RigArchiveManifest)) });
            if (kind == "dotdot")
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "files/../../evil") { DataStream = new MemoryStream(payload) });
            else
                tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "files" + path) { LinkName = "../../../../evil" });
        }
        return output.ToArray();
    }
}
