using System.Diagnostics;

namespace Rig.EndToEnd.Harness;

/// <summary>A <c>rig</c> process left running while the test acts on the world around it: every line it prints is kept,
/// and the test can wait for a line (an event the process logged) instead of sleeping.</summary>
internal sealed class RunningRig : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RunningRig(Process process) => _process = process;

    /// <summary>Start <c>rig ARGS</c>.</summary>
    public static RunningRig Start(params string[] args)
    {
        var process = Process.Start(Launch.Rig.StartInfo(args))!;
        var running = new RunningRig(process);
        process.OutputDataReceived += (_, e) => running.Add(e.Data);
        process.ErrorDataReceived += (_, e) => running.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return running;
    }

    /// <summary>Everything printed so far (standard output and error, interleaved as they arrived).</summary>
    public string Output
    {
        get
        {
            lock (_gate)
                return string.Join('\n', _lines);
        }
    }

    /// <summary>Lines printed so far that satisfy <paramref name="match"/>.</summary>
    public int Count(Func<string, bool> match)
    {
        lock (_gate)
            return _lines.Count(match);
    }

    private void Add(string? line)
    {
        if (line is null)
            return;
        TaskCompletionSource changed;
        lock (_gate)
        {
            _lines.Add(line);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>Wait until at least <paramref name="count"/> printed lines satisfy <paramref name="match"/>; fails if the
    /// process ends first or <paramref name="bound"/> passes (a bound against a hung test, not a timing assertion).</summary>
    public async Task WaitForLinesAsync(Func<string, bool> match, int count, TimeSpan bound, string what)
    {
        using var cts = new CancellationTokenSource(bound);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_lines.Count(match) >= count)
                    return;
                changed = _changed.Task;
            }
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                lock (_gate)
                {
                    if (_lines.Count(match) >= count)
                        return;
                }
                Assert.Fail($"rig exited ({_process.ExitCode}) before {what}:\n{Output}");
            }
            var exited = _process.WaitForExitAsync(cts.Token);
            try
            {
                await Task.WhenAny(changed, exited).WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"no sign of {what} within {bound}:\n{Output}");
            }
        }
    }

    /// <summary>Wait for the process to end (bounded by <paramref name="bound"/> against a hung test); its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan bound)
    {
        using var cts = new CancellationTokenSource(bound);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"rig did not finish within {bound}:\n{Output}");
        }
        _process.WaitForExit(); // the output handlers have seen every line
        return _process.ExitCode;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
