using System.Security.Cryptography.X509Certificates;
using Rig.Server.Security;

namespace Rig.Server.Services;

/// <summary>Who may use the operator door: operator tokens, the read-only metrics token, the CA certificate that
/// workstations pin.</summary>
internal sealed class TrustService(Gateway.Gateway gateway, MetricsToken? metricsToken)
{
    /// <summary>The caller an operator token names, or null when it is not an operator token of this gateway.</summary>
    public async Task<Caller?> AuthenticateAsync(string token, CancellationToken ct) =>
        await gateway.Store.FindOperatorAsync(Tokens.Hash(token), ct).ConfigureAwait(false) is { } name ? new Caller(name) : null;

    /// <summary>True when <paramref name="token"/> is the metrics token or an operator token.</summary>
    public async Task<bool> MayScrapeMetricsAsync(string token, CancellationToken ct)
    {
        var hash = Tokens.Hash(token);
        return metricsToken?.Matches(hash) == true || await gateway.Store.FindOperatorAsync(hash, ct).ConfigureAwait(false) is not null;
    }

    /// <summary>The gateway's CA certificate (public; checked by its pin).</summary>
    public X509Certificate2 CaCertificate => gateway.Authority.Certificate;
}
