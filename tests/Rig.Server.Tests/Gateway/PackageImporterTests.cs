using System.Text;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Server.Packages;
using Rig.Server.Store;

namespace Rig.Server.Tests.Gateway;

/// <summary>Import into the blob store and the catalog: metadata from the file, bad input refused, a
/// name and version never change content, blobs stored once.</summary>
public sealed class PackageImporterTests(NativePackageFixture native) : IAsyncLifetime, IClassFixture<NativePackageFixture>
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-import-{Guid.NewGuid():n}");
    private RigStore _store = null!;
    private BlobStore _blobs = null!;
    private PackageImporter _importer = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _store = await RigStore.OpenAsync($"Data Source={Path.Combine(_dir, "rig.db")}");
        _blobs = new BlobStore(Path.Combine(_dir, "blobs"));
        _importer = new PackageImporter(_blobs, _store, RigLimits.Default);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static MemoryStream Archive(string name, string version, string content)
    {
        var stream = new MemoryStream();
        RigArchiveWriter.Write(stream, new RigArchiveManifest { Name = name, Version = version, Service = new RigArchiveService("svc"), Reboot = true },
            [new ArchiveInput("/opt/app/file.txt", Encoding.UTF8.GetBytes(content))]);
        stream.Position = 0;
        return stream;
    }

    [Fact]
    public async Task Rig_archive_metadata_comes_from_the_file_and_the_blob_is_stored_by_digest()
    {
        var result = await _importer.ImportAsync(Archive("app", "1.0", "a"), "app.rig.tar.gz");

        Assert.False(result.AlreadyPresent);
        Assert.Equal(("app", "1.0", "rig", "svc", true), (result.Package.Name, result.Package.Version, result.Package.Format, result.Package.Service, result.Package.Reboot));
        Assert.True(_blobs.Contains(result.Package.Sha256));
        Assert.Single(await _store.ListPackagesAsync());
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "blobs", "tmp")));
    }

    [Fact]
    public async Task Same_file_twice_is_stored_once()
    {
        var first = await _importer.ImportAsync(Archive("app", "1.0", "a"), "a");
        var second = await _importer.ImportAsync(Archive("app", "1.0", "a"), "a");

        Assert.True(second.AlreadyPresent);
        Assert.Equal(first.Package.Sha256, second.Package.Sha256);
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "blobs", "sha256"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Same_name_and_version_with_other_content_is_refused_naming_both_digests()
    {
        var first = await _importer.ImportAsync(Archive("app", "1.0", "a"), "a");

        var e = await Assert.ThrowsAsync<PackageRejectedException>(() => _importer.ImportAsync(Archive("app", "1.0", "b"), "b.rig.tar.gz"));

        Assert.Equal("conflict", e.Code);
        Assert.Contains(first.Package.Sha256, e.Message, StringComparison.Ordinal);
        Assert.Contains("new version", e.Message, StringComparison.Ordinal);
        Assert.Single(await _store.ListPackagesAsync());
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "blobs", "sha256"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "blobs", "tmp")));
    }

    [Theory]
    [InlineData("evil;rm", "1.0", "bad-manifest")]
    [InlineData("-rf", "1.0", "bad-manifest")]
    [InlineData("app", "$(reboot)", "bad-manifest")]
    [InlineData("app", "1.0\n", "bad-manifest")]
    public async Task Bad_names_and_versions_are_refused_at_import(string name, string version, string code)
    {
        var e = await Assert.ThrowsAsync<PackageRejectedException>(() => _importer.ImportAsync(Archive(name, version, "x"), "evil.rig.tar.gz"));

        Assert.Equal(code, e.Code);
        Assert.Contains("evil.rig.tar.gz", e.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.ListPackagesAsync());
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "blobs"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Unknown_formats_and_empty_files_are_refused()
    {
        var garbage = await Assert.ThrowsAsync<PackageRejectedException>(() => _importer.ImportAsync(new MemoryStream(Encoding.UTF8.GetBytes("hello, I am not a package")), "notes.txt"));
        var empty = await Assert.ThrowsAsync<PackageRejectedException>(() => _importer.ImportAsync(new MemoryStream(), "empty.deb"));

        Assert.Equal("bad-format", garbage.Code);
        Assert.Contains(".deb", garbage.Message, StringComparison.Ordinal);
        Assert.Equal("bad-format", empty.Code);
        Assert.Empty(await _store.ListPackagesAsync());
    }

    [Fact]
    public async Task Package_over_the_size_limit_is_refused_while_streaming()
    {
        var small = new PackageImporter(_blobs, _store, RigLimits.Default with { MaxPackageBytes = 1024 });
        var e = await Assert.ThrowsAsync<PackageRejectedException>(() => small.ImportAsync(new MemoryStream(new byte[4096]), "big.rig.tar.gz"));

        Assert.Equal("too-large", e.Code);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "blobs"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Deb_and_rpm_files_are_accepted_with_their_metadata_read_from_the_file()
    {
        var deb = await _importer.ImportAsync(new MemoryStream(native.Debs["xz"]), "rig-test_all.deb");
        var rpm = await _importer.ImportAsync(new MemoryStream(native.RpmWithEpoch), "rigtest.noarch.rpm");

        Assert.Equal(("rig-test", "1:2.3~rc1-4", "deb", "debian", "all"), (deb.Package.Name, deb.Package.Version, deb.Package.Format, deb.Package.OsFamily, deb.Package.Architecture));
        Assert.Equal(("rigtest", "2:1.2.3-4", "rpm", "rhel", "noarch"), (rpm.Package.Name, rpm.Package.Version, rpm.Package.Format, rpm.Package.OsFamily, rpm.Package.Architecture));
        Assert.True(_blobs.Contains(deb.Package.Sha256));
        Assert.True(_blobs.Contains(rpm.Package.Sha256));
        Assert.Equal(2, (await _store.ListPackagesAsync()).Count);
    }
}
