using Dapper;

namespace Rig.Server.Store;

/// <summary>An issued agent certificate.</summary>
internal sealed record CertificateRecord(string Thumbprint, string Device, string Serial, DateTimeOffset IssuedAt, DateTimeOffset NotAfter, DateTimeOffset? RevokedAt);

internal sealed record CertificateRow(string Thumbprint, string Device, string Serial, long IssuedAt, long NotAfter, long? RevokedAt);

internal sealed partial class RigStore
{
    /// <summary>Store a one-time enrollment token (its SHA-256 only) for a device.</summary>
    public Task AddEnrollmentTokenAsync(string tokenHash, string device, DateTimeOffset expiresAt, CancellationToken ct = default) => WriteAsync((c, tx) =>
        c.ExecuteAsync(new CommandDefinition("INSERT INTO enrollment_tokens (token_hash, device, created_at, expires_at, used_at) VALUES (@tokenHash, @device, @now, @expires, NULL)",
            new { tokenHash, device, now = NowMs, expires = expiresAt.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct)), ct);

    /// <summary>True when the token exists for this device, is unused and unexpired (a read: lets the gateway
    /// refuse bad tokens before signing anything or taking the write lock).</summary>
    public Task<bool> IsEnrollmentTokenUsableAsync(string tokenHash, string device, CancellationToken ct = default) => ReadAsync(async c =>
        await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM enrollment_tokens WHERE token_hash = @tokenHash AND device = @device AND used_at IS NULL AND expires_at > @now",
            new { tokenHash, device, now = NowMs }, cancellationToken: ct)).ConfigureAwait(false) == 1, ct);

    /// <summary>Use a token once and record the certificate issued for it, in one transaction: a token is
    /// consumed only if the certificate is recorded too. Returns false when the token is unknown, used, expired
    /// or for another device.</summary>
    public Task<bool> ConsumeEnrollmentTokenAsync(string tokenHash, string device, CertificateRecord certificate, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return WriteAsync(async (c, tx) =>
        {
            var used = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE enrollment_tokens SET used_at = @now WHERE token_hash = @tokenHash AND device = @device AND used_at IS NULL AND expires_at > @now",
                new { tokenHash, device, now = NowMs }, tx, cancellationToken: ct)).ConfigureAwait(false);
            if (used != 1)
                return false;
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO certificates (thumbprint, device, serial, issued_at, not_after, revoked_at) VALUES (@Thumbprint, @Device, @Serial, @issued, @notAfter, NULL)",
                new { certificate.Thumbprint, certificate.Device, certificate.Serial, issued = certificate.IssuedAt.ToUnixTimeMilliseconds(), notAfter = certificate.NotAfter.ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct)).ConfigureAwait(false);
            // The enrollment is in the audit log with its certificate, in the same transaction.
            await AppendAuditAsync(new Statements(c, tx), [new AuditEntry(null, "device.enroll", $"name={device}", device, "ok",
                new System.Text.Json.Nodes.JsonObject { ["thumbprint"] = certificate.Thumbprint, ["serial"] = certificate.Serial }.ToJsonString())], ct).ConfigureAwait(false);
            return true;
        }, ct);
    }

    /// <summary>The certificate with this SHA-256 thumbprint, or null.</summary>
    public Task<CertificateRecord?> FindCertificateAsync(string thumbprint, CancellationToken ct = default) => ReadAsync(async c =>
    {
        var r = await c.QuerySingleOrDefaultAsync<CertificateRow>(new CommandDefinition(
            "SELECT thumbprint, device, serial, issued_at AS IssuedAt, not_after AS NotAfter, revoked_at AS RevokedAt FROM certificates WHERE thumbprint = @thumbprint",
            new { thumbprint }, cancellationToken: ct)).ConfigureAwait(false);
        return r is null
            ? null
            : new CertificateRecord(r.Thumbprint, r.Device, r.Serial, DateTimeOffset.FromUnixTimeMilliseconds(r.IssuedAt), DateTimeOffset.FromUnixTimeMilliseconds(r.NotAfter),
                r.RevokedAt is { } rv ? DateTimeOffset.FromUnixTimeMilliseconds(rv) : null);
    }, ct);

    /// <summary>Revoke every certificate of a device; returns how many.</summary>
    public Task<int> RevokeCertificatesAsync(string device, CancellationToken ct = default) => WriteAsync((c, tx) =>
        c.ExecuteAsync(new CommandDefinition("UPDATE certificates SET revoked_at = @now WHERE device = @device AND revoked_at IS NULL", new { device, now = NowMs }, tx, cancellationToken: ct)), ct);
}
