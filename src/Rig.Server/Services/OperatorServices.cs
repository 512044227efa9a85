using Rig.Protocol;
using Rig.Server.Packages;
using Rig.Server.Security;

namespace Rig.Server.Services;

/// <summary>The application services behind the one operator door: the operator API (<c>Api/</c>) calls these and
/// nothing else; they call the store and the gateway. Each method takes the <see cref="Caller"/> and passes it through
/// <see cref="OperatorAccess"/>, the single place where rights will be checked and lists filtered.</summary>
internal sealed class OperatorServices
{
    public OperatorServices(Gateway.Gateway gateway, PackageImporter importer, PackageFetcher? fetcher, MetricsToken? metricsToken, string agentUrl)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        Access = new OperatorAccess();
        Limits = gateway.Limits;
        Devices = new DeviceService(gateway, Access);
        Queues = new QueueService(gateway, Access);
        Model = new ModelService(gateway, Access);
        Rollouts = new RolloutService(gateway, Access);
        Approvals = new ApprovalService(gateway, Access);
        Packages = new PackageService(gateway, importer, fetcher, Access);
        Scripts = new ScriptService(gateway, Access);
        Trust = new TrustService(gateway, metricsToken, Access);
        Status = new StatusService(gateway, Devices, Rollouts, agentUrl, Access);
        Audit = new AuditService(gateway, Access);
        _gateway = gateway;
    }

    private readonly Gateway.Gateway _gateway;

    /// <summary>Every secret value the gateway knows, to mask in anything it answers.</summary>
    public Rig.Model.Domain.SecretMask KnownSecrets => _gateway.Store.Known;

    /// <summary>The rights seam every service goes through.</summary>
    public OperatorAccess Access { get; }

    /// <summary>The gateway's limits (request body sizes).</summary>
    public RigLimits Limits { get; }

    public DeviceService Devices { get; }
    public QueueService Queues { get; }
    public ModelService Model { get; }
    public RolloutService Rollouts { get; }
    public ApprovalService Approvals { get; }
    public PackageService Packages { get; }
    public ScriptService Scripts { get; }
    public TrustService Trust { get; }
    public StatusService Status { get; }
    public AuditService Audit { get; }
}
