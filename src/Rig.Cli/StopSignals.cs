using System.Runtime.InteropServices;

namespace Rig.Cli;

/// <summary>SIGINT (Ctrl+C) and SIGTERM as a cancellation, for the commands that own processes or listeners
/// (<c>rig server run</c>, <c>rig demo</c>): the first signal asks them to stop in order (a gateway closes its
/// listeners; a demo stops its agents and removes its directory); a second one ends the process at once, as usual.</summary>
internal sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration[] _registrations;

    /// <summary>Listen for the signals until disposed; <see cref="Token"/> also follows <paramref name="outer"/>.</summary>
    public StopSignals(CancellationToken outer)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    /// <summary>Cancelled by the first signal (or the outer token).</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Whether a stop was asked for, by a signal or the outer token.</summary>
    public bool IsStopRequested => _stop.IsCancellationRequested;

    private void Handle(PosixSignalContext context)
    {
        if (_stop.IsCancellationRequested)
            return; // the second signal: its default, the process ends now
        context.Cancel = true;
        _stop.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        _stop.Dispose();
    }
}
