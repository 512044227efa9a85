using System.Text.Json;
using Rig.Model.Domain;

namespace Rig.Server.Packages;

internal sealed partial class PackageImporter
{
    private static string? DetectFormat(ReadOnlySpan<byte> head) => NativePackageReader.DetectFormat(head);

    /// <summary>Read a .deb or .rpm's metadata from the file itself. Their installers come with the Debian
    /// and RPM plug-ins; the store accepts and serves them already.</summary>
    private (PackageInfo, string) ReadNative(StagedBlob staged, string format, string fileName)
    {
        NativePackageMetadata metadata;
        using (var stream = File.OpenRead(staged.TempPath))
        {
            try
            {
                metadata = format == Protocol.Messages.PackageFormats.Deb ? NativePackageReader.ReadDeb(stream, limits) : NativePackageReader.ReadRpm(stream, limits);
            }
            catch (PackageRejectedException e)
            {
                throw new PackageRejectedException(e.Code, $"'{fileName}' is refused: {e.Message}");
            }
        }
        var package = new PackageInfo
        {
            Name = metadata.Name,
            Version = metadata.Version,
            Format = metadata.Format,
            OsFamily = metadata.OsFamily,
            Architecture = metadata.Architecture,
            Sha256 = staged.Sha256,
            Size = staged.Size,
            Depends = metadata.Depends,
            Provides = metadata.Provides,
            Conflicts = metadata.Conflicts,
            Essential = metadata.Essential,
        };
        return (package, JsonSerializer.Serialize(metadata, NativeJson.Default.NativePackageMetadata));
    }

    /// <summary>Read the relations of native packages imported before the catalog kept them (schema v5) from their
    /// files, once, at start-up. A package whose blob is missing or unreadable is logged by the caller and left
    /// without relations (its plans check nothing for it, as before).</summary>
    public async Task<(int Filled, IReadOnlyList<string> Failed)> FillMissingRelationsAsync(CancellationToken ct = default)
    {
        var failed = new List<string>();
        var filled = 0;
        foreach (var package in await store.PackagesWithoutRelationsAsync(ct).ConfigureAwait(false))
        {
            try
            {
                NativePackageMetadata metadata;
                await using (var stream = File.OpenRead(blobs.PathFor(package.Sha256)))
                    metadata = package.Format == Protocol.Messages.PackageFormats.Deb ? NativePackageReader.ReadDeb(stream, limits) : NativePackageReader.ReadRpm(stream, limits);
                await store.SetPackageRelationsAsync(package with { Depends = metadata.Depends, Provides = metadata.Provides, Conflicts = metadata.Conflicts, Essential = metadata.Essential }, ct).ConfigureAwait(false);
                filled++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or PackageRejectedException)
            {
                failed.Add($"{package.Name} {package.Version}: {e.Message}");
            }
        }
        return (filled, failed);
    }
}

/// <summary>JSON of native package metadata, as kept in the catalog.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(NativePackageMetadata))]
internal sealed partial class NativeJson : System.Text.Json.Serialization.JsonSerializerContext;
