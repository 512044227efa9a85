using System.Collections.Concurrent;

namespace Rig.Server.Gateway;

/// <summary>Wakes whoever watches a device (a <c>rig device log --follow</c> stream) when something was recorded for
/// it, so output is sent as it arrives instead of at the next poll. A missed signal only delays: watchers also read
/// the store again after <see cref="DeviceActivity.WaitAsync"/>'s timeout.</summary>
internal sealed class DeviceActivity
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiting = new(StringComparer.Ordinal);

    /// <summary>Something was recorded for <paramref name="device"/>: wake its watchers.</summary>
    public void Signal(string device)
    {
        if (_waiting.TryRemove(device, out var waiting))
            waiting.TrySetResult();
    }

    /// <summary>Wait until <paramref name="device"/> is signalled or <paramref name="timeout"/> passes.</summary>
    public async Task WaitAsync(string device, TimeSpan timeout, CancellationToken ct)
    {
        var waiting = _waiting.GetOrAdd(device, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await waiting.Task.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }
}

internal sealed partial class Gateway
{
    /// <summary>Signals per device when results or queue changes were recorded.</summary>
    public DeviceActivity Activity { get; } = new();
}
