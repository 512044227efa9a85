using System.Text.Json;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Packages;

/// <summary>The result of an import.</summary>
internal sealed record PackageImportResult(PackageInfo Package, bool AlreadyPresent);

/// <summary>Imports package files into the blob store and the catalog. Metadata is always read from the file
/// itself (never from the caller), checked, and refused with a clear reason when bad.</summary>
internal sealed partial class PackageImporter(BlobStore blobs, RigStore store, RigLimits limits)
{
    /// <summary>Import a package file from a stream into the provider's catalog. <paramref name="fileName"/> is only used in messages.</summary>
    public Task<PackageImportResult> ImportAsync(Stream content, string fileName, CancellationToken ct = default) => ImportAsync(content, fileName, null, ct);

    /// <summary>Import a package file from a stream, owned by <paramref name="customer"/> (null: the provider's catalog).</summary>
    public async Task<PackageImportResult> ImportAsync(Stream content, string fileName, string? customer, CancellationToken ct)
    {
        using var staged = await blobs.StageAsync(content, limits.MaxPackageBytes, ct).ConfigureAwait(false);
        if (staged.Size == 0)
            throw new PackageRejectedException("bad-format", $"'{fileName}' is empty; give a .rig.tar.gz, .deb or .rpm file.");

        var head = new byte[512];
        int read;
        await using (var probe = File.OpenRead(staged.TempPath))
            read = await probe.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);

        var (package, metadata) = DetectFormat(head.AsSpan(0, read)) switch
        {
            PackageFormats.RigArchive => ReadRigArchive(staged, fileName),
            PackageFormats.Deb => ReadNative(staged, PackageFormats.Deb, fileName),
            PackageFormats.Rpm => ReadNative(staged, PackageFormats.Rpm, fileName),
            _ => throw new PackageRejectedException("bad-format", $"'{fileName}' is not a Rig archive (.rig.tar.gz), a .deb or an .rpm file."),
        };

        // The blob goes in place first: a catalog row never points at a missing blob (a crash in between leaves
        // at most an unreferenced blob, which is harmless: it is content-addressed and served only when catalogued).
        staged.Commit();
        package = package with { Customer = customer };
        var (outcome, existing) = await store.AddPackageAsync(package, metadata, ct).ConfigureAwait(false);
        if (outcome == PackageAddOutcome.AlreadyPresent && existing.Customer is not null && existing.Customer != customer)
        {
            // Owned by another customer: not theirs to use, and not said whose it is.
            throw new PackageRejectedException("conflict",
                $"Package {package.Name} {package.Version} is already in the store under another owner; give your build another name or version.");
        }
        if (outcome == PackageAddOutcome.Conflict)
        {
            if (!await store.IsKnownBlobAsync(package.Sha256, ct).ConfigureAwait(false))
                File.Delete(blobs.PathFor(package.Sha256)); // no catalog entry will ever name it
            throw new PackageRejectedException("conflict",
                $"Package {package.Name} {package.Version} is already in the store with sha256 {existing.Sha256}, but '{fileName}' has sha256 {package.Sha256}; a version never changes content: give the new build a new version.");
        }
        return new PackageImportResult(outcome == PackageAddOutcome.AlreadyPresent ? existing : package, outcome == PackageAddOutcome.AlreadyPresent);
    }

    /// <summary>Import a package file from disk.</summary>
    public async Task<PackageImportResult> ImportFileAsync(string path, CancellationToken ct = default)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return await ImportAsync(stream, Path.GetFileName(path), ct).ConfigureAwait(false);
    }

    private (PackageInfo, string) ReadRigArchive(StagedBlob staged, string fileName)
    {
        RigArchive archive;
        try
        {
            using var stream = File.OpenRead(staged.TempPath);
            archive = RigArchive.Inspect(stream, limits);
        }
        catch (ArchiveRejectedException e)
        {
            throw new PackageRejectedException(e.Code, $"'{fileName}' is refused: {e.Message}");
        }
        var m = archive.Manifest;
        var package = new PackageInfo
        {
            Name = m.Name,
            Version = m.Version,
            Format = PackageFormats.RigArchive,
            OsFamily = m.OsFamily,
            Architecture = m.Architecture,
            Sha256 = staged.Sha256,
            Size = staged.Size,
            Service = m.Service?.Name,
            Reboot = m.Reboot,
        };
        return (package, JsonSerializer.Serialize(m, RigJson.Default.RigArchiveManifest));
    }
}
