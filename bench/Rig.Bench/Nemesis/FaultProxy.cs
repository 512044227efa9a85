using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Rig.Bench.Nemesis;

/// <summary>A plain TCP forwarder on loopback between the agents and the gateway's agent port, which the nemesis
/// uses to break the network: <see cref="Pause"/> (bytes stop flowing both ways and new connections wait, like a
/// black-holed link), <see cref="CutAll"/> (every open connection is closed with FIN), <see cref="ResetAll"/> (with
/// RST), <see cref="Slow"/> (every chunk is held back a while). The agents' TLS passes through untouched: they enroll
/// against the proxy's port as <c>localhost</c>, so SNI and the gateway's certificate are the gateway's own.</summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    private const int BufferSize = 16 * 1024;
    private readonly Socket _listener;
    private readonly IPEndPoint _upstream;
    private readonly ConcurrentDictionary<long, Link> _links = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private TaskCompletionSource _flowing = Completed();
    private long _nextId;
    private int _slowMs;

    private FaultProxy(Socket listener, IPEndPoint upstream)
    {
        _listener = listener;
        _upstream = upstream;
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

    /// <summary>The port agents connect to.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>Connections accepted so far.</summary>
    public long Accepted => Interlocked.Read(ref _nextId);

    /// <summary>Connections closed by <see cref="CutAll"/> or <see cref="ResetAll"/>.</summary>
    public long Broken => Interlocked.Read(ref _broken);

    /// <summary>Connections the upstream (gateway) refused.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    private long _broken;
    private long _refused;

    /// <summary>Listen on 127.0.0.1:<paramref name="port"/> and forward to 127.0.0.1:<paramref name="upstreamPort"/>.</summary>
    public static FaultProxy Start(int port, int upstreamPort)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1024);
        return new FaultProxy(listener, new IPEndPoint(IPAddress.Loopback, upstreamPort));
    }

    /// <summary>Stop forwarding: open connections hold their bytes, new ones are accepted but not connected upstream.</summary>
    public void Pause()
    {
        lock (_links)
        {
            if (_flowing.Task.IsCompleted)
                _flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Forward again (also ends <see cref="Slow"/>).</summary>
    public void Resume()
    {
        Volatile.Write(ref _slowMs, 0);
        lock (_links)
            _flowing.TrySetResult();
    }

    /// <summary>Hold every chunk back <paramref name="delayMs"/> ms before forwarding it, until <see cref="Resume"/>.</summary>
    public void Slow(int delayMs) => Volatile.Write(ref _slowMs, delayMs);

    /// <summary>Close every open connection (both sides get FIN); returns how many.</summary>
    public int CutAll() => Break(reset: false);

    /// <summary>Reset every open connection (both sides get RST); returns how many.</summary>
    public int ResetAll() => Break(reset: true);

    private int Break(bool reset)
    {
        var count = 0;
        foreach (var (id, link) in _links)
        {
            if (_links.TryRemove(id, out _))
            {
                link.Close(reset);
                count++;
            }
        }
        Interlocked.Add(ref _broken, count);
        return count;
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (ct.IsCancellationRequested)
                    return;
                continue;
            }
            _ = HandleAsync(client, ct);
        }
    }

    private async Task HandleAsync(Socket client, CancellationToken ct)
    {
        var id = Interlocked.Increment(ref _nextId);
        var link = new Link(client);
        _links[id] = link;
        try
        {
            await WaitFlowingAsync(ct).ConfigureAwait(false);
            var upstream = link.Connect();
            try
            {
                await upstream.ConnectAsync(_upstream, ct).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref _refused);
                link.Close(reset: true); // the gateway is down: the agent sees its connection reset, as without a proxy it would be refused
                return;
            }
            client.NoDelay = true;
            await Task.WhenAll(PumpAsync(client, upstream, link, ct), PumpAsync(upstream, client, link, ct)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
        {
            // a broken link: both sides are closed below
        }
        finally
        {
            if (_links.TryRemove(id, out _))
                link.Close(reset: false);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, Link link, CancellationToken ct)
    {
        var buffer = new byte[BufferSize];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                    break;
                await WaitFlowingAsync(ct).ConfigureAwait(false);
                if (Volatile.Read(ref _slowMs) is > 0 and var delay)
                    await Task.Delay(delay, ct).ConfigureAwait(false);
                await WaitFlowingAsync(ct).ConfigureAwait(false);
                var sent = 0;
                while (sent < n)
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, ct).ConfigureAwait(false);
            }
            try
            {
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
        {
            link.Close(reset: false);
        }
    }

    private Task WaitFlowingAsync(CancellationToken ct)
    {
        Task flowing;
        lock (_links)
            flowing = _flowing.Task;
        return flowing.IsCompleted ? Task.CompletedTask : flowing.WaitAsync(ct);
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        Resume();
        Break(reset: false);
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    /// <summary>One agent connection and its upstream twin.</summary>
    private sealed class Link(Socket client)
    {
        private readonly Lock _gate = new();
        private int _closed;

        private Socket? Upstream { get; set; }

        /// <summary>The upstream socket (not connected yet); throws when the link was broken meanwhile.</summary>
        public Socket Connect()
        {
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            lock (_gate)
            {
                if (Volatile.Read(ref _closed) != 0)
                {
                    upstream.Dispose();
                    throw new ObjectDisposedException("link");
                }
                Upstream = upstream;
            }
            return upstream;
        }

        public void Close(bool reset)
        {
            Socket? upstream;
            lock (_gate)
            {
                if (Interlocked.Exchange(ref _closed, 1) != 0)
                    return;
                upstream = Upstream;
            }
            foreach (var socket in new[] { client, upstream })
            {
                if (socket is null)
                    continue;
                try
                {
                    if (reset)
                        socket.LingerState = new LingerOption(true, 0); // close sends RST
                    else
                        socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
                socket.Dispose();
            }
        }
    }
}
