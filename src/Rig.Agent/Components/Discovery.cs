using System.Globalization;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Protocol.Messages;
using Rig.Protocol.Packaging;

namespace Rig.Agent.Components;

/// <summary>What is really on a Linux device, read from files wherever the kernel or the package manager keeps
/// them: hardware from <c>/proc</c> and <c>/sys</c> (the machine the agent runs on), the OS from the root's
/// <c>os-release</c>, native packages from the root's dpkg status file (parsed here, no process) and, when the
/// root has an rpm database, <c>rpm --root ROOT -qa</c>. Every reader degrades to null ("unknown") rather than
/// failing the inventory: a device without /sys still reports its packages.</summary>
internal sealed class Discovery
{
    /// <summary>One <c>rpm -qa</c> listing every package with its relations and file list: seconds for a few thousand
    /// packages; it runs only when the database changed.</summary>
    private static readonly TimeSpan RpmTimeout = TimeSpan.FromMinutes(2);
    private readonly string _root;
    private readonly string _proc;
    private readonly string _sys;
    private readonly bool _runningSystem;
    private readonly Lock _gate = new();
    private (DateTime Modified, long Length, IReadOnlyList<NativePackage> Packages)? _dpkgCache;
    private (DateTime Modified, long Length, IReadOnlyList<NativePackage> Packages)? _rpmCache;

    /// <summary>Discovery for the device root <paramref name="root"/>; <paramref name="proc"/> and <paramref name="sys"/>
    /// are where the kernel's views are mounted (tests point them elsewhere).</summary>
    public Discovery(string root, bool runningSystem, string proc = "/proc", string sys = "/sys")
    {
        _root = root;
        _runningSystem = runningSystem;
        _proc = proc;
        _sys = sys;
    }

    /// <summary>How many times <c>rpm -qa</c> ran (the rest were answered from the cache).</summary>
    public int RpmQueries { get; private set; }

    /// <summary>Hardware of the machine the agent runs on (for a root prepared offline: the machine preparing it).</summary>
    public HardwareReport? Hardware()
    {
        var cpuinfo = ReadOrNull(Path.Combine(_proc, "cpuinfo"));
        var meminfo = ReadOrNull(Path.Combine(_proc, "meminfo"));
        if (cpuinfo is null && meminfo is null)
            return null;
        var (model, count) = ParseCpuInfo(cpuinfo ?? "");
        return new HardwareReport(count > 0 ? count : Environment.ProcessorCount, ParseMemTotalMiB(meminfo ?? ""), Disks(), Nics(), model);
    }

    /// <summary>The root's OS release (null when it has no os-release file) and, on a running system, the kernel.</summary>
    public OsReport? Os()
    {
        var text = ReadOrNull(Path.Combine(_root, "etc/os-release")) ?? ReadOrNull(Path.Combine(_root, "usr/lib/os-release"));
        var kernel = _runningSystem ? ReadOrNull(Path.Combine(_proc, "sys/kernel/osrelease"))?.Trim() : null;
        if (text is null && kernel is null)
            return null;
        var fields = ParseOsRelease(text ?? "");
        return new OsReport(fields.GetValueOrDefault("ID"), fields.GetValueOrDefault("ID_LIKE"), fields.GetValueOrDefault("VERSION_ID"),
            fields.GetValueOrDefault("PRETTY_NAME"), kernel, ArchitectureName(RuntimeInformation.OSArchitecture));
    }

    /// <summary>Every package dpkg and rpm know in the root, or null when the root has neither database.</summary>
    public async Task<IReadOnlyList<NativePackage>?> NativePackagesAsync(CancellationToken ct)
    {
        var deb = DpkgPackages();
        var rpm = await RpmPackagesAsync(ct).ConfigureAwait(false);
        if (deb is null && rpm is null)
            return null;
        return [.. (deb ?? []).Concat(rpm ?? []).OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Architecture, StringComparer.Ordinal)];
    }

    /// <summary>Packages in the root's dpkg status file; cached while the file is unchanged (a check-in every few
    /// minutes then costs one stat).</summary>
    public IReadOnlyList<NativePackage>? DpkgPackages()
    {
        var path = Path.Combine(_root, "var/lib/dpkg/status");
        var info = new FileInfo(path);
        if (!info.Exists)
            return null;
        lock (_gate)
        {
            if (_dpkgCache is { } cached && cached.Modified == info.LastWriteTimeUtc && cached.Length == info.Length)
                return cached.Packages;
        }
        var text = ReadOrNull(path);
        if (text is null)
            return null;
        var packages = ParseDpkgStatus(text);
        lock (_gate)
            _dpkgCache = (info.LastWriteTimeUtc, info.Length, packages);
        return packages;
    }

    private async Task<IReadOnlyList<NativePackage>?> RpmPackagesAsync(CancellationToken ct)
    {
        // The root's own database location, named explicitly: the host's rpm (a Debian host preparing an RPM root)
        // may default to another one. --dbpath is taken inside --root.
        var dbPath = Directory.Exists(Path.Combine(_root, "usr/lib/sysimage/rpm")) ? "/usr/lib/sysimage/rpm"
            : Directory.Exists(Path.Combine(_root, "var/lib/rpm")) ? "/var/lib/rpm" : null;
        if (dbPath is null)
            return null;
        // Cached while the database files are unchanged (newest modification time and total size), as dpkg's status
        // file is: a check-in every few minutes then costs a few stats instead of an rpm process.
        var stamp = DatabaseStamp(Path.Combine(_root, dbPath.TrimStart('/')));
        lock (_gate)
        {
            if (_rpmCache is { } cached && stamp is { } now && cached.Modified == now.Modified && cached.Length == now.Length)
                return cached.Packages;
        }
        try
        {
            RpmQueries++;
            // Streamed: with every package's relations and files the output runs to megabytes, far more than a
            // process's kept output; only what the inventory reports is kept.
            var reader = new RpmQueryReader();
            var outcome = await ProcessRunner.RunAsync("rpm", ["--root", _root, "--dbpath", dbPath, "-qa", "--qf", RpmQueryReader.QueryFormat], RpmTimeout, ct,
                outputLines: reader.Add).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
                return null;
            var packages = reader.Finish();
            if (stamp is { } taken)
            {
                lock (_gate)
                    _rpmCache = (taken.Modified, taken.Length, packages);
            }
            return packages;
        }
        catch (CommandFailedException)
        {
            return null; // rpm not installed on a Debian host preparing an RPM root: packages unknown, not "none"
        }
    }

    /// <summary>Newest modification time and total size of the data files in an rpm database directory, or null when it
    /// cannot be read (then nothing is cached).</summary>
    private static (DateTime Modified, long Length)? DatabaseStamp(string directory)
    {
        try
        {
            // Not the lock file, sqlite's shared-memory index or Berkeley DB's environment files: reads touch them.
            var files = new DirectoryInfo(directory).GetFiles().Where(f => !f.Name.StartsWith('.') && !f.Name.StartsWith("__db", StringComparison.Ordinal)
                && !f.Name.EndsWith("-shm", StringComparison.Ordinal)).ToList();
            return files.Count == 0 ? null : (files.Max(f => f.LastWriteTimeUtc), files.Sum(f => f.Length));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Installed packages of a dpkg status file: paragraphs whose <c>Status</c> ends in <c>installed</c>, with
    /// their relations in Rig's canonical form (<see cref="PackageRelations"/>): Depends holds the Pre-Depends groups,
    /// then the Depends groups; Conflicts holds Conflicts and Breaks; Essential is <c>Essential: yes</c>. A relation
    /// field Rig cannot read leaves that list null (unknown) and the rest of the package as it is.</summary>
    public static IReadOnlyList<NativePackage> ParseDpkgStatus(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var packages = new List<NativePackage>();
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? last = null;
        foreach (var raw in text.Split('\n').Append(""))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                if (StatusPackage(fields) is { } package)
                    packages.Add(package);
                fields.Clear();
                last = null;
                continue;
            }
            if (line[0] is ' ' or '\t')
            {
                // A continuation line: Description and Conffiles are not kept; a relation field folded over lines is.
                if (last is not null && RelationFields.Contains(last))
                    fields[last] += " " + line.Trim();
                continue;
            }
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                last = null;
                continue;
            }
            last = line[..colon];
            if (last is "Package" or "Version" or "Architecture" or "Status" or "Essential" || RelationFields.Contains(last))
                fields[last] = line[(colon + 1)..].Trim();
            else
                last = null;
        }
        return packages;
    }

    private static readonly HashSet<string> RelationFields = new(["Pre-Depends", "Depends", "Provides", "Conflicts", "Breaks"], StringComparer.OrdinalIgnoreCase);

    private static NativePackage? StatusPackage(Dictionary<string, string> fields)
    {
        if (fields.GetValueOrDefault("Package") is not { } name || fields.GetValueOrDefault("Version") is not { } version
            || fields.GetValueOrDefault("Status") is not { } status || status.Split(' ', StringSplitOptions.RemoveEmptyEntries) is not [_, _, "installed"])
            return null;
        var preDepends = DebianGroups(fields.GetValueOrDefault("Pre-Depends"));
        var depends = DebianGroups(fields.GetValueOrDefault("Depends"));
        var conflicts = DebianSingles(fields.GetValueOrDefault("Conflicts"));
        var breaks = DebianSingles(fields.GetValueOrDefault("Breaks"));
        return new NativePackage(name, version, fields.GetValueOrDefault("Architecture") ?? "", PackageFormats.Deb)
        {
            Depends = preDepends is null || depends is null ? null : Distinct([.. preDepends, .. depends]),
            Provides = DebianSingles(fields.GetValueOrDefault("Provides")),
            Conflicts = conflicts is null || breaks is null ? null : Distinct([.. conflicts, .. breaks]),
            Essential = string.Equals(fields.GetValueOrDefault("Essential"), "yes", StringComparison.OrdinalIgnoreCase),
        };
    }

    /// <summary>The canonical groups of a Debian relation field, or null when it cannot be read.</summary>
    private static List<string>? DebianGroups(string? field)
    {
        try
        {
            var groups = PackageRelations.ParseDebianField(field).Select(PackageRelations.Format).ToList();
            return groups.All(PackageRelations.IsValidGroup) ? groups : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The canonical relations of a field without alternatives (Provides, Conflicts, Breaks), or null when it
    /// cannot be read or holds alternatives (dpkg itself refuses those there).</summary>
    private static List<string>? DebianSingles(string? field)
    {
        var groups = DebianGroups(field);
        return groups is null || groups.Any(g => g.Contains(" | ", StringComparison.Ordinal)) ? null : groups;
    }

    private static List<string> Distinct(IEnumerable<string> relations) => [.. relations.Distinct(StringComparer.Ordinal)];

    /// <summary>Packages of <c>rpm -qa --qf <see cref="RpmQueryReader.QueryFormat"/></c> output.</summary>
    public static IReadOnlyList<NativePackage> ParseRpmQuery(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var reader = new RpmQueryReader();
        foreach (var line in output.Split('\n'))
            reader.Add(line);
        return reader.Finish();
    }

    /// <summary>KEY=value lines; values may be quoted ("..." or '...') with backslash escapes.</summary>
    public static IReadOnlyDictionary<string, string> ParseOsRelease(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (line.StartsWith('#') || eq <= 0)
                continue;
            var value = line[(eq + 1)..];
            if (value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0])
                value = value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
            fields[line[..eq]] = value;
        }
        return fields;
    }

    private static (string? Model, int Count) ParseCpuInfo(string text)
    {
        string? model = null;
        var count = 0;
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var key = line[..colon].Trim();
            if (key == "processor")
                count++;
            else if (model is null && key is "model name" or "Model" or "cpu model")
                model = line[(colon + 1)..].Trim();
        }
        return (model, count);
    }

    private static long ParseMemTotalMiB(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            // MemTotal:       16318412 kB
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal)
                && line["MemTotal:".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var number, ..]
                && long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
                return kib / 1024;
        }
        return 0;
    }

    private List<DiskReport> Disks()
    {
        var disks = new List<DiskReport>();
        var block = Path.Combine(_sys, "block");
        if (!Directory.Exists(block))
            return disks;
        foreach (var dir in Directory.EnumerateFileSystemEntries(block).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith("loop", StringComparison.Ordinal) || name.StartsWith("ram", StringComparison.Ordinal) || name.StartsWith("zram", StringComparison.Ordinal))
                continue; // not disks: loop files, RAM disks, compressed swap
            if (!long.TryParse(ReadOrNull(Path.Combine(dir, "size"))?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var sectors) || sectors == 0)
                continue; // an empty drive (card reader, CD-ROM without a disc)
            bool? rotational = ReadOrNull(Path.Combine(dir, "queue/rotational"))?.Trim() switch { "1" => true, "0" => false, _ => null };
            disks.Add(new DiskReport(name, sectors * 512, rotational)); // /sys/block/X/size counts 512-byte sectors whatever the disk's sector size
        }
        return disks;
    }

    private List<NicReport> Nics()
    {
        var nics = new List<NicReport>();
        var net = Path.Combine(_sys, "class/net");
        if (!Directory.Exists(net))
            return nics;
        var addresses = AddressesByInterface();
        foreach (var dir in Directory.EnumerateFileSystemEntries(net).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            if (name == "lo")
                continue;
            var mac = ReadOrNull(Path.Combine(dir, "address"))?.Trim().ToLowerInvariant();
            nics.Add(new NicReport(name, ReadOrNull(Path.Combine(dir, "operstate"))?.Trim() ?? "unknown", addresses.GetValueOrDefault(name) ?? [],
                string.IsNullOrEmpty(mac) ? null : mac));
        }
        return nics;
    }

    /// <summary>IP addresses with prefix length per interface, from the kernel (getifaddrs; no process). Only
    /// meaningful for the network namespace the agent runs in.</summary>
    private Dictionary<string, List<string>> AddressesByInterface()
    {
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (_sys != "/sys")
            return map; // a test's fake /sys: the live addresses belong to other interfaces
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                var list = new List<string>();
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    if (unicast.Address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                        list.Add($"{unicast.Address}/{unicast.PrefixLength}");
                }
                map[nic.Name] = list;
            }
        }
        catch (NetworkInformationException)
        {
            // addresses unknown; names, MACs and states still come from /sys
        }
        return map;
    }

    /// <summary>Rig's spelling of a CPU architecture (Debian's: amd64, arm64...).</summary>
    public static string ArchitectureName(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "i386",
        Architecture.Arm => "armhf",
        Architecture.RiscV64 => "riscv64",
        Architecture.Ppc64le => "ppc64el",
        Architecture.S390x => "s390x",
        _ => architecture.ToString().ToLowerInvariant(),
    };

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
