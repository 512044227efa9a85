using System.Security.Cryptography.X509Certificates;
using Rig.Protocol;
using Rig.Protocol.Errors;
using Rig.Protocol.Messages;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

internal sealed partial class Gateway
{
    /// <summary>Map a client certificate (already chained to the CA by the TLS handshake) to exactly one
    /// device. Unknown, revoked or expired certificates are refused.</summary>
    public async Task<string> AuthenticateAsync(X509Certificate2 certificate, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var thumbprint = CertificateAuthority.ThumbprintOf(certificate);
        var now = clock.GetUtcNow();
        if (_certificates.TryGetValue(thumbprint, out var cached) && cached.NotAfter > now && clock.GetTimestamp() - cached.CheckedAt < clock.TimestampFrequency * (long)limits.CertificateCacheTtl.TotalSeconds)
            return cached.Device;
        var record = await store.FindCertificateAsync(thumbprint, ct).ConfigureAwait(false);
        if (record is null)
            throw Refuse(RefusalCode.UnknownCertificate, $"Client certificate {thumbprint[..16]}... was not issued to any device by this gateway; enroll the agent again.");
        if (record.RevokedAt is not null)
            throw Refuse(RefusalCode.RevokedCertificate, $"Client certificate of device '{record.Device}' was revoked at {record.RevokedAt:u}; enroll the agent again with a new token.");
        if (record.NotAfter <= clock.GetUtcNow())
            throw Refuse(RefusalCode.ExpiredCertificate, $"Client certificate of device '{record.Device}' expired at {record.NotAfter:u}; enroll the agent again.");
        _certificates[thumbprint] = (record.Device, record.NotAfter, clock.GetTimestamp());
        return record.Device;

        ExchangeRefusedException Refuse(RefusalCode refusal, string message)
        {
            ServerLog.CertificateRefused(logger, message);
            return new ExchangeRefusedException(refusal, message);
        }
    }

    /// <summary>Revoke a device's certificates: its agent is refused from the next request on.</summary>
    public async Task<int> RevokeAsync(string device, CancellationToken ct)
    {
        var count = await store.RevokeCertificatesAsync(device, ct).ConfigureAwait(false);
        foreach (var entry in _certificates.Where(e => e.Value.Device == device).ToList())
            _certificates.TryRemove(entry.Key, out _);
        _touched.TryRemove(device, out _);
        return count;
    }

    /// <summary>One exchange: record the result the agent reports, answer with the next command or "no command".</summary>
    public async Task<ExchangeResponse> ExchangeAsync(string device, ExchangeRequest request, string? remoteAddress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ProtocolVersion != ProtocolInfo.Version)
            throw new ExchangeRefusedException(RefusalCode.ProtocolVersion, $"The agent speaks protocol {request.ProtocolVersion}; this gateway speaks {ProtocolInfo.Version}. Upgrade the agent or the gateway.");
        if (request.Device != device)
        {
            ServerLog.ExchangeRefused(logger, device, RefusalCode.OtherDevice.Wire(), request.Device);
            throw new ExchangeRefusedException(RefusalCode.OtherDevice, $"The request claims device '{request.Device}' but the client certificate names '{device}'; a device can only read and answer its own queue.");
        }
        using var activity = GatewayTelemetry.Activities.StartActivity("exchange");
        activity?.SetTag("rig.device", device);
        activity?.SetTag("rig.reason", request.Reason.ToString());
        var started = clock.GetTimestamp();
        try
        {
            var (response, replayed) = await store.RecordExchangeAsync(device, request, limits.MaxCommandDeliveries, ct).ConfigureAwait(false);
            Activity.Signal(device); // results were recorded: a log stream sends them now
            if (response.Answer == ExchangeAnswer.NoCommand)
                QueueEnded(device); // nothing left to send: its queue succeeded, failed or was cancelled
            // Only an exchange the store accepted changes what the gateway knows of the device: a refused one (unknown
            // command, bad result) leaves its poke address, agent version and last-seen time as they were.
            if (request.Reason != InquiryReason.Continue)
                Pokes?.Answered(device);
            if (request.Reason != InquiryReason.Continue || request.Rebooted is not null)
            {
                var pokeHost = request.PokePort is null ? null : request.PokeHost ?? remoteAddress;
                var stamp = clock.GetTimestamp();
                var stale = !_touched.TryGetValue(device, out var last) || last.Host != pokeHost || last.Port != request.PokePort || last.Version != request.AgentVersion
                    || stamp - last.At > clock.TimestampFrequency * (long)limits.LastSeenResolution.TotalSeconds;
                if (stale)
                {
                    await store.TouchDeviceAsync(device, pokeHost, request.PokePort, request.AgentVersion, ct).ConfigureAwait(false);
                    _touched[device] = (pokeHost, request.PokePort, request.AgentVersion, stamp);
                }
            }
            foreach (var inventory in request.AllResults.Select(r => r.Inventory).Append(request.Inventory).OfType<InventoryReport>())
            {
                if (ContractChecks.InventoryProblem(inventory) is { } problem)
                    ServerLog.InventoryDropped(logger, device, problem); // the store kept the reason on the device (drift shows it)
            }
            foreach (var result in request.AllResults)
            {
                // A result for a command already finished was recorded before (the agent repeats what it has not seen
                // acknowledged): the store ignored it, so it is neither counted nor logged as a new failure.
                if (replayed.Contains(result.CommandId))
                {
                    GatewayTelemetry.ResultsReplayed.Add(1);
                    ServerLog.ResultReplayed(logger, device, result.CommandId, result.Outcome.ToString());
                    continue;
                }
                GatewayTelemetry.Results.Add(1, new KeyValuePair<string, object?>("outcome", result.Outcome.ToString()));
                if (result.Outcome == CommandOutcome.Failed)
                    ServerLog.CommandFailed(logger, device, result.CommandId, store.Known.MaskOrNull(result.Error));
            }
            ServerLog.Exchanged(logger, device, request.Reason.ToString(), response.Answer.ToString(), response.Command?.Id);
            GatewayTelemetry.Exchanges.Add(1, new KeyValuePair<string, object?>("answer", response.Answer.ToString()));
            activity?.SetTag("rig.answer", response.Answer.ToString());
            activity?.SetTag("rig.command", response.Command?.Id);
            return response;
        }
        catch (ExchangeRefusedException e)
        {
            var code = e.Code;
            ServerLog.ExchangeRefused(logger, device, code, e.Message);
            GatewayTelemetry.Exchanges.Add(1, new KeyValuePair<string, object?>("answer", "refused"));
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, code);
            throw;
        }
        finally
        {
            GatewayTelemetry.ExchangeDuration.Record(clock.GetElapsedTime(started).TotalMilliseconds);
        }
    }
}
