using Rig.Protocol;
using Rig.Protocol.Errors;
using Rig.Protocol.Messages;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>A new enrollment token, shown once, with what an agent needs beside it: the gateway's agent URL and the CA pin.</summary>
internal sealed record EnrollmentToken(string Device, string Token, string CaPin, DateTimeOffset ExpiresAt, string? AgentUrl = null);

internal sealed partial class Gateway
{
    /// <summary>Create a one-time enrollment token for a device.</summary>
    public async Task<EnrollmentToken> CreateEnrollmentTokenAsync(string device, CancellationToken ct)
    {
        if (!Names.IsValidObjectName(device))
            throw new ExchangeRefusedException(RefusalCode.BadDevice, $"'{device}' is not a valid device name: use {Names.ObjectNameRule}.");
        var token = Tokens.Create("rigenroll_");
        var expires = clock.GetUtcNow().Add(limits.EnrollmentTokenLifetime);
        await store.AddEnrollmentTokenAsync(Tokens.Hash(token), device, expires, ct).ConfigureAwait(false);
        return new EnrollmentToken(device, token, ca.Pin, expires, AgentUrl?.ToString().TrimEnd('/'));
    }

    private ExchangeRefusedException BadToken(string device)
    {
        ServerLog.EnrollRefused(logger, device, "token unknown, used, expired or for another device");
        GatewayTelemetry.Enrollments.Add(1, new KeyValuePair<string, object?>("result", "refused"));
        return new ExchangeRefusedException(RefusalCode.BadToken, $"The enrollment token is unknown, already used, expired, or not for device '{device}'; create a new one with `rig device token {device}`.");
    }

    /// <summary>Enroll an agent: check and use its token once, sign its key, record the certificate.</summary>
    public async Task<EnrollResponse> EnrollAsync(EnrollRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ProtocolVersion != ProtocolInfo.Version)
            throw new ExchangeRefusedException(RefusalCode.ProtocolVersion, $"The agent speaks protocol {request.ProtocolVersion}; this gateway speaks {ProtocolInfo.Version}.");
        if (!Names.IsValidObjectName(request.Device))
            throw new ExchangeRefusedException(RefusalCode.BadDevice, $"'{request.Device}' is not a valid device name: use {Names.ObjectNameRule}.");
        var tokenHash = Tokens.Hash(request.Token);
        if (!await store.IsEnrollmentTokenUsableAsync(tokenHash, request.Device, ct).ConfigureAwait(false))
            throw BadToken(request.Device);
        var (certificate, record) = ca.SignAgentRequest(request.CsrPem, request.Device);
        using (certificate)
        {
            if (!await store.ConsumeEnrollmentTokenAsync(tokenHash, request.Device, record, ct).ConfigureAwait(false))
                throw BadToken(request.Device); // used by a concurrent enrollment in the meantime
            ServerLog.Enrolled(logger, request.Device, record.Thumbprint);
            GatewayTelemetry.Enrollments.Add(1, new KeyValuePair<string, object?>("result", "enrolled"));
            return new EnrollResponse
            {
                Device = request.Device,
                CertificatePem = certificate.ExportCertificatePem(),
                CaCertificatePem = ca.Certificate.ExportCertificatePem(),
            };
        }
    }
}
