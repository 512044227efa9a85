using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.EndToEnd.Harness;

/// <summary>Speaks the agent protocol by hand, with any certificate (or none), to prove what the gateway refuses.</summary>
internal sealed class RawAgentClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>A client presenting <paramref name="certificate"/> (null: none), trusting <paramref name="ca"/>.</summary>
    public RawAgentClient(Uri gateway, X509Certificate2? certificate, X509Certificate2 ca, SslProtocols protocols = SslProtocols.Tls12 | SslProtocols.Tls13)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = protocols,
                ClientCertificates = certificate is null ? null : [certificate],
                LocalCertificateSelectionCallback = certificate is null ? null : (_, _, _, _, _) => certificate,
                CertificateChainPolicy = policy,
                RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None,
            },
        };
        _http = new HttpClient(handler) { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>POST an exchange request; returns status and body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> ExchangeAsync(ExchangeRequest request) =>
        await PostRawAsync(ProtocolInfo.ExchangePath, JsonSerializer.Serialize(request, RigJson.Default.ExchangeRequest));

    /// <summary>POST any body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> PostRawAsync(string path, string body)
    {
        using var response = await _http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>GET a path with an optional range.</summary>
    public async Task<HttpResponseMessage> GetAsync(string path, long? rangeFrom = null, long? rangeTo = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (rangeFrom is not null)
            request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(rangeFrom, rangeTo);
        return await _http.SendAsync(request);
    }

    /// <summary>An exchange request for <paramref name="device"/>.</summary>
    public static ExchangeRequest Inquiry(string device, CommandResult? result = null) => new()
    {
        ProtocolVersion = ProtocolInfo.Version,
        Device = device,
        RequestId = Guid.NewGuid().ToString("n"),
        Reason = InquiryReason.CheckIn,
        Result = result,
    };

    /// <summary>The client certificate of an enrolled agent.</summary>
    public static X509Certificate2 AgentCertificate(string stateDirectory) =>
        X509Certificate2.CreateFromPemFile(Path.Combine(stateDirectory, "agent.crt"), Path.Combine(stateDirectory, "agent.key"));

    /// <summary>A client certificate for <paramref name="device"/> signed by a CA key and certificate on disk
    /// (the gateway's own CA for "valid chain, never enrolled"; a stranger's for "another CA").</summary>
    public static X509Certificate2 IssueClientCertificate(string device, X509Certificate2 issuer, ECDsa issuerKey)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={device}, OU=rig-agent, O=Rig", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var issued = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(16));
        return X509CertificateLoader.LoadPkcs12(issued.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A self-signed CA that is not Rig's.</summary>
    public static (X509Certificate2 Certificate, ECDsa Key) StrangerCa()
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Stranger CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return (request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1)), key);
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
