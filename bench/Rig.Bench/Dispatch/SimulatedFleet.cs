using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Rig.Agent.Runtime;
using Rig.Cli.Operator;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Gateway;

namespace Rig.Bench.Dispatch;

/// <summary>One simulated agent: its own enrolled client certificate and poke address, the real protocol
/// (a NEW mTLS connection per session, kept alive until "no command"), and commands answered at once
/// (the point is the gateway, not the work). With <see cref="SimulatedFleet.Batch"/> above 1 it asks for several
/// commands per answer and reports their results together, as the real agent does.</summary>
internal sealed class SimulatedAgent(string name, X509Certificate2 certificate, IPAddress pokeAddress)
{
    private int _inSession;
    private int _pokedAgain;

    /// <summary>Device name.</summary>
    public string Name { get; } = name;
    /// <summary>Client certificate with its key.</summary>
    public X509Certificate2 Certificate { get; } = certificate;
    /// <summary>The loopback address the gateway pokes.</summary>
    public IPAddress PokeAddress { get; } = pokeAddress;
    /// <summary>Commands answered.</summary>
    public int Commands;
    /// <summary>Timestamp (Stopwatch) of the first poke of the current round, 0 when none.</summary>
    public long PokedAt;
    /// <summary>Timestamp of the first command of the current round, 0 when none.</summary>
    public long FirstCommandAt;
    /// <summary>Timestamp of the last "no command" of the current round.</summary>
    public long DoneAt;
    /// <summary>Timestamp of the first answer since <see cref="AnsweredAt"/> was last cleared, 0 when none.</summary>
    public long AnsweredAt;
    /// <summary>Transport failures retried (gateway down, reset).</summary>
    public int Retries;
    /// <summary>Refusals or protocol errors (never expected).</summary>
    public int Failures;
    /// <summary>The last failure.</summary>
    public string? LastFailure;

    /// <summary>Forget the last round's timestamps.</summary>
    public void Reset()
    {
        PokedAt = FirstCommandAt = DoneAt = 0;
    }

    /// <summary>A poke arrived: run a session unless one runs; a poke during a session runs one more after it.</summary>
    public void Poked(SimulatedFleet fleet)
    {
        Interlocked.CompareExchange(ref PokedAt, Stopwatch.GetTimestamp(), 0);
        if (Interlocked.Exchange(ref _inSession, 1) == 1)
        {
            Interlocked.Exchange(ref _pokedAgain, 1);
            return;
        }
        _ = Task.Run(async () =>
        {
            do
            {
                Interlocked.Exchange(ref _pokedAgain, 0);
                await SessionAsync(fleet, InquiryReason.Poke).ConfigureAwait(false);
            }
            while (Interlocked.Exchange(ref _pokedAgain, 0) == 1);
            Interlocked.Exchange(ref _inSession, 0);
        });
    }

    /// <summary>One session: new connection, inquire, answer commands until "no command"; transport failures are
    /// retried with the protocol's jittered backoff (the same request again).</summary>
    public async Task SessionAsync(SimulatedFleet fleet, InquiryReason reason, Action? firstAnswer = null)
    {
        var client = new GatewayClient(fleet.GatewayUrl, Certificate, fleet.Ca, fleet.Limits);
        try
        {
            var request = Request(reason, null, fleet);
            for (var attempt = 0; ;)
            {
                ExchangeResponse response;
                try
                {
                    response = await client.ExchangeAsync(request, CancellationToken.None).ConfigureAwait(false);
                }
                catch (GatewayUnavailableException)
                {
                    Interlocked.Increment(ref Retries);
                    await Task.Delay(fleet.Limits.RetryDelay(attempt++, Random.Shared)).ConfigureAwait(false);
                    client.Dispose();
                    client = new GatewayClient(fleet.GatewayUrl, Certificate, fleet.Ca, fleet.Limits);
                    continue;
                }
                catch (Exception e) when (e is GatewayRefusalException or ProtocolException)
                {
                    Interlocked.Increment(ref Failures);
                    LastFailure = e.Message;
                    return;
                }
                attempt = 0;
                if (firstAnswer is not null)
                {
                    firstAnswer();
                    firstAnswer = null;
                }
                Interlocked.CompareExchange(ref AnsweredAt, Stopwatch.GetTimestamp(), 0);
                Interlocked.Increment(ref fleet.TotalExchanges);
                if (response.Answer != ExchangeAnswer.Command || response.Command is not { } command)
                {
                    DoneAt = Stopwatch.GetTimestamp();
                    return;
                }
                Interlocked.CompareExchange(ref FirstCommandAt, Stopwatch.GetTimestamp(), 0);
                // Every command of the answer "runs" (at once) and is reported with the next inquiry, in order.
                var results = new List<CommandResult>(1 + (response.More?.Count ?? 0)) { Succeeded(command) };
                foreach (var more in response.More ?? [])
                    results.Add(Succeeded(more));
                Interlocked.Add(ref Commands, results.Count);
                Interlocked.Add(ref fleet.TotalCommands, results.Count);
                request = Request(InquiryReason.Continue, results, fleet);
            }
        }
        finally
        {
            client.Dispose();
        }
    }

    private static CommandResult Succeeded(Command command) => new() { CommandId = command.Id, Outcome = CommandOutcome.Succeeded, Output = "simulated" };

    private ExchangeRequest Request(InquiryReason reason, List<CommandResult>? results, SimulatedFleet fleet) => new()
    {
        ProtocolVersion = ProtocolInfo.Version,
        Device = Name,
        RequestId = Guid.NewGuid().ToString("n"),
        Reason = reason,
        AgentVersion = "bench",
        PokePort = fleet.PokePort,
        PokeHost = PokeAddress.ToString(),
        Result = results is [var only] ? only : null,
        Results = results is { Count: > 1 } ? results : null,
        MaxCommands = fleet.Batch > 1 ? fleet.Batch : null,
    };
}

/// <summary>N simulated agents in one process. They share one poke listener on 0.0.0.0: each agent reports its
/// own loopback address (127.1.x.y), so the address the gateway connected to says which agent was poked.</summary>
internal sealed class SimulatedFleet : IAsyncDisposable
{
    private readonly ConcurrentDictionary<IPAddress, SimulatedAgent> _byAddress = new();
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private Task? _accepting;

    /// <summary>Commands answered by all agents.</summary>
    public long TotalCommands;

    /// <summary>Exchanges (HTTP round trips) answered by the gateway.</summary>
    public long TotalExchanges;

    /// <summary>Most commands an agent asks for in one exchange (1: one command per round trip).</summary>
    public int Batch { get; set; } = 1;

    private SimulatedFleet(Uri gateway, X509Certificate2 ca, IReadOnlyList<SimulatedAgent> agents)
    {
        GatewayUrl = gateway;
        Ca = ca;
        Agents = agents;
        foreach (var agent in agents)
            _byAddress[agent.PokeAddress] = agent;
        _listener = new TcpListener(IPAddress.Any, 0);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start(backlog: 4096);
    }

    /// <summary>Gateway agent endpoint (the floor server's while the floor is measured).</summary>
    public Uri GatewayUrl { get; set; }
    /// <summary>Pinned CA.</summary>
    public X509Certificate2 Ca { get; }
    /// <summary>The agents.</summary>
    public IReadOnlyList<SimulatedAgent> Agents { get; }
    /// <summary>Limits the agents use (the protocol's defaults).</summary>
    public RigLimits Limits { get; } = RigLimits.Default;
    /// <summary>The shared poke port.</summary>
    public int PokePort => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Enroll <paramref name="count"/> agents for devices named by <paramref name="name"/> through the real
    /// enrollment endpoint (one-time token, CSR signed by the gateway's CA).</summary>
    public static async Task<SimulatedFleet> EnrollAsync(OperatorClient api, Uri gateway, X509Certificate2 ca, int count, Func<int, string> name, int parallel, CancellationToken ct)
    {
        var agents = new SimulatedAgent[count];
        using var enrollClient = new GatewayClient(gateway, null, ca, RigLimits.Default);
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct }, async (i, token) =>
        {
            var device = name(i);
            var enrollment = await api.PostAsync<EnrollmentToken>($"api/v1/devices/{device}/enrollment-token", null, token).ConfigureAwait(false);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var csr = new CertificateRequest($"CN={device}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
            var response = await enrollClient.EnrollAsync(new EnrollRequest { ProtocolVersion = ProtocolInfo.Version, Token = enrollment.Token, Device = device, CsrPem = csr }, token).ConfigureAwait(false);
            using var issued = X509Certificate2.CreateFromPem(response.CertificatePem);
            // Round-trip through PKCS#12 so the TLS stack gets a certificate with a usable private key on every platform.
            var certificate = X509CertificateLoader.LoadPkcs12(issued.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
            agents[i] = new SimulatedAgent(device, certificate, new IPAddress([127, (byte)(1 + i / 65536), (byte)(i / 256 % 256), (byte)(i % 256)]));
        }).ConfigureAwait(false);
        var fleet = new SimulatedFleet(gateway, ca, agents);
        fleet._accepting = fleet.AcceptAsync(fleet._stop.Token);
        return fleet;
    }

    /// <summary>Every agent checks in once (the gateway learns its poke endpoint).</summary>
    public Task CheckInAsync(int parallel, CancellationToken ct) =>
        Parallel.ForEachAsync(Agents, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct }, async (agent, _) => await agent.SessionAsync(this, InquiryReason.Startup).ConfigureAwait(false));

    private async Task AcceptAsync(CancellationToken ct)
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
            catch (SocketException)
            {
                continue;
            }
            var local = ((IPEndPoint)socket.LocalEndPoint!).Address;
            _ = Task.Run(async () =>
            {
                using (socket)
                {
                    var buffer = new byte[ProtocolInfo.PokeBytes.Length];
                    var read = 0;
                    try
                    {
                        while (read < buffer.Length)
                        {
                            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, ct).ConfigureAwait(false);
                            if (n == 0)
                                break;
                            read += n;
                        }
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException)
                    {
                        return;
                    }
                    if (read == buffer.Length && buffer.AsSpan().SequenceEqual(ProtocolInfo.PokeBytes) && _byAddress.TryGetValue(local.IsIPv4MappedToIPv6 ? local.MapToIPv4() : local, out var agent))
                        agent.Poked(this);
                }
            }, ct);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_accepting is not null)
            await _accepting.ConfigureAwait(false);
        foreach (var agent in Agents)
            agent.Certificate.Dispose();
        _stop.Dispose();
    }
}
