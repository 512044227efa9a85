using Rig.Agent.Platform.Archive;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Sandbox;

/// <summary>The sandbox plug-in: the device is a directory. Files and packages go under the root, services
/// are recorded (not started), a reboot ends the agent process with <see cref="ProtocolInfo.RebootExitCode"/>
/// and its supervisor (the test harness or <c>rig demo</c>) starts it again. Many sandboxed agents run as
/// separate processes on one machine.</summary>
public sealed class SandboxPlatform : IPlatform
{
    /// <summary>A sandbox rooted at <paramref name="root"/>.</summary>
    public SandboxPlatform(string root, string hostname, IReadOnlyList<string> allowedRoots, RigLimits limits)
    {
        Directory.CreateDirectory(root);
        Files = new DeviceFileSystem(root, allowedRoots, limits);
        Database = new PackageDatabase(Files.Internal("/var/lib/rig/state.json"));
        Services = new RecordedServices(Database);
        Installers = new Dictionary<string, IPackageInstaller>(StringComparer.Ordinal)
        {
            [PackageFormats.RigArchive] = new ArchiveInstaller(Files, Database, limits),
        };
        Hostname = hostname;
    }

    /// <inheritdoc />
    public string Name => "sandbox";
    /// <inheritdoc />
    public DeviceFileSystem Files { get; }
    /// <inheritdoc />
    public PackageDatabase Database { get; }
    /// <inheritdoc />
    public IReadOnlyDictionary<string, IPackageInstaller> Installers { get; }
    /// <inheritdoc />
    public IServiceManager Services { get; }
    /// <inheritdoc />
    public string Hostname { get; }
    /// <inheritdoc />
    public int BootCount => Database.Snapshot.BootCount;

    /// <inheritdoc />
    public void RecordBoot() => Database.Update(s => s with { BootCount = s.BootCount + 1 });

    /// <summary>Services in the sandbox: the requested state is recorded in the device's database.</summary>
    private sealed class RecordedServices(PackageDatabase database) : IServiceManager
    {
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
            return Task.FromResult($"{name}: {action.ToString().ToLowerInvariant()} recorded (sandbox)");
        }

        public IReadOnlyList<ServiceState> List() =>
            [.. database.Snapshot.Services.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => new ServiceState(s.Name, s.Running, s.Enabled))];
    }
}
