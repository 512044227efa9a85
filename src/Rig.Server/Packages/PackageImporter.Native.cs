using Rig.Model.Domain;
using Rig.Protocol.Messages;

namespace Rig.Server.Packages;

public sealed partial class PackageImporter
{
    // TEMPORARY until NativePackageReader lands.
    private static string? DetectFormat(ReadOnlySpan<byte> head) => head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B ? PackageFormats.RigArchive : null;

    private static (PackageInfo, string) ReadNative(StagedBlob staged, string format, string fileName) =>
        throw new PackageRejectedException("bad-format", $"'{fileName}' ({format}, {staged.Size} bytes) cannot be read yet.");
}
