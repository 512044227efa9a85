using System.Diagnostics;
using System.Text.Json;

namespace Rig.EndToEnd.Harness;

/// <summary>A network namespace joined to the host by a veth pair: the host side has <c>10.231.X.1/24</c>, the
/// namespace side is <c>eth0</c> with <c>10.231.X.2/24</c> (X picked so no host interface uses that subnet). The
/// namespace's <c>/etc/hosts</c> (<c>/etc/netns/NAME/hosts</c>, which <c>ip netns exec</c> bind-mounts) resolves
/// <see cref="GatewayName"/> to the host side. Everything is deleted on dispose, also after a failure.</summary>
internal sealed class NetworkNamespace : IAsyncDisposable
{
    private NetworkNamespace(string name, string hostInterface, int subnet)
    {
        Name = name;
        HostInterface = hostInterface;
        Subnet = subnet;
    }

    /// <summary>The namespace's name.</summary>
    public string Name { get; }
    /// <summary>The host end of the veth pair.</summary>
    public string HostInterface { get; }
    /// <summary>X of 10.231.X.0/24.</summary>
    public int Subnet { get; }
    /// <summary>The host side's address (the gateway listens here).</summary>
    public string HostAddress => $"10.231.{Subnet}.1";
    /// <summary>The namespace side's address (CIDR).</summary>
    public string DeviceAddress => $"10.231.{Subnet}.2/24";
    /// <summary>The interface inside the namespace.</summary>
    public string DeviceInterface => "eth0";
    /// <summary>The gateway's DNS name as the namespace resolves it.</summary>
    public string GatewayName => "rig-gateway.test";
    private string EtcDirectory => Path.Combine("/etc/netns", Name);

    /// <summary>Create the namespace, the veth pair and the addresses.</summary>
    public static async Task<NetworkNamespace> CreateAsync()
    {
        if (Rig.Agent.Platform.Linux.ProcessRunner.Find("ip") is null)
            Assert.Fail("The network namespace tests need iproute2 ('ip'); install the apt package iproute2.");
        await RemoveStaleAsync();
        // Another test (or helper) may take the same subnet between the check and the add: try another one.
        for (var attempt = 1; ; attempt++)
        {
            var id = Guid.NewGuid().ToString("n")[..8];
            var ns = new NetworkNamespace($"{Prefix}{id}", $"{HostPrefix}{id}", await FreeSubnetAsync());
            try
            {
                await IpAsync("netns", "add", ns.Name);
                await IpAsync("link", "add", ns.HostInterface, "type", "veth", "peer", "name", ns.DeviceInterface, "netns", ns.Name);
                await IpAsync("addr", "add", $"{ns.HostAddress}/24", "dev", ns.HostInterface);
                await IpAsync("link", "set", ns.HostInterface, "up");
                await IpAsync("-n", ns.Name, "link", "set", "lo", "up");
                await IpAsync("-n", ns.Name, "addr", "add", ns.DeviceAddress, "dev", ns.DeviceInterface);
                await IpAsync("-n", ns.Name, "link", "set", ns.DeviceInterface, "up");
                Directory.CreateDirectory(ns.EtcDirectory);
                await File.WriteAllTextAsync(Path.Combine(ns.EtcDirectory, "hosts"), $"127.0.0.1 localhost\n{ns.HostAddress} {ns.GatewayName}\n");
                return ns;
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
                await ns.DisposeAsync();
            }
            catch
            {
                await ns.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Name prefix of the namespaces this harness creates (and only those are cleaned up as stale).</summary>
    private const string Prefix = "rig-net-";

    /// <summary>Name prefix of the host ends of the veth pairs this harness creates.</summary>
    private const string HostPrefix = "rgv";

    /// <summary>Remove what a killed earlier run left: <c>rig-net-*</c> namespaces whose processes are gone, their
    /// <c>/etc/netns</c> entries and <c>rgv*</c> veth ends without a peer. A namespace with a process in it belongs to a
    /// test running now and is left alone.</summary>
    private static async Task RemoveStaleAsync()
    {
        var names = (await IpAsync("netns", "list")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).ToList();
        foreach (var name in names)
        {
            if ((await IpAsync("netns", "pids", name)).Trim().Length > 0)
                continue;
            // Created moments ago by a parallel test that has not started its agent yet: not stale.
            var created = File.GetLastWriteTimeUtc(Path.Combine("/run/netns", name));
            if (DateTime.UtcNow - created < TimeSpan.FromMinutes(10))
                continue;
            try { await IpAsync("netns", "del", name); } catch (InvalidOperationException) { }
            try { Directory.Delete(Path.Combine("/etc/netns", name), recursive: true); } catch (DirectoryNotFoundException) { }
        }
        if (Directory.Exists("/etc/netns"))
        {
            foreach (var etc in Directory.EnumerateDirectories("/etc/netns", Prefix + "*"))
            {
                if (!File.Exists(Path.Combine("/run/netns", Path.GetFileName(etc))))
                    try { Directory.Delete(etc, recursive: true); } catch (DirectoryNotFoundException) { }
            }
        }
        using var links = JsonDocument.Parse(await IpAsync("-j", "link", "show", "type", "veth"));
        foreach (var link in links.RootElement.EnumerateArray())
        {
            var name = link.GetProperty("ifname").GetString()!;
            // A veth end whose peer (in a deleted namespace) is gone has no link-netnsid and is down.
            if (name.StartsWith(HostPrefix, StringComparison.Ordinal) && name.Length == HostPrefix.Length + 8 && !link.TryGetProperty("link_netnsid", out _))
                try { await IpAsync("link", "del", name); } catch (InvalidOperationException) { }
        }
    }

    /// <summary>Runs <c>rig</c> inside the namespace: <c>ip netns exec NAME dotnet rig.dll ...</c>.</summary>
    public RigLauncher Launcher => new("ip", ["netns", "exec", Name, Launch.Rig.FileName, .. Launch.Rig.BaseArguments]);

    /// <summary>The global IPv4 addresses (CIDR) of the namespace's eth0 now.</summary>
    public async Task<IReadOnlyList<string>> DeviceAddressesAsync()
    {
        var output = await IpAsync("-n", Name, "-j", "-4", "addr", "show", "dev", DeviceInterface);
        using var document = JsonDocument.Parse(output);
        return [.. document.RootElement.EnumerateArray().SelectMany(l => l.GetProperty("addr_info").EnumerateArray())
            .Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}")];
    }

    /// <summary>Run <c>ip ARGS</c>; fails the test with its message when it fails.</summary>
    public static async Task<string> IpAsync(params string[] args)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}");
        return await stdout;
    }

    /// <summary>A subnet 10.231.X.0/24 no host interface uses (other tests may hold some).</summary>
    private static async Task<int> FreeSubnetAsync()
    {
        var used = await IpAsync("-4", "-o", "addr", "show");
        var start = Random.Shared.Next(10, 250);
        for (var i = 0; i < 240; i++)
        {
            var x = 10 + (start - 10 + i) % 240;
            if (!used.Contains($" 10.231.{x}.", StringComparison.Ordinal) && !used.Contains($" 10.232.{x}.", StringComparison.Ordinal))
                return x;
        }
        throw new InvalidOperationException("No free 10.231.X.0/24 subnet for a test namespace.");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Deleting the namespace deletes its end of the veth pair and with it the host end.
        try { await IpAsync("netns", "del", Name); } catch (InvalidOperationException) { }
        try { await IpAsync("link", "del", HostInterface); } catch (InvalidOperationException) { }
        try { Directory.Delete(EtcDirectory, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
