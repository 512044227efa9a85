using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Archives;

namespace Rig.Bench.Converge;

/// <summary>One piece of a template: literal text or a value looked up for the device.</summary>
internal abstract record TemplatePart;

/// <summary>Literal text.</summary>
internal sealed record LiteralPart(string Text) : TemplatePart;

/// <summary>A value: a device fact, the site's name, or a layered parameter (<see cref="Name"/>).</summary>
internal sealed record ValuePart(ValueKind Kind, string Name = "") : TemplatePart;

/// <summary>What a <see cref="ValuePart"/> reads.</summary>
internal enum ValueKind
{
    /// <summary>The device's name.</summary>
    DeviceName,
    /// <summary>The device's host name.</summary>
    DeviceHostname,
    /// <summary>The device's primary address.</summary>
    DeviceAddress,
    /// <summary>The device's site.</summary>
    SiteName,
    /// <summary>A parameter (global &lt; site &lt; device).</summary>
    Parameter,
}

/// <summary>A configuration template written once and emitted in each tool's dialect: Liquid for Rig (Fluid),
/// Jinja2 for Ansible, Mustache for CFEngine. Only value substitution, so all three render the same bytes.</summary>
internal sealed record WorkloadTemplate(string Name, string DevicePath, IReadOnlyList<TemplatePart> Parts)
{
    /// <summary>Rig's Liquid text: <c>{{ device.hostname }}</c>, <c>{{ site.name }}</c>, <c>{{ params.ntp_server }}</c>.</summary>
    public string Liquid() => Emit(p => p.Kind switch
    {
        ValueKind.DeviceName => "{{ device.name }}",
        ValueKind.DeviceHostname => "{{ device.hostname }}",
        ValueKind.DeviceAddress => "{{ device.address }}",
        ValueKind.SiteName => "{{ site.name }}",
        _ => $"{{{{ params.{p.Name} }}}}",
    });

    /// <summary>Ansible's Jinja2 text: <c>{{ inventory_hostname }}</c>, host and group variables by name.</summary>
    public string Jinja() => Emit(p => p.Kind switch
    {
        ValueKind.DeviceName => "{{ inventory_hostname }}",
        ValueKind.DeviceHostname => "{{ device_hostname }}",
        ValueKind.DeviceAddress => "{{ device_address }}",
        ValueKind.SiteName => "{{ site_name }}",
        _ => $"{{{{ {p.Name} }}}}",
    });

    /// <summary>CFEngine's Mustache text over the merged data container (flat keys).</summary>
    public string Mustache() => Emit(p => p.Kind switch
    {
        ValueKind.DeviceName => "{{device_name}}",
        ValueKind.DeviceHostname => "{{device_hostname}}",
        ValueKind.DeviceAddress => "{{device_address}}",
        ValueKind.SiteName => "{{site_name}}",
        _ => $"{{{{{p.Name}}}}}",
    });

    /// <summary>The benchmark's own rendering (checked against Rig's Fluid rendering before anything runs).</summary>
    public string Render(WorkloadDevice device, IReadOnlyDictionary<string, string> parameters) => Emit(p => p.Kind switch
    {
        ValueKind.DeviceName => device.Name,
        ValueKind.DeviceHostname => device.Hostname,
        ValueKind.DeviceAddress => device.Address,
        ValueKind.SiteName => device.Site,
        _ => parameters[p.Name],
    });

    /// <summary>Device path without the leading slash.</summary>
    public string RelativePath => DevicePath.TrimStart('/');

    private string Emit(Func<ValuePart, string> value)
    {
        var text = new StringBuilder();
        foreach (var part in Parts)
            text.Append(part is LiteralPart l ? l.Text : value((ValuePart)part));
        return text.ToString();
    }
}

/// <summary>A device of the workload.</summary>
internal sealed record WorkloadDevice(string Name, string Site, string Hostname, string Address, IReadOnlyDictionary<string, string> Parameters);

/// <summary>A site of the workload.</summary>
internal sealed record WorkloadSite(string Name, IReadOnlyDictionary<string, string> Parameters);

/// <summary>An archive package: its payload files (device paths) and the two forms it ships in: a Rig archive
/// (<c>rig.json</c> + <c>files/...</c>) for Rig, a plain <c>.tar.gz</c> of the same payload for Ansible, CFEngine and
/// the script.</summary>
internal sealed record WorkloadArchive(string Name, string Version, IReadOnlyList<ArchiveInput> Files)
{
    /// <summary>The payload file extracted last (tar order); its presence marks the archive as installed for the
    /// tools that extract "when missing" (Ansible <c>creates:</c>, CFEngine's <c>commands</c> guard).</summary>
    public string Marker => Files.Select(f => f.Path).Order(StringComparer.Ordinal).Last().TrimStart('/');

    /// <summary>Payload bytes.</summary>
    public long PayloadBytes => Files.Sum(f => (long)f.Content.Length);
}

/// <summary>The converge benchmark's desired state: M devices (sites, parameters at three layers), each with K
/// configuration files rendered from templates and P archive packages. Deterministic (fixed seeds).</summary>
internal sealed class ConvergeWorkload
{
    private static readonly string[] ParameterNames =
    [
        "ntp_server", "dns_server", "syslog_host", "log_level", "listen_port", "max_connections", "worker_count",
        "cache_mb", "timezone", "backup_path", "admin_email", "release_channel", "metrics_port", "retention_days",
    ];

    private ConvergeWorkload(int files, IReadOnlyList<WorkloadSite> sites, IReadOnlyList<WorkloadDevice> devices, IReadOnlyDictionary<string, string> global,
        IReadOnlyList<WorkloadTemplate> templates, IReadOnlyList<WorkloadArchive> archives)
    {
        FilesPerDevice = files;
        Sites = sites;
        Devices = devices;
        GlobalParameters = global;
        Templates = templates;
        Archives = archives;
    }

    /// <summary>K.</summary>
    public int FilesPerDevice { get; }
    /// <summary>Sites.</summary>
    public IReadOnlyList<WorkloadSite> Sites { get; }
    /// <summary>Devices (M).</summary>
    public IReadOnlyList<WorkloadDevice> Devices { get; }
    /// <summary>Global parameters.</summary>
    public IReadOnlyDictionary<string, string> GlobalParameters { get; }
    /// <summary>Templates (K), the same set for every device.</summary>
    public IReadOnlyList<WorkloadTemplate> Templates { get; }
    /// <summary>Archives (P), the same set for every device.</summary>
    public IReadOnlyList<WorkloadArchive> Archives { get; }

    /// <summary>Files each device ends up with: K rendered files plus every archive's payload.</summary>
    public int ExpectedFilesPerDevice => Templates.Count + Archives.Sum(a => a.Files.Count);

    /// <summary>The full workload (20 x (30 + 5 x ~200 KB)) or the quick one (2 x (3 + 1 small)).</summary>
    public static ConvergeWorkload Create(bool quick) => quick ? Create(2, 3, 1, 24 * 1024) : Create(20, 30, 5, 200 * 1024);

    /// <summary>The package-heavy variant: few templates and archives of several MiB, so moving packages (download,
    /// digest check, extraction) dominates a first run rather than per-file and per-exchange work.</summary>
    public static ConvergeWorkload CreatePackageHeavy(bool quick) => quick ? Create(2, 2, 2, 512 * 1024) : Create(10, 3, 4, 4 * 1024 * 1024);

    /// <summary>M devices, K templates, P archives of about <paramref name="archiveBytes"/> bytes each.</summary>
    public static ConvergeWorkload Create(int devices, int files, int archives, int archiveBytes)
    {
        var random = new Random(20261124);
        var global = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ntp_server"] = "10.30.0.2",
            ["dns_server"] = "10.30.0.3",
            ["syslog_host"] = "10.30.0.4",
            ["log_level"] = "info",
            ["listen_port"] = "8080",
            ["max_connections"] = "1024",
            ["worker_count"] = "4",
            ["cache_mb"] = "256",
            ["timezone"] = "Etc/UTC",
            ["backup_path"] = "/var/backups/bench",
            ["admin_email"] = "ops@bench.example",
            ["release_channel"] = "stable",
            ["metrics_port"] = "9100",
            ["retention_days"] = "14",
        };
        var siteCount = Math.Max(1, devices / 5);
        var sites = Enumerable.Range(0, siteCount).Select(s => new WorkloadSite($"site{s}", new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["dns_server"] = $"10.30.{s + 1}.3",
            ["syslog_host"] = $"10.30.{s + 1}.4",
            ["timezone"] = s % 2 == 0 ? "Europe/Berlin" : "America/New_York",
            ["release_channel"] = s % 3 == 0 ? "canary" : "stable",
        })).ToList();
        var list = Enumerable.Range(0, devices).Select(d =>
        {
            var site = sites[d % siteCount].Name;
            var name = $"node{d:00}";
            return new WorkloadDevice(name, site, $"{name}.{site}.bench.example", $"10.30.{d % siteCount + 1}.{10 + d}",
                new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["worker_count"] = (2 + d % 7).ToString(CultureInfo.InvariantCulture),
                    ["cache_mb"] = (128 * (1 + d % 4)).ToString(CultureInfo.InvariantCulture),
                });
        }).ToList();

        var templates = Enumerable.Range(0, files).Select(i => MakeTemplate(i)).ToList();

        var archiveList = Enumerable.Range(0, archives).Select(p =>
        {
            var root = $"/opt/bench/pkg{p}";
            // Mostly incompressible (random bytes, as binaries and compressed assets are), some text.
            var binary = archiveBytes * 3 / 5;
            var library = archiveBytes / 4;
            var text = archiveBytes - binary - library;
            return new WorkloadArchive($"bench-pkg{p}", $"1.0.{p}",
            [
                new ArchiveInput($"{root}/bin/tool{p}", Encoding.UTF8.GetBytes($"#!/bin/sh\necho 'bench tool {p} 1.0.{p}'\n"), "0755"),
                new ArchiveInput($"{root}/lib/core.bin", RandomBytes(random, binary)),
                new ArchiveInput($"{root}/lib/extra.bin", RandomBytes(random, library)),
                new ArchiveInput($"{root}/share/data.txt", TextBytes(random, text)),
                new ArchiveInput($"{root}/share/doc/README", Encoding.UTF8.GetBytes($"bench-pkg{p} 1.0.{p}: payload for the converge benchmark.\n")),
            ]);
        }).ToList();

        return new ConvergeWorkload(files, sites, list, global, templates, archiveList);
    }

    private static WorkloadTemplate MakeTemplate(int i)
    {
        // Files spread over three directories, ~1.3 KB each: a header naming the device, a section of settings that
        // read parameters of all three layers and device facts, and static tuning lines.
        var path = (i % 3) switch
        {
            0 => $"/etc/bench/app-{i:00}.conf",
            1 => $"/etc/bench/conf.d/{i:00}-service.conf",
            _ => $"/srv/bench/config/{i:00}.ini",
        };
        var parts = new List<TemplatePart>();
        void Text(string s) => parts.Add(new LiteralPart(s));
        void Value(ValueKind kind, string name = "") => parts.Add(new ValuePart(kind, name));
        Text($"# Managed by the converge benchmark: template {i:00}, do not edit.\n# device ");
        Value(ValueKind.DeviceName);
        Text(" (");
        Value(ValueKind.DeviceHostname);
        Text(") in site ");
        Value(ValueKind.SiteName);
        Text($"\n\n[service-{i:00}]\nlisten = ");
        Value(ValueKind.DeviceAddress);
        Text(":");
        Value(ValueKind.Parameter, "listen_port");
        Text("\n");
        for (var j = 0; j < 8; j++)
        {
            var name = ParameterNames[(i * 3 + j) % ParameterNames.Length];
            Text($"{name} = ");
            Value(ValueKind.Parameter, name);
            Text("\n");
        }
        Text("\n[tuning]\n");
        for (var j = 0; j < 24; j++)
            Text($"option_{i:00}_{j:00} = value-{(i * 31 + j * 17) % 1000:000} # static setting {j:00} of template {i:00}\n");
        Text("\n[hosts]\nself = ");
        Value(ValueKind.DeviceHostname);
        Text("\nlog = ");
        Value(ValueKind.Parameter, "syslog_host");
        Text("\n");
        return new WorkloadTemplate($"t{i:00}", path, parts);
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] TextBytes(Random random, int count)
    {
        var text = new StringBuilder(count + 80);
        var line = 0;
        while (text.Length < count)
            text.Append(CultureInfo.InvariantCulture, $"record {line++:000000} key={random.Next():x8} value={random.Next(1_000_000)}\n");
        return Encoding.UTF8.GetBytes(text.ToString()[..count]);
    }

    /// <summary>A device's parameters with the layers applied (global &lt; site &lt; device).</summary>
    public IReadOnlyDictionary<string, string> EffectiveParameters(WorkloadDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var result = new Dictionary<string, string>(GlobalParameters, StringComparer.Ordinal);
        foreach (var (k, v) in Sites.First(s => s.Name == device.Site).Parameters)
            result[k] = v;
        foreach (var (k, v) in device.Parameters)
            result[k] = v;
        return result;
    }

    /// <summary>Write each archive as a Rig archive into <paramref name="directory"/>; returns the paths.</summary>
    public IReadOnlyList<string> WriteRigArchives(string directory)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>();
        foreach (var archive in Archives)
        {
            var path = Path.Combine(directory, $"{archive.Name}_{archive.Version}{RigArchive.Extension}");
            using var stream = File.Create(path);
            RigArchiveWriter.Write(stream, new RigArchiveManifest { Name = archive.Name, Version = archive.Version, Description = "converge benchmark payload" }, archive.Files);
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>Write each archive as a plain <c>.tar.gz</c> (the same payload, paths relative to the device root,
    /// same modes, same compression) into <paramref name="directory"/>; returns the paths by archive name.</summary>
    public IReadOnlyDictionary<string, string> WriteTarballs(string directory)
    {
        Directory.CreateDirectory(directory);
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        var time = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
        foreach (var archive in Archives)
        {
            var path = Path.Combine(directory, $"{archive.Name}_{archive.Version}.tar.gz");
            using (var stream = File.Create(path))
            using (var gzip = new GZipStream(stream, CompressionLevel.Optimal))
            using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
            {
                var inputs = archive.Files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
                var dirs = new SortedSet<string>(StringComparer.Ordinal);
                foreach (var input in inputs)
                {
                    var segments = input.Path.TrimStart('/').Split('/');
                    for (var i = 1; i < segments.Length; i++)
                        dirs.Add(string.Join('/', segments.Take(i)));
                }
                foreach (var dir in dirs)
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, dir + "/") { Mode = (UnixFileMode)0x1ED, ModificationTime = time, Uid = 0, Gid = 0 });
                foreach (var input in inputs)
                {
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, input.Path.TrimStart('/'))
                    {
                        DataStream = new MemoryStream(input.Content, writable: false),
                        Mode = (UnixFileMode)Convert.ToInt32(input.Mode, 8),
                        ModificationTime = time,
                        Uid = 0,
                        Gid = 0,
                    });
                }
            }
            paths[archive.Name] = path;
        }
        return paths;
    }

    /// <summary>Rig's model of the workload: sites and devices with their parameter layers, the K templates, one
    /// bundle with the P packages and K files, one app role assigned to every device. The package catalog is left
    /// empty (the gateway fills it from its store); pass <paramref name="catalog"/> to plan locally.</summary>
    public RigModel RigModel(IReadOnlyList<PackageInfo>? catalog = null)
    {
        List<Item> items = [.. Archives.Select(a => (Item)new PackageItem(a.Name, a.Version)), .. Templates.Select(t => (Item)new FileItem(t.DevicePath, t.Name))];
        return new RigModel
        {
            Parameters = GlobalParameters,
            Sites = [.. Sites.Select(s => new Site { Name = s.Name, Description = "converge benchmark", Parameters = s.Parameters })],
            Devices = [.. Devices.Select(d => new Device { Name = d.Name, Site = d.Site, Hostname = d.Hostname, Tier = "app", Addresses = [d.Address], Parameters = d.Parameters })],
            Packages = catalog ?? [],
            Templates = [.. Templates.Select(t => new ConfigTemplate(t.Name, t.Liquid()))],
            Bundles = [new Bundle { Name = "bench", Items = items }],
            Roles = [new Role { Name = "bench", Kind = BuiltInRoleKinds.App, Version = "1", Items = [new BundleItem("bench")] }],
            Assignments = [.. Devices.Select(d => new RoleAssignment(d.Name, "bench"))],
        };
    }

    /// <summary>What every device must end up with: relative path -> SHA-256, from Rig's own rendering (Fluid, through
    /// the planner's desired state) and the archives' payloads. Fails when the benchmark's rendering, which the
    /// Jinja2 and Mustache forms mirror, differs from Rig's by a single byte.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> ExpectedFiles()
    {
        var catalog = Archives.Select(a => new PackageInfo
        {
            Name = a.Name, Version = a.Version, Format = "rig", Sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(a.Name))), Size = a.PayloadBytes,
        }).ToList();
        var builder = new DesiredStateBuilder(new ModelIndex(RigModel(catalog)));
        var payload = Archives.SelectMany(a => a.Files).ToDictionary(f => f.Path.TrimStart('/'), f => Convert.ToHexStringLower(SHA256.HashData(f.Content)), StringComparer.Ordinal);
        var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var device in Devices)
        {
            var desired = builder.Build(device.Name);
            if (desired.Errors.Count > 0)
                throw new InvalidOperationException($"Rig cannot plan {device.Name}: {string.Join("; ", desired.Errors.Select(e => e.Message))}");
            var files = new Dictionary<string, string>(payload, StringComparer.Ordinal);
            var parameters = EffectiveParameters(device);
            foreach (var file in desired.Roles.SelectMany(r => r.Steps).OfType<DesiredFile>())
            {
                var template = Templates.First(t => t.DevicePath == file.Path);
                var ours = template.Render(device, parameters);
                if (ours != file.Content)
                    throw new InvalidOperationException($"Template {template.Name} for {device.Name}: Rig renders {file.Content.Length} chars, the benchmark's reference {ours.Length}; the Jinja2/Mustache forms would not be comparable.\n--- rig\n{file.Content}\n--- reference\n{ours}");
                files[template.RelativePath] = file.Sha256;
            }
            if (files.Count != ExpectedFilesPerDevice)
                throw new InvalidOperationException($"{device.Name}: expected {ExpectedFilesPerDevice} files, the desired state has {files.Count}.");
            result[device.Name] = files;
        }
        return result;
    }
}
