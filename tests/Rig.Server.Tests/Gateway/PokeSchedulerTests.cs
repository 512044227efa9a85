using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Rig.Protocol;
using Rig.Server.Packages;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Tests.Gateway;

/// <summary>The poke window on the gateway's clock: a poked agent that never inquires holds its place until the poke
/// timeout has passed on the <see cref="TimeProvider"/>, so the test moves time instead of waiting for it.</summary>
public sealed class PokeSchedulerTests : IAsyncLifetime
{
    private static readonly TimeSpan PokeTimeout = TimeSpan.FromHours(1); // never passes in real time during the test

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-pokes-{Guid.NewGuid():n}");
    private readonly FakeTimeProvider _clock = new();
    private readonly TcpListener _first = new(IPAddress.Loopback, 0);
    private readonly TcpListener _second = new(IPAddress.Loopback, 0);
    private RigStore _store = null!;
    private Rig.Server.Gateway.Gateway _gateway = null!;

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        await GatewayServer.InitializeAsync(options);
        _store = await RigStore.OpenAsync(options.EffectiveConnectionString);
        var limits = new RigLimits { PokeWindow = 1, PokeTimeout = PokeTimeout };
        var ca = CertificateAuthority.LoadOrCreate(Path.Combine(_dir, "ca"), limits, TimeProvider.System);
        _gateway = new Rig.Server.Gateway.Gateway(_store, new BlobStore(Path.Combine(_dir, "blobs")), ca, limits, NullLogger<Rig.Server.Gateway.Gateway>.Instance, _clock);
        _first.Start();
        _second.Start();
        await _store.TouchDeviceAsync("web-1", "127.0.0.1", ((IPEndPoint)_first.LocalEndpoint).Port, "test");
        await _store.TouchDeviceAsync("web-2", "127.0.0.1", ((IPEndPoint)_second.LocalEndpoint).Port, "test");
    }

    public async Task DisposeAsync()
    {
        _first.Dispose();
        _second.Dispose();
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_poked_agent_that_never_inquires_gives_its_place_back_once_the_poke_timeout_has_passed_on_the_clock()
    {
        await using var pokes = new Rig.Server.Gateway.PokeScheduler(_gateway);
        pokes.Schedule("web-1");
        pokes.Schedule("web-2");
        using var firstPoke = await AcceptPokeAsync(_first);

        await Task.Delay(300);
        Assert.False(_second.Pending(), "the window holds one starting agent: web-2 waits while web-1's poke is unanswered");

        // The scheduler may not be waiting yet when time first moves: move it again until web-2's poke comes.
        using var moved = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!_second.Pending())
        {
            _clock.Advance(PokeTimeout);
            await Task.Delay(50, moved.Token);
        }
        using var secondPoke = await AcceptPokeAsync(_second);
    }

    [Fact]
    public async Task An_inquiry_opens_the_window_for_the_next_poke_without_time_passing()
    {
        await using var pokes = new Rig.Server.Gateway.PokeScheduler(_gateway);
        pokes.Schedule("web-1");
        pokes.Schedule("web-2");
        using var firstPoke = await AcceptPokeAsync(_first);

        pokes.Answered("web-1");

        using var secondPoke = await AcceptPokeAsync(_second);
    }

    private static async Task<TcpClient> AcceptPokeAsync(TcpListener listener)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var client = await listener.AcceptTcpClientAsync(timeout.Token);
        var bytes = new byte[ProtocolInfo.PokeBytes.Length];
        await client.GetStream().ReadExactlyAsync(bytes, timeout.Token);
        Assert.Equal(ProtocolInfo.PokeBytes.ToArray(), bytes);
        return client;
    }
}
