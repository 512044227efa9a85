using System.Net;
using System.Text;
using System.Text.Json;
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
internal sealed record NetworkSettings(GatewayProbe? Probe, bool Live, bool Managers, string Why);

/// <summary>Network configuration of one device.</summary>
internal interface INetworkManager
{
    /// <summary>Configure one interface; the output says what was written and applied.</summary>
    /// <exception cref="CommandFailedException"><c>network-rolled-back</c> when the gateway was lost and the previous
    /// configuration is back; <c>network-failed</c> when the rollback itself did not complete.</exception>
    Task<string> ApplyAsync(NetworkCommand command, CancellationToken ct);

    /// <summary>Put back a change the agent did not finish (it died during it): called when the agent starts. Null
    /// when there was none; else what was restored (or what could not be).</summary>
    Task<string?> RecoverAsync(CancellationToken ct);
}

/// <summary>The configure-network pipeline: check (rules, ifupdown conflicts) -> read the previous files and snapshot the
/// live state -> write the pending-change record (<see cref="PendingNetworkChange.DevicePath"/>) -> write the files ->
/// apply -> wait until the new address shows -> probe the gateway (twice, <see cref="GatewayProbe.StabilityWindow"/>
/// apart) -> remove the record. Any failure from the first change on rolls back (every step runs, errors are
/// collected, see <see cref="INetworkApplier"/> for the order); a change the agent did not finish is rolled back by
/// <see cref="RecoverAsync"/> when it starts again.</summary>
internal sealed class NetworkConfigurator : INetworkManager
{
    /// <summary>Pause between looks at the interface while waiting for the new address.</summary>
    private static readonly TimeSpan SettleSpacing = TimeSpan.FromMilliseconds(250);

    /// <summary>Network files are world-readable, like the ones the distributions ship.</summary>
    private const UnixFileMode FileMode0644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly DeviceFileSystem _files;
    private readonly NetworkSettings _settings;
    private readonly Func<string, CancellationToken, Task<INetworkApplier>> _chooseApplier;

    /// <summary>A configurator writing into <paramref name="files"/>. <paramref name="chooseApplier"/> picks how a live
    /// change is made for a renderer (default: <see cref="LiveApplier.ChooseAsync"/>; tests record the order of steps).</summary>
    public NetworkConfigurator(DeviceFileSystem files, NetworkSettings settings, Func<string, CancellationToken, Task<INetworkApplier>>? chooseApplier = null)
    {
        _files = files;
        _settings = settings;
        _chooseApplier = chooseApplier ?? ((renderer, ct) => LiveApplier.ChooseAsync(renderer, settings.Managers, ct));
    }

    private string RecordPath => _files.Internal(PendingNetworkChange.DevicePath);

    /// <inheritdoc />
    public async Task<string> ApplyAsync(NetworkCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        var content = Encoding.UTF8.GetBytes(NetworkRenderer.Render(command));
        var path = NetworkRenderer.PathFor(command.Renderer, command.Interface);
        var other = NetworkRenderer.PathFor(command.Renderer == NetworkRenderers.Networkd ? NetworkRenderers.Ifupdown : NetworkRenderers.Networkd, command.Interface);
        if (command.Renderer == NetworkRenderers.Ifupdown)
            IfupdownStanzas.RefuseOtherDefinitions(_files, command.Interface, path);
        if (File.Exists(RecordPath))
        {
            // A change the start-up recovery could not finish: do not stack another one on top of it.
            var recovered = await RecoverAsync(ct).ConfigureAwait(false);
            if (File.Exists(RecordPath))
                throw new CommandFailedException("network-failed", $"An earlier network change is still not rolled back: {recovered} Nothing new was changed.");
        }

        var previous = new List<PreviousNetworkFile> { Read(path), Read(other) };
        var applier = _settings.Live && _settings.Probe is not null ? await _chooseApplier(command.Renderer, ct).ConfigureAwait(false) : null;
        var live = applier is null ? null : await applier.SnapshotAsync(command.Interface, ct).ConfigureAwait(false);
        var pending = new PendingNetworkChange(command.Interface, command.Renderer, previous, live);
        Directory.CreateDirectory(Path.GetDirectoryName(RecordPath)!);
        pending.Save(RecordPath);

        var wrote = $"wrote {path}" + (previous[1].Content is null ? "" : $", removed {other}");
        var timeout = TimeSpan.FromSeconds(command.ProbeTimeoutSeconds);
        string probeError;
        try
        {
            if (applier is not null)
                await applier.BeforeWriteAsync(command, ct).ConfigureAwait(false);
            WriteFile(path, content);
            DeleteFile(other);
            if (applier is null || _settings.Probe is not { } probe)
            {
                File.Delete(RecordPath);
                return $"{command.Describe()}: {wrote}; not applied live ({_settings.Why}): it takes effect when the device starts its network from these files";
            }
            await applier.ApplyAsync(command, ct).ConfigureAwait(false);
            await WaitForAddressAsync(applier, command, timeout, ct).ConfigureAwait(false);
            var (reached, error) = await probe.WaitStableAsync(timeout, ct).ConfigureAwait(false);
            if (reached)
            {
                File.Delete(RecordPath);
                return $"{command.Describe()}: {wrote}; applied {applier.How}; gateway {probe} reachable";
            }
            probeError = error;
        }
        catch (Exception e)
        {
            var errors = await RollBackAsync(applier, pending).ConfigureAwait(false);
            if (errors.Count > 0)
                throw RollbackIncomplete(command, e.Message, errors);
            if (e is OperationCanceledException)
                throw;
            var (code, message) = e is CommandFailedException failed ? (failed.Code, failed.Message) : ("network-rolled-back", $"Configuring {command.Describe()} failed: {e.Message}.");
            throw new CommandFailedException(code, $"{message} The previous configuration of {command.Interface}"
                + (live is null ? "" : $" ({live})") + " and its files were restored.");
        }

        var rollbackErrors = await RollBackAsync(applier, pending).ConfigureAwait(false);
        var lost = $"Applied {command.Describe()} ({applier.How}), but the gateway at {_settings.Probe} was unreachable for {command.ProbeTimeoutSeconds} s ({probeError}).";
        if (rollbackErrors.Count > 0)
            throw RollbackIncomplete(command, lost, rollbackErrors);
        var (back, _) = await _settings.Probe.WaitAsync(timeout, ct).ConfigureAwait(false);
        throw new CommandFailedException("network-rolled-back",
            $"{lost} The previous configuration is back: {command.Interface} has {live} again and {path} was restored"
            + (back ? "; the gateway is reachable again." : "; the gateway is STILL unreachable after the rollback: check the device from its console.")
            + " Fix the device's network section in the model (address, gateway, interface) so the device keeps a path to its gateway.");
    }

    /// <inheritdoc />
    public async Task<string?> RecoverAsync(CancellationToken ct)
    {
        PendingNetworkChange? pending;
        try
        {
            pending = PendingNetworkChange.Load(RecordPath);
        }
        catch (JsonException e)
        {
            var aside = RecordPath + ".unreadable";
            File.Move(RecordPath, aside, overwrite: true);
            return $"the pending network change record was unreadable ({e.Message}) and was moved to {aside}; check the device's network files by hand.";
        }
        if (pending is null)
            return null;
        var applier = pending.Live is not null && _settings.Live ? await _chooseApplier(pending.Renderer, ct).ConfigureAwait(false) : null;
        var errors = await RollBackAsync(applier, pending).ConfigureAwait(false);
        var what = $"a network change of {pending.Interface} did not finish (the agent stopped during it)";
        var restored = string.Join(", ", pending.Files.Select(f => f.Content is null ? $"{f.Path} removed" : $"{f.Path} restored"))
            + (applier is null ? "" : $", live state {pending.Live} put back");
        if (errors.Count > 0)
            return $"{what}; the rollback did not complete: {string.Join("; ", errors)}. The record {PendingNetworkChange.DevicePath} stays; the rollback is retried before the next network change.";
        return $"{what}; rolled back: {restored}.";
    }

    /// <summary>Every rollback step runs, whatever failed before it; the errors are returned. The record is removed
    /// when all steps succeeded.</summary>
    private async Task<List<string>> RollBackAsync(INetworkApplier? applier, PendingNetworkChange pending)
    {
        // The command may have been cancelled (the agent is stopping): the rollback still runs, bounded by the tools' timeouts.
        var ct = CancellationToken.None;
        var errors = new List<string>();
        if (applier is not null)
            await Step($"taking {pending.Interface} down", () => applier.BeforeRestoreAsync(pending.Interface, ct)).ConfigureAwait(false);
        foreach (var file in pending.Files)
        {
            await Step(file.Content is null ? $"removing {file.Path}" : $"restoring {file.Path}", () =>
            {
                if (file.Content is null)
                    DeleteFile(file.Path, directoryIsAbsent: true); // a directory there was not written by this change
                else
                    WriteFile(file.Path, file.Content);
                return Task.CompletedTask;
            }).ConfigureAwait(false);
        }
        if (applier is not null)
        {
            var own = NetworkRenderer.PathFor(pending.Renderer, pending.Interface);
            var ownRestored = pending.Files.Any(f => f.Path == own && f.Content is not null);
            await Step($"reapplying the previous configuration of {pending.Interface}", () => applier.AfterRestoreAsync(pending.Interface, ownRestored, ct)).ConfigureAwait(false);
            if (pending.Live is { } live)
                await Step($"restoring the live state of {pending.Interface} ({live})", () => applier.RestoreLiveAsync(live, ct)).ConfigureAwait(false);
        }
        if (errors.Count == 0)
            File.Delete(RecordPath);
        return errors;

        async Task Step(string what, Func<Task> step)
        {
            try
            {
                await step().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // a rollback step's failure must not stop the next steps; it is reported
            catch (Exception e)
#pragma warning restore CA1031
            {
                errors.Add($"{what}: {e.Message}");
            }
        }
    }

    private static CommandFailedException RollbackIncomplete(NetworkCommand command, string failure, List<string> errors) =>
        new("network-failed", $"{failure.TrimEnd('.')}. The rollback did not complete: {string.Join("; ", errors)}. {command.Interface} may still have "
            + $"the new configuration; the record {PendingNetworkChange.DevicePath} stays and the rollback is retried when the agent starts and "
            + "before the next network change. Check the device from its console.");

    /// <summary>For a static address: wait until the interface has it (a manager may return before the change is
    /// made), so the probe does not pass over the old address.</summary>
    private static async Task WaitForAddressAsync(INetworkApplier applier, NetworkCommand command, TimeSpan timeout, CancellationToken ct)
    {
        if (command.Mode != NetworkMode.Static || !NetworkRules.TryParseCidr(command.Address, out var wanted, out var prefix))
            return;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        LiveInterfaceState state;
        try
        {
            while (true)
            {
                state = await applier.SnapshotAsync(command.Interface, deadline.Token).ConfigureAwait(false);
                if (state.Addresses.Any(a => NetworkRules.TryParseCidr(a, out var have, out var p) && p == prefix && have.Equals(wanted)))
                    return;
                await Task.Delay(SettleSpacing, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CommandFailedException("network-rolled-back",
                $"Applied {command.Describe()} ({applier.How}), but {command.Interface} did not get the address {command.Address} within {command.ProbeTimeoutSeconds} s.");
        }
    }

    private PreviousNetworkFile Read(string devicePath)
    {
        var host = _files.Resolve(devicePath, FinalLink.Refuse, allowedRootsOnly: true);
        return new PreviousNetworkFile(devicePath, File.Exists(host) ? File.ReadAllBytes(host) : null);
    }

    private void WriteFile(string devicePath, byte[] content)
    {
        var host = _files.Resolve(devicePath, FinalLink.Refuse, allowedRootsOnly: true);
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        DeviceFileSystem.WriteAtomically(host, content, FileMode0644);
    }

    private void DeleteFile(string devicePath, bool directoryIsAbsent = false)
    {
        var host = _files.Resolve(devicePath, FinalLink.Refuse, allowedRootsOnly: true);
        if (Directory.Exists(host) && !directoryIsAbsent)
            throw new CommandFailedException("network-path-blocked", $"'{devicePath}' is a directory where Rig's network file for the interface belongs; remove it by hand, then converge again.");
        if (File.Exists(host))
            File.Delete(host);
    }
}
