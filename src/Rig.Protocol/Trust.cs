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

    /// <summary>Write a secret (private key) readable by its owner only (0600), replacing any old file.</summary>
    public static void WritePrivateFile(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }
}
