using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Runtime;

/// <summary>Enrolls an agent once: makes its key on the device, fetches the gateway's CA and checks it against
/// the pin the operator gave, sends a signing request with the one-time token, and saves certificate, CA and
/// configuration in the state directory.</summary>
internal static class Enrollment
{
    /// <summary>Enroll and write the state directory.</summary>
    public static async Task<AgentConfig> EnrollAsync(AgentPaths paths, AgentConfig config, string token, string caPin, RigLimits limits, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(caPin);
        if (!Names.IsValidObjectName(config.Device))
            throw new AgentException($"'{config.Device}' is not a valid device name: use {Names.ObjectNameRule}.");
        if (!Uri.TryCreate(config.GatewayUrl, UriKind.Absolute, out var gateway) || gateway.Scheme != Uri.UriSchemeHttps)
            throw new AgentException($"'{config.GatewayUrl}' is not an https:// URL of the gateway's agent endpoint (e.g. https://gateway.example:7443).");
        if (!caPin.StartsWith("sha256:", StringComparison.Ordinal) || !Names.IsValidSha256(caPin["sha256:".Length..]))
            throw new AgentException($"'{caPin}' is not a CA pin: it looks like sha256:<64 hex digits>, as printed with the enrollment token.");

        // A gateway that is away (restarting, still starting, a firewall rule not yet opened) is retried with the agent's
        // one retry policy for a bounded time: enrollment is run once, by a person or an installer waiting for it.
        var log = new AgentLog(config.Device, verbose: false);
        var backoff = new Backoff(limits);
        using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
        window.CancelAfter(limits.GatewayUnreachableDeadline);
        var attempts = 0;
        string? lastFailure = null;
        X509Certificate2 ca;
        EnrollResponse response;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            ca = await backoff.RetryAsync(_ => Noting(FetchPinnedCaAsync(gateway, caPin, limits, window.Token)), log, "fetching the CA", window.Token).ConfigureAwait(false);
            var csr = new CertificateRequest($"CN={config.Device}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
            using var client = new GatewayClient(gateway, null, ca, limits);
            response = await backoff.RetryAsync(_ =>
            {
                attempts++;
                return Noting(client.EnrollAsync(new EnrollRequest { ProtocolVersion = ProtocolInfo.Version, Token = token, Device = config.Device, CsrPem = csr, AgentVersion = AgentInfo.Version }, window.Token));
            }, log, "enrolling", window.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new GatewayUnreachableException(gateway, limits.GatewayUnreachableDeadline, lastFailure);
        }
        catch (GatewayRefusalException e)
        {
            // A token is used once: if an earlier attempt reached the gateway but its answer was lost, the retry finds
            // the token used.
            var retried = attempts > 1 ? $" An earlier attempt may have reached the gateway and used the token: create a new one with `rig device token {config.Device}`." : "";
            throw new AgentException($"The gateway refused the enrollment: {e.Message}{retried}");
        }

        // Await a request, remembering why the last transport failure happened (for the final message).
        async Task<T> Noting<T>(Task<T> request)
        {
            try
            {
                return await request.ConfigureAwait(false);
            }
            catch (GatewayUnavailableException e)
            {
                lastFailure = (e.InnerException is { } inner ? GatewayUnreachableException.Cause(inner) : null) ?? e.Message;
                throw;
            }
        }

        using var issued = X509Certificate2.CreateFromPem(response.CertificatePem);
        if (!issued.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
            throw new AgentException("The gateway returned a certificate for another key; enrollment aborted.");

        Directory.CreateDirectory(paths.Root);
        Trust.WritePrivateFile(paths.Key, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(paths.Certificate, response.CertificatePem);
        File.WriteAllText(paths.Ca, ca.ExportCertificatePem());
        File.WriteAllText(paths.Config, JsonSerializer.Serialize(config, AgentJson.Default.AgentConfig));
        return config;
    }

    /// <summary>Fetch the CA certificate over TLS without trusting anything yet, then accept it only if its
    /// SHA-256 equals the pin.</summary>
    private static async Task<X509Certificate2> FetchPinnedCaAsync(Uri gateway, string caPin, RigLimits limits, CancellationToken ct)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = limits.ConnectTimeout,
            UseProxy = false,
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                // First contact: the pin below, not the TLS chain, decides whether this CA is the right one.
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            },
        };
        using var http = new HttpClient(handler) { BaseAddress = gateway, Timeout = limits.RequestTimeout, MaxResponseContentBufferSize = 64 * 1024 };
        string pem;
        try
        {
            pem = await http.GetStringAsync(ProtocolInfo.CaPath, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (GatewayClient.IsTransportFailure(e, ct))
        {
            throw new GatewayUnavailableException($"Could not fetch the CA from {gateway}: {e.Message}. Check the gateway URL and that the gateway runs.", e);
        }
        var ca = X509Certificate2.CreateFromPem(pem);
        var actual = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(ca.RawData));
        if (!string.Equals(actual, caPin, StringComparison.OrdinalIgnoreCase))
            throw new AgentException($"The gateway at {gateway} presents CA {actual}, not the pinned {caPin}; refusing to enroll (wrong gateway or a man in the middle).");
        return ca;
    }
}

/// <summary>The agent's version.</summary>
internal static class AgentInfo
{
    /// <summary>Informational version of this build.</summary>
    public static string Version { get; } = typeof(AgentInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
