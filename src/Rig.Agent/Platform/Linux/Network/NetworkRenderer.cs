using System.Text;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux.Network;

/// <summary>Turns a <see cref="NetworkCommand"/> into the file its renderer reads: a systemd-networkd
/// <c>.network</c> file or an ifupdown <c>interfaces.d</c> stanza. Pure; the command is checked first.</summary>
internal static class NetworkRenderer
{
    /// <summary>First line of every file Rig writes, so an operator knows where it came from.</summary>
    public const string Header = "# Written by Rig (configure-network). Change the device's network section in the model, not this file.";

    /// <summary>The device path of the file <paramref name="renderer"/> reads for <paramref name="interfaceName"/>.</summary>
    public static string PathFor(string renderer, string interfaceName) => renderer switch
    {
        NetworkRenderers.Networkd => $"/etc/systemd/network/10-rig-{interfaceName}.network",
        NetworkRenderers.Ifupdown => $"/etc/network/interfaces.d/rig-{interfaceName}",
        _ => throw new ArgumentException($"Unknown network renderer '{renderer}'.", nameof(renderer)),
    };

    /// <summary>The file's content.</summary>
    /// <exception cref="CommandFailedException"><c>bad-network</c> when the command breaks <see cref="NetworkRules"/>.</exception>
    public static string Render(NetworkCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (NetworkRules.Problem(command) is { } problem)
            throw new CommandFailedException("bad-network", $"Refusing network configuration: {problem}. Fix the device's network section in the model.");
        return command.Renderer == NetworkRenderers.Networkd ? Networkd(command) : Ifupdown(command);
    }

    private static string Networkd(NetworkCommand c)
    {
        var text = new StringBuilder();
        text.Append(Header).Append('\n');
        text.Append("[Match]\n");
        text.Append("Name=").Append(c.Interface).Append('\n');
        text.Append('\n');
        text.Append("[Network]\n");
        if (c.Mode == NetworkMode.Dhcp)
        {
            text.Append("DHCP=yes\n");
        }
        else
        {
            text.Append("Address=").Append(c.Address).Append('\n');
            if (c.Gateway is { } gateway)
                text.Append("Gateway=").Append(gateway).Append('\n');
        }
        foreach (var server in c.Dns)
            text.Append("DNS=").Append(server).Append('\n');
        return text.ToString();
    }

    private static string Ifupdown(NetworkCommand c)
    {
        var text = new StringBuilder();
        text.Append(Header).Append('\n');
        text.Append("auto ").Append(c.Interface).Append('\n');
        if (c.Mode == NetworkMode.Dhcp)
        {
            text.Append("iface ").Append(c.Interface).Append(" inet dhcp\n");
        }
        else
        {
            var family = c.Address!.Contains(':', StringComparison.Ordinal) ? "inet6" : "inet";
            text.Append("iface ").Append(c.Interface).Append(' ').Append(family).Append(" static\n");
            text.Append("    address ").Append(c.Address).Append('\n');
            if (c.Gateway is { } gateway)
                text.Append("    gateway ").Append(gateway).Append('\n');
        }
        if (c.Dns.Count > 0)
            text.Append("    dns-nameservers ").Append(string.Join(' ', c.Dns)).Append('\n');
        return text.ToString();
    }
}
