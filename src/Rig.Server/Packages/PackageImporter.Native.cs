using System.Text.Json;
using Rig.Model.Domain;

namespace Rig.Server.Packages;

public sealed partial class PackageImporter
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
        };
        return (package, JsonSerializer.Serialize(metadata, NativeJson.Default.NativePackageMetadata));
    }
}

/// <summary>JSON of native package metadata, as kept in the catalog.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(NativePackageMetadata))]
internal sealed partial class NativeJson : System.Text.Json.Serialization.JsonSerializerContext;
