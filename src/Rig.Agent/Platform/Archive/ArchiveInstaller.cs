using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Archive;

/// <summary>The Archive plug-in: installs Rig archives (<c>.rig.tar.gz</c>) into a device root. Stages:
/// inspect (every entry checked, nothing written yet) -> extract into a staging directory -> check file
/// ownership -> move into place -> drop files of the previous version -> record. A package owns its files;
/// a file of another package is never overwritten.</summary>
internal sealed class ArchiveInstaller(DeviceFileSystem files, PackageDatabase database, RigLimits limits) : IPackageInstaller
{
    /// <inheritdoc />
    /// <remarks>Rig archives have no dependencies, so there is never a cycle to install together.</remarks>
    public bool InstallsTogether => false;

    /// <inheritdoc />
    public Task<string> InstallAsync(IReadOnlyList<PackageBlob> packages, string workDirectory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(packages);
        if (packages is not [var only])
        {
            if (Directory.Exists(workDirectory))
                Directory.Delete(workDirectory, recursive: true);
            throw NotTogether(packages.Select(p => p.Package.Name));
        }
        return InstallAsync(only.Package, only.Path, workDirectory, ct);
    }

    /// <inheritdoc />
    public Task<string> RemoveAsync(IReadOnlyList<string> names, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(names);
        return names is [var only] ? RemoveAsync(only) : throw NotTogether(names);
    }

    private static CommandFailedException NotTogether(IEnumerable<string> names) => new("unsupported",
        $"Rig archives are installed and removed one at a time ({string.Join(", ", names)} were sent together): they have no dependencies, so " +
        "none needs another in the same run. Send one command per archive; nothing was changed.");

    private Task<string> InstallAsync(PackageRef package, string blobPath, string workDirectory, CancellationToken ct)
    {
        RigArchive archive;
        try
        {
            using (var stream = File.OpenRead(blobPath))
                archive = RigArchive.Inspect(stream, limits);
            if (archive.Manifest.Name != package.Name || archive.Manifest.Version != package.Version)
                throw new CommandFailedException("package-mismatch", $"The blob {package.Sha256} holds {archive.Manifest.Name} {archive.Manifest.Version}, not {package.Name} {package.Version}; re-import the package.");

            // Check everything against the device before writing anything. Paths are compared as resolved host
            // paths, so /bin/tool and /usr/bin/tool are the same file when /bin links to usr/bin.
            var owners = new Dictionary<string, (string Path, string Package)>(StringComparer.Ordinal);
            foreach (var other in database.Snapshot.Packages.Where(p => p.Name != package.Name))
            {
                foreach (var path in other.Files)
                    owners[files.Resolve(path, FinalLink.Keep, allowedRootsOnly: false)] = (path, other.Name);
            }
            var targets = new List<(ArchiveEntry Entry, string DevicePath, string Target)>();
            foreach (var entry in archive.Entries)
            {
                var devicePath = "/" + entry.Path;
                var target = files.Resolve(devicePath, FinalLink.Keep, allowedRootsOnly: false);
                if (entry.Kind != ArchiveEntryKind.Directory && owners.TryGetValue(target, out var owner))
                    throw new CommandFailedException("file-conflict", $"'{devicePath}' is '{owner.Path}' of package '{owner.Package}'; {package.Name} cannot overwrite it. Remove one of them from the model.");
                CheckKind(entry.Kind, target, devicePath, package.Name);
                if (entry.Kind == ArchiveEntryKind.SymbolicLink)
                {
                    // Where the link really lands (through links already on the device) is what must stay inside.
                    var landed = Path.GetRelativePath(files.Root, target).Replace('\\', '/');
                    if (!ArchivePaths.LinkStaysInside(landed, entry.LinkTarget!))
                        throw new CommandFailedException("link-escape", $"Link '{devicePath}' lands at '/{landed}' on this device, where '{entry.LinkTarget}' points outside the root; nothing was installed.");
                }
                targets.Add((entry, devicePath, target));
            }

            // Nothing may be written through a link this package creates: the checks above resolved every path
            // before those links existed.
            var ownLinks = targets.Where(t => t.Entry.Kind == ArchiveEntryKind.SymbolicLink).Select(t => t.Target).ToList();
            foreach (var (entry, devicePath, target) in targets)
            {
                if (ownLinks.FirstOrDefault(link => target.StartsWith(link + "/", StringComparison.Ordinal)) is { } through)
                    throw new CommandFailedException("link-escape", $"'{devicePath}' would be written through the package's own link '/{Path.GetRelativePath(files.Root, through)}'; nothing was installed.");
            }

            var staging = Path.Combine(workDirectory, "extract");
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
            using (var stream = File.OpenRead(blobPath))
                archive.ExtractTo(stream, staging, limits);

            var installed = new List<string>();
            var installedTargets = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (entry, devicePath, target) in targets)
            {
                ct.ThrowIfCancellationRequested();
                var source = Path.Combine(staging, entry.Path);
                if (files.Resolve(devicePath, FinalLink.Keep, allowedRootsOnly: false) != target)
                    throw new CommandFailedException("link-escape", $"'{devicePath}' resolves elsewhere than when it was checked (a link changed during the install); the install stopped.");
                CheckKind(entry.Kind, target, devicePath, package.Name);
                switch (entry.Kind)
                {
                    case ArchiveEntryKind.Directory:
                        Directory.CreateDirectory(target);
                        break;
                    case ArchiveEntryKind.File or ArchiveEntryKind.HardLink:
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        File.Move(source, target, overwrite: true); // rename: replaces a link itself, never writes through it
                        installed.Add(devicePath);
                        installedTargets.Add(target);
                        break;
                    case ArchiveEntryKind.SymbolicLink:
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        if (File.Exists(target) || new FileInfo(target).LinkTarget is not null)
                            File.Delete(target);
                        File.CreateSymbolicLink(target, entry.LinkTarget!);
                        installed.Add(devicePath);
                        installedTargets.Add(target);
                        break;
                }
            }

            var previous = database.Snapshot.Packages.FirstOrDefault(p => p.Name == package.Name);
            var stale = previous?.Files.Where(f => !installedTargets.Contains(files.Resolve(f, FinalLink.Keep, allowedRootsOnly: false))).ToList() ?? [];
            foreach (var path in stale)
                DeleteIfPresent(path);

            database.Update(s => s with
            {
                Packages = [.. s.Packages.Where(p => p.Name != package.Name), new InstalledPackageRecord(package.Name, package.Version, package.Format, package.Sha256, installed, archive.Manifest.Service?.Name)],
            });
            var verb = previous is null ? "installed" : $"upgraded from {previous.Version} to";
            return Task.FromResult($"{verb} {package.Name} {package.Version}: {installed.Count} files" + (stale.Count > 0 ? $", {stale.Count} old files removed" : ""));
        }
        catch (ArchiveRejectedException e)
        {
            throw new CommandFailedException(e.Code, $"Package {package.Name} {package.Version} is refused, nothing was installed: {e.Message}");
        }
        finally
        {
            if (Directory.Exists(workDirectory))
                Directory.Delete(workDirectory, recursive: true);
        }
    }

    private Task<string> RemoveAsync(string name)
    {
        var record = database.Snapshot.Packages.FirstOrDefault(p => p.Name == name);
        if (record is null)
            return Task.FromResult($"{name} is not installed; nothing to remove");
        foreach (var path in Enumerable.Reverse(record.Files))
            DeleteIfPresent(path);
        database.Update(s => s with { Packages = [.. s.Packages.Where(p => p.Name != name)] });
        return Task.FromResult($"removed {name} {record.Version}: {record.Files.Count} files");
    }

    /// <summary>A directory may not replace a real file, nor a file or link a real directory.</summary>
    private static void CheckKind(ArchiveEntryKind kind, string target, string devicePath, string package)
    {
        var isLink = new FileInfo(target).LinkTarget is not null;
        if (kind == ArchiveEntryKind.Directory && File.Exists(target) && !isLink)
            throw new CommandFailedException("file-conflict", $"'{devicePath}' is a file on the device but a directory in {package}.");
        if (kind != ArchiveEntryKind.Directory && Directory.Exists(target) && !isLink)
            throw new CommandFailedException("file-conflict", $"'{devicePath}' is a directory on the device but a {(kind == ArchiveEntryKind.SymbolicLink ? "link" : "file")} in {package}.");
    }

    private void DeleteIfPresent(string devicePath)
    {
        var host = files.Resolve(devicePath, FinalLink.Keep, allowedRootsOnly: false);
        if (File.Exists(host) || new FileInfo(host).LinkTarget is not null)
            File.Delete(host);
    }
}
