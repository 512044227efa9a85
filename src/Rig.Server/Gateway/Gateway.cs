using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Rig.Protocol;
using Rig.Server.Packages;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Gateway;

/// <summary>The gateway: turns the model into per-device command queues, pokes agents, answers their
/// inquiries and records their results. Split by concern: exchange, enrollment, converge, poke.</summary>
internal sealed partial class Gateway(RigStore store, BlobStore blobs, CertificateAuthority ca, RigLimits limits, ILogger<Gateway> logger, TimeProvider clock)
{
    // Certificate thumbprint -> (device, expiry, checked at), for certificates known to be valid and not revoked.
    // Revocation here removes the device's entries at once; entries are re-read after CertificateCacheTtl so a
    // revocation made by another gateway sharing the database takes effect within that time.
    private readonly ConcurrentDictionary<string, (string Device, DateTimeOffset NotAfter, long CheckedAt)> _certificates = new(StringComparer.Ordinal);

    // Device -> what was last written to device_runtime, so check-ins only write when something changed or the
    // last-seen time is stale (pokes, even forged ones, must not turn into a write per inquiry).
    private readonly ConcurrentDictionary<string, (string? Host, int? Port, string? Version, long At)> _touched = new(StringComparer.Ordinal);

    /// <summary>The database.</summary>
    public RigStore Store => store;

    /// <summary>The blob store.</summary>
    public BlobStore Blobs => blobs;

    /// <summary>The certificate authority.</summary>
    public CertificateAuthority Authority => ca;

    /// <summary>Timeouts and limits.</summary>
    public RigLimits Limits => limits;

    /// <summary>Plans (nothing sent).</summary>
    public Operations.PlanService Plans { get; } = new(store);

    /// <summary>Model vs reality (read-only).</summary>
    public Operations.DriftService Drift { get; } = new(store, limits);

    /// <summary>The clock.</summary>
    public TimeProvider Clock => clock;

    /// <summary>Paced pokes for many devices (set by the host).</summary>
    public PokeScheduler? Pokes { get; set; }

    /// <summary>Where agents reach this gateway (its certificate's first DNS name and the bound agent port; set by the
    /// host once the agent listener is up), handed out with every enrollment token.</summary>
    public Uri? AgentUrl { get; set; }
}
