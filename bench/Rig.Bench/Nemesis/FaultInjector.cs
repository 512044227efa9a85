using System.Diagnostics;
using System.Globalization;

namespace Rig.Bench.Nemesis;

/// <summary>What became of a planned fault.</summary>
internal sealed record InjectedFault(PlannedFault Plan, double StartedAt, bool Injected, string Detail);

/// <summary>Runs a <see cref="FaultPlan"/> against a <see cref="NemesisSite"/>: each fault starts its gap after the
/// previous one started; faults on different targets overlap, faults on the same target wait for each other. Every
/// fault undoes itself (restart, SIGCONT, resume, free) before it ends, so when <see cref="RunAsync"/> returns
/// everything the nemesis took down is up again.</summary>
internal sealed class FaultInjector(NemesisSite site, Action<string> log)
{
    private readonly Dictionary<string, SemaphoreSlim> _targets = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<string> _gatewayStartFailures = [];

    /// <summary>Gateway starts after a kill that failed (the gateway exited at start-up), with the reason; each was
    /// followed by another start, as a service manager would do.</summary>
    public IReadOnlyList<string> GatewayStartFailures
    {
        get
        {
            lock (_gatewayStartFailures)
                return [.. _gatewayStartFailures];
        }
    }

    /// <summary>Run every fault of <paramref name="plan"/>; returns what happened to each, in plan order.</summary>
    public async Task<IReadOnlyList<InjectedFault>> RunAsync(IReadOnlyList<PlannedFault> plan, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var running = new List<Task<InjectedFault>>();
        foreach (var fault in plan)
        {
            await Task.Delay(TimeSpan.FromSeconds(fault.Gap), ct).ConfigureAwait(false);
            running.Add(RunOneAsync(fault, ct));
        }
        return await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task<InjectedFault> RunOneAsync(PlannedFault fault, CancellationToken ct)
    {
        SemaphoreSlim target;
        lock (_targets)
        {
            if (!_targets.TryGetValue(fault.Target, out target!))
                _targets[fault.Target] = target = new SemaphoreSlim(1);
        }
        await target.WaitAsync(ct).ConfigureAwait(false);
        var started = _clock.Elapsed.TotalSeconds;
        try
        {
            var (injected, detail) = await InjectAsync(fault, ct).ConfigureAwait(false);
            log(string.Create(CultureInfo.InvariantCulture, $"fault {fault.Index,2} at {started,6:0.0} s: {fault.Describe()}{(injected ? "" : " -- not injected")}{(detail.Length > 0 ? $" ({detail})" : "")}"));
            return new InjectedFault(fault, started, injected, detail);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log(string.Create(CultureInfo.InvariantCulture, $"fault {fault.Index,2} at {started,6:0.0} s: {fault.Describe()} -- the nemesis failed: {e.Message}"));
            throw;
        }
        finally
        {
            target.Release();
        }
    }

    private async Task<(bool Injected, string Detail)> InjectAsync(PlannedFault fault, CancellationToken ct)
    {
        var hold = TimeSpan.FromSeconds(fault.Seconds);
        switch (fault.Kind)
        {
            case FaultKind.GatewayKill:
                await site.Gateway.KillAsync().ConfigureAwait(false);
                await Task.Delay(hold, ct).ConfigureAwait(false);
                await StartGatewayAsync(ct).ConfigureAwait(false);
                return (true, $"new pid {site.Gateway.Pid}");

            case FaultKind.GatewayPause:
            {
                var pid = site.Gateway.Pid;
                Signals.Send(pid, Signals.Stop);
                try
                {
                    await Task.Delay(hold, ct).ConfigureAwait(false);
                }
                finally
                {
                    Signals.Send(pid, Signals.Continue);
                }
                return (true, "");
            }

            case FaultKind.AgentKill:
            {
                var device = fault.Device!;
                var agent = site.Agent(device);
                var pid = agent.Pid;
                await agent.KillAsync().ConfigureAwait(false); // a supervisor between a reboot's exit and its next start starts nothing more
                await Task.Delay(hold, ct).ConfigureAwait(false);
                site.StartAgent(device);
                return (true, pid is null ? "it was between processes (rebooting)" : $"pid {pid}");
            }

            case FaultKind.AgentPause:
            {
                if (site.Agent(fault.Device!).Pid is not { } pid)
                    return (false, "no agent process (rebooting or gone)");
                Signals.Send(pid, Signals.Stop);
                try
                {
                    await Task.Delay(hold, ct).ConfigureAwait(false);
                }
                finally
                {
                    Signals.Send(pid, Signals.Continue);
                }
                return (true, $"pid {pid}");
            }

            case FaultKind.ProxyPause:
                site.Proxy.Pause();
                try
                {
                    await Task.Delay(hold, ct).ConfigureAwait(false);
                }
                finally
                {
                    site.Proxy.Resume();
                }
                return (true, "");

            case FaultKind.ProxySlow:
                site.Proxy.Slow(fault.DelayMs);
                try
                {
                    await Task.Delay(hold, ct).ConfigureAwait(false);
                }
                finally
                {
                    site.Proxy.Resume();
                }
                return (true, "");

            case FaultKind.ProxyCut:
                return (true, $"{site.Proxy.CutAll()} connection(s)");

            case FaultKind.ProxyReset:
                return (true, $"{site.Proxy.ResetAll()} connection(s)");

            case FaultKind.DiskFull:
            {
                if (site.Disk is not { } disk)
                    return (false, "no small disk");
                var written = disk.Disk.Fill();
                var free = disk.Disk.FreeBytes;
                try
                {
                    await Task.Delay(hold, ct).ConfigureAwait(false);
                }
                finally
                {
                    disk.Disk.Free();
                }
                return (true, $"filler {written >> 10} KiB, {free} bytes left");
            }

            case FaultKind.DatabaseRestart:
                if (site.Postgres is null)
                    return (false, "not in postgres mode");
                await site.Postgres.RestartImmediateAsync().ConfigureAwait(false);
                return (true, "");

            default:
                throw new ArgumentOutOfRangeException(nameof(fault), fault.Kind, "unknown fault");
        }
    }

    /// <summary>Start the killed gateway; a start that fails (its port still held a moment) is tried again.</summary>
    private async Task StartGatewayAsync(CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await site.Gateway.StartAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException e) when (attempt < 5)
            {
                lock (_gatewayStartFailures)
                    _gatewayStartFailures.Add($"{e.Message} {site.Gateway.LastError}".Trim());
                await site.Gateway.KillAsync().ConfigureAwait(false);
                await Task.Delay(500, ct).ConfigureAwait(false);
            }
        }
    }
}
