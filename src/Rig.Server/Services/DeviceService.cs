using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Services;

/// <summary>Devices as operators see them: the list with states, one device in full, enrollment tokens, revocation,
/// pokes, cancelling a queue, converge, and the lifecycle steps (clone, decommission, rebuild).</summary>
internal sealed class DeviceService(Gateway.Gateway gateway, OperatorAccess access)
{
    private RigStore Store => gateway.Store;

    /// <summary>Two check-in intervals: one missed check-in is not yet a worry.</summary>
    public TimeSpan SeenWindow => gateway.Limits.CheckInInterval * 2;

    /// <summary>Every device in the model or known to the gateway, with its state.</summary>
    public async Task<IReadOnlyList<DeviceStatus>> ListAsync(Caller caller, CancellationToken ct)
    {
        access.Allow(caller, "device.list");
        var (_, model) = await Store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        return await ListStatusesAsync(caller, model, ct).ConfigureAwait(false);
    }

    /// <summary>Every device of <paramref name="model"/> or known to the gateway with its state: one query per list
    /// (agents, latest queues, certificates), none per device.</summary>
    internal async Task<IReadOnlyList<DeviceStatus>> ListStatusesAsync(Caller caller, RigModel model, CancellationToken ct)
    {
        var agents = (await Store.ListAgentsAsync(ct).ConfigureAwait(false)).ToDictionary(a => a.Device, StringComparer.Ordinal);
        var queues = await Store.ListLatestQueuesAsync(ct).ConfigureAwait(false);
        var certificates = await Store.ListLatestCertificatesAsync(null, ct).ConfigureAwait(false);
        var devices = model.Devices.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var now = gateway.Clock.GetUtcNow();
        var window = SeenWindow;
        var statuses = devices.Keys.Union(agents.Keys).Order(StringComparer.Ordinal).Select(name =>
        {
            var device = devices.GetValueOrDefault(name);
            var agent = agents.GetValueOrDefault(name);
            var queue = queues.GetValueOrDefault(name);
            return new DeviceStatus(name, device?.Site, device?.Tier, device is not null, agent?.LastSeenAt, agent?.AgentVersion, queue?.ToView())
            {
                State = StateOf(certificates.GetValueOrDefault(name) is { RevokedAt: null }, agent?.LastSeenAt, queue?.Status, now, window),
            };
        });
        return access.Visible(caller, statuses, s => s.Name);
    }

    /// <summary>One device in full, or null when it is neither in the model nor known to the gateway. Its two latest
    /// queues' commands are read in one query.</summary>
    public async Task<DeviceDetail?> GetAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.read", name);
        var (_, model) = await Store.LoadModelAsync(ct: ct).ConfigureAwait(false);
        var device = model.Devices.FirstOrDefault(d => d.Name == name);
        // Queues before the recorded state: an exchange ends a queue and records its changes in one transaction, so a
        // queue read as finished comes with its changes. The other order could show a finished queue beside a recorded
        // state read just before that transaction committed.
        var queues = await Store.ListRecentQueuesAsync(name, 2, ct).ConfigureAwait(false);
        var runtime = await Store.GetDeviceRuntimeAsync(name, ct).ConfigureAwait(false);
        if (runtime is null && device is null)
            return null;
        var certificate = (await Store.ListLatestCertificatesAsync(name, ct).ConfigureAwait(false)).GetValueOrDefault(name);
        var queue = queues.Count > 0 ? queues[0] : null;
        var previous = queues.Count > 1 ? queues[1] : null;
        var commands = await Store.GetCommandsOfQueuesAsync([.. queues.Select(q => q.Id)], ct).ConfigureAwait(false);
        var status = new DeviceStatus(name, device?.Site, device?.Tier, device is not null, runtime?.LastSeenAt, runtime?.AgentVersion, queue?.ToView())
        {
            State = StateOf(certificate is { RevokedAt: null }, runtime?.LastSeenAt, queue?.Status, gateway.Clock.GetUtcNow(), SeenWindow),
        };
        return new DeviceDetail(status, runtime?.Recorded ?? RecordedState.Empty, runtime?.Inventory, queue is null ? [] : commands[queue.Id].ToViews())
        {
            InventoryNote = runtime?.InventoryNote,
            LastInventoryAt = runtime?.Inventory?.CollectedAt,
            Facts = FactsOf(device, runtime?.Inventory),
            Roles = [.. new ModelIndex(model).RolesFor(name).Select(r => new DeviceRoleView(r.Name, r.Kind, r.Version))],
            Agent = new DeviceAgentView(runtime?.AgentVersion, runtime?.LastSeenAt,
                certificate is null ? null : new DeviceCertificateView(certificate.Serial, certificate.Thumbprint, certificate.IssuedAt, certificate.NotAfter, certificate.RevokedAt)),
            PreviousQueue = previous?.ToView(),
            PreviousCommands = previous is null ? [] : commands[previous.Id].ToViews(),
        };
    }

    /// <summary>True when the device is in the current model.</summary>
    public async Task<bool> IsInModelAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.read", name);
        return await Store.GetDeviceAsync(name, ct).ConfigureAwait(false) is not null;
    }

    /// <summary>True when the device is in the model or known to the gateway.</summary>
    public async Task<bool> IsKnownAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.read", name);
        return await Store.GetDeviceAsync(name, ct).ConfigureAwait(false) is not null || await Store.GetDeviceRuntimeAsync(name, ct).ConfigureAwait(false) is not null;
    }

    /// <summary>A one-time enrollment token for a device of the model, or null when it is not in the model.</summary>
    public async Task<EnrollmentTokenView?> CreateEnrollmentTokenAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.token", name);
        if (await Store.GetDeviceAsync(name, ct).ConfigureAwait(false) is null)
            return null;
        return (await gateway.CreateEnrollmentTokenAsync(name, ct).ConfigureAwait(false)).ToView();
    }

    /// <summary>Revoke every certificate of the device's agent; null when nothing was revoked and the device is unknown.</summary>
    public async Task<DeviceRevokeResponse?> RevokeAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.revoke", name);
        var revoked = await gateway.RevokeAsync(name, ct).ConfigureAwait(false);
        if (revoked == 0 && !await IsKnownAsync(caller, name, ct).ConfigureAwait(false))
            return null;
        return new DeviceRevokeResponse(name, revoked);
    }

    /// <summary>Ask the device's agent to connect now.</summary>
    public async Task<DevicePokeResponse> PokeAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.poke", name);
        return new DevicePokeResponse(name, await gateway.PokeAsync(name, ct).ConfigureAwait(false));
    }

    /// <summary>Cancel the device's active queue; null when it has none.</summary>
    public async Task<QueueView?> CancelQueueAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.cancel", name);
        var cancelled = await Store.CancelQueueAsync(name, "cancelled by operator", ct).ConfigureAwait(false);
        gateway.Activity.Signal(name);
        return cancelled?.ToView();
    }

    /// <summary>Plan the current model for devices (all when none are named), queue the changes and poke their agents.</summary>
    public async Task<ConvergeResponse> ConvergeAsync(Caller caller, ConvergeRequest request, CancellationToken ct)
    {
        access.Allow(caller, "converge");
        IReadOnlyList<string> devices = request.Devices ?? [];
        if (devices.Count > 0)
        {
            access.AllowDevices(caller, Security.Verb.Rollout, devices);
        }
        else if (!Security.ModelScoping.OnEverything(caller.Grants, Security.Verb.Rollout))
        {
            // "Every device" means every device the caller may converge: never a device beyond their scope.
            devices = [.. caller.Places.Model.Devices.Select(d => d.Name).Where(d => OperatorAccess.May(caller, Security.Verb.Rollout, d))];
            if (devices.Count == 0)
                return new ConvergeResponse([]);
        }
        var results = await RolloutService.WithoutHiddenApprovalsAsync(caller, () => gateway.ConvergeAsync(devices, request.Reason ?? $"converge by {caller.Name}", ct)).ConfigureAwait(false);
        return new ConvergeResponse(access.Visible(caller, results.Select(r => r.ToView()), r => r.Device));
    }

    /// <summary>Scale out: a new device like <paramref name="from"/>.</summary>
    public async Task<LifecycleResponse> CloneAsync(Caller caller, string from, CloneDeviceRequest request, CancellationToken ct)
    {
        access.Allow(caller, "device.clone", from);
        OperatorAccess.AllowWholeDevice(caller, from, "clone");
        return (await gateway.CloneAsync(from, request.ToGateway(), caller.Name, ct).ConfigureAwait(false)).ToView();
    }

    /// <summary>What decommissioning the device would do; null when it is not in the model.</summary>
    public async Task<PlanReport?> PlanDecommissionAsync(Caller caller, string name, CancellationToken ct)
    {
        access.Allow(caller, "device.decommission-plan", name);
        return await gateway.PlanDecommissionAsync(name, ct).ConfigureAwait(false) is { } plan ? access.VisiblePlan(caller, plan) : null;
    }

    /// <summary>Remove the device's software and interconnections, then free it.</summary>
    public async Task<LifecycleResponse> DecommissionAsync(Caller caller, string name, string? message, long? baseRevision, CancellationToken ct)
    {
        access.Allow(caller, "device.decommission", name);
        OperatorAccess.AllowWholeDevice(caller, name, "decommission");
        return (await gateway.DecommissionAsync(name, caller.Name, message, baseRevision, ct).ConfigureAwait(false)).ToView();
    }

    /// <summary>Disaster recovery: forget the lost device, queue a full install, hand out an enrollment token.</summary>
    public async Task<LifecycleResponse> RebuildAsync(Caller caller, string name, string? message, CancellationToken ct)
    {
        access.Allow(caller, "device.rebuild", name);
        return (await gateway.RebuildAsync(name, caller.Name, message, ct).ConfigureAwait(false)).ToView();
    }

    /// <summary>The state of one device (<see cref="DeviceStates"/>); <paramref name="enrolled"/>: it has a certificate
    /// that is not revoked. Each device has exactly one state, the first that applies in the order of <see cref="DeviceStates"/>.</summary>
    internal static string StateOf(bool enrolled, DateTimeOffset? lastSeenAt, string? queueStatus, DateTimeOffset now, TimeSpan window)
    {
        if (!enrolled && lastSeenAt is null)
            return DeviceStates.NeverEnrolled;
        if (lastSeenAt is null || now - lastSeenAt.Value > window)
            return DeviceStates.NotSeen;
        return queueStatus switch
        {
            null => DeviceStates.NotConverged,
            QueueStates.Succeeded => DeviceStates.InSync,
            QueueStates.Failed => DeviceStates.Failed,
            QueueStates.Cancelled => DeviceStates.NotConverged,
            _ => DeviceStates.Changing,
        };
    }

    /// <summary>The model's facts beside the discovered ones; a fact differs when <c>rig drift</c> would report it.</summary>
    internal static IReadOnlyList<DeviceFact> FactsOf(Device? device, InventoryReport? inventory)
    {
        var drift = device is null || inventory is null ? [] : Drift.CompareFacts(device, inventory);
        var facts = new List<DeviceFact>();
        void Add(string fact, string? model, string? discovered) =>
            facts.Add(new DeviceFact(fact, model, discovered, model is not null && discovered is not null && drift.Any(d => Covers(fact, d))));
        var os = inventory?.Os;
        var hardware = inventory?.Hardware;
        Add("osFamily", device?.OsFamily, os?.Id is null ? null : os.IdLike is null ? os.Id : $"{os.Id} (like {os.IdLike})");
        Add("architecture", device?.Architecture, os?.Architecture);
        Add("os", null, os?.PrettyName);
        Add("kernel", null, os?.KernelRelease);
        Add("addresses", device is { Addresses.Count: > 0 } ? string.Join(", ", device.Addresses) : null,
            hardware is null ? null : string.Join(", ", hardware.Nics.SelectMany(n => n.Addresses).Select(a => a.Split('/')[0])));
        Add("cpuCount", device is { Hardware.CpuCount: > 0 } ? $"{device.Hardware.CpuCount}" : null, hardware is null ? null : $"{hardware.CpuCount}");
        Add("memoryMiB", device is { Hardware.MemoryMiB: > 0 } ? $"{device.Hardware.MemoryMiB} MiB" : null, hardware is null ? null : $"{hardware.MemoryMiB} MiB");
        var disks = (device?.Hardware.Disks.Select(d => d.Name) ?? []).Union(hardware?.Disks.Select(d => d.Name) ?? [], StringComparer.Ordinal);
        foreach (var disk in disks)
        {
            var model = device?.Hardware.Disks.FirstOrDefault(d => d.Name == disk);
            var actual = hardware?.Disks.FirstOrDefault(d => d.Name == disk);
            Add($"disk {disk}", model is null ? null : $"{model.SizeGiB} GiB",
                actual is null ? null : $"{(actual.SizeBytes / (double)(1L << 30)).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} GiB");
        }
        var nics = (device?.Hardware.Nics.Select(n => n.Name) ?? []).Union(hardware?.Nics.Select(n => n.Name) ?? [], StringComparer.Ordinal);
        foreach (var nic in nics)
        {
            var model = device?.Hardware.Nics.FirstOrDefault(n => n.Name == nic);
            var actual = hardware?.Nics.FirstOrDefault(n => n.Name == nic);
            Add($"nic {nic}", model is null ? null : model.Address is null ? $"mac {model.Mac}" : $"mac {model.Mac}, {model.Address}",
                actual is null ? null : $"mac {actual.Mac ?? "none"}, {(actual.Addresses.Count == 0 ? "no address" : string.Join(", ", actual.Addresses))}, {actual.State}");
        }
        foreach (var wanted in device?.Network?.Interfaces ?? [])
        {
            var actual = hardware?.Nics.FirstOrDefault(n => n.Name == wanted.Name);
            Add($"network {wanted.Name}", wanted.Dhcp ? "dhcp" : wanted.Address, hardware is null ? null : actual is null ? $"no interface {wanted.Name}" : string.Join(", ", actual.Addresses));
        }
        return facts;

        static bool Covers(string fact, DriftItem item) => item.Kind == DriftKinds.Network
            ? fact == $"network {item.Item.Split(' ')[0]}"
            : item.Item == fact || item.Item.StartsWith(fact + " ", StringComparison.Ordinal);
    }
}
