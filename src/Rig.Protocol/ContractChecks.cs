using System.Collections;
using System.Net;
using Rig.Protocol.Messages;

namespace Rig.Protocol;

/// <summary>What the JSON contract alone cannot say: no null elements in lists, bounded strings, valid ports and
/// hosts. Applied by <see cref="RigJson.Parse{T}"/> to every message read from the wire, so a malformed message is
/// refused (400) before it reaches a transaction, never turned into a server error that the peer retries forever.</summary>
public static class ContractChecks
{
    /// <summary>The first problem of <paramref name="message"/>, or null when it is fine.</summary>
    public static string? Find(object? message) => message switch
    {
        ExchangeRequest r => Exchange(r),
        EnrollRequest e => Text(e.Device, 63, "device") ?? Text(e.Token, 256, "token") ?? Text(e.CsrPem, 16 * 1024, "csrPem") ?? Text(e.AgentVersion, 64, "agentVersion"),
        ExchangeResponse response => Response(response),
        _ => null,
    };

    private static string? Exchange(ExchangeRequest r)
    {
        var bad = Text(r.Device, 63, "device") ?? Text(r.RequestId, 64, "requestId") ?? Text(r.AgentVersion, 64, "agentVersion") ?? Text(r.Rebooted, 64, "rebooted");
        if (bad is not null)
            return bad;
        if (r.MaxCommands is < 1 or > 256)
            return $"maxCommands {r.MaxCommands} is outside 1-256";
        if (r.Results is { Count: > 256 })
            return $"results holds {r.Results.Count} results (limit 256)";
        if (r.Results is { } list && NoNulls(list, "results") is { } nullResult)
            return nullResult;
        if (r.PokePort is < 1 or > 65535)
            return $"pokePort {r.PokePort} is outside 1-65535";
        if (r.PokeHost is { } host && (host.Length > 253 || (!IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) != UriHostNameType.Dns)))
            return $"pokeHost '{Shorten(host)}' is neither an IP address nor a DNS name";
        foreach (var result in r.AllResults)
        {
            if (CheckResult(result) is { } problem)
                return problem;
        }
        return r.Inventory is { } inventory ? Inventory(inventory) : null;
    }

    private static string? CheckResult(CommandResult result)
    {
        var badResult = Text(result.CommandId, 64, "result.commandId") ?? Text(result.ErrorCode, 64, "result.errorCode") ?? Text(result.Error, 64 * 1024, "result.error", free: true) ?? Text(result.Output, 64 * 1024, "result.output", free: true);
        if (badResult is not null)
            return badResult;
        return result.Inventory is { } inventory ? Inventory(inventory) : null;
    }

    // Inventory bounds. A server has ~200-3,000 native packages; 20,000 leaves room for the largest installs and
    // still fits the request body limit (RigLimits.MaxRequestBodyBytes, 4 MiB, at ~100 bytes a package).
    private const int MaxNativePackages = 20_000;
    private const int MaxManagedItems = 10_000;
    private const int MaxHardwareItems = 1_024;

    /// <summary>Counts and string lengths of an inventory, wherever it appears (a request, an inventory result).</summary>
    private static string? Inventory(InventoryReport inventory)
    {
        var bad = Count(inventory.Packages, MaxManagedItems, "inventory.packages") ?? Count(inventory.Files, MaxManagedItems, "inventory.files")
            ?? Count(inventory.Services, MaxManagedItems, "inventory.services") ?? Count(inventory.NativePackages, MaxNativePackages, "inventory.nativePackages")
            ?? NoNulls(inventory.Packages, "inventory.packages") ?? NoNulls(inventory.Files, "inventory.files") ?? NoNulls(inventory.Services, "inventory.services")
            ?? Text(inventory.Hostname, 253, "inventory.hostname") ?? Text(inventory.Platform, 32, "inventory.platform") ?? Text(inventory.AgentVersion, 64, "inventory.agentVersion");
        if (bad is not null)
            return bad;
        foreach (var p in inventory.Packages)
        {
            if ((Text(p.Name, 256, "inventory package name") ?? Text(p.Version, 256, "inventory package version") ?? Text(p.Format, 32, "inventory package format") ?? Text(p.Sha256, 64, "inventory package sha256") ?? Text(p.Problem, 1024, "inventory package problem", free: true)) is { } problem)
                return problem;
        }
        foreach (var f in inventory.Files)
        {
            if ((Text(f.Path, 4096, "inventory file path") ?? Text(f.Sha256, 64, "inventory file sha256") ?? Text(f.Mode, 8, "inventory file mode") ?? Text(f.Owner, 64, "inventory file owner") ?? Text(f.Group, 64, "inventory file group")) is { } problem)
                return problem;
        }
        foreach (var service in inventory.Services)
        {
            if (Text(service.Name, 256, "inventory service name") is { } problem)
                return problem;
        }
        if (inventory.NativePackages is { } native)
        {
            if (NoNulls(native, "inventory.nativePackages") is { } nullPackage)
                return nullPackage;
            foreach (var p in native)
            {
                if ((Text(p.Name, 256, "inventory native package name") ?? Text(p.Version, 256, "inventory native package version") ?? Text(p.Architecture, 32, "inventory native package architecture") ?? Text(p.Format, 32, "inventory native package format")) is { } problem)
                    return problem;
            }
        }
        if (inventory.Os is { } os && (Text(os.Id, 64, "inventory.os.id") ?? Text(os.IdLike, 256, "inventory.os.idLike") ?? Text(os.VersionId, 64, "inventory.os.versionId")
            ?? Text(os.PrettyName, 256, "inventory.os.prettyName") ?? Text(os.KernelRelease, 256, "inventory.os.kernelRelease") ?? Text(os.Architecture, 32, "inventory.os.architecture")) is { } badOs)
            return badOs;
        return inventory.Hardware is { } hardware ? Hardware(hardware) : null;
    }

    private static string? Hardware(HardwareReport hardware)
    {
        var bad = Text(hardware.CpuModel, 256, "inventory.hardware.cpuModel") ?? Count(hardware.Disks, MaxHardwareItems, "inventory.hardware.disks") ?? Count(hardware.Nics, MaxHardwareItems, "inventory.hardware.nics")
            ?? NoNulls(hardware.Disks, "inventory.hardware.disks") ?? NoNulls(hardware.Nics, "inventory.hardware.nics");
        if (bad is not null)
            return bad;
        if (hardware.CpuCount < 0 || hardware.MemoryMiB < 0)
            return $"inventory.hardware has a negative CPU count ({hardware.CpuCount}) or memory ({hardware.MemoryMiB} MiB)";
        foreach (var disk in hardware.Disks)
        {
            if (Text(disk.Name, 64, "inventory disk name") is { } problem)
                return problem;
        }
        foreach (var nic in hardware.Nics)
        {
            if ((Text(nic.Name, 64, "inventory nic name") ?? Text(nic.Mac, 64, "inventory nic mac") ?? Text(nic.State, 32, "inventory nic state")
                ?? Count(nic.Addresses, 256, $"inventory nic {nic.Name} addresses") ?? NoNulls(nic.Addresses, $"inventory nic {nic.Name} addresses")) is { } problem)
                return problem;
            foreach (var address in nic.Addresses)
            {
                if (Text(address, 64, "inventory nic address") is { } problem2)
                    return problem2;
            }
        }
        return null;
    }

    private static string? Count<T>(IReadOnlyCollection<T>? list, int max, string what) =>
        list is { Count: var n } && n > max ? $"{what} holds {n} items (limit {max})" : null;

    private static string? Response(ExchangeResponse response)
    {
        foreach (var c in (response.Command is null ? [] : new[] { response.Command }).Concat(response.More ?? []))
        {
            if (c is null)
                return "a command is null";
            if (c.Spec is null)
                return "command.spec is missing";
            var bad = Text(c.Id, 64, "command.id") ?? Text(c.QueueId, 64, "command.queueId")
                ?? (c.Spec is NetworkCommand network ? NetworkRules.Problem(network) : null);
            if (bad is not null)
                return bad;
        }
        return null;
    }

    private static string? NoNulls(IEnumerable list, string what)
    {
        var i = 0;
        foreach (var item in list)
        {
            if (item is null)
                return $"{what}[{i}] is null";
            i++;
        }
        return null;
    }

    /// <summary>Too long, or an identifier holding a NUL character (PostgreSQL refuses one in text). Free text (output,
    /// errors) may hold one: it is stored inside JSON, escaped.</summary>
    private static string? Text(string? value, int max, string what, bool free = false) => value switch
    {
        { Length: var n } when n > max => $"{what} is {n} characters long (limit {max})",
        { } when !free && value.Contains('\0', StringComparison.Ordinal) => $"{what} holds a NUL character",
        _ => null,
    };

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
