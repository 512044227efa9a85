using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Rig.Bench.Common;

/// <summary>Clean-up that must happen even when the benchmark is stopped by a signal (SIGTERM, SIGINT, SIGHUP),
/// where neither <c>finally</c> nor <c>DisposeAsync</c> runs (.NET does not raise ProcessExit on SIGTERM): kill the
/// gateway and agent processes it started, unmount its file systems. Actions run newest first (processes before
/// the file system they use), then the process ends as the signal asks. Dispose the handle once cleaned up normally.</summary>
internal static class ExitCleanup
{
    private static readonly Lock Gate = new();
    private static readonly List<Entry> Entries = [];
    private static PosixSignalRegistration[]? _registrations;

    private sealed class Entry(Action action) : IDisposable
    {
        public Action Action { get; } = action;

        public void Dispose()
        {
            lock (Gate)
                Entries.Remove(this);
        }
    }

    /// <summary>Run <paramref name="action"/> if a signal stops the process before the handle is disposed.</summary>
    public static IDisposable Add(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var entry = new Entry(action);
        lock (Gate)
        {
            _registrations ??= [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP }.Select(s => PosixSignalRegistration.Create(s, OnSignal))];
            Entries.Add(entry);
        }
        return entry;
    }

    /// <summary>Kill <paramref name="pid"/> and its children if a signal stops the process first.</summary>
    public static IDisposable KillOnExit(int pid) => Add(() =>
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
    });

    private static void OnSignal(PosixSignalContext context)
    {
        List<Entry> entries;
        lock (Gate)
        {
            entries = [.. Entries];
            Entries.Clear();
        }
        for (var i = entries.Count - 1; i >= 0; i--)
        {
            try
            {
                entries[i].Action();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"clean-up after {context.Signal} failed: {e.Message}");
            }
        }
        // context.Cancel stays false: the process ends as the signal asks.
    }
}
