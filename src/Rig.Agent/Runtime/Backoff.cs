using Rig.Protocol;

namespace Rig.Agent.Runtime;

/// <summary>The one retry policy of every request the agent makes to its gateway (exchange, blob download,
/// enrollment): transient failures (<see cref="GatewayUnavailableException"/>) are retried with the jittered exponential
/// delays of <see cref="RigLimits.RetryDelay"/>, without a count limit, until the request succeeds, is refused, or the
/// agent stops. A poke (the gateway is back: it pokes the devices with work when it starts) cuts the current wait short;
/// the next wait still grows, and no wait is shorter than <see cref="RigLimits.RetryInitialDelay"/>, so a flood of
/// forged pokes cannot turn the agent into a load on a gateway that is down.</summary>
internal sealed class Backoff(RigLimits limits)
{
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>End the current wait (a poke arrived).</summary>
    public void Wake() => Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Wait before retry <paramref name="attempt"/> (0-based); returns early when woken.</summary>
    public async Task DelayAsync(int attempt, CancellationToken ct)
    {
        var wake = Volatile.Read(ref _wake).Task;
        var delay = limits.RetryDelay(attempt, Random.Shared);
        var floor = delay < limits.RetryInitialDelay ? delay : limits.RetryInitialDelay;
        await Task.Delay(floor, ct).ConfigureAwait(false);
        if (delay > floor)
            await Task.WhenAny(Task.Delay(delay - floor, ct), wake).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>Run <paramref name="request"/> until it succeeds: transient failures are logged and retried, anything
    /// else (a refusal, a bad answer) is the caller's.</summary>
    public async Task<T> RetryAsync<T>(Func<CancellationToken, Task<T>> request, AgentLog log, string what, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(log);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await request(ct).ConfigureAwait(false);
            }
            catch (GatewayUnavailableException e) when (!ct.IsCancellationRequested)
            {
                log.Warn(AgentEvents.GatewayUnavailable, $"{what}: {e.Message}; retry {attempt + 1}");
                await DelayAsync(attempt, ct).ConfigureAwait(false);
            }
        }
    }
}
