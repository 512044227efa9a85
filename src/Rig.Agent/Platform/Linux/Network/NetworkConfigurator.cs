using System.Text;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux.Network;

/// <summary>How a device applies network configuration.</summary>
/// <param name="Probe">The agent's gateway, probed after a live change.</param>
/// <param name="Live">Apply the change to the running network (then probe, and roll back when the gateway is lost);
/// false: write the files only (an offline root, the sandbox).</param>
/// <param name="Managers">Use systemd-networkd or ifupdown when they run; false: iproute2 only (the files are in a
/// root other than <c>/</c>, which those managers do not read).</param>
/// <param name="Why">Said in the output when nothing is applied live (<c>sandbox</c>, <c>offline root /mnt/img</c>).</param>
public sealed record NetworkSettings(GatewayProbe? Probe, bool Live, bool Managers, string Why);

/// <summary>Network configuration of one device.</summary>
public interface INetworkManager
{
    /// <summary>Configure one interface; the output says what was written and applied.</summary>
    /// <exception cref="CommandFailedException"><c>network-rolled-back</c> when the gateway was lost and the previous configuration is back.</exception>
    Task<string> ApplyAsync(NetworkCommand command, CancellationToken ct);
}

/// <summary>The configure-network pipeline: check -> keep the previous files -> write -> snapshot the live state ->
/// apply -> probe the gateway; when the probe fails: restore the files and the live state -> probe again -> fail
/// with <c>network-rolled-back</c>. The previous files are kept under <c>/var/lib/rig/network/previous</c>.</summary>
public sealed class NetworkConfigurator(DeviceFileSystem files, NetworkSettings settings) : INetworkManager
{
    /// <summary>How long <c>networkctl</c>, <c>ifup</c> and <c>ifdown</c> may take (ifup waits for DHCP).</summary>
    private static readonly TimeSpan ManagerTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Network files are world-readable, like the ones the distributions ship.</summary>
    private const UnixFileMode FileMode0644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <inheritdoc />
    public async Task<string> ApplyAsync(NetworkCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        var content = Encoding.UTF8.GetBytes(NetworkRenderer.Render(command));
        var path = NetworkRenderer.PathFor(command.Renderer, command.Interface);
        var other = NetworkRenderer.PathFor(command.Renderer == NetworkRenderers.Networkd ? NetworkRenderers.Ifupdown : NetworkRenderers.Networkd, command.Interface);
        var previous = new[] { path, other }.Select(Keep).ToList();

        var live = settings.Live ? await IpRoute.SnapshotAsync(command.Interface, ct).ConfigureAwait(false) : null;
        WriteFile(path, content);
        DeleteFile(other);
        var wrote = $"wrote {path}" + (previous[1].Content is null ? "" : $", removed {other}");
        if (live is null || settings.Probe is not { } probe)
            return $"{command.Describe()}: {wrote}; not applied live ({settings.Why}): it takes effect when the device starts its network from these files";

        string how;
        try
        {
            how = await ApplyLiveAsync(command, ct).ConfigureAwait(false);
        }
        catch (CommandFailedException e)
        {
            await RollBackAsync(command, previous, live, ct).ConfigureAwait(false);
            throw new CommandFailedException(e.Code, $"{e.Message} The previous configuration of {command.Interface} ({live}) and its files were restored.");
        }
        var timeout = TimeSpan.FromSeconds(command.ProbeTimeoutSeconds);
        var (reached, error) = await probe.WaitAsync(timeout, ct).ConfigureAwait(false);
        if (reached)
            return $"{command.Describe()}: {wrote}; applied {how}; gateway {probe} reachable";

        await RollBackAsync(command, previous, live, ct).ConfigureAwait(false);
        var (back, _) = await probe.WaitAsync(timeout, ct).ConfigureAwait(false);
        throw new CommandFailedException("network-rolled-back",
            $"Applied {command.Describe()} ({how}), but the gateway at {probe} was unreachable for {command.ProbeTimeoutSeconds} s ({error}). "
            + $"The previous configuration is back: {command.Interface} has {live} again and {path} was restored"
            + (back ? $"; the gateway is reachable again." : $"; the gateway is STILL unreachable after the rollback: check the device from its console.")
            + " Fix the device's network section in the model (address, gateway, interface) so the device keeps a path to its gateway.");
    }

    private async Task<string> ApplyLiveAsync(NetworkCommand command, CancellationToken ct)
    {
        if (settings.Managers && command.Renderer == NetworkRenderers.Networkd && await NetworkdRunsAsync(ct).ConfigureAwait(false))
        {
            await RunAsync("networkctl", ["reload"], ct).ConfigureAwait(false);
            await RunAsync("networkctl", ["reconfigure", command.Interface], ct).ConfigureAwait(false);
            return "through systemd-networkd (networkctl reload, reconfigure)";
        }
        if (settings.Managers && command.Renderer == NetworkRenderers.Ifupdown && ProcessRunner.Find("ifup") is not null)
        {
            // ifdown fails for an interface ifupdown did not bring up; ifup is what counts.
            await ProcessRunner.RunAsync("ifdown", ["--force", command.Interface], ManagerTimeout, ct).ConfigureAwait(false);
            await RunAsync("ifup", [command.Interface], ct).ConfigureAwait(false);
            return "through ifupdown (ifdown, ifup)";
        }
        if (command.Mode == NetworkMode.Dhcp)
            throw new CommandFailedException("network-manager-missing",
                $"{command.Interface} should use DHCP, but neither systemd-networkd nor ifupdown runs on this device to ask for a lease; install and enable one of them, or give the interface a static address.");
        await IpRoute.ApplyStaticAsync(command, ct).ConfigureAwait(false);
        return "with iproute2 (no network manager runs)";
    }

    private async Task RollBackAsync(NetworkCommand command, List<(string Path, byte[]? Content)> previous, LiveInterfaceState live, CancellationToken ct)
    {
        foreach (var (path, content) in previous)
        {
            if (content is null)
                DeleteFile(path);
            else
                WriteFile(path, content);
        }
        await IpRoute.RestoreAsync(live, ct).ConfigureAwait(false);
        if (settings.Managers && command.Renderer == NetworkRenderers.Networkd && await NetworkdRunsAsync(ct).ConfigureAwait(false))
        {
            await RunAsync("networkctl", ["reload"], ct).ConfigureAwait(false);
            await RunAsync("networkctl", ["reconfigure", command.Interface], ct).ConfigureAwait(false);
        }
    }

    /// <summary>The file's current content (null: absent), also kept under <c>/var/lib/rig/network/previous</c>.</summary>
    private (string Path, byte[]? Content) Keep(string devicePath)
    {
        var host = files.Resolve(devicePath, FinalLink.Refuse, allowedRootsOnly: true);
        if (!File.Exists(host))
            return (devicePath, null);
        var content = File.ReadAllBytes(host);
        var kept = files.Internal($"/var/lib/rig/network/previous/{Path.GetFileName(devicePath)}");
        Directory.CreateDirectory(Path.GetDirectoryName(kept)!);
        DeviceFileSystem.WriteAtomically(kept, content, FileMode0644);
        return (devicePath, content);
    }

    private void WriteFile(string devicePath, byte[] content)
    {
        var host = files.Resolve(devicePath, FinalLink.Refuse, allowedRootsOnly: true);
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        DeviceFileSystem.WriteAtomically(host, content, FileMode0644);
    }

    private void DeleteFile(string devicePath)
    {
        var host = files.Resolve(devicePath, FinalLink.Refuse, allowedRootsOnly: true);
        if (File.Exists(host))
            File.Delete(host);
    }

    private static async Task<bool> NetworkdRunsAsync(CancellationToken ct)
    {
        if (!Directory.Exists("/run/systemd/system") || ProcessRunner.Find("networkctl") is null)
            return false;
        var outcome = await ProcessRunner.RunAsync("systemctl", ["is-active", "--quiet", "systemd-networkd.service"], ManagerTimeout, ct).ConfigureAwait(false);
        return outcome.ExitCode == 0;
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var outcome = await ProcessRunner.RunAsync(program, arguments, ManagerTimeout, ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
            throw new CommandFailedException("network-apply-failed", $"'{program} {string.Join(' ', arguments)}' failed with exit code {outcome.ExitCode}: {outcome.Message}.");
    }
}
