using System.Text.Json;
using Rig.Agent.Runtime;

namespace Rig.Agent.Platform;

/// <summary>What Rig installed and wrote on a device, kept on the device itself (<c>/var/lib/rig/state.json</c>,
/// like dpkg's database) so a device that loses its disk loses it too. Saved atomically after every change, or
/// once for a group of changes (<see cref="Deferred"/>).</summary>
internal sealed class PackageDatabase
{
    /// <summary>The saved form.</summary>
    public sealed record State
    {
        /// <summary>Installed packages.</summary>
        public List<InstalledPackageRecord> Packages { get; init; } = [];
        /// <summary>Configuration files written by write-file.</summary>
        public List<ManagedFileRecord> Files { get; init; } = [];
        /// <summary>Services and their state (sandbox platform).</summary>
        public List<ServiceRecord> Services { get; init; } = [];
        /// <summary>Boots of this device.</summary>
        public int BootCount { get; init; }
    }

    private readonly string _path;
    private readonly Lock _gate = new();
    private State _state;
    private int _deferring;
    private bool _dirty;

    /// <summary>Open the database at <paramref name="path"/> (created empty when missing).</summary>
    public PackageDatabase(string path)
    {
        _path = path;
        if (File.Exists(path))
        {
            try
            {
                _state = JsonSerializer.Deserialize(File.ReadAllText(path), AgentJson.Default.State) ?? new State();
            }
            catch (JsonException e)
            {
                throw new AgentException($"The device's package database '{path}' is damaged ({e.Message}); restore it or rebuild the device from the model.");
            }
        }
        else
        {
            _state = new State();
        }
    }

    /// <summary>A snapshot of the state.</summary>
    public State Snapshot
    {
        get
        {
            lock (_gate)
                return _state;
        }
    }

    /// <summary>Change the state and save it atomically (inside <see cref="Deferred"/>: when the scope ends). The state
    /// in memory is the device's as it is now, also when saving fails (disk full): the change happened on the device,
    /// so it is kept and saved with the next save (<see cref="Deferred"/>'s end saves whatever is unsaved).</summary>
    public void Update(Func<State, State> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_gate)
        {
            _state = change(_state);
            _dirty = true;
            if (_deferring == 0)
                SaveDirty();
        }
    }

    /// <summary>Changes made until the returned scope is disposed are saved once, at its end: the agent runs the
    /// commands of one answer in such a scope and commits its journal after it, so the saved database is never
    /// behind a journaled result. A crash inside the scope loses the changes and the results alike, and the
    /// commands run again when delivered again.</summary>
    public IDisposable Deferred()
    {
        lock (_gate)
            _deferring++;
        return new Scope(this);
    }

    /// <summary>Changes not saved yet (a save failed).</summary>
    public bool Unsaved
    {
        get
        {
            lock (_gate)
                return _dirty;
        }
    }

    private void EndDeferred()
    {
        lock (_gate)
        {
            if (--_deferring == 0)
                SaveDirty();
        }
    }

    /// <summary>Save if anything is unsaved; on failure (IOException: disk full) it stays unsaved and the exception is thrown.</summary>
    private void SaveDirty()
    {
        if (!_dirty)
            return;
        DeviceFileSystem.WriteAtomically(_path, JsonSerializer.SerializeToUtf8Bytes(_state, AgentJson.Default.State), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _dirty = false;
    }

    private sealed class Scope(PackageDatabase database) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                database.EndDeferred();
        }
    }
}

/// <summary>An installed package and the device paths it owns.</summary>
internal sealed record InstalledPackageRecord(string Name, string Version, string Format, string Sha256, List<string> Files, string? Service);

/// <summary>A configuration file Rig wrote.</summary>
internal sealed record ManagedFileRecord(string Path, string Sha256, string Mode, string Owner, string Group);

/// <summary>A service's state.</summary>
internal sealed record ServiceRecord(string Name, bool Running, bool Enabled);
