using System.Security.Cryptography;
using Rig.Protocol;

namespace Rig.Server.Packages;

/// <summary>The central file system: content-addressed blobs on local disk, stored once by SHA-256 at
/// <c>{root}/sha256/{ab}/{digest}</c>. Written to a temp file, flushed, then renamed into place, so a blob
/// that exists is always complete.</summary>
internal sealed class BlobStore
{
    private readonly string _root;
    private readonly string _temp;

    /// <summary>A store under <paramref name="root"/>.</summary>
    public BlobStore(string root)
    {
        _root = Path.GetFullPath(root);
        _temp = Path.Combine(_root, "tmp");
        Directory.CreateDirectory(Path.Combine(_root, "sha256"));
        Directory.CreateDirectory(_temp);
    }

    /// <summary>Path of a blob (which may not exist). Throws for a malformed digest, so no caller can build a
    /// path from untrusted text.</summary>
    public string PathFor(string sha256)
    {
        if (!Names.IsValidSha256(sha256))
            throw new ArgumentException($"'{sha256}' is not a SHA-256 digest (64 lower-case hex digits).", nameof(sha256));
        return Path.Combine(_root, "sha256", sha256[..2], sha256);
    }

    /// <summary>True when the blob is stored.</summary>
    public bool Contains(string sha256) => File.Exists(PathFor(sha256));

    /// <summary>Copy <paramref name="source"/> into a temp file while hashing it, up to <paramref name="maxBytes"/>.
    /// The caller inspects the staged file, then commits or discards it.</summary>
    public async Task<StagedBlob> StageAsync(Stream source, long maxBytes, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var path = Path.Combine(_temp, $"{Guid.NewGuid():n}.part");
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await source.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    size += n;
                    if (size > maxBytes)
                        throw new PackageRejectedException("too-large", $"The package is larger than the limit of {maxBytes} bytes.");
                    sha.AppendData(buffer, 0, n);
                    await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                }
                await output.FlushAsync(ct).ConfigureAwait(false);
                output.Flush(flushToDisk: true);
            }
            return new StagedBlob(this, path, Convert.ToHexStringLower(sha.GetHashAndReset()), size);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    internal void Commit(StagedBlob staged)
    {
        var target = PathFor(staged.Sha256);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (File.Exists(target))
        {
            File.Delete(staged.TempPath); // stored once: the same content is already there
            return;
        }
        File.Move(staged.TempPath, target);
    }
}

/// <summary>A blob copied into the store's temp area, hashed, not yet visible.</summary>
internal sealed class StagedBlob(BlobStore store, string tempPath, string sha256, long size) : IDisposable
{
    private bool _committed;

    /// <summary>Where the bytes are now.</summary>
    public string TempPath { get; } = tempPath;

    /// <summary>SHA-256 of the content.</summary>
    public string Sha256 { get; } = sha256;

    /// <summary>Size in bytes.</summary>
    public long Size { get; } = size;

    /// <summary>Move the blob to its content address.</summary>
    public void Commit()
    {
        store.Commit(this);
        _committed = true;
    }

    /// <summary>Discard the temp file unless committed.</summary>
    public void Dispose()
    {
        if (!_committed)
            File.Delete(TempPath);
    }
}
