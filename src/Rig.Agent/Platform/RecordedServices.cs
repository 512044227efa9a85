using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform;

/// <summary>Services where nothing can be started (the sandbox, a device root that is not the running system):
/// the requested state is recorded in the device's database and reported in the inventory.</summary>
internal sealed class RecordedServices(PackageDatabase database, string why) : IServiceManager
{
    /// <inheritdoc />
    public Task<string> ApplyAsync(string name, ServiceAction action, CancellationToken ct)
    {
        if (!Names.IsValidServiceName(name))
            throw new CommandFailedException("bad-service", $"'{name}' is not a valid service name.");
        database.Update(s =>
        {
            var have = s.Services.FirstOrDefault(x => x.Name == name) ?? new ServiceRecord(name, false, false);
            var next = action switch
            {
                ServiceAction.Start or ServiceAction.Restart => have with { Running = true },
                ServiceAction.Stop => have with { Running = false },
                ServiceAction.Enable => have with { Enabled = true },
                ServiceAction.Disable => have with { Enabled = false },
                _ => have,
            };
            return s with { Services = [.. s.Services.Where(x => x.Name != name), next] };
        });
        return Task.FromResult($"{name}: {action.ToString().ToLowerInvariant()} recorded ({why})");
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ServiceState>> ListAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<ServiceState>>([.. database.Snapshot.Services.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => new ServiceState(s.Name, s.Running, s.Enabled))]);
}
