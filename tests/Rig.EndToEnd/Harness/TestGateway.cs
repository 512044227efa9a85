using System.Security.Cryptography.X509Certificates;
using Rig.Cli.Operator;

namespace Rig.EndToEnd.Harness;

/// <summary>The tests' gateway: a real <c>rig server run</c> process (<see cref="GatewayHarness"/>) on free loopback ports,
/// logging at Information (tests read its event lines), so it can be killed with SIGKILL and started again on the same
/// data directory and ports.</summary>
internal static class TestGateway
{
    /// <summary><c>rig server init</c> on free ports, then start. The agent endpoint listens on
    /// <paramref name="agentListen"/> and its certificate names <paramref name="dnsName"/> (agents in a network
    /// namespace reach the gateway on a veth address, by a name their namespace's hosts file resolves).</summary>
    public static Task<GatewayHarness> StartAsync(string dataDirectory, string agentListen = "127.0.0.1", string dnsName = "localhost", IReadOnlyList<string>? runArguments = null) =>
        GatewayHarness.StartNewAsync(new GatewaySetup(dataDirectory) { Rig = Launch.Rig, AgentListen = agentListen, DnsName = dnsName, RunArguments = runArguments ?? [] });

    /// <summary>An operator API client for the gateway's admin token.</summary>
    public static OperatorClient Api(this GatewayHarness gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        return new(gateway.ApiUrl, gateway.Token, X509CertificateLoader.LoadCertificateFromFile(gateway.CaPath));
    }
}
