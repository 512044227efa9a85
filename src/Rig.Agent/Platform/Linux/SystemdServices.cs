using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux;

/// <summary>Services through systemd. On the running system (<see cref="LinuxPlatform.IsRunningSystem"/>) every action
/// is <c>systemctl ACTION NAME</c>; on a root prepared offline, enable and disable are done for real with
/// <c>systemctl --root=ROOT</c> (the <c>wants</c> links are created or removed) and start, stop and restart, which need a
/// running systemd, are recorded. The services Rig acted on are kept in the device's database; <see cref="ListAsync"/>
/// reports them with their state as systemd has it.</summary>
internal sealed class SystemdServices(string root, PackageDatabase database) : IServiceManager
{
    /// <summary>How long one systemctl call may take: a start waits for the unit to come up (systemd's own default
    /// start timeout is 90 s) and a little more.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private readonly RecordedServices _recorded = new(database, $"offline root {root}: systemd does not run there");

    /// <summary>True when the root is the running system (actions go to the running systemd).</summary>
    public bool IsRunningSystem { get; } = root == "/";

    /// <inheritdoc />
    public async Task<string> ApplyAsync(string name, ServiceAction action, CancellationToken ct)
    {
        if (!Names.IsValidServiceName(name))
            throw new CommandFailedException("bad-service", $"'{name}' is not a valid service name (letters, digits and '@._:-', starting with a letter or digit); fix it in the model.");
        var verb = action.ToString().ToLowerInvariant();
        if (!IsRunningSystem)
        {
            if (action is not (ServiceAction.Enable or ServiceAction.Disable))
                return await _recorded.ApplyAsync(name, action, ct).ConfigureAwait(false);
            var offline = await SystemctlAsync([$"--root={root}", verb, name], name, ct).ConfigureAwait(false);
            await _recorded.ApplyAsync(name, action, ct).ConfigureAwait(false);
            return $"{name}: {verb}d in offline root {root} (systemctl --root){Detail(offline)}";
        }
        if (!Directory.Exists("/run/systemd/system"))
            throw new CommandFailedException("systemd-not-running",
                $"Cannot {verb} {name}: PID 1 on this device is not systemd (/run/systemd/system is missing), so systemctl cannot control services. "
                + "Run the agent on a host booted with systemd, or enroll it with an offline --root (services recorded) or --platform sandbox.");
        var output = await SystemctlAsync([verb, name], name, ct).ConfigureAwait(false);
        await _recorded.ApplyAsync(name, action, ct).ConfigureAwait(false);
        return $"{name}: systemctl {verb} done{Detail(output)}";
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ServiceState>> ListAsync(CancellationToken ct)
    {
        var recorded = await _recorded.ListAsync(ct).ConfigureAwait(false);
        if (recorded.Count == 0)
            return recorded;
        if (!IsRunningSystem)
        {
            // Enablement is in the root's files; running is what was asked (nothing runs in an offline root).
            var list = new List<ServiceState>();
            foreach (var service in recorded)
            {
                var state = await ProcessRunner.RunAsync("systemctl", [$"--root={root}", "is-enabled", service.Name], Timeout, ct).ConfigureAwait(false);
                list.Add(service with { Enabled = state.StandardOutput.Trim() is "enabled" or "enabled-runtime" or "alias" });
            }
            return list;
        }
        if (!Directory.Exists("/run/systemd/system"))
            return recorded; // no systemd to ask: what was asked is all there is to report
        var outcome = await ProcessRunner.RunAsync("systemctl", ["show", "-p", "ActiveState,UnitFileState", .. recorded.Select(s => s.Name)], Timeout, ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
            return recorded;
        // One block per unit, in the order asked, separated by a blank line.
        var blocks = outcome.StandardOutput.Replace("\r", "", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        if (blocks.Length != recorded.Count)
            return recorded;
        return [.. recorded.Select((service, i) =>
        {
            var properties = blocks[i].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            return new ServiceState(service.Name,
                properties.GetValueOrDefault("ActiveState") is "active" or "reloading" or "activating",
                properties.GetValueOrDefault("UnitFileState") is "enabled" or "enabled-runtime" or "alias");
        })];
    }

    private static async Task<ProcessOutcome> SystemctlAsync(IReadOnlyList<string> arguments, string name, CancellationToken ct)
    {
        var outcome = await ProcessRunner.RunAsync("systemctl", arguments, Timeout, ct).ConfigureAwait(false);
        if (outcome.ExitCode == 0)
            return outcome;
        var message = outcome.Message;
        if (message.Contains("not found", StringComparison.OrdinalIgnoreCase) || message.Contains("does not exist", StringComparison.OrdinalIgnoreCase) || message.Contains("not loaded", StringComparison.OrdinalIgnoreCase))
            throw new CommandFailedException("unknown-service", $"systemd has no unit '{name}' ({message}); install the package that provides it first, or fix the service name in the model.");
        throw new CommandFailedException("service-failed", $"'systemctl {string.Join(' ', arguments)}' failed with exit code {outcome.ExitCode}: {message}. See `journalctl -u {name}` on the device.");
    }

    private static string Detail(ProcessOutcome outcome) =>
        outcome.Message is { Length: > 0 } text ? $": {text.Replace('\n', ' ')}" : "";
}
