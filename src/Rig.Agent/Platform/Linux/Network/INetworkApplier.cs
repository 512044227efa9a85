using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux.Network;

/// <summary>How a live network change is made on one device: by systemd-networkd, ifupdown or iproute2 alone.
/// <see cref="NetworkConfigurator"/> calls the steps in this order:
/// <list type="number">
/// <item><see cref="SnapshotAsync"/> (the state a rollback puts back), then the pending-change record is written;</item>
/// <item><see cref="BeforeWriteAsync"/>: still with the OLD files in place (ifupdown takes the interface down with them);</item>
/// <item>the new files are written; <see cref="ApplyAsync"/>; the configurator waits until the new address shows and the
/// gateway answers twice;</item>
/// <item>rollback: <see cref="BeforeRestoreAsync"/> (with the NEW files) -> the files are restored ->
/// <see cref="AfterRestoreAsync"/> (the manager rereads the old files) -> <see cref="RestoreLiveAsync"/> last.</item>
/// </list></summary>
internal interface INetworkApplier
{
    /// <summary>For messages: <c>through systemd-networkd (networkctl reload, reconfigure)</c>.</summary>
    string How { get; }

    /// <summary>The interface's live addresses and gateway routes now.</summary>
    Task<LiveInterfaceState> SnapshotAsync(string interfaceName, CancellationToken ct);

    /// <summary>Runs before the new files are written, while the old configuration is still on disk.</summary>
    Task BeforeWriteAsync(NetworkCommand command, CancellationToken ct);

    /// <summary>Make the written files (or the command) the live configuration.</summary>
    Task ApplyAsync(NetworkCommand command, CancellationToken ct);

    /// <summary>Rollback, first step: runs while the new files are still on disk.</summary>
    Task BeforeRestoreAsync(string interfaceName, CancellationToken ct);

    /// <summary>Rollback, after the previous files are back; <paramref name="ownFileRestored"/>: the renderer's own
    /// file existed before the change (there is an old configuration for the manager to bring up).</summary>
    Task AfterRestoreAsync(string interfaceName, bool ownFileRestored, CancellationToken ct);

    /// <summary>Rollback, last step: put the snapshot's addresses and routes back.</summary>
    Task RestoreLiveAsync(LiveInterfaceState state, CancellationToken ct);
}

/// <summary>What the three appliers share: iproute2 for the snapshot and its restore, and the manager tools run
/// through <see cref="ProcessRunner"/>.</summary>
internal abstract class LiveApplier : INetworkApplier
{
    /// <summary>How long <c>networkctl</c>, <c>ifup</c> and <c>ifdown</c> may take (ifup waits for DHCP).</summary>
    protected static readonly TimeSpan ManagerTimeout = TimeSpan.FromSeconds(60);

    /// <inheritdoc />
    public abstract string How { get; }

    /// <inheritdoc />
    public Task<LiveInterfaceState> SnapshotAsync(string interfaceName, CancellationToken ct) => IpRoute.SnapshotAsync(interfaceName, ct);

    /// <inheritdoc />
    public virtual Task BeforeWriteAsync(NetworkCommand command, CancellationToken ct) => Task.CompletedTask;

    /// <inheritdoc />
    public abstract Task ApplyAsync(NetworkCommand command, CancellationToken ct);

    /// <inheritdoc />
    public virtual Task BeforeRestoreAsync(string interfaceName, CancellationToken ct) => Task.CompletedTask;

    /// <inheritdoc />
    public virtual Task AfterRestoreAsync(string interfaceName, bool ownFileRestored, CancellationToken ct) => Task.CompletedTask;

    /// <inheritdoc />
    public Task RestoreLiveAsync(LiveInterfaceState state, CancellationToken ct) => IpRoute.RestoreAsync(state, ct);

    /// <summary>Run a manager tool; a non-zero exit is <c>network-apply-failed</c>.</summary>
    protected static async Task RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var outcome = await ProcessRunner.RunAsync(program, arguments, ManagerTimeout, ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
            throw new CommandFailedException("network-apply-failed", $"'{program} {string.Join(' ', arguments)}' failed with exit code {outcome.ExitCode}: {outcome.Message}.");
    }

    /// <summary>The applier for <paramref name="renderer"/> on this device: the renderer's manager when it runs
    /// (and <paramref name="managers"/> allows it), else iproute2.</summary>
    public static async Task<INetworkApplier> ChooseAsync(string renderer, bool managers, CancellationToken ct)
    {
        if (managers && renderer == NetworkRenderers.Networkd && await NetworkdApplier.RunsAsync(ct).ConfigureAwait(false))
            return new NetworkdApplier();
        if (managers && renderer == NetworkRenderers.Ifupdown && ProcessRunner.Find("ifup") is not null)
            return new IfupdownApplier();
        return new IpRouteApplier();
    }
}

/// <summary>systemd-networkd: <c>networkctl reload</c> + <c>reconfigure IFACE</c>, then
/// <c>systemd-networkd-wait-online -i IFACE</c> (bounded by the probe timeout) so the change has settled.</summary>
internal sealed class NetworkdApplier : LiveApplier
{
    private static readonly string[] WaitOnlinePaths = ["/usr/lib/systemd/systemd-networkd-wait-online", "/lib/systemd/systemd-networkd-wait-online"];

    /// <inheritdoc />
    public override string How => "through systemd-networkd (networkctl reload, reconfigure, wait-online)";

    /// <summary>True when systemd is PID 1 and systemd-networkd is active.</summary>
    public static async Task<bool> RunsAsync(CancellationToken ct)
    {
        if (!Directory.Exists("/run/systemd/system") || ProcessRunner.Find("networkctl") is null)
            return false;
        var outcome = await ProcessRunner.RunAsync("systemctl", ["is-active", "--quiet", "systemd-networkd.service"], ManagerTimeout, ct).ConfigureAwait(false);
        return outcome.ExitCode == 0;
    }

    /// <inheritdoc />
    public override async Task ApplyAsync(NetworkCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        await ReloadAsync(command.Interface, ct).ConfigureAwait(false);
        // reconfigure returns before the link is configured; wait-online returns when it is (or says why not).
        if (WaitOnlinePaths.FirstOrDefault(File.Exists) is { } waitOnline)
            await RunAsync(waitOnline, ["-i", command.Interface, $"--timeout={command.ProbeTimeoutSeconds}"], ct).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override Task AfterRestoreAsync(string interfaceName, bool ownFileRestored, CancellationToken ct) => ReloadAsync(interfaceName, ct);

    private static async Task ReloadAsync(string interfaceName, CancellationToken ct)
    {
        await RunAsync("networkctl", ["reload"], ct).ConfigureAwait(false);
        await RunAsync("networkctl", ["reconfigure", interfaceName], ct).ConfigureAwait(false);
    }
}

/// <summary>ifupdown: <c>ifdown</c> with the old stanza before the new file is written (so the old dhclient goes
/// with it), <c>ifup</c> with the new one; a rollback takes the new one down and brings the old one up.</summary>
internal sealed class IfupdownApplier : LiveApplier
{
    /// <inheritdoc />
    public override string How => "through ifupdown (ifdown old, ifup new)";

    /// <inheritdoc />
    public override Task BeforeWriteAsync(NetworkCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        return DownAsync(command.Interface, ct);
    }

    /// <inheritdoc />
    public override Task ApplyAsync(NetworkCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        return RunAsync("ifup", [command.Interface], ct);
    }

    /// <inheritdoc />
    public override Task BeforeRestoreAsync(string interfaceName, CancellationToken ct) => DownAsync(interfaceName, ct);

    /// <inheritdoc />
    public override Task AfterRestoreAsync(string interfaceName, bool ownFileRestored, CancellationToken ct) =>
        ownFileRestored ? RunAsync("ifup", [interfaceName], ct) : Task.CompletedTask;

    // ifdown fails for an interface ifupdown did not bring up (then there is nothing to take down): not an error.
    private static async Task DownAsync(string interfaceName, CancellationToken ct) =>
        await ProcessRunner.RunAsync("ifdown", ["--force", interfaceName], ManagerTimeout, ct).ConfigureAwait(false);
}

/// <summary>No manager runs (or the files are in an offline root): iproute2 sets the static address itself.</summary>
internal sealed class IpRouteApplier : LiveApplier
{
    /// <inheritdoc />
    public override string How => "with iproute2 (no network manager runs)";

    /// <inheritdoc />
    public override Task ApplyAsync(NetworkCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.Mode == NetworkMode.Dhcp)
            throw new CommandFailedException("network-manager-missing",
                $"{command.Interface} should use DHCP, but neither systemd-networkd nor ifupdown runs on this device to ask for a lease; install and enable one of them, or give the interface a static address.");
        return IpRoute.ApplyStaticAsync(command, ct);
    }
}
