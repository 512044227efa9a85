using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Components;

/// <summary>Runs one command through the generic components (fetch-and-verify, install, remove, write-file,
/// delete-file, service, inventory) over the platform. Never throws for a command's own failure: the result
/// says what was wrong. Reboot is the runtime's business (it ends the process).</summary>
internal sealed class CommandExecutor(IPlatform platform, AgentPaths paths, RigLimits limits, Backoff? backoff = null, AgentLog? log = null)
{
    private readonly Backoff _backoff = backoff ?? new Backoff(limits);
    private readonly AgentLog _log = log ?? new AgentLog("-", verbose: false);

    /// <summary>Execute <paramref name="command"/>; <paramref name="client"/> fetches blobs from the agent's own gateway.
    /// <paramref name="stop"/> ends only the fetch of a package (retried while the gateway is away), before anything
    /// changed on the device: then <see cref="OperationCanceledException"/> is thrown and the command has no result.</summary>
    public async Task<CommandResult> ExecuteAsync(Command command, GatewayClient client, CancellationToken stop)
    {
        var ct = CancellationToken.None; // a command that started changing the device runs to its end
        ArgumentNullException.ThrowIfNull(command);
        var watch = Stopwatch.StartNew();
        try
        {
            var (output, inventory) = command.Spec switch
            {
                InstallCommand install => (await InstallAsync(command.Id, install, client, stop).ConfigureAwait(false), null),
                RemoveCommand remove => (await RemoveAsync(remove, ct).ConfigureAwait(false), null),
                WriteFileCommand write => (WriteFile(write), null),
                DeleteFileCommand delete => (DeleteFile(delete), null),
                ServiceCommand service => (await platform.Services.ApplyAsync(service.Name, service.Action, ct).ConfigureAwait(false), null),
                NetworkCommand network => (await platform.Network.ApplyAsync(network, ct).ConfigureAwait(false), null),
                InventoryCommand => ("inventory collected", await Inventory.CollectAsync(platform, ct).ConfigureAwait(false)),
                _ => throw new CommandFailedException("unsupported", $"This agent cannot run '{command.Spec.Kind}' commands; upgrade the agent."),
            };
            return new CommandResult { CommandId = command.Id, Outcome = CommandOutcome.Succeeded, Output = Tail(output), DurationMs = watch.ElapsedMilliseconds, Inventory = inventory };
        }
        catch (CommandFailedException e)
        {
            return Failed(command, e.Code, e.Message, watch);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return DiskFull.Is(e)
                ? Failed(command, DiskFull.Code, $"{command.Spec.Describe()} failed: the device's disk is full ({e.Message}); {DiskFull.Remedy}.", watch)
                : Failed(command, "io-error", $"{command.Spec.Describe()} failed: {e.Message}", watch);
        }
    }

    private static CommandResult Failed(Command command, string code, string message, Stopwatch watch) =>
        new() { CommandId = command.Id, Outcome = CommandOutcome.Failed, ErrorCode = code, Error = message, DurationMs = watch.ElapsedMilliseconds };

    private string Tail(string output) => output.Length <= limits.MaxOutputChars ? output : output[^limits.MaxOutputChars..];

    private IPackageInstaller InstallerFor(string format) =>
        platform.Installers.TryGetValue(format, out var installer)
            ? installer
            : throw new CommandFailedException("unsupported-format", $"The {platform.Name} platform cannot install '{format}' packages.");

    /// <summary>Fetch-and-verify, then install. Every package of the command (<see cref="InstallCommand.All"/>) is checked
    /// first, then every blob is fetched and verified (length and SHA-256) before the installer sees any of them, so a
    /// set installed together never starts with one package missing. Verified blobs are cached by digest so a
    /// re-install does not download again.</summary>
    private async Task<string> InstallAsync(string commandId, InstallCommand install, GatewayClient client, CancellationToken stop)
    {
        var ct = CancellationToken.None;
        var package = install.Package;
        if (!Names.IsValidPackageName(package.Name) || !Names.IsValidVersion(package.Version) || !Names.IsValidSha256(package.Sha256))
            throw new CommandFailedException("bad-package", $"Refusing package '{package.Name}' '{package.Version}' ({package.Sha256}): name, version or digest is not allowed.");
        CheckWith(install);
        var installer = InstallerFor(package.Format);
        var packages = install.All;
        if (packages.Count > 1 && !installer.InstallsTogether)
            throw new CommandFailedException("unsupported", $"The {platform.Name} platform installs '{package.Format}' packages one at a time; refusing {install.Describe()}. Nothing was downloaded or installed.");
        var blobs = new List<PackageBlob>(packages.Count);
        foreach (var each in packages)
        {
            var cached = Path.Combine(paths.Cache, each.Sha256);
            if (!File.Exists(cached) || new FileInfo(cached).Length != each.Size || !await DigestMatchesAsync(cached, each.Sha256, ct).ConfigureAwait(false))
                await FetchAsync(each, client, cached, stop).ConfigureAwait(false);
            blobs.Add(new PackageBlob(each, cached));
        }
        var work = platform.Files.Internal($"/var/lib/rig/staging/{commandId}");
        return await installer.InstallAsync(blobs, work, ct).ConfigureAwait(false);
    }

    /// <summary>The packages of <see cref="InstallCommand.With"/>, before anything is downloaded: each a valid name,
    /// version and digest in the format of the command's own package, no name twice, at most
    /// <see cref="RigLimits.MaxWithPackages"/>.</summary>
    private void CheckWith(InstallCommand install)
    {
        if (install.With is not { Count: > 0 } with)
            return;
        var main = install.Package;
        string Refuse(string why) => $"Refusing to install {main.Name} {main.Version} with {with.Count} other package(s): {why}. Nothing was downloaded or installed; fix the plan.";
        if (with.Count > limits.MaxWithPackages)
            throw new CommandFailedException("bad-package", Refuse($"at most {limits.MaxWithPackages} packages may be installed together"));
        var seen = new HashSet<string>(StringComparer.Ordinal) { main.Name };
        foreach (var other in with)
        {
            if (other is null)
                throw new CommandFailedException("bad-package", Refuse("'with' holds a null entry"));
            if (!Names.IsValidPackageName(other.Name) || !Names.IsValidVersion(other.Version) || !Names.IsValidSha256(other.Sha256))
                throw new CommandFailedException("bad-package", Refuse($"package '{other.Name}' '{other.Version}' ({other.Sha256}): name, version or digest is not allowed"));
            if (other.Format != main.Format)
                throw new CommandFailedException("bad-package", Refuse($"{other.Name} is a '{other.Format}' package, {main.Name} a '{main.Format}' one; one package manager run installs one format"));
            if (!seen.Add(other.Name))
                throw new CommandFailedException("bad-package", Refuse($"{other.Name} is named twice"));
        }
    }

    /// <summary>Remove a package (and those of <see cref="RemoveCommand.With"/> in the same run); every name and the format
    /// are checked before any package manager sees them (a name like <c>-a</c> or <c>--eval=...</c> would be an option
    /// run as root).</summary>
    private Task<string> RemoveAsync(RemoveCommand remove, CancellationToken ct)
    {
        if (!Names.IsValidPackageName(remove.Name))
            throw new CommandFailedException("bad-package", $"Refusing to remove package '{remove.Name}': a package name is {Names.PackageNameRule}; nothing was run. Fix the name in the model.");
        if (!PackageFormats.IsKnown(remove.Format))
            throw new CommandFailedException("bad-package", $"Refusing to remove {remove.Name}: '{remove.Format}' is not a package format Rig knows (rig, deb, rpm); nothing was run.");
        if (remove.With is { Count: > 0 } with)
        {
            string Refuse(string why) => $"Refusing to remove {remove.Name} with {with.Count} other package(s): {why}. Nothing was run; fix the plan.";
            if (with.Count > limits.MaxWithPackages)
                throw new CommandFailedException("bad-package", Refuse($"at most {limits.MaxWithPackages} packages may be removed together"));
            var seen = new HashSet<string>(StringComparer.Ordinal) { remove.Name };
            foreach (var name in with)
            {
                if (!Names.IsValidPackageName(name))
                    throw new CommandFailedException("bad-package", Refuse($"'{name}' is not a package name (a package name is {Names.PackageNameRule})"));
                if (!seen.Add(name))
                    throw new CommandFailedException("bad-package", Refuse($"{name} is named twice"));
            }
        }
        var installer = InstallerFor(remove.Format);
        if (remove.All.Count > 1 && !installer.InstallsTogether)
            throw new CommandFailedException("unsupported", $"The {platform.Name} platform removes '{remove.Format}' packages one at a time; refusing {remove.Describe()}. Nothing was removed.");
        return installer.RemoveAsync(remove.All, ct);
    }

    /// <summary>Download a blob, retrying while the gateway is away (a restart takes seconds) with the one retry
    /// policy of every agent request (<see cref="Backoff"/>); a partial download resumes by range where it stopped. The
    /// command fails only for what retrying cannot fix: the gateway refuses the blob (404: it does not have it), the
    /// blob is not the one announced (size or digest), or the device's disk is full.</summary>
    private async Task FetchAsync(PackageRef package, GatewayClient client, string cached, CancellationToken stop)
    {
        var partial = Path.Combine(paths.Downloads, package.Sha256 + ".part");
        try
        {
            await _backoff.RetryAsync(async ct =>
            {
                await client.DownloadBlobAsync(package.Sha256, package.Size, partial, cached, ct).ConfigureAwait(false);
                return true;
            }, _log, $"downloading {package.Name} {package.Version}", stop).ConfigureAwait(false);
        }
        catch (GatewayRefusalException e)
        {
            throw new CommandFailedException("download-refused", $"The gateway refused blob {package.Sha256} of {package.Name} {package.Version}: {e.Message}");
        }
    }

    private static async Task<bool> DigestMatchesAsync(string path, string sha256, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false)) == sha256;
    }

    private string WriteFile(WriteFileCommand write)
    {
        var content = Encoding.UTF8.GetBytes(write.Content);
        if (content.Length > limits.MaxConfigFileBytes)
            throw new CommandFailedException("too-large", $"'{write.Path}' is {content.Length} bytes, over the {limits.MaxConfigFileBytes}-byte limit for configuration files.");
        var actual = Convert.ToHexStringLower(SHA256.HashData(content));
        if (actual != write.Sha256)
            throw new CommandFailedException("digest-mismatch", $"Content of '{write.Path}' has sha256 {actual}, but the command says {write.Sha256}; nothing was written.");
        if (!TryParseMode(write.Mode, out var mode))
            throw new CommandFailedException("bad-mode", $"Mode '{write.Mode}' of '{write.Path}' is not an octal mode like 0644 (setuid/setgid refused).");
        if (!Names.IsValidServiceName(write.Owner) || !Names.IsValidServiceName(write.Group))
            throw new CommandFailedException("bad-owner", $"Owner '{write.Owner}' or group '{write.Group}' of '{write.Path}' is not a valid name.");
        var host = platform.Files.Resolve(write.Path, FinalLink.Refuse, allowedRootsOnly: true);
        if (Directory.Exists(host))
            throw new CommandFailedException("is-directory", $"'{write.Path}' is a directory on the device; Rig will not replace it with a file.");
        // The sandbox's files stay the test user's; on a real device the owner is resolved before anything is written.
        var ids = platform is LinuxPlatform ? OnDiskAttributes.ResolveOwner(platform.Files.Root, write.Owner, write.Group) : ((uint, uint)?)null;
        DeviceFileSystem.WriteAtomically(host, content, mode);
        if (ids is { } owner)
            OnDiskAttributes.SetOwner(host, owner, write.Owner, write.Group);
        platform.Database.Update(s => s with
        {
            Files = [.. s.Files.Where(f => f.Path != write.Path), new ManagedFileRecord(write.Path, write.Sha256, write.Mode, write.Owner, write.Group)],
        });
        return $"wrote {write.Path} ({content.Length} bytes, {write.Mode})";
    }

    private string DeleteFile(DeleteFileCommand delete)
    {
        if (!platform.Database.Snapshot.Files.Any(f => f.Path == delete.Path))
            throw new CommandFailedException("not-managed", $"Refusing to delete '{delete.Path}': Rig did not write it.");
        var host = platform.Files.Resolve(delete.Path, FinalLink.Keep, allowedRootsOnly: true);
        if (File.Exists(host) || new FileInfo(host).LinkTarget is not null)
            File.Delete(host);
        platform.Database.Update(s => s with { Files = [.. s.Files.Where(f => f.Path != delete.Path)] });
        return $"deleted {delete.Path}";
    }

    private static bool TryParseMode(string text, out UnixFileMode mode)
    {
        mode = 0;
        if (text.Length is < 3 or > 4 || text.Any(c => c is < '0' or > '7'))
            return false;
        var value = Convert.ToInt32(text, 8);
        if ((value & 0xC00) != 0)
            return false;
        mode = (UnixFileMode)value;
        return true;
    }
}
