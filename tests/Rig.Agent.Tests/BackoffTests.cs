using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Tests;

/// <summary>The one retry policy of the agent's requests: waits grow, a poke (the gateway is back and pokes the devices
/// with work when it starts) cuts the current wait short, and only real pokes do.</summary>
public sealed class BackoffTests
{
    [Fact]
    public async Task A_wake_ends_a_long_retry_wait_at_once()
    {
        // A wait of up to 10 minutes, as after many failed attempts against a gateway that was down.
        var backoff = new Backoff(RigLimits.Default with { RetryInitialDelay = TimeSpan.FromMilliseconds(50), RetryMaxDelay = TimeSpan.FromMinutes(10) });
        var wait = backoff.DelayAsync(attempt: 30, CancellationToken.None);
        await Task.Delay(200); // past the floor (the initial delay), inside the long wait

        backoff.Wake();

        await wait.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_wake_before_a_wait_does_not_shorten_a_later_one_below_the_floor_and_a_stop_ends_it()
    {
        var backoff = new Backoff(RigLimits.Default with { RetryInitialDelay = TimeSpan.FromMilliseconds(300), RetryMaxDelay = TimeSpan.FromMinutes(10) });
        backoff.Wake(); // a poke while no wait runs is not remembered for the next wait
        using var stop = new CancellationTokenSource();
        var wait = backoff.DelayAsync(attempt: 30, stop.Token);
        await Task.Delay(600);
        var completedEarly = wait.IsCompleted; // the wait is up to 10 minutes; 600 ms in, it runs unless a stale wake ended it

        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(completedEarly);
    }

    [Fact]
    public async Task A_valid_poke_wakes_the_retry_wait_and_garbage_does_not()
    {
        var woken = 0;
        var triggers = Channel.CreateUnbounded<InquiryReason>();
        await using var listener = new PokeListener(IPAddress.Loopback, 0, triggers.Writer, new AgentLog("test-device", verbose: false), () => Interlocked.Increment(ref woken));
        listener.Start();

        await SendAsync(listener.Port, "GET / HTTP/1.1\r\n\r\n"u8.ToArray());
        await SendAsync(listener.Port, ProtocolInfo.PokeBytes.ToArray());
        await triggers.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)); // the real poke's trigger

        Assert.Equal(1, Volatile.Read(ref woken));
    }

    public static TheoryData<Exception, bool> Failures => new()
    {
        { new SocketException((int)SocketError.NotConnected), true }, // HttpClient lets this through unwrapped after a reset
        { new HttpRequestException("connection refused"), true },
        { new IOException("reset by peer"), true },
        { new TaskCanceledException("timeout"), true },
        { new InvalidOperationException("a bug"), false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Connection_failures_of_every_shape_are_retried_and_other_errors_are_not(Exception failure, bool retried)
    {
        Assert.Equal(retried, GatewayClient.IsTransportFailure(failure, CancellationToken.None));
        Assert.False(GatewayClient.IsTransportFailure(new OperationCanceledException(), new CancellationToken(canceled: true))); // a stop is not a failure
    }

    private static async Task SendAsync(int port, byte[] bytes)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        await client.Client.SendAsync(bytes, SocketFlags.None);
        client.Client.Shutdown(SocketShutdown.Send);
        var buffer = new byte[64];
        try
        {
            // Until the listener closes the connection: it has then finished with what was sent.
            while (await client.Client.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10)) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // closed with a reset (unread bytes): finished too
        }
    }
}
