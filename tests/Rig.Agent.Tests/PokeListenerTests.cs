using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Tests;

/// <summary>CHECKLIST 4: a poke is exactly <see cref="ProtocolInfo.PokeBytes"/> and only ever becomes one
/// "inquire" trigger; anything else becomes nothing, floods coalesce, and the listener carries on.</summary>
public sealed class PokeListenerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>The channel exactly as <see cref="AgentRuntime"/> creates it.</summary>
    private static Channel<InquiryReason> AgentChannel() =>
        Channel.CreateBounded<InquiryReason>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>A channel that keeps every write, to count them.</summary>
    private static Channel<InquiryReason> CountingChannel() => Channel.CreateUnbounded<InquiryReason>();

    private static PokeListener Start(ChannelWriter<InquiryReason> triggers)
    {
        var listener = new PokeListener(IPAddress.Loopback, 0, triggers, new AgentLog("test-device", verbose: false));
        listener.Start();
        return listener;
    }

    private static byte[] Poke => ProtocolInfo.PokeBytes.ToArray();

    /// <summary>Connect, send <paramref name="chunks"/>, half-close, and wait until the listener closes the
    /// connection (it has then finished with it). Returns what the listener sent back.</summary>
    private static async Task<int> SendAsync(int port, params byte[][] chunks)
    {
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Deadline);
        try
        {
            foreach (var chunk in chunks)
            {
                await client.Client.SendAsync(chunk, SocketFlags.None).WaitAsync(Deadline);
                if (chunks.Length > 1)
                    await Task.Delay(20); // separate TCP segments
            }
            client.Client.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // the listener already closed: it has seen enough
        }
        return await WaitForCloseAsync(client.Client);
    }

    private static async Task<int> WaitForCloseAsync(Socket socket)
    {
        var buffer = new byte[256];
        var received = 0;
        using var timeout = new CancellationTokenSource(Deadline);
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
                received += n;
        }
        catch (SocketException)
        {
            // reset by the listener: closed as well
        }
        return received;
    }

    private static async Task<InquiryReason> NextTriggerAsync(Channel<InquiryReason> channel)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        return await channel.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>Let handlers that might still be running finish before asserting that nothing was written.</summary>
    private static Task SettleAsync() => Task.Delay(TimeSpan.FromMilliseconds(300));

    [Fact]
    public async Task Exact_poke_bytes_write_one_poke_trigger()
    {
        var channel = CountingChannel();
        await using var listener = Start(channel.Writer);

        var answered = await SendAsync(listener.Port, Poke);

        Assert.Equal(InquiryReason.Poke, await NextTriggerAsync(channel));
        Assert.Equal(0, answered); // the listener says nothing back
        await SettleAsync();
        Assert.False(channel.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Poke_split_across_segments_is_still_one_poke()
    {
        var channel = CountingChannel();
        await using var listener = Start(channel.Writer);
        var poke = Poke;

        await SendAsync(listener.Port, poke[..3], poke[3..7], poke[7..]);

        Assert.Equal(InquiryReason.Poke, await NextTriggerAsync(channel));
        await SettleAsync();
        Assert.False(channel.Reader.TryRead(out _));
    }

    public static TheoryData<string, byte[]> NotPokes => new()
    {
        { "empty", [] },
        { "partial", ProtocolInfo.PokeBytes[..5].ToArray() },
        { "all but the newline", ProtocolInfo.PokeBytes[..^1].ToArray() },
        { "same length, wrong bytes", Encoding.ASCII.GetBytes("RIG-POKE/2\n") },
        { "lower case", Encoding.ASCII.GetBytes("rig-poke/1\n") },
        { "http", Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: agent\r\n\r\n") },
        { "leading space", Encoding.ASCII.GetBytes(" RIG-POKE/1\n") },
        { "binary garbage", [0x00, 0xFF, 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] },
    };

    [Theory]
    [MemberData(nameof(NotPokes))]
    public async Task Anything_but_the_poke_bytes_writes_nothing(string what, byte[] bytes)
    {
        Assert.NotNull(what);
        var channel = CountingChannel();
        await using var listener = Start(channel.Writer);

        var answered = await SendAsync(listener.Port, bytes);
        await SettleAsync();

        Assert.False(channel.Reader.TryRead(out _));
        Assert.Equal(0, answered);
        // The listener is still there: a real poke afterwards works.
        await SendAsync(listener.Port, Poke);
        Assert.Equal(InquiryReason.Poke, await NextTriggerAsync(channel));
    }

    [Fact]
    public async Task Connections_closed_at_once_write_nothing()
    {
        var channel = CountingChannel();
        await using var listener = Start(channel.Writer);

        for (var i = 0; i < 20; i++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, listener.Port).WaitAsync(Deadline);
            if (i % 2 == 0)
                client.Client.LingerState = new LingerOption(true, 0); // reset instead of a clean close
        }
        await SettleAsync();

        Assert.False(channel.Reader.TryRead(out _));
        await SendAsync(listener.Port, Poke);
        Assert.Equal(InquiryReason.Poke, await NextTriggerAsync(channel));
        await SettleAsync();
        Assert.False(channel.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Partial_poke_held_open_is_dropped_after_the_read_deadline_and_writes_nothing()
    {
        var channel = CountingChannel();
        await using var listener = Start(channel.Writer);
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, listener.Port).WaitAsync(Deadline);

        await client.Client.SendAsync(Poke.AsMemory(0, 4), SocketFlags.None);
        // The listener gives up on its own (no half-close from us); if it did not, this throws at the test's deadline.
        Assert.Equal(0, await WaitForCloseAsync(client.Client));

        Assert.False(channel.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Fifty_pokes_at_once_leave_at_most_one_pending_trigger()
    {
        var channel = AgentChannel();
        await using var listener = Start(channel.Writer);

        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => SendAsync(listener.Port, Poke)));
        await SettleAsync();

        Assert.True(channel.Reader.TryRead(out var reason));
        Assert.Equal(InquiryReason.Poke, reason);
        Assert.False(channel.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Listener_survives_garbage_floods_and_resets_and_still_accepts_a_poke()
    {
        var channel = AgentChannel();
        await using var listener = Start(channel.Writer);
        var garbage = Encoding.ASCII.GetBytes("\x16\x03\x01 not a poke at all, and rather long for one\r\n");

        await Task.WhenAll(Enumerable.Range(0, 60).Select(i => (i % 3) switch
        {
            0 => SendAsync(listener.Port, garbage),
            1 => SendAsync(listener.Port, Poke[..6]),
            _ => SendAsync(listener.Port, Poke),
        }));
        await SettleAsync();
        while (channel.Reader.TryRead(out _))
        {
        }

        // Handlers release their slot just after closing; a poke dropped in that instant is retried, like the gateway would.
        var triggered = false;
        for (var attempt = 0; attempt < 5 && !triggered; attempt++)
        {
            await SendAsync(listener.Port, Poke);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                triggered = await channel.Reader.ReadAsync(wait.Token) == InquiryReason.Poke;
            }
            catch (OperationCanceledException)
            {
            }
        }
        Assert.True(triggered, "the listener no longer turns a poke into a trigger");
    }

    [Fact]
    public async Task Disposed_listener_stops_accepting()
    {
        var channel = CountingChannel();
        var listener = Start(channel.Writer);
        var port = listener.Port;

        await listener.DisposeAsync();

        using var client = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Deadline));
        Assert.False(channel.Reader.TryRead(out _));
    }
}
