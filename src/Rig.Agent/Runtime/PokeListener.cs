using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Runtime;

/// <summary>Listens for pokes. A poke carries nothing the agent trusts: whatever arrives, the only effect is
/// that the agent inquires at its own configured gateway over a new mTLS connection (a forged poke gains
/// nothing, CHECKLIST 4). Pokes are coalesced into at most one pending trigger; handlers are bounded.</summary>
internal sealed class PokeListener : IAsyncDisposable
{
    private const int MaxConcurrentHandlers = 16;
    private readonly TcpListener _listener;
    private readonly ChannelWriter<InquiryReason> _triggers;
    private readonly AgentLog _log;
    private readonly Action? _poked; // cuts a retry wait short (Backoff.Wake): the gateway that pokes is up
    private readonly SemaphoreSlim _handlers = new(MaxConcurrentHandlers, MaxConcurrentHandlers);
    private readonly CancellationTokenSource _stop = new();
    private Task? _accepting;

    /// <summary>Bind the listener.</summary>
    public PokeListener(IPAddress address, int port, ChannelWriter<InquiryReason> triggers, AgentLog log, Action? poked = null)
    {
        _poked = poked;
        _listener = new TcpListener(address, port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            _listener.Start(backlog: 64);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable or SocketError.AccessDenied)
        {
            _listener.Dispose();
            throw new AgentException(e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => $"port {port} (poke listener, {address}) is in use by another process; choose another with --poke-port N "
                    + "when enrolling (or pokePort in the state directory's agent.json), or stop the other process (`ss -ltnp 'sport = :" + port + "'` shows it).",
                SocketError.AddressNotAvailable => $"the poke listener cannot listen on {address}:{port}: this device has no such address; choose --poke-address when "
                    + "enrolling (or pokeAddress in agent.json), e.g. 0.0.0.0.",
                _ => $"the poke listener may not listen on port {port} ({e.Message}); choose a port above 1023 with --poke-port or run the agent as root.",
            });
        }
        _triggers = triggers;
        _log = log;
    }

    /// <summary>The bound port.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Start accepting.</summary>
    public void Start() => _accepting = AcceptLoopAsync(_stop.Token);

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.Warn(AgentEvents.PokeAccept, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false); // e.g. out of descriptors: do not spin
                continue;
            }
            if (!_handlers.Wait(0))
            {
                socket.Dispose(); // flood: drop, a pending trigger is already enough
                continue;
            }
            _ = HandleAsync(socket, ct);
        }
    }

    private async Task HandleAsync(Socket socket, CancellationToken ct)
    {
        try
        {
            using (socket)
            {
                var expected = ProtocolInfo.PokeBytes.ToArray();
                var buffer = new byte[expected.Length];
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                var read = 0;
                while (read < buffer.Length)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (n == 0)
                        break;
                    read += n;
                }
                if (read == buffer.Length && buffer.AsSpan().SequenceEqual(expected))
                {
                    _triggers.TryWrite(InquiryReason.Poke);
                    _poked?.Invoke();
                    _log.Debug(AgentEvents.Poked, $"from {socket.RemoteEndPoint}");
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // a broken or slow poke is simply not a poke
        }
        finally
        {
            _handlers.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_accepting is not null)
            await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }
}
