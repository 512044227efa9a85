using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Rig.Server.Gateway;
using Rig.Server.Store;

namespace Rig.Server.Tests.Gateway;

/// <summary>The audit log's head goes to the gateway's log on the gateway's clock (every interval and at stop), so the
/// test moves time instead of waiting five minutes.</summary>
public sealed class AuditHeadLogTests : IAsyncLifetime
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("rig-audit-head-").FullName;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
    private readonly LineLogger _log = new();
    private RigStore _store = null!;

    public async Task InitializeAsync() => _store = await RigStore.OpenAsync($"Data Source={Path.Combine(_dir, "rig.db")}", _clock);

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task The_head_is_logged_every_interval_on_the_clock_and_at_stop()
    {
        var appended = await _store.AppendAuditAsync([new AuditEntry("alice", "model.apply", "rev=1", null, "ok", null)]);
        var head = new AuditHeadLog(_store, Interval, _clock, _log);
        head.Start();
        Assert.Empty(_log.Lines); // not at start: the first line there is the listening line

        // The loop may not be waiting yet when time first moves: move it again until the line comes.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (_log.Lines.IsEmpty)
        {
            _clock.Advance(Interval);
            await Task.Delay(20, timeout.Token);
        }
        var first = _log.Lines.First();
        Assert.Equal((1802, $"Audit log head: seq 1 hash {appended[0].Hash}"), first);

        var second = await _store.AppendAuditAsync([new AuditEntry("bob", "rollout.start", "r", null, "ok", null)]);
        await head.DisposeAsync();
        Assert.Equal((1802, $"Audit log head: seq 2 hash {second[0].Hash}"), _log.Lines.Last());
    }

    /// <summary>Keeps each line's event id and message.</summary>
    private sealed class LineLogger : ILogger
    {
        public ConcurrentQueue<(int EventId, string Message)> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue((eventId.Id, formatter(state, exception)));
    }
}
