using System.Globalization;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Protocol.Messages;

namespace Rig.Agent.Components;

/// <summary>What is really on a Linux device, read from files wherever the kernel or the package manager keeps
/// them: hardware from <c>/proc</c> and <c>/sys</c> (the machine the agent runs on), the OS from the root's
/// <c>os-release</c>, native packages from the root's dpkg status file (parsed here, no process) and, when the
/// root has an rpm database, <c>rpm --root ROOT -qa</c>. Every reader degrades to null ("unknown") rather than
/// failing the inventory: a device without /sys still reports its packages.</summary>
public sealed class Discovery
{
    private static readonly TimeSpan RpmTimeout = TimeSpan.FromMinutes(1);
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
            var outcome = await ProcessRunner.RunAsync("rpm", ["--root", _root, "--dbpath", dbPath, "-qa", "--qf", "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"], RpmTimeout, ct).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
                return null;
            var packages = ParseRpmQuery(outcome.StandardOutput);
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

    /// <summary>Installed packages of a dpkg status file: paragraphs whose <c>Status</c> ends in <c>installed</c>.</summary>
    public static IReadOnlyList<NativePackage> ParseDpkgStatus(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var packages = new List<NativePackage>();
        string? name = null, version = null, arch = null, status = null;
        foreach (var raw in text.Split('\n').Append(""))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                if (name is not null && version is not null && status is not null && status.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, _, "installed"])
                    packages.Add(new NativePackage(name, version, arch ?? "", "deb"));
                name = version = arch = status = null;
                continue;
            }
            if (line[0] is ' ' or '\t')
                continue; // a continuation line (Description, Conffiles)
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var value = line[(colon + 1)..].Trim();
            switch (line[..colon])
            {
                case "Package": name = value; break;
                case "Version": version = value; break;
                case "Architecture": arch = value; break;
                case "Status": status = value; break;
            }
        }
        return packages;
    }

    /// <summary>Lines of <c>NAME\tEPOCH:VERSION-RELEASE\tARCH</c>; an epoch of 0 is left out, as rpm prints it.</summary>
    public static IReadOnlyList<NativePackage> ParseRpmQuery(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var packages = new List<NativePackage>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.Split('\t') is not [var name, var version, var arch] || name == "gpg-pubkey")
                continue; // gpg-pubkey: imported signing keys, not packages
            packages.Add(new NativePackage(name, version.StartsWith("0:", StringComparison.Ordinal) ? version[2..] : version, arch, "rpm"));
        }
        return packages;
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
