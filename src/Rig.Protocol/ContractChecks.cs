using System.Collections;
using System.Net;
using Rig.Protocol.Messages;

namespace Rig.Protocol;

/// <summary>What the JSON contract alone cannot say: no null elements in lists, bounded strings, valid ports and
/// hosts. Applied by <see cref="RigJson.Parse{T}"/> to every message read from the wire, so a malformed message is
/// refused (400) before it reaches a transaction, never turned into a server error that the peer retries forever.
/// Inventories are the exception: they are checked apart (<see cref="InventoryProblem"/>) because start-up and
/// check-in always carry one, so refusing the exchange for a bad inventory would refuse the device for ever; the
/// gateway drops a bad inventory instead and processes the rest.</summary>
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
        return null;
    }

    private static string? CheckResult(CommandResult result) =>
        Text(result.CommandId, 64, "result.commandId") ?? Text(result.ErrorCode, 64, "result.errorCode") ?? Text(result.Error, 64 * 1024, "result.error", free: true) ?? Text(result.Output, 64 * 1024, "result.output", free: true);

    private const int MaxNativePackages = InventoryLimits.MaxNativePackages;
    private const int MaxManagedItems = InventoryLimits.MaxManagedItems;
    private const int MaxHardwareItems = InventoryLimits.MaxHardwareItems;

    /// <summary>The first problem of an inventory (wherever it appears: a request, an inventory command's result), or
    /// null when it is fine: counts over <see cref="InventoryLimits"/>, strings too long, and control characters
    /// (C0, DEL, C1) in names, versions, paths and problems, which would otherwise reach an operator's terminal.
    /// Not part of <see cref="Find"/>: a bad inventory is dropped, not the exchange carrying it.</summary>
    public static string? InventoryProblem(InventoryReport inventory)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        var bad = Count(inventory.Packages, MaxManagedItems, "inventory.packages") ?? Count(inventory.Files, MaxManagedItems, "inventory.files")
            ?? Count(inventory.Services, MaxManagedItems, "inventory.services") ?? Count(inventory.NativePackages, MaxNativePackages, "inventory.nativePackages")
            ?? NoNulls(inventory.Packages, "inventory.packages") ?? NoNulls(inventory.Files, "inventory.files") ?? NoNulls(inventory.Services, "inventory.services")
            ?? Ident(inventory.Truncated, 1024, "inventory.truncated") ?? Ident(inventory.Hostname, 253, "inventory.hostname") ?? Ident(inventory.Platform, 32, "inventory.platform") ?? Ident(inventory.AgentVersion, 64, "inventory.agentVersion");
        if (bad is not null)
            return bad;
        foreach (var p in inventory.Packages)
        {
            if ((Ident(p.Name, 256, "inventory package name") ?? Ident(p.Version, 256, "inventory package version") ?? Ident(p.Format, 32, "inventory package format") ?? Ident(p.Sha256, 64, "inventory package sha256") ?? Ident(p.Problem, 1024, "inventory package problem")) is { } problem)
                return problem;
        }
        foreach (var f in inventory.Files)
        {
            if ((Ident(f.Path, 4096, "inventory file path") ?? Ident(f.Sha256, 64, "inventory file sha256") ?? Ident(f.Mode, 8, "inventory file mode") ?? Ident(f.Owner, 64, "inventory file owner") ?? Ident(f.Group, 64, "inventory file group")) is { } problem)
                return problem;
        }
        foreach (var service in inventory.Services)
        {
            if (Ident(service.Name, 256, "inventory service name") is { } problem)
                return problem;
        }
        if (inventory.NativePackages is { } native)
        {
            if (NoNulls(native, "inventory.nativePackages") is { } nullPackage)
                return nullPackage;
            foreach (var p in native)
            {
                if ((Ident(p.Name, 256, "inventory native package name") ?? Ident(p.Version, 256, "inventory native package version") ?? Ident(p.Architecture, 32, "inventory native package architecture") ?? Ident(p.Format, 32, "inventory native package format")) is { } problem)
                    return problem;
                if ((Relations(p.Depends, "depends") ?? Relations(p.Provides, "provides") ?? Relations(p.Conflicts, "conflicts")) is { } badRelation)
                    return $"inventory native package '{Shorten(Visible(p.Name))}': {badRelation}";
            }
        }
        if (inventory.Os is { } os && (Ident(os.Id, 64, "inventory.os.id") ?? Ident(os.IdLike, 256, "inventory.os.idLike") ?? Ident(os.VersionId, 64, "inventory.os.versionId")
            ?? Ident(os.PrettyName, 256, "inventory.os.prettyName") ?? Ident(os.KernelRelease, 256, "inventory.os.kernelRelease") ?? Ident(os.Architecture, 32, "inventory.os.architecture")) is { } badOs)
            return badOs;
        return inventory.Hardware is { } hardware ? Hardware(hardware) : null;
    }

    private static string? Hardware(HardwareReport hardware)
    {
        var bad = Ident(hardware.CpuModel, 256, "inventory.hardware.cpuModel") ?? Count(hardware.Disks, MaxHardwareItems, "inventory.hardware.disks") ?? Count(hardware.Nics, MaxHardwareItems, "inventory.hardware.nics")
            ?? NoNulls(hardware.Disks, "inventory.hardware.disks") ?? NoNulls(hardware.Nics, "inventory.hardware.nics");
        if (bad is not null)
            return bad;
        if (hardware.CpuCount < 0 || hardware.MemoryMiB < 0)
            return $"inventory.hardware has a negative CPU count ({hardware.CpuCount}) or memory ({hardware.MemoryMiB} MiB)";
        foreach (var disk in hardware.Disks)
        {
            if (Ident(disk.Name, 64, "inventory disk name") is { } problem)
                return problem;
        }
        foreach (var nic in hardware.Nics)
        {
            if ((Ident(nic.Name, 64, "inventory nic name") ?? Ident(nic.Mac, 64, "inventory nic mac") ?? Ident(nic.State, 32, "inventory nic state")
                ?? Count(nic.Addresses, InventoryLimits.MaxAddressesPerNic, $"inventory nic {nic.Name} addresses") ?? NoNulls(nic.Addresses, $"inventory nic {nic.Name} addresses")) is { } problem)
                return problem;
            foreach (var address in nic.Addresses)
            {
                if (Ident(address, 64, "inventory nic address") is { } problem2)
                    return problem2;
            }
        }
        return null;
    }

    /// <summary>Relation lists of a native package: at most <see cref="InventoryLimits.MaxRelations"/> entries of at
    /// most 4 KiB each, no nulls, no control characters (their syntax is checked where they are used).</summary>
    private static string? Relations(IReadOnlyList<string>? list, string what)
    {
        if (list is null)
            return null;
        if (Count(list, InventoryLimits.MaxRelations, what) is { } tooMany)
            return tooMany;
        foreach (var relation in list)
        {
            if (Ident(relation, 4096, what) is { } problem)
                return problem;
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

    /// <summary>An inventory's identifier-like field: bounded, and without control characters (a name holding ESC,
    /// CR or LF could rewrite an operator's terminal when drift prints it).</summary>
    private static string? Ident(string? value, int max, string what) => Text(value, max, what) ?? (value is not null && ControlCharacterAt(value) is var i and >= 0
        ? $"{what} '{Shorten(Visible(value))}' holds control character U+{(int)value[i]:X4} at {i}"
        : null);

    /// <summary>Index of the first C0 (U+0000-U+001F), DEL or C1 (U+0080-U+009F) character, or -1.</summary>
    public static int ControlCharacterAt(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsControl(value[i]))
                return i;
        }
        return -1;
    }

    /// <summary><paramref name="value"/> with every control character replaced by U+FFFD, safe to print.</summary>
    public static string Visible(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return ControlCharacterAt(value) < 0 ? value : string.Create(value.Length, value, (span, v) =>
        {
            for (var i = 0; i < v.Length; i++)
                span[i] = char.IsControl(v[i]) ? '\uFFFD' : v[i];
        });
    }

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
