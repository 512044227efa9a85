using System.Net;
using System.Net.Sockets;

namespace Rig.Supervision;

/// <summary>Free TCP ports on loopback for servers that tests and benchmarks start (and restart) themselves.</summary>
internal static class LoopbackPorts
{
    /// <summary><paramref name="count"/> distinct free ports, below the kernel's ephemeral range (32768-60999 by
    /// default). A server restarted on the same port must find it free: a port from the ephemeral range can be taken
    /// meanwhile as the source port of an outgoing connection (an agent retrying against the stopped gateway), and
    /// two separate "bind port 0" probes can return the same port.</summary>
    public static int[] Free(int count)
    {
        var held = new List<TcpListener>();
        try
        {
            while (held.Count < count)
            {
                var listener = new TcpListener(IPAddress.Loopback, Random.Shared.Next(20_000, 32_000));
                try
                {
                    listener.Start();
                    held.Add(listener);
                }
                catch (SocketException)
                {
                    listener.Dispose(); // taken: try another
                }
            }
            return [.. held.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in held)
                listener.Dispose();
        }
    }
}
