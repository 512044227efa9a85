using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Rig.Server.Tests.Gateway;

/// <summary>HTTPS clients of a test gateway's operator listener that trust only its CA (as the CLI does with a pin).</summary>
internal static class TestClients
{
    /// <summary>A client with <paramref name="token"/> as its bearer token (none when null); with
    /// <paramref name="redirects"/> false, redirects are answered to the test, not followed; cookies are never kept.</summary>
    public static HttpClient Operator(GatewayServer server, string? token, bool redirects = true)
    {
        var ca = X509CertificateLoader.LoadCertificate(server.Authority.Certificate.RawData);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy, RemoteCertificateValidationCallback = (_, _, _, e) => e == SslPolicyErrors.None },
            AllowAutoRedirect = redirects,
            UseCookies = false,
        };
        var client = new HttpClient(handler) { BaseAddress = server.ApiUrl };
        if (token is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
