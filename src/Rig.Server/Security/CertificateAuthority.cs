using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Rig.Protocol;
using Rig.Protocol.Errors;
using Rig.Server.Store;

namespace Rig.Server.Security;

/// <summary>The gateway's certificate authority. It issues the gateway's TLS certificate and one client
/// certificate per enrolled device. Keys are ECDSA P-256; the CA key stays in the data directory (mode 0600).</summary>
internal sealed class CertificateAuthority : IDisposable
{
    /// <summary>OID of TLS client authentication.</summary>
    public const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    /// <summary>OID of TLS server authentication.</summary>
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    /// <summary>Organisational unit of agent certificates.</summary>
    public const string AgentOu = "rig-agent";

    private readonly ECDsa _key;
    private readonly RigLimits _limits;
    private readonly TimeProvider _clock;

    private CertificateAuthority(X509Certificate2 certificate, ECDsa key, RigLimits limits, TimeProvider clock)
    {
        Certificate = certificate;
        _key = key;
        _limits = limits;
        _clock = clock;
        Pin = PinOf(certificate);
    }

    /// <summary>The CA certificate (public part only).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The pin agents and operators check: <c>sha256:</c> + hex of the CA certificate's DER.</summary>
    public string Pin { get; }

    /// <summary>The pin of a certificate.</summary>
    public static string PinOf(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
    }

    /// <summary>SHA-256 thumbprint (lower-case hex) used to map a client certificate to its device.</summary>
    public static string ThumbprintOf(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
    }

    /// <summary>Load the CA from <paramref name="directory"/> (ca.crt, ca.key), creating it on first use.</summary>
    public static CertificateAuthority LoadOrCreate(string directory, RigLimits limits, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(clock);
        Directory.CreateDirectory(directory);
        var certPath = Path.Combine(directory, "ca.crt");
        var keyPath = Path.Combine(directory, "ca.key");
        if (File.Exists(certPath) != File.Exists(keyPath))
            throw new InvalidOperationException($"The CA in '{directory}' is incomplete ({(File.Exists(certPath) ? "ca.key" : "ca.crt")} is missing). Restore both files from backup: a new CA would break every agent's pin.");
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            var key = ECDsa.Create();
            key.ImportFromPem(File.ReadAllText(keyPath));
            return new CertificateAuthority(X509CertificateLoader.LoadCertificate(PemToDer(File.ReadAllText(certPath))), key, limits, clock);
        }

        var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = clock.GetUtcNow();
        var request = new CertificateRequest($"CN=Rig CA {Guid.NewGuid().ToString("n")[..8]}, O=Rig", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var selfSigned = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(limits.CaLifetime));
        var publicOnly = X509CertificateLoader.LoadCertificate(selfSigned.RawData);
        Trust.WritePrivateFile(keyPath, caKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certPath, publicOnly.ExportCertificatePem());
        return new CertificateAuthority(publicOnly, caKey, limits, clock);
    }

    /// <summary>Issue (or load, if still valid for the same names) the gateway's TLS server certificate.</summary>
    public X509Certificate2 LoadOrIssueServerCertificate(string directory, IReadOnlyList<string> dnsNames, IReadOnlyList<IPAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(addresses);
        Directory.CreateDirectory(directory);
        var certPath = Path.Combine(directory, "gateway.crt");
        var keyPath = Path.Combine(directory, "gateway.key");
        var namesPath = Path.Combine(directory, "gateway.names");
        var names = string.Join(',', dnsNames.Concat(addresses.Select(a => a.ToString())));
        if (File.Exists(certPath) && File.Exists(keyPath) && File.Exists(namesPath) && File.ReadAllText(namesPath) == names)
        {
            var existing = X509Certificate2.CreateFromPem(File.ReadAllText(certPath), File.ReadAllText(keyPath));
            if (existing.NotAfter.ToUniversalTime() > _clock.GetUtcNow().AddDays(30))
                return existing;
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsNames.FirstOrDefault() ?? "rig-gateway"}, O=Rig", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var dns in dnsNames)
            san.AddDnsName(dns);
        foreach (var ip in addresses)
            san.AddIpAddress(ip);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthOid)], false));
        using var issued = Issue(request, _limits.GatewayCertificateLifetime);
        var withKey = issued.CopyWithPrivateKey(key);
        Trust.WritePrivateFile(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certPath, withKey.ExportCertificatePem());
        File.WriteAllText(namesPath, names);
        return X509Certificate2.CreateFromPem(File.ReadAllText(certPath), File.ReadAllText(keyPath));
    }

    /// <summary>Check a device's certificate signing request and issue its client certificate. The subject is
    /// chosen here (CN = device name), never taken from the request.</summary>
    public (X509Certificate2 Certificate, CertificateRecord Record) SignAgentRequest(string csrPem, string device)
    {
        CertificateRequest csr;
        try
        {
            csr = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new Rig.Server.Gateway.ExchangeRefusedException(RefusalCode.BadCsr, $"The certificate signing request is not valid PKCS#10 with a valid signature: {e.Message}");
        }
        var request = new CertificateRequest(new X500DistinguishedName($"CN={device}, OU={AgentOu}, O=Rig"), csr.PublicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ClientAuthOid)], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri($"urn:rig:device:{device}"));
        request.CertificateExtensions.Add(san.Build());
        var certificate = Issue(request, _limits.AgentCertificateLifetime);
        var record = new CertificateRecord(ThumbprintOf(certificate), device, certificate.SerialNumber,
            certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(), null);
        return (certificate, record);
    }

    /// <summary>The chain policy that trusts only this CA and requires TLS client authentication usage.
    /// Set on the TLS options so the handshake builds the chain once.</summary>
    public X509ChainPolicy ClientChainPolicy() => Trust.OnlyRoot(Certificate, ClientAuthOid);

    private X509Certificate2 Issue(CertificateRequest request, TimeSpan lifetime)
    {
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = _clock.GetUtcNow();
        var notAfter = now.Add(lifetime);
        if (notAfter > Certificate.NotAfter.ToUniversalTime())
            notAfter = Certificate.NotAfter.ToUniversalTime();
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        return request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), now.AddMinutes(-5), notAfter, serial);
    }

    private static byte[] PemToDer(string pem)
    {
        var fields = PemEncoding.Find(pem);
        return Convert.FromBase64String(pem[fields.Base64Data]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _key.Dispose();
        Certificate.Dispose();
    }

}
