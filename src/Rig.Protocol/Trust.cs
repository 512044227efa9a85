using System.Security.Cryptography.X509Certificates;

namespace Rig.Protocol;

/// <summary>Trust helpers both sides share: Rig trusts its own CA only, never the system store.</summary>
public static class Trust
{
    /// <summary>A chain policy with <paramref name="ca"/> as the only root; no revocation download (Rig's
    /// revocation is the gateway's table), no certificate downloads. Set it on the TLS options so the
    /// handshake builds the chain once; with <paramref name="requiredUsageOid"/> the leaf must carry that EKU.</summary>
    public static X509ChainPolicy OnlyRoot(X509Certificate2 ca, string? requiredUsageOid = null)
    {
        ArgumentNullException.ThrowIfNull(ca);
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.Add(ca);
        if (requiredUsageOid is not null)
            policy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(requiredUsageOid));
        return policy;
    }

    /// <summary>Write a secret (private key, a file with a password) readable by its owner only (0600): a new temp
    /// file created 0600, flushed, then renamed over the old one, so the result is never a half-written or
    /// world-readable file whatever the old file's mode was.</summary>
    public static void WritePrivateFile(string path, string content)
    {
        ArgumentNullException.ThrowIfNull(path);
        var temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():n}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(System.Text.Encoding.UTF8.GetBytes(content));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
