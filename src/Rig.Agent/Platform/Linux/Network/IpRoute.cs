using System.Globalization;
using System.Text.Json;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux.Network;

/// <summary>An interface's live configuration as iproute2 reports it: its global addresses (CIDR) and the routes
/// through a gateway on it. What a rollback puts back.</summary>
internal sealed record LiveInterfaceState(string Interface, IReadOnlyList<string> Addresses, IReadOnlyList<LiveRoute> Routes)
{
    /// <summary>For messages: <c>10.0.0.5/24 (default via 10.0.0.1)</c>.</summary>
    public override string ToString() =>
        (Addresses.Count == 0 ? "no address" : string.Join(", ", Addresses))
        + (Routes.Count == 0 ? "" : $" ({string.Join(", ", Routes.Select(r => $"{r.Destination} via {r.Gateway}"))})");
}

/// <summary>A route through a gateway: <c>default via 10.0.0.1 metric 100</c>.</summary>
internal sealed record LiveRoute(string Destination, string Gateway, int? Metric, bool Ipv6);

/// <summary>Reads and sets an interface's addresses and routes with iproute2 (<c>ip -j</c>), through
/// <see cref="ProcessRunner"/>: arguments as a list, never a shell. The names and addresses reaching it were
/// checked by <see cref="Rig.Protocol.NetworkRules"/>.</summary>
internal static class IpRoute
{
    /// <summary>Longest any one <c>ip</c> call may take; it only talks to the kernel.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>The interface's global addresses and gateway routes now.</summary>
    /// <exception cref="CommandFailedException"><c>unknown-interface</c> when the device has no such interface.</exception>
    public static async Task<LiveInterfaceState> SnapshotAsync(string interfaceName, CancellationToken ct)
    {
        var addr = await IpAsync(["-j", "addr", "show", "dev", interfaceName], ct, unknownInterface: interfaceName).ConfigureAwait(false);
        var addresses = new List<string>();
        using (var document = JsonDocument.Parse(Json(addr)))
        {
            foreach (var link in document.RootElement.EnumerateArray())
            {
                if (!link.TryGetProperty("addr_info", out var infos))
                    continue;
                foreach (var info in infos.EnumerateArray())
                {
                    if (info.TryGetProperty("scope", out var scope) && scope.GetString() == "global"
                        && info.TryGetProperty("local", out var local) && info.TryGetProperty("prefixlen", out var prefix))
                        addresses.Add($"{local.GetString()}/{prefix.GetInt32().ToString(CultureInfo.InvariantCulture)}");
                }
            }
        }
        var routes = new List<LiveRoute>();
        foreach (var ipv6 in new[] { false, true })
        {
            var output = await IpAsync([ipv6 ? "-6" : "-4", "-j", "route", "show", "dev", interfaceName], ct, unknownInterface: interfaceName).ConfigureAwait(false);
            using var document = JsonDocument.Parse(Json(output));
            foreach (var route in document.RootElement.EnumerateArray())
            {
                if (route.TryGetProperty("gateway", out var gateway) && route.TryGetProperty("dst", out var dst))
                {
                    int? metric = route.TryGetProperty("metric", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : null;
                    routes.Add(new LiveRoute(dst.GetString()!, gateway.GetString()!, metric, ipv6));
                }
            }
        }
        return new LiveInterfaceState(interfaceName, addresses, routes);
    }

    /// <summary>Give the interface exactly the static configuration of <paramref name="command"/>: global addresses
    /// flushed, the new one added, the link up, the default route replaced when a gateway is given.</summary>
    public static async Task ApplyStaticAsync(NetworkCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        await IpAsync(["addr", "flush", "dev", command.Interface, "scope", "global"], ct, unknownInterface: command.Interface).ConfigureAwait(false);
        await IpAsync(["addr", "add", command.Address!, "dev", command.Interface], ct).ConfigureAwait(false);
        await IpAsync(["link", "set", "dev", command.Interface, "up"], ct).ConfigureAwait(false);
        if (command.Gateway is { } gateway)
            await IpAsync([gateway.Contains(':', StringComparison.Ordinal) ? "-6" : "-4", "route", "replace", "default", "via", gateway, "dev", command.Interface], ct).ConfigureAwait(false);
    }

    /// <summary>Put <paramref name="state"/> back: global addresses flushed and re-added, gateway routes replaced.</summary>
    public static async Task RestoreAsync(LiveInterfaceState state, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(state);
        await IpAsync(["addr", "flush", "dev", state.Interface, "scope", "global"], ct, unknownInterface: state.Interface).ConfigureAwait(false);
        foreach (var address in state.Addresses)
            await IpAsync(["addr", "add", address, "dev", state.Interface], ct).ConfigureAwait(false);
        await IpAsync(["link", "set", "dev", state.Interface, "up"], ct).ConfigureAwait(false);
        foreach (var route in state.Routes)
        {
            List<string> args = [route.Ipv6 ? "-6" : "-4", "route", "replace", route.Destination, "via", route.Gateway, "dev", state.Interface];
            if (route.Metric is { } metric)
                args.AddRange(["metric", metric.ToString(CultureInfo.InvariantCulture)]);
            await IpAsync(args, ct).ConfigureAwait(false);
        }
    }

    private static string Json(string output) => string.IsNullOrWhiteSpace(output) ? "[]" : output;

    private static async Task<string> IpAsync(IReadOnlyList<string> arguments, CancellationToken ct, string? unknownInterface = null)
    {
        var outcome = await ProcessRunner.RunAsync("ip", arguments, Timeout, ct).ConfigureAwait(false);
        if (outcome.ExitCode == 0)
            return outcome.StandardOutput;
        if (unknownInterface is not null && outcome.Message.Contains("does not exist", StringComparison.Ordinal))
            throw new CommandFailedException("unknown-interface", $"The device has no network interface '{unknownInterface}' ({outcome.Message}); fix the interface name in the device's network section (`ip link` lists them).");
        throw new CommandFailedException("ip-failed", $"'ip {string.Join(' ', arguments)}' failed with exit code {outcome.ExitCode}: {outcome.Message}");
    }
}
