using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Server.Tests.Gateway;

/// <summary>Bodies at the gateway's two doors, on a real Kestrel over real TLS: every operator endpoint has a body limit
/// (CHECKLIST 2), the agent endpoints read only JSON, and a malformed body is a client error with a clear answer, not
/// an unhandled server exception.</summary>
public sealed class RequestLimitsTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-limits-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        _token = await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("PUT", "api/v1/model", 17)] // over MaxModelBodyBytes (16 MiB)
    [InlineData("POST", "api/v1/plan", 17)]
    [InlineData("POST", "api/v1/rollouts", 2)] // over MaxOperatorRequestBytes (1 MiB)
    [InlineData("PUT", "api/v1/scripts/big", 2)]
    public async Task An_operator_request_over_its_body_limit_is_refused_with_413_and_nothing_changes(string method, string path, int mebibytes)
    {
        using var client = OperatorClient();
        var revisionsBefore = await client.GetStringAsync("api/v1/revisions");
        var body = "{\"pad\":\"" + new string('x', mebibytes * 1024 * 1024) + "\"}";

        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true; // the refusal comes before the body is sent
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("too-large", error.GetProperty("code").GetString());
        Assert.Contains("bytes this endpoint accepts", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(revisionsBefore, await client.GetStringAsync("api/v1/revisions"));
        Assert.Equal("[]", (await client.GetStringAsync("api/v1/scripts")).Trim());
    }

    [Fact]
    public async Task A_chunked_operator_body_over_the_limit_is_cut_off_with_413()
    {
        using var client = OperatorClient();
        var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
        using var content = new StreamContent(new ChunkedBody(chunk, 40)); // {"canary":"xxx... 2.5 MiB, no Content-Length
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        HttpResponseMessage? response = null;
        try
        {
            response = await client.PostAsync("api/v1/rollouts", content);
        }
        catch (HttpRequestException)
        {
            // The gateway may close the connection while the client is still sending: also a refusal.
        }
        if (response is not null)
        {
            using (response)
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }
        Assert.Equal("[]", (await client.GetStringAsync("api/v1/rollouts")).Trim());
    }

    /// <summary>A body of unknown length (sent chunked).</summary>
    private sealed class ChunkedBody(byte[] chunk, int count) : Stream
    {
        private int _sent;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int length)
        {
            if (_sent == 0)
            {
                _sent++;
                var head = "{\"canary\":\""u8.ToArray();
                Array.Copy(head, 0, buffer, offset, head.Length);
                return head.Length;
            }
            if (_sent++ > count)
                return 0;
            var n = Math.Min(length, chunk.Length);
            Array.Copy(chunk, 0, buffer, offset, n);
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task An_exchange_sent_as_text_plain_is_refused_with_415_and_changes_nothing()
    {
        using var agent = await AgentClientAsync("web-1");
        var request = new ExchangeRequest { ProtocolVersion = ProtocolInfo.Version, Device = "web-1", RequestId = "r1", Reason = InquiryReason.CheckIn, PokePort = 7001 };

        using var response = await agent.PostAsync(ProtocolInfo.ExchangePath, new StringContent(JsonSerializer.Serialize(request, RigJson.Default.ExchangeRequest), Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("unsupported-media-type", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Null(await _server.Store.GetDeviceRuntimeAsync("web-1")); // not even a last-seen time
        using var json = await agent.PostAsync(ProtocolInfo.ExchangePath, new StringContent(JsonSerializer.Serialize(request, RigJson.Default.ExchangeRequest), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
    }

    [Fact]
    public async Task A_badly_chunked_exchange_body_is_answered_400_with_a_clear_error()
    {
        var (certificate, _) = await EnrollAsync("web-1");
        using var _1 = certificate;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.AgentUrl.Port);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", ClientCertificates = [certificate] });

        var head = $"POST {ProtocolInfo.ExchangePath} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        await tls.WriteAsync(Encoding.ASCII.GetBytes(head + "zz-not-a-chunk-size\r\n{}\r\n0\r\n\r\n"));
        await tls.FlushAsync();
        using var reader = new StreamReader(tls, Encoding.ASCII);
        var response = await ReadResponseAsync(reader).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.StartsWith("HTTP/1.1 400", response, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"bad-request\"", response, StringComparison.Ordinal);
    }

    private static async Task<string> ReadResponseAsync(StreamReader reader)
    {
        var text = new StringBuilder();
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer)) > 0)
        {
            text.Append(buffer, 0, n);
            if (text.ToString().Contains("}", StringComparison.Ordinal))
                break;
        }
        return text.ToString();
    }

    private HttpClient OperatorClient()
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(_server.Authority.Certificate.RawData));
        var handler = new SocketsHttpHandler { SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy, RemoteCertificateValidationCallback = (_, _, _, e) => e == SslPolicyErrors.None } };
        var client = new HttpClient(handler) { BaseAddress = _server.ApiUrl };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        return client;
    }

    /// <summary>Enroll <paramref name="device"/> through the gateway (one-time token, CSR) as an agent would.</summary>
    private async Task<(X509Certificate2 Certificate, string Device)> EnrollAsync(string device)
    {
        var token = await _server.Gateway.CreateEnrollmentTokenAsync(device, CancellationToken.None);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={device}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var enrolled = await _server.Gateway.EnrollAsync(new EnrollRequest { ProtocolVersion = ProtocolInfo.Version, Token = token.Token, Device = device, CsrPem = csr, AgentVersion = "test" }, CancellationToken.None);
        using var issued = X509Certificate2.CreateFromPem(enrolled.CertificatePem);
        return (X509CertificateLoader.LoadPkcs12(issued.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null), device);
    }

    private async Task<HttpClient> AgentClientAsync(string device)
    {
        var (certificate, _) = await EnrollAsync(device);
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { ClientCertificates = [certificate], RemoteCertificateValidationCallback = (_, _, _, _) => true },
        };
        return new HttpClient(handler) { BaseAddress = _server.AgentUrl };
    }
}
