using System.Text.RegularExpressions;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux;

/// <summary>The Debian plug-in: installs, upgrades and removes <c>.deb</c> packages with the device's dpkg.
/// Stages of an install: read the blob's control file (it must be the package the command names) -> take dpkg's
/// frontend lock (bounded wait) -> same version installed: done -> every Pre-Depends/Depends satisfied by what is
/// installed (else nothing is unpacked) -> <c>dpkg --install</c> -> on failure, a package that was not installed
/// before is purged again so dpkg's database stays consistent -> record in Rig's database.</summary>
/// <remarks>
/// <para>A root other than <c>/</c> is a device root prepared offline: dpkg runs with <c>--root</c> (maintainer
/// scripts run chrooted into it) and a <c>policy-rc.d</c> that forbids starting services is in place for the
/// duration of each run, so nothing keeps running inside the root. Its place is found the way the chrooted
/// scripts see it (links resolved inside the root, never on the host); it carries <see cref="PolicyRcDMarker"/>,
/// so a copy left by an agent killed mid-run is recognised and removed by the next run, and a
/// <c>policy-rc.d</c> the image brings itself (no marker) is never replaced or removed.</para>
/// <para>Package names and paths follow <c>--</c> in every dpkg, dpkg-query and dpkg-deb call, and names are
/// checked (<see cref="NativeTool.RequireValidName"/>) before anything runs.</para>
/// <para>Locking follows apt: this installer holds <c>/var/lib/dpkg/lock-frontend</c> for the whole command and
/// runs dpkg with <c>DPKG_FRONTEND_LOCKED=1</c>, so apt, another dpkg or another command never interleave.</para>
/// <para>Downgrades are allowed (dpkg warns): the model decides which version a device has. Removal is
/// <c>dpkg --purge</c>: configuration belongs to the model (write-file), so a removed package leaves no conffiles
/// behind that a later install would silently pick up again.</para>
/// </remarks>
public sealed partial class DpkgInstaller(DeviceFileSystem files, PackageDatabase database, NativePackageTimeouts timeouts) : IPackageInstaller
{
    /// <summary>The line that marks a <c>policy-rc.d</c> as the agent's own (written for one dpkg run).</summary>
    public const string PolicyRcDMarker = "# rig-agent policy-rc.d 7c1e0a52-temporary";

    private const string PolicyRcDPath = "/usr/sbin/policy-rc.d";

    private const string PolicyRcD = "#!/bin/sh\n" + PolicyRcDMarker + "\n" +
        "# Written by the Rig agent while it runs dpkg in an offline root: no service starts here. Removed after the run;\n" +
        "# a copy left behind (agent stopped mid-run) is removed by the agent's next dpkg run.\nexit 101\n";

    private bool Offline => files.Root != "/";
    private string AdminDirectory => files.Internal("/var/lib/dpkg");
    private string[] RootArguments => Offline ? ["--root=" + files.Root] : [];

    /// <inheritdoc />
    public async Task<string> InstallAsync(PackageRef package, string blobPath, string workDirectory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(package);
        try
        {
            NativeTool.RequireValidName(package.Name, "dpkg");
            RequireDatabase();
            var control = await ReadControlAsync(package, blobPath, ct).ConfigureAwait(false);
            using var held = await LockAsync(ct).ConfigureAwait(false);
            var entries = await QueryAsync(ct).ConfigureAwait(false);
            var current = entries.FirstOrDefault(e => e.Name == package.Name && e.IsInstalled);
            if (current is not null && current.Version == package.Version)
            {
                await RecordAsync(package, ct).ConfigureAwait(false);
                return $"{package.Name} {package.Version} is already installed; nothing to do";
            }
            await CheckDependenciesAsync(package, control, entries, ct).ConfigureAwait(false);

            var outcome = await RunDpkgChangeAsync(package.Name, ["--force-confdef", "--force-confold", "--install", "--", blobPath], ct).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
                await FailInstallAsync(package, current, outcome, ct).ConfigureAwait(false);
            await RecordAsync(package, ct).ConfigureAwait(false);
            if (current is null)
                return $"installed {package.Name} {package.Version} with dpkg";
            var verb = await CompareAsync(package.Version, "gt", current.Version, ct).ConfigureAwait(false) ? "upgraded" : "downgraded";
            return $"{verb} {package.Name} from {current.Version} to {package.Version} with dpkg";
        }
        finally
        {
            if (Directory.Exists(workDirectory))
                Directory.Delete(workDirectory, recursive: true);
        }
    }

    /// <inheritdoc />
    public async Task<string> RemoveAsync(string name, CancellationToken ct)
    {
        NativeTool.RequireValidName(name, "dpkg");
        RequireDatabase();
        using var held = await LockAsync(ct).ConfigureAwait(false);
        var entry = (await QueryAsync(ct).ConfigureAwait(false)).FirstOrDefault(e => e.Name == name && e.State != "not-installed");
        if (entry is null)
        {
            Forget(name);
            return $"{name} is not installed; nothing to remove";
        }
        // A refused purge would still mark the package for purging in dpkg's selections: try it first.
        var outcome = await RunDpkgAsync(["--dry-run", "--purge", "--", name], ct).ConfigureAwait(false);
        if (outcome.ExitCode == 0)
            outcome = await RunDpkgChangeAsync(name, ["--purge", "--", name], ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            var text = outcome.StandardError + "\n" + outcome.StandardOutput;
            var dependents = DependentRegex().Matches(text).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToList();
            if (dependents.Count > 0)
            {
                throw new CommandFailedException("dependency-conflict",
                    $"Cannot remove {name}: installed packages depend on it ({string.Join(", ", dependents)}). Remove them first (take them out of the model " +
                    $"too) or keep {name} in the model; nothing was removed.");
            }
            throw new CommandFailedException("remove-failed", $"dpkg could not remove {name}: {NativeTool.Brief(outcome.Message)}. Check the device with 'dpkg --audit'.");
        }
        Forget(name);
        return entry.IsInstalled
            ? $"removed {name} {entry.Version} with dpkg (purged, configuration files included)"
            : $"{name} was not installed; purged its leftover configuration files";
    }

    private void RequireDatabase()
    {
        if (!File.Exists(Path.Combine(AdminDirectory, "status")))
        {
            throw new CommandFailedException("no-package-database",
                $"'{Path.Combine(AdminDirectory, "status")}' does not exist: the device root '{files.Root}' has no dpkg database, so .deb packages " +
                "cannot be installed there. Use a Debian-family system (or root), or Rig archives.");
        }
    }

    private async Task<Dictionary<string, string>> ReadControlAsync(PackageRef package, string blobPath, CancellationToken ct)
    {
        var outcome = await ProcessRunner.RunAsync("dpkg-deb", ["--field", "--", blobPath], timeouts.Query, ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
            throw new CommandFailedException("bad-package", $"The blob {package.Sha256} of {package.Name} {package.Version} is not a .deb dpkg can read: {NativeTool.Brief(outcome.Message)}. Re-import the package.");
        var control = DebianDependencies.ParseControl(outcome.StandardOutput);
        var name = control.GetValueOrDefault("Package");
        var version = control.GetValueOrDefault("Version");
        if (name != package.Name || version != package.Version)
            throw new CommandFailedException("package-mismatch", $"The blob {package.Sha256} holds {name} {version}, not {package.Name} {package.Version}; re-import the package.");
        return control;
    }

    /// <summary>Every Pre-Depends and Depends group needs one alternative installed (by name or Provides) in a
    /// version that satisfies it; checked before dpkg unpacks anything, because <c>dpkg --install</c> with an
    /// unmet dependency leaves the package unpacked but not configured.</summary>
    private async Task CheckDependenciesAsync(PackageRef package, Dictionary<string, string> control, List<DpkgEntry> entries, CancellationToken ct)
    {
        var installed = entries.Where(e => e.IsInstalled).ToList();
        var missing = new List<string>();
        foreach (var field in (string[])["Pre-Depends", "Depends"])
        {
            IReadOnlyList<IReadOnlyList<DebianRelation>> groups;
            try
            {
                groups = DebianDependencies.Parse(control.GetValueOrDefault(field));
            }
            catch (FormatException e)
            {
                throw new CommandFailedException("bad-package", $"{package.Name} {package.Version} has a {field} field Rig cannot read: {e.Message}. Fix the package and re-import it.");
            }
            foreach (var group in groups)
            {
                if (!await AnySatisfiedAsync(group, installed, ct).ConfigureAwait(false))
                    missing.Add(string.Join(" | ", group) + Found(group, installed));
            }
        }
        if (missing.Count > 0)
        {
            throw new CommandFailedException("missing-dependency",
                $"{package.Name} {package.Version} needs {string.Join("; ", missing)}. Add the missing package(s) to the model's bundle before " +
                $"{package.Name} (or to a role that comes earlier); nothing was installed.");
        }
    }

    private async Task<bool> AnySatisfiedAsync(IReadOnlyList<DebianRelation> group, List<DpkgEntry> installed, CancellationToken ct)
    {
        foreach (var relation in group)
        {
            foreach (var entry in installed.Where(e => e.Name == relation.Name))
            {
                if (relation.Operator is null || await CompareAsync(entry.Version, relation.Operator, relation.Version!, ct).ConfigureAwait(false))
                    return true;
            }
            foreach (var provided in installed.SelectMany(e => e.ProvidedRelations).Where(p => p.Name == relation.Name))
            {
                // An unversioned Provides satisfies only unversioned dependencies (deb-relationships(5)).
                if (relation.Operator is null)
                    return true;
                if (provided is { Operator: "=", Version: { } version } && await CompareAsync(version, relation.Operator, relation.Version!, ct).ConfigureAwait(false))
                    return true;
            }
        }
        return false;
    }

    private static string Found(IReadOnlyList<DebianRelation> group, List<DpkgEntry> installed)
    {
        var present = group.SelectMany(r => installed.Where(e => e.Name == r.Name)).Select(e => $"{e.Name} {e.Version}").ToList();
        return present.Count == 0 ? " (not installed)" : $" (installed: {string.Join(", ", present)})";
    }

    private async Task FailInstallAsync(PackageRef package, DpkgEntry? before, ProcessOutcome outcome, CancellationToken ct)
    {
        var after = (await QueryAsync(ct).ConfigureAwait(false)).FirstOrDefault(e => e.Name == package.Name);
        string state;
        if (after is null || after.State == "not-installed")
        {
            state = "Nothing was installed.";
        }
        else if (before is null)
        {
            var purge = await RunDpkgAsync(["--purge", "--", package.Name], ct).ConfigureAwait(false);
            state = purge.ExitCode == 0
                ? "The partly installed package was purged again; dpkg's database is as before."
                : $"Purging the partly installed package failed too ({NativeTool.Brief(purge.Message)}); check the device with 'dpkg --audit'.";
        }
        else if (after.IsInstalled)
        {
            state = $"{package.Name} {after.Version} stays installed.";
        }
        else
        {
            state = $"{package.Name} is left '{after.State}' ({after.Version}); check the device with 'dpkg --audit' and fix the cause before running the command again.";
        }
        throw new CommandFailedException("install-failed", $"dpkg could not install {package.Name} {package.Version}: {NativeTool.Brief(outcome.Message)} {state}");
    }

    private async Task RecordAsync(PackageRef package, CancellationToken ct)
    {
        var listing = await ProcessRunner.RunAsync("dpkg-query", [.. RootArguments, "--listfiles", "--", package.Name], timeouts.Query, ct).ConfigureAwait(false);
        var owned = listing.ExitCode == 0 ? NativeTool.FilesOnly(files, listing.StandardOutput) : [];
        database.Update(s => s with
        {
            Packages = [.. s.Packages.Where(p => p.Name != package.Name), new InstalledPackageRecord(package.Name, package.Version, package.Format, package.Sha256, owned, null)],
        });
    }

    private void Forget(string name)
    {
        if (database.Snapshot.Packages.Any(p => p.Name == name && p.Format == PackageFormats.Deb))
            database.Update(s => s with { Packages = [.. s.Packages.Where(p => !(p.Name == name && p.Format == PackageFormats.Deb))] });
    }

    private async Task<PackageManagerLock> LockAsync(CancellationToken ct) =>
        await PackageManagerLock.AcquireAsync(Path.Combine(AdminDirectory, "lock-frontend"), new LockDeadline(timeouts.LockWait), timeouts.LockPoll, ct).ConfigureAwait(false);

    /// <summary>A dpkg run that changes <paramref name="name"/> (install, purge). One stopped at its timeout is
    /// reported with what dpkg's database says now and how to finish or undo it.</summary>
    private async Task<ProcessOutcome> RunDpkgChangeAsync(string name, string[] arguments, CancellationToken ct)
    {
        try
        {
            return await RunDpkgAsync(arguments, ct).ConfigureAwait(false);
        }
        catch (CommandFailedException e) when (e.Code == "timeout")
        {
            string state;
            try
            {
                state = (await QueryAsync(ct).ConfigureAwait(false)).FirstOrDefault(p => p.Name == name) is { } entry
                    ? $"{name} {entry.Version} is '{entry.State}'"
                    : $"{name} is not installed";
            }
            catch (CommandFailedException query)
            {
                state = $"the state of {name} is unknown ({query.Message})";
            }
            var dpkg = Offline ? $"dpkg --root={files.Root}" : "dpkg";
            throw new CommandFailedException("timeout",
                $"{e.Message} dpkg's database now says: {state}. Check the device with '{dpkg} --audit', then finish the interrupted run with " +
                $"'{dpkg} --configure -a' (or purge {name}) before running the command again.");
        }
    }

    /// <summary>Run dpkg itself (frontend lock held by the caller): first wait for its database lock, which
    /// only a dpkg run that ignores the frontend lock could hold, since dpkg fails at once when it is busy.</summary>
    private async Task<ProcessOutcome> RunDpkgAsync(string[] arguments, CancellationToken ct)
    {
        await PackageManagerLock.WaitUntilFreeAsync(Path.Combine(AdminDirectory, "lock"), new LockDeadline(timeouts.LockWait), timeouts.LockPoll, ct).ConfigureAwait(false);
        var environment = new Dictionary<string, string?>
        {
            ["DEBIAN_FRONTEND"] = "noninteractive",
            ["DPKG_FRONTEND_LOCKED"] = "1",
            ["PATH"] = NativeTool.SystemPath,
        };
        var policy = Offline ? PlacePolicy() : null;
        try
        {
            return await ProcessRunner.RunAsync("dpkg", [.. RootArguments, .. arguments], timeouts.Change, ct, environment).ConfigureAwait(false);
        }
        finally
        {
            if (policy is not null && IsOwnPolicy(policy))
                File.Delete(policy);
        }
    }

    /// <summary>Put the agent's <c>policy-rc.d</c> in place for one dpkg run in an offline root; returns its host
    /// path, or null when the image has its own (kept as it is). The path is resolved as the chrooted maintainer
    /// scripts see it, so a link such as <c>/usr/sbin -> /somewhere</c> leads inside the root, never to the
    /// host's files. A marked copy left by an earlier run is replaced.</summary>
    /// <exception cref="CommandFailedException"><c>unsafe-offline-root</c> when its directory is not inside the root.</exception>
    private string? PlacePolicy()
    {
        string path;
        try
        {
            path = files.Resolve(PolicyRcDPath, FinalLink.Keep, allowedRootsOnly: false);
        }
        catch (CommandFailedException e)
        {
            throw UnsafeRoot($"resolving it failed: {e.Message}");
        }
        var directory = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
            throw UnsafeRoot($"inside the root it resolves to '{directory}', which does not exist");
        if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
        {
            if (!IsOwnPolicy(path))
                return null; // the image's own policy: its owner decides what may start
            File.Delete(path); // left by an agent stopped mid-run
        }
        DeviceFileSystem.WriteAtomically(path, System.Text.Encoding.ASCII.GetBytes(PolicyRcD), (UnixFileMode)0b111_101_101);
        return path;
    }

    private CommandFailedException UnsafeRoot(string reason) => new("unsafe-offline-root",
        $"Rig cannot place '{PolicyRcDPath}' (which keeps services from starting while dpkg runs) in the offline root '{files.Root}': {reason}. " +
        $"Fix the image so '{Path.GetDirectoryName(PolicyRcDPath)}' is a directory (or a link to one) inside it, then run the command again; dpkg was not run.");

    /// <summary>A regular file (not a link) carrying <see cref="PolicyRcDMarker"/> as a line of its own.</summary>
    private static bool IsOwnPolicy(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null || !info.Exists || info.Length > 4096)
            return false;
        try
        {
            return File.ReadLines(path).Any(line => line == PolicyRcDMarker);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary><c>dpkg --compare-versions</c>: the tool's own ordering (epochs, tildes), never a re-implementation.</summary>
    private async Task<bool> CompareAsync(string left, string op, string right, CancellationToken ct)
    {
        var outcome = await ProcessRunner.RunAsync("dpkg", ["--compare-versions", "--", left, op, right], timeouts.Query, ct).ConfigureAwait(false);
        return outcome.ExitCode switch
        {
            0 => true,
            1 => false,
            _ => throw new CommandFailedException("bad-package", $"dpkg cannot compare versions '{left}' {op} '{right}': {NativeTool.Brief(outcome.Message)}"),
        };
    }

    private async Task<List<DpkgEntry>> QueryAsync(CancellationToken ct)
    {
        var outcome = await ProcessRunner.RunAsync("dpkg-query",
            [.. RootArguments, "--show", "--showformat", "${Package}\t${Version}\t${Architecture}\t${Status}\t${Provides}\n"], timeouts.Query, ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
            throw new CommandFailedException("package-query-failed", $"dpkg-query could not read the package database of '{files.Root}': {NativeTool.Brief(outcome.Message)}. Check it with 'dpkg --audit'.");
        var entries = new List<DpkgEntry>();
        foreach (var line in outcome.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            if (parts.Length >= 5)
                entries.Add(new DpkgEntry(parts[0], parts[1], parts[2], parts[3].Split(' ').Last(), parts[4]));
        }
        return entries;
    }

    /// <summary>A package in dpkg's status database; <see cref="State"/> is the third word of its Status
    /// (<c>installed</c>, <c>unpacked</c>, <c>half-configured</c>, <c>config-files</c>, <c>not-installed</c>...).</summary>
    private sealed record DpkgEntry(string Name, string Version, string Architecture, string State, string Provides)
    {
        public bool IsInstalled => State == "installed";

        public IEnumerable<DebianRelation> ProvidedRelations
        {
            get
            {
                try
                {
                    return DebianDependencies.Parse(Provides).SelectMany(g => g);
                }
                catch (FormatException)
                {
                    return [];
                }
            }
        }
    }

    // dpkg: " rig-dep depends on rig-lib." / " x pre-depends on y."
    [GeneratedRegex(@"^\s*(\S+) (?:pre-)?depends on ", RegexOptions.Multiline)]
    private static partial Regex DependentRegex();
}
