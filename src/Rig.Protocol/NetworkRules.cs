using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Rig.Protocol.Messages;

namespace Rig.Protocol;

/// <summary>What a network configuration may contain, checked at every boundary (model validation, the wire, the
/// agent) so that nothing malformed reaches a configuration file or the argument vector of <c>ip</c>.</summary>
public static partial class NetworkRules
{
    /// <summary>Shortest probe timeout: a gateway answers a TCP connect within a second on a working network; 5 s
    /// leaves room for an interface that needs a moment to come up.</summary>
    public const int MinProbeSeconds = 5;

    /// <summary>Longest probe timeout: the device is cut off for at most this long before the rollback.</summary>
    public const int MaxProbeSeconds = 300;

    /// <summary>Probe timeout when the model does not say: enough for DHCP to answer, short enough for an operator to wait.</summary>
    public const int DefaultProbeSeconds = 30;

    /// <summary>Most DNS servers per interface (resolvers use three; a few more are tolerated).</summary>
    public const int MaxDnsServers = 8;

    /// <summary>The interface-name rule for error messages.</summary>
    public const string InterfaceNameRule = "1-15 characters: letters, digits and '_.-', starting with a letter or digit (Linux IFNAMSIZ)";

    /// <summary>A Linux interface name: at most 15 characters, no '/', ':' or whitespace, not starting with '-'.</summary>
    public static bool IsValidInterfaceName(string? value) => value is { Length: > 0 and <= 15 } && InterfaceNameRegex().IsMatch(value);

    /// <summary>A plain IP address (IPv4 dotted quad or IPv6, no zone, no prefix, no brackets or port).</summary>
    public static bool TryParseAddress(string? value, out IPAddress address)
    {
        address = IPAddress.None;
        if (value is not { Length: > 0 and <= 45 } || value.Contains('%', StringComparison.Ordinal))
            return false;
        // IPAddress.TryParse also takes "[fd00::1]" and "[fd00::1]:53" (brackets, a port): only the bare address text,
        // hex digits, ':' and the '.' of an embedded IPv4 tail, is an address here.
        if (value.Contains(':', StringComparison.Ordinal))
            return Ipv6CharsRegex().IsMatch(value) && IPAddress.TryParse(value, out address!) && address.AddressFamily == AddressFamily.InterNetworkV6;
        // IPAddress.TryParse takes "10" or "10.1" as IPv4; only the dotted quad is accepted here.
        return Ipv4Regex().IsMatch(value) && IPAddress.TryParse(value, out address!) && address.ToString() == value;
    }

    /// <summary>An address with its prefix length (<c>10.0.0.5/24</c>, <c>fd00::5/64</c>); host bits may be set.</summary>
    public static bool TryParseCidr(string? value, out IPAddress address, out int prefix)
    {
        address = IPAddress.None;
        prefix = -1;
        if (value is null)
            return false;
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !TryParseAddress(value[..slash], out address))
            return false;
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        return int.TryParse(value.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) && prefix <= max
            && value[(slash + 1)..] == prefix.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The first problem of <paramref name="command"/>, or null when it is fine. Each message names the
    /// offending value.</summary>
    public static string? Problem(NetworkCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (!IsValidInterfaceName(command.Interface))
            return $"interface '{Shorten(command.Interface)}' is not a valid Linux interface name ({InterfaceNameRule})";
        if (!NetworkRenderers.IsKnown(command.Renderer))
            return $"renderer '{Shorten(command.Renderer)}' is unknown (use {NetworkRenderers.Networkd} or {NetworkRenderers.Ifupdown})";
        if (command.ProbeTimeoutSeconds is < MinProbeSeconds or > MaxProbeSeconds)
            return $"probeTimeoutSeconds {command.ProbeTimeoutSeconds} is outside {MinProbeSeconds}-{MaxProbeSeconds}";
        if (command.Dns is null)
            return "dns is missing";
        if (command.Dns.Count > MaxDnsServers)
            return $"dns lists {command.Dns.Count} servers (limit {MaxDnsServers})";
        foreach (var server in command.Dns)
        {
            if (!TryParseAddress(server, out _))
                return $"DNS server '{Shorten(server)}' of interface {command.Interface} is not an IP address";
        }
        if (command.Mode == NetworkMode.Dhcp)
        {
            if (command.Address is not null || command.Gateway is not null)
                return $"interface {command.Interface} uses DHCP and cannot also have a static address or gateway";
            return null;
        }
        if (!TryParseCidr(command.Address, out var address, out _))
            return $"address '{Shorten(command.Address)}' of interface {command.Interface} is not an address in CIDR form like 10.0.0.5/24";
        if (command.Gateway is { } gateway)
        {
            if (!TryParseAddress(gateway, out var via))
                return $"gateway '{Shorten(gateway)}' of interface {command.Interface} is not an IP address";
            if (via.AddressFamily != address.AddressFamily)
                return $"gateway {gateway} of interface {command.Interface} is not of the same IP version as its address {command.Address}";
        }
        return null;
    }

    private static string Shorten(string? s) => s is null ? "(none)" : s.Length <= 80 ? s : s[..80] + "...";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\z", RegexOptions.CultureInvariant)]
    private static partial Regex InterfaceNameRegex();

    [GeneratedRegex(@"^[0-9]{1,3}(\.[0-9]{1,3}){3}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv4Regex();

    [GeneratedRegex(@"^[0-9A-Fa-f:.]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv6CharsRegex();
}
