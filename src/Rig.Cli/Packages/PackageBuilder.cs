using System.Globalization;
using System.Runtime.InteropServices;
using Rig.Protocol;
using Rig.Protocol.Archives;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Rig.Cli.Packages;

/// <summary>A package directory refused by <c>rig package build</c>: what was wrong, the offending value, what to do.</summary>
/// <remarks>Codes: <c>no-directory</c>, <c>no-manifest</c>, <c>bad-manifest</c>, <c>bad-name</c>, <c>bad-version</c>,
/// <c>link-escape</c>, <c>special-file</c>, <c>setuid</c>, <c>too-large</c>, <c>bad-path</c>, <c>refused</c> (the built archive
/// failed the importer's own check). Not retry-safe: the directory is wrong.</remarks>
internal sealed class PackageBuildException(string code, string message) : Rig.Protocol.Errors.RigException(code, message, retrySafe: false);

/// <summary>What <see cref="PackageBuilder.Read"/> found in a package directory: the manifest for <c>rig.json</c> and
/// the payload, ready for <see cref="RigArchiveWriter"/>.</summary>
internal sealed record PackageSource(RigArchiveManifest Manifest, IReadOnlyList<ArchiveInput> Files);

/// <summary>Reads an operator's package directory (<c>package.yaml</c> and a <c>files/</c> tree, docs/PACKAGES.md) and
/// builds a Rig archive from it with <see cref="RigArchiveWriter"/>. Everything the importer would refuse is refused
/// here first, naming the file and value; the result is checked with <see cref="RigArchive.Inspect"/> (the importer's
/// own check) before it is put in place, so a build never leaves a file behind that <c>rig package add</c> refuses.
/// Modes are normalised (0755 when the owner may execute, else 0644, unless <c>modes:</c> says otherwise), owners and
/// times are fixed and entries sorted: the same directory gives the same bytes on any checkout.</summary>
internal static partial class PackageBuilder
{
    /// <summary>The manifest's file name in a package directory.</summary>
    public const string ManifestFile = "package.yaml";

    /// <summary>The payload directory: <c>files/etc/app.conf</c> is installed as <c>/etc/app.conf</c>.</summary>
    public const string PayloadDirectory = "files";

    private static readonly string[] Keys = ["name", "version", "description", "osFamily", "architecture", "service", "reboot", "modes"];

    /// <summary>Read and check a package directory.</summary>
    public static PackageSource Read(string directory, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(limits);
        if (File.Exists(directory))
            throw new PackageBuildException("no-directory", $"'{directory}' is a file, not a package directory; give the directory that holds {ManifestFile} and {PayloadDirectory}/.");
        if (!Directory.Exists(directory))
            throw new PackageBuildException("no-directory", $"Package directory '{directory}' does not exist; give the directory that holds {ManifestFile} and {PayloadDirectory}/.");
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(manifestPath))
            throw new PackageBuildException("no-manifest", $"'{directory}' has no {ManifestFile}; create one with at least `name:` and `version:` (docs/PACKAGES.md has an example).");
        var (manifest, modes) = ReadManifest(manifestPath, limits);
        var files = ReadPayload(directory, modes, limits);
        return new PackageSource(manifest, files);
    }

    /// <summary>Build <paramref name="directory"/> into <paramref name="output"/> (default
    /// <c>NAME_VERSION.rig.tar.gz</c> in the current directory). Nothing is written when anything is refused.
    /// Returns the checked archive's manifest, the output path and the archive's SHA-256.</summary>
    public static (RigArchiveManifest Manifest, string Path, string Sha256, long Size) Build(string directory, string? output, RigLimits limits)
    {
        var source = Read(directory, limits);
        var path = Path.GetFullPath(output ?? $"{source.Manifest.Name}_{source.Manifest.Version}{RigArchive.Extension}");
        if (Directory.Exists(path))
            throw new PackageBuildException("bad-output", $"Output '{output}' is a directory; give a file name such as {source.Manifest.Name}_{source.Manifest.Version}{RigArchive.Extension}.");
        var parent = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(parent))
            throw new PackageBuildException("bad-output", $"The directory of output '{path}' does not exist; create it first.");
        var temp = Path.Combine(parent, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            RigArchiveManifest written;
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                written = RigArchiveWriter.Write(stream, source.Manifest, source.Files);
                stream.Flush(flushToDisk: true);
            }
            using (var check = File.OpenRead(temp))
            {
                try
                {
                    RigArchive.Inspect(check, limits);
                }
                catch (ArchiveRejectedException e)
                {
                    throw new PackageBuildException("refused", $"The archive built from '{directory}' would be refused by `rig package add`: {e.Message}");
                }
            }
            string sha;
            using (var read = File.OpenRead(temp))
                sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(read));
            var size = new FileInfo(temp).Length;
            File.Move(temp, path, overwrite: true);
            return (written, path, sha, size);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static (RigArchiveManifest Manifest, Dictionary<string, string> Modes) ReadManifest(string path, RigLimits limits)
    {
        var info = new FileInfo(path);
        if (info.Length > limits.MaxManifestBytes)
            throw new PackageBuildException("bad-manifest", $"{path} is {info.Length} bytes, more than {limits.MaxManifestBytes}; a manifest names the package, not its files.");
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            using (var reader = new StringReader(File.ReadAllText(path)))
                stream.Load(reader);
            root = stream.Documents.Count == 1 && stream.Documents[0].RootNode is YamlMappingNode map
                ? map
                : throw new PackageBuildException("bad-manifest", $"{path} must hold one YAML mapping (`name: ...`, `version: ...`); see docs/PACKAGES.md.");
        }
        catch (YamlException e)
        {
            throw new PackageBuildException("bad-manifest", $"{path}:{e.Start.Line}:{e.Start.Column}: not valid YAML: {e.InnerException?.Message ?? e.Message}");
        }

        var fields = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in root.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            if (!Keys.Contains(key))
                throw new PackageBuildException("bad-manifest", $"{Where(path, keyNode)}: unknown key '{key}'; a manifest knows {string.Join(", ", Keys)}.");
            if (!fields.TryAdd(key, value))
                throw new PackageBuildException("bad-manifest", $"{Where(path, keyNode)}: '{key}' appears twice; keep one.");
        }

        var name = Scalar(path, fields, "name") ?? throw new PackageBuildException("bad-manifest", $"{path}: `name:` is missing; give the package's name ({Names.PackageNameRule}).");
        if (!Names.IsValidPackageName(name))
            throw new PackageBuildException("bad-name", $"{Where(path, fields["name"])}: package name '{Printable(name)}' is not allowed: use {Names.PackageNameRule}.");
        var version = Scalar(path, fields, "version") ?? throw new PackageBuildException("bad-manifest", $"{path}: `version:` is missing; give the package's version ({Names.VersionRule}).");
        if (!Names.IsValidVersion(version))
            throw new PackageBuildException("bad-version", $"{Where(path, fields["version"])}: version '{Printable(version)}' of package '{name}' is not allowed: use {Names.VersionRule}.");
        var description = Scalar(path, fields, "description");
        if (description is not null && description.Any(char.IsControl))
            throw new PackageBuildException("bad-manifest", $"{Where(path, fields["description"])}: the description must be one line without control characters.");
        var osFamily = Scalar(path, fields, "osFamily") ?? "any";
        if (!Names.IsValidObjectName(osFamily))
            throw new PackageBuildException("bad-manifest", $"{Where(path, fields["osFamily"])}: osFamily '{Printable(osFamily)}' is not allowed: use any, linux, debian, rhel... ({Names.ObjectNameRule}).");
        var architecture = Scalar(path, fields, "architecture") ?? "all";
        if (!ArchitectureRegex().IsMatch(architecture))
            throw new PackageBuildException("bad-manifest", $"{Where(path, fields["architecture"])}: architecture '{Printable(architecture)}' is not allowed: use all, amd64, arm64... (lower-case letters, digits and '_').");
        var reboot = Scalar(path, fields, "reboot") is { } rebootText
            ? rebootText switch
            {
                "true" => true,
                "false" => false,
                _ => throw new PackageBuildException("bad-manifest", $"{Where(path, fields["reboot"])}: reboot '{Printable(rebootText)}' is not true or false."),
            }
            : false;

        RigArchiveService? service = null;
        if (fields.TryGetValue("service", out var serviceNode))
        {
            string? serviceName;
            var enable = true;
            if (serviceNode is YamlScalarNode plain)
            {
                serviceName = plain.Value;
            }
            else if (serviceNode is YamlMappingNode serviceMap)
            {
                serviceName = null;
                foreach (var (k, v) in serviceMap.Children)
                {
                    var key = (k as YamlScalarNode)?.Value;
                    var text = (v as YamlScalarNode)?.Value;
                    switch (key)
                    {
                        case "name":
                            serviceName = text;
                            break;
                        case "enable" when text is "true" or "false":
                            enable = text == "true";
                            break;
                        case "enable":
                            throw new PackageBuildException("bad-manifest", $"{Where(path, v)}: service enable '{Printable(text ?? "")}' is not true or false.");
                        default:
                            throw new PackageBuildException("bad-manifest", $"{Where(path, k)}: unknown key '{key}' under service; use name and enable.");
                    }
                }
            }
            else
            {
                throw new PackageBuildException("bad-manifest", $"{Where(path, serviceNode)}: service must be a name (`service: nginx`) or `{{name: nginx, enable: false}}`.");
            }
            if (!Names.IsValidServiceName(serviceName))
                throw new PackageBuildException("bad-manifest", $"{Where(path, serviceNode)}: service name '{Printable(serviceName ?? "")}' is not allowed: use the systemd unit's name without '.service' (letters, digits and '@._-').");
            service = new RigArchiveService(serviceName!, enable);
        }

        var modes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (fields.TryGetValue("modes", out var modesNode))
        {
            if (modesNode is not YamlMappingNode modeMap)
                throw new PackageBuildException("bad-manifest", $"{Where(path, modesNode)}: modes must map device paths to octal modes (`/etc/app/secret: \"0600\"`).");
            foreach (var (k, v) in modeMap.Children)
            {
                var file = (k as YamlScalarNode)?.Value ?? "";
                var mode = (v as YamlScalarNode)?.Value ?? "";
                if (!file.StartsWith('/'))
                    throw new PackageBuildException("bad-manifest", $"{Where(path, k)}: modes names '{Printable(file)}'; name the device path, starting with '/' (files/etc/x is /etc/x).");
                if (!ModeRegex().IsMatch(mode))
                    throw new PackageBuildException("bad-manifest", $"{Where(path, v)}: mode '{Printable(mode)}' of '{file}' is not four octal digits from 0000 to 0777 (quote it: \"0640\"); setuid, setgid and sticky bits are refused.");
                modes[file] = mode;
            }
        }

        var manifest = new RigArchiveManifest
        {
            Name = name,
            Version = version,
            Description = description,
            OsFamily = osFamily,
            Architecture = architecture,
            Service = service,
            Reboot = reboot,
        };
        return (manifest, modes);
    }

    private static List<ArchiveInput> ReadPayload(string directory, Dictionary<string, string> modes, RigLimits limits)
    {
        var root = Path.Combine(directory, PayloadDirectory);
        var inputs = new List<ArchiveInput>();
        if (Directory.Exists(root))
        {
            if (Stat(root).Type == FileType.Link)
                throw new PackageBuildException("link-escape", $"'{root}' is a symbolic link; make {PayloadDirectory}/ a real directory.");
            long total = 0;
            Walk(root, "", inputs, ref total, limits);
        }
        else if (File.Exists(root))
        {
            throw new PackageBuildException("bad-path", $"'{root}' is a file; {PayloadDirectory}/ must be a directory holding the device's tree (files/etc/app.conf is /etc/app.conf).");
        }
        var byPath = inputs.ToDictionary(i => i.Path, StringComparer.Ordinal);
        foreach (var (file, mode) in modes)
        {
            if (!byPath.TryGetValue(file, out var input) || input.LinkTarget is not null)
                throw new PackageBuildException("bad-manifest", $"modes names '{file}', but {PayloadDirectory}{file} is not a file of '{directory}'; fix the path or remove the line.");
            byPath[file] = input with { Mode = mode };
        }
        if (inputs.Count + 1 > limits.MaxArchiveEntries)
            throw new PackageBuildException("too-large", $"'{directory}' holds {inputs.Count} files, more than an archive may ({limits.MaxArchiveEntries}); split the package.");
        return [.. byPath.Values.OrderBy(i => i.Path, StringComparer.Ordinal)];
    }

    private static void Walk(string hostDirectory, string devicePrefix, List<ArchiveInput> inputs, ref long total, RigLimits limits)
    {
        foreach (var hostPath in Directory.EnumerateFileSystemEntries(hostDirectory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(hostPath);
            var devicePath = devicePrefix + "/" + name;
            if (devicePath.Length > limits.MaxPathLength)
                throw new PackageBuildException("bad-path", $"'{hostPath}' gives the device path '{devicePath[..80]}...', longer than {limits.MaxPathLength} characters; shorten it.");
            if (name.Contains('\\', StringComparison.Ordinal) || name.Any(char.IsControl))
                throw new PackageBuildException("bad-path", $"'{Printable(hostPath)}' has a backslash or a control character in its name; rename it.");
            var stat = Stat(hostPath);
            if ((stat.Mode & 0xC00) != 0)
                throw new PackageBuildException("setuid", $"'{hostPath}' has the setuid or setgid bit (mode {Convert.ToString(stat.Mode & 0xFFF, 8).PadLeft(4, '0')}); Rig refuses such files: `chmod ug-s {hostPath}`.");
            switch (stat.Type)
            {
                case FileType.Directory:
                    Walk(hostPath, devicePath, inputs, ref total, limits);
                    break;
                case FileType.Link:
                    var target = new FileInfo(hostPath).LinkTarget ?? "";
                    if (!ArchivePaths.LinkStaysInside(devicePath.TrimStart('/'), target))
                        throw new PackageBuildException("link-escape", $"Symbolic link '{hostPath}' points to '{target}', outside the package's {PayloadDirectory}/ tree; use a relative target that stays inside it (absolute targets are refused), or copy the file in.");
                    inputs.Add(new ArchiveInput(devicePath, [], "0777", target));
                    break;
                case FileType.Regular:
                    var length = new FileInfo(hostPath).Length;
                    if (length > Array.MaxLength)
                        throw new PackageBuildException("too-large", $"'{hostPath}' is {length} bytes; `rig package build` packs files up to {Array.MaxLength} bytes: ship larger files in a .deb or .rpm.");
                    total += length;
                    if (total > limits.MaxUnpackedBytes)
                        throw new PackageBuildException("too-large", $"The files of the package reach {total} bytes at '{hostPath}', more than an archive may unpack to ({limits.MaxUnpackedBytes}); split the package.");
                    var mode = (stat.Mode & 0x40) != 0 ? "0755" : "0644"; // owner-executable: git keeps only this bit
                    inputs.Add(new ArchiveInput(devicePath, File.ReadAllBytes(hostPath), mode));
                    break;
                default:
                    throw new PackageBuildException("special-file", $"'{hostPath}' is a {Describe(stat.Type)}; a package holds only files, directories and symbolic links: remove it.");
            }
        }
    }

    private static string? Scalar(string path, Dictionary<string, YamlNode> fields, string key)
    {
        if (!fields.TryGetValue(key, out var node))
            return null;
        if (node is not YamlScalarNode scalar)
            throw new PackageBuildException("bad-manifest", $"{Where(path, node)}: {key} must be a single value, not a list or mapping.");
        return scalar.Value;
    }

    private static string Where(string path, YamlNode node) => string.Create(CultureInfo.InvariantCulture, $"{path}:{node.Start.Line}:{node.Start.Column}");

    private static string Printable(string value) =>
        string.Concat(value.Select(c => c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ when char.IsControl(c) => $"\\u{(int)c:x4}", _ => c.ToString() }));

    private static string Describe(FileType type) => type switch
    {
        FileType.CharacterDevice => "character device",
        FileType.BlockDevice => "block device",
        FileType.Fifo => "fifo (named pipe)",
        FileType.Socket => "socket",
        _ => "file of unknown type",
    };

    private enum FileType { Regular, Directory, Link, CharacterDevice, BlockDevice, Fifo, Socket, Unknown }

    /// <summary>The type and mode of a path without following a final link: .NET tells neither a device node from a
    /// file nor the setuid bit, so <c>statx(2)</c> is asked (its layout is the same on every architecture: stx_mode
    /// u16 at offset 28 of 256 bytes).</summary>
    private static (FileType Type, int Mode) Stat(string path)
    {
        const int atFdCwd = -100, atSymlinkNoFollow = 0x100;
        const uint statxType = 0x1, statxMode = 0x2;
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(atFdCwd, path, atSymlinkNoFollow, statxType | statxMode, ref MemoryMarshal.GetReference(buffer)) != 0)
            throw new PackageBuildException("unreadable", $"Cannot read the type of '{path}' (errno {Marshal.GetLastPInvokeError()}); check its permissions.");
        var mode = MemoryMarshal.Read<ushort>(buffer[28..]);
        var type = (mode & 0xF000) switch
        {
            0x8000 => FileType.Regular,
            0x4000 => FileType.Directory,
            0xA000 => FileType.Link,
            0x2000 => FileType.CharacterDevice,
            0x6000 => FileType.BlockDevice,
            0x1000 => FileType.Fifo,
            0xC000 => FileType.Socket,
            _ => FileType.Unknown,
        };
        return (type, mode & 0xFFF);
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, ref byte buffer);

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9][a-z0-9_]{0,31}$")]
    private static partial System.Text.RegularExpressions.Regex ArchitectureRegex();

    [System.Text.RegularExpressions.GeneratedRegex("^0[0-7]{3}$")]
    private static partial System.Text.RegularExpressions.Regex ModeRegex();
}
