using System.Text;
using System.Text.Json;
using Rig.Protocol.Messages;

namespace Rig.Protocol.Tests;

/// <summary>What a configure-network command may carry: checked by the validator, on the wire and by the agent.</summary>
public sealed class NetworkRulesTests
{
    private static NetworkCommand Valid => new("eth0", NetworkMode.Static, ["10.0.0.2", "fd00::53"], NetworkRenderers.Networkd, 30, "10.0.0.5/24", "10.0.0.1");

    [Theory]
    [InlineData("eth0")]
    [InlineData("enp3s0f1")]
    [InlineData("br-lan.100")]
    [InlineData("wg_0")]
    [InlineData("a23456789012345")]
    public void Linux_interface_names_are_accepted(string name) => Assert.True(NetworkRules.IsValidInterfaceName(name));

    [Theory]
    [InlineData("")]
    [InlineData("a234567890123456")]
    [InlineData("-eth0")]
    [InlineData("eth0:1")]
    [InlineData("eth 0")]
    [InlineData("../eth0")]
    [InlineData("eth0\n")]
    public void Names_linux_or_a_file_would_not_take_are_refused(string name) => Assert.False(NetworkRules.IsValidInterfaceName(name));

    [Theory]
    [InlineData("10.0.0.5/24", true)]
    [InlineData("10.0.0.5/32", true)]
    [InlineData("fd00::5/64", true)]
    [InlineData("10.0.0.5", false)]
    [InlineData("10.0.0.5/33", false)]
    [InlineData("10.0.0.5/024", false)]
    [InlineData("10.0.0.5/+8", false)]
    [InlineData("10.5/24", false)]
    [InlineData("10.0.0.256/24", false)]
    [InlineData("fe80::1%eth0/64", false)]
    [InlineData("fd00::5/129", false)]
    public void Cidr_addresses_parse_strictly(string text, bool valid) => Assert.Equal(valid, NetworkRules.TryParseCidr(text, out _, out _));

    [Theory]
    [InlineData("fd00::1", true)]
    [InlineData("FD00::1", true)]
    [InlineData("::ffff:10.0.0.1", true)]
    [InlineData("10.0.0.1", true)]
    [InlineData("[fd00::1]:53", false)]
    [InlineData("[fd00::1]", false)]
    [InlineData("fe80::1%eth0", false)]
    [InlineData("fd00::1 ", false)]
    [InlineData("10.0.0.1:53", false)]
    public void Addresses_are_bare_without_brackets_ports_or_zones(string text, bool valid) =>
        Assert.Equal(valid, NetworkRules.TryParseAddress(text, out _));

    [Fact]
    public void A_bracketed_ipv6_dns_server_or_gateway_is_a_problem()
    {
        Assert.Contains("DNS server '[fd00::1]:53'", NetworkRules.Problem(new NetworkCommand("eth0", NetworkMode.Dhcp, ["[fd00::1]:53"], NetworkRenderers.Networkd, 30)), StringComparison.Ordinal);
        Assert.Contains("gateway '[fd00::1]'", NetworkRules.Problem(new NetworkCommand("eth0", NetworkMode.Static, [], NetworkRenderers.Networkd, 30, "fd00::5/64", "[fd00::1]")), StringComparison.Ordinal);
        Assert.False(NetworkRules.TryParseCidr("[fd00::5]/64", out _, out _));
    }

    [Fact]
    public void A_valid_command_has_no_problem() => Assert.Null(NetworkRules.Problem(Valid));

    [Theory]
    [InlineData("renderer", "netplan", "renderer 'netplan'")]
    [InlineData("timeout", "4", "probeTimeoutSeconds 4")]
    [InlineData("timeout", "301", "probeTimeoutSeconds 301")]
    [InlineData("dns", "dns.example", "DNS server 'dns.example'")]
    [InlineData("address", "10.0.0.5", "address '10.0.0.5'")]
    [InlineData("gateway", "fd00::1", "same IP version")]
    public void Each_problem_names_the_offending_value(string field, string value, string expected)
    {
        var command = field switch
        {
            "renderer" => Valid with { Renderer = value },
            "timeout" => Valid with { ProbeTimeoutSeconds = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            "dns" => Valid with { Dns = [value] },
            "address" => Valid with { Address = value },
            _ => Valid with { Gateway = value },
        };

        Assert.Contains(expected, NetworkRules.Problem(command), StringComparison.Ordinal);
    }

    [Fact]
    public void Dhcp_with_a_static_address_is_a_problem() =>
        Assert.Contains("DHCP", NetworkRules.Problem(Valid with { Mode = NetworkMode.Dhcp }), StringComparison.Ordinal);

    [Fact]
    public void A_response_carrying_an_invalid_network_command_is_refused_before_the_agent_acts()
    {
        var response = new ExchangeResponse
        {
            Answer = ExchangeAnswer.Command,
            Command = new Command { Id = "c1", QueueId = "q1", Sequence = 0, Spec = Valid with { Interface = "eth0;reboot" } },
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(response, RigJson.Default.ExchangeResponse);

        var e = Assert.Throws<ProtocolException>(() => RigJson.Parse(json, RigJson.Default.ExchangeResponse, "response"));

        Assert.Equal("bad-message", e.Code);
        Assert.Contains("eth0;reboot", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dhcp_command_without_address_and_gateway_round_trips()
    {
        var json = """{"kind":"configure-network","interface":"eth1","mode":"Dhcp","dns":[],"renderer":"ifupdown","probeTimeoutSeconds":30}""";

        var spec = JsonSerializer.Deserialize(Encoding.UTF8.GetBytes(json), RigJson.Default.CommandSpec);

        Assert.Equal(new NetworkCommand("eth1", NetworkMode.Dhcp, [], NetworkRenderers.Ifupdown, 30), spec);
    }
}
