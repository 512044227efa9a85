using System.Text.RegularExpressions;
using Rig.Protocol.Messages;
using Rig.Protocol.Packaging;

namespace Rig.Agent.Platform.Linux;

/// <summary>The Debian plug-in: installs, upgrades and removes <c>.deb</c> packages with the device's dpkg.
/// Stages of an install (of one package, or of a set that depends on itself in a cycle, <see cref="InstallCommand.With"/>):
/// read each blob's control file (it must be the package the command names) -> take dpkg's frontend lock (bounded
/// wait) -> every package at its version already: done -> every Pre-Depends/Depends satisfied by what is installed
/// plus the set (else nothing is unpacked) -> one <c>dpkg --install</c> of the packages not at their version yet ->
/// on failure, those that were not installed before are purged again so dpkg's database stays consistent -> record
/// every package of the set in Rig's database.</summary>
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
internal sealed partial class DpkgInstaller(DeviceFileSystem files, PackageDatabase database, NativePackageTimeouts timeouts) : IPackageInstaller
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
    public bool InstallsTogether => true;

    /// <inheritdoc />
    /// <remarks>A set (<see cref="InstallCommand.With"/>) goes to one <c>dpkg --install</c>, which unpacks every package
    /// before it configures any, so packages that depend on each other in a cycle are installed together; the
    /// dependency check counts the whole set as installed. Members already at their version are left alone.</remarks>
    public async Task<string> InstallAsync(IReadOnlyList<PackageBlob> packages, string workDirectory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(packages);
        try
        {
            if (packages.Count == 0)
                throw new ArgumentException("No package to install.", nameof(packages));
            foreach (var blob in packages)
                NativeTool.RequireValidName(blob.Package.Name, "dpkg");
            RequireDatabase();
            var controls = new List<Dictionary<string, string>>(packages.Count);
            foreach (var blob in packages)
                controls.Add(await ReadControlAsync(blob.Package, blob.Path, ct).ConfigureAwait(false));
            using var held = await LockAsync(ct).ConfigureAwait(false);
            var entries = await QueryAsync(ct).ConfigureAwait(false);
            var before = packages.Select(b => entries.FirstOrDefault(e => e.Name == b.Package.Name && e.IsInstalled)).ToList();
            var pending = Enumerable.Range(0, packages.Count).Where(i => before[i]?.Version != packages[i].Package.Version).ToList();
            if (pending.Count == 0)
            {
                foreach (var blob in packages)
                    await RecordAsync(blob.Package, ct).ConfigureAwait(false);
                return NativeTool.AlreadyInstalled([.. packages.Select(b => b.Package)]);
            }
            await CheckDependenciesAsync([.. pending.Select(i => (packages[i].Package, controls[i]))], entries, ct).ConfigureAwait(false);

            var toInstall = pending.Select(i => packages[i]).ToList();
            var outcome = await RunDpkgChangeAsync([.. toInstall.Select(b => b.Package.Name)],
                ["--force-confdef", "--force-confold", "--install", "--", .. toInstall.Select(b => b.Path)], ct).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
                await FailInstallAsync(toInstall.Select(b => b.Package).ToList(), pending.Select(i => before[i]).ToList(), outcome, ct).ConfigureAwait(false);
            foreach (var blob in packages)
                await RecordAsync(blob.Package, ct).ConfigureAwait(false);
            var done = new List<string>();
            for (var i = 0; i < packages.Count; i++)
            {
                var (package, current) = (packages[i].Package, before[i]);
                if (!pending.Contains(i))
                    done.Add($"{package.Name} {package.Version} was already installed");
                else if (current is null)
                    done.Add($"installed {package.Name} {package.Version}");
                else
                    done.Add($"{(await CompareAsync(package.Version, "gt", current.Version, ct).ConfigureAwait(false) ? "upgraded" : "downgraded")} {package.Name} from {current.Version} to {package.Version}");
            }
            return packages.Count == 1 ? $"{done[0]} with dpkg" : $"{string.Join("; ", done)}; with dpkg in one run";
        }
        finally
        {
            if (Directory.Exists(workDirectory))
                Directory.Delete(workDirectory, recursive: true);
        }
    }

    /// <inheritdoc />
    /// <remarks>Every name present goes to one <c>dpkg --purge</c> (after the same purge as a dry run), so packages that
    /// depend on each other are removed together.</remarks>
    public async Task<string> RemoveAsync(IReadOnlyList<string> names, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count == 0)
            throw new ArgumentException("No package to remove.", nameof(names));
        foreach (var name in names)
            NativeTool.RequireValidName(name, "dpkg");
        RequireDatabase();
        using var held = await LockAsync(ct).ConfigureAwait(false);
        var entries = await QueryAsync(ct).ConfigureAwait(false);
        var present = names.Select(n => entries.FirstOrDefault(e => e.Name == n && e.State != "not-installed")).OfType<DpkgEntry>().ToList();
        var what = NativeTool.Listing(names);
        if (present.Count == 0)
        {
            foreach (var name in names)
                Forget(name);
            return names.Count == 1 ? $"{what} is not installed; nothing to remove" : $"{what} are not installed; nothing to remove";
        }
        string[] purge = ["--purge", "--", .. present.Select(e => e.Name)];
        // A refused purge would still mark the packages for purging in dpkg's selections: try it first.
        var outcome = await RunDpkgAsync(["--dry-run", .. purge], ct).ConfigureAwait(false);
        if (outcome.ExitCode == 0)
            outcome = await RunDpkgChangeAsync([.. present.Select(e => e.Name)], purge, ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            var text = outcome.StandardError + "\n" + outcome.StandardOutput;
            var dependents = DependentRegex().Matches(text).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToList();
            if (dependents.Count > 0)
            {
                throw new CommandFailedException("dependency-conflict",
                    $"Cannot remove {what}: installed packages depend on {(names.Count == 1 ? "it" : "them")} ({string.Join(", ", dependents)}). Nothing was removed. " +
                    DependentsAdvice(what));
            }
            throw new CommandFailedException("remove-failed", $"dpkg could not remove {what}: {NativeTool.Brief(outcome.Message)}. Check the device with 'dpkg --audit'.");
        }
        foreach (var name in names)
            Forget(name);
        var removed = present.Select(e => e.IsInstalled ? $"{e.Name} {e.Version}" : $"{e.Name} (configuration files only)").ToList();
        if (names.Count == 1)
        {
            return present[0].IsInstalled
                ? $"removed {present[0].Name} {present[0].Version} with dpkg (purged, configuration files included)"
                : $"{present[0].Name} was not installed; purged its leftover configuration files";
        }
        var absent = names.Except(present.Select(e => e.Name), StringComparer.Ordinal).ToList();
        return $"removed {string.Join(", ", removed)} with dpkg in one run (purged, configuration files included)" + (absent.Count > 0 ? $"; {NativeTool.Listing(absent)} not installed" : "");
    }

    /// <summary>What to do when the package manager refuses a removal because installed packages need what goes.
    /// Plans remove dependents first and see every package the last inventory reported, so those packages came from
    /// outside Rig after it.</summary>
    internal static string DependentsAdvice(string what) =>
        $"Rig's plans remove dependents first, so these came from outside Rig since the device's last inventory: remove them on the device " +
        $"(or keep {what} in a role); the next inventory shows them to the plan, which then refuses the removal with package.removal-breaks.";

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
        var control = DebianControl.ParseControl(outcome.StandardOutput);
        var name = control.GetValueOrDefault("Package");
        var version = control.GetValueOrDefault("Version");
        if (name != package.Name || version != package.Version)
            throw new CommandFailedException("package-mismatch", $"The blob {package.Sha256} holds {name} {version}, not {package.Name} {package.Version}; re-import the package.");
        return control;
    }

    /// <summary>Every Pre-Depends and Depends group of every package being installed needs one alternative installed
    /// (by name or Provides) in a version that satisfies it; checked before dpkg unpacks anything, because
    /// <c>dpkg --install</c> with an unmet dependency leaves the package unpacked but not configured. Depends count the
    /// packages of the set as installed in their new version (dpkg configures them together, after unpacking them
    /// all); Pre-Depends count only what is configured now, since dpkg needs that before it unpacks the package (a
    /// Pre-Depends on another member of the set cannot be met in one run).</summary>
    private async Task CheckDependenciesAsync(IReadOnlyList<(PackageRef Package, Dictionary<string, string> Control)> set, List<DpkgEntry> entries, CancellationToken ct)
    {
        var incoming = set.Select(p => p.Package.Name).ToHashSet(StringComparer.Ordinal);
        var now = entries.Where(e => e.IsInstalled).ToList();
        var after = now.Where(e => !incoming.Contains(e.Name))
            .Concat(set.Select(p => new DpkgEntry(p.Package.Name, p.Package.Version, p.Control.GetValueOrDefault("Architecture") ?? "", "installed", p.Control.GetValueOrDefault("Provides") ?? "")))
            .ToList();
        var missing = new List<string>();
        foreach (var (package, control) in set)
        {
            foreach (var field in (string[])["Pre-Depends", "Depends"])
            {
                IReadOnlyList<IReadOnlyList<PackageRelation>> groups;
                try
                {
                    groups = PackageRelations.ParseDebianField(control.GetValueOrDefault(field));
                }
                catch (FormatException e)
                {
                    throw new CommandFailedException("bad-package", $"{package.Name} {package.Version} has a {field} field Rig cannot read: {e.Message}. Fix the package and re-import it.");
                }
                var pool = field == "Pre-Depends" ? now : after;
                foreach (var group in groups)
                {
                    if (await AnySatisfiedAsync(group, pool, ct).ConfigureAwait(false))
                        continue;
                    var who = set.Count == 1 ? "" : field == "Pre-Depends" ? $"{package.Name} pre-depends on " : $"{package.Name} needs ";
                    var note = set.Count > 1 && field == "Pre-Depends" && await AnySatisfiedAsync(group, after, ct).ConfigureAwait(false)
                        ? ", which must be configured before this set is unpacked: install it in an earlier command"
                        : "";
                    missing.Add(who + PackageRelations.Format(group) + Found(group, pool) + note);
                }
            }
        }
        if (missing.Count > 0)
        {
            var first = set[0].Package;
            var what = set.Count == 1 ? $"{first.Name} {first.Version} needs " : $"{NativeTool.Listing(set.Select(p => $"{p.Package.Name} {p.Package.Version}"))}, installed together: ";
            throw new CommandFailedException("missing-dependency",
                $"{what}{string.Join("; ", missing)}. Add the missing package(s) to the model's bundle before " +
                $"{first.Name} (or to a role that comes earlier); nothing was installed.");
        }
    }

    private async Task<bool> AnySatisfiedAsync(IReadOnlyList<PackageRelation> group, List<DpkgEntry> installed, CancellationToken ct)
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

    private static string Found(IReadOnlyList<PackageRelation> group, List<DpkgEntry> installed)
    {
        var present = group.SelectMany(r => installed.Where(e => e.Name == r.Name)).Select(e => $"{e.Name} {e.Version}").ToList();
        return present.Count == 0 ? " (not installed)" : $" (installed: {string.Join(", ", present)})";
    }

    /// <summary>After a failed <c>dpkg --install</c> of <paramref name="packages"/>: those that were not installed before
    /// are purged again (together, since they may depend on each other), so dpkg's database holds no half-installed
    /// package Rig put there; the error says what each package is now.</summary>
    private async Task FailInstallAsync(IReadOnlyList<PackageRef> packages, IReadOnlyList<DpkgEntry?> before, ProcessOutcome outcome, CancellationToken ct)
    {
        var entries = await QueryAsync(ct).ConfigureAwait(false);
        var after = packages.Select(p => entries.FirstOrDefault(e => e.Name == p.Name)).ToList();
        var states = new List<string>();
        var newcomers = Enumerable.Range(0, packages.Count).Where(i => before[i] is null && after[i] is { State: not "not-installed" }).Select(i => packages[i].Name).ToList();
        if (newcomers.Count > 0)
        {
            var purge = await RunDpkgAsync(["--purge", "--", .. newcomers], ct).ConfigureAwait(false);
            states.Add(purge.ExitCode == 0
                ? (packages.Count == 1 ? "The partly installed package was purged again; dpkg's database is as before." : $"Purged again (they were not installed before): {NativeTool.Listing(newcomers)}.")
                : $"Purging {NativeTool.Listing(newcomers)} (partly installed) failed too ({NativeTool.Brief(purge.Message)}); check the device with 'dpkg --audit'.");
        }
        for (var i = 0; i < packages.Count; i++)
        {
            var (package, was, now) = (packages[i], before[i], after[i]);
            if (newcomers.Contains(package.Name))
                continue;
            if (now is null || now.State == "not-installed")
                states.Add(packages.Count == 1 ? "Nothing was installed." : $"{package.Name} was not installed.");
            else if (now.IsInstalled)
                states.Add($"{package.Name} {now.Version} stays installed.");
            else
                states.Add($"{package.Name} is left '{now.State}' ({now.Version}){(was is null ? "" : $", it was {was.Version} before")}; check the device with 'dpkg --audit' and fix the cause before running the command again.");
        }
        var what = NativeTool.Listing(packages.Select(p => $"{p.Name} {p.Version}"));
        throw new CommandFailedException("install-failed", $"dpkg could not install {what}: {NativeTool.Brief(outcome.Message)} {string.Join(" ", states)}");
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

    /// <summary>A dpkg run that changes <paramref name="names"/> (install, purge). One stopped at its timeout is
    /// reported with what dpkg's database says now and how to finish or undo it.</summary>
    private async Task<ProcessOutcome> RunDpkgChangeAsync(IReadOnlyList<string> names, string[] arguments, CancellationToken ct)
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
                var entries = await QueryAsync(ct).ConfigureAwait(false);
                state = string.Join(", ", names.Select(name => entries.FirstOrDefault(p => p.Name == name) is { } entry
                    ? $"{name} {entry.Version} is '{entry.State}'"
                    : $"{name} is not installed"));
            }
            catch (CommandFailedException query)
            {
                state = $"the state of {NativeTool.Listing(names)} is unknown ({query.Message})";
            }
            var dpkg = Offline ? $"dpkg --root={files.Root}" : "dpkg";
            throw new CommandFailedException("timeout",
                $"{e.Message} dpkg's database now says: {state}. Check the device with '{dpkg} --audit', then finish the interrupted run with " +
                $"'{dpkg} --configure -a' (or purge {NativeTool.Listing(names)}) before running the command again.");
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

        public IEnumerable<PackageRelation> ProvidedRelations
        {
            get
            {
                try
                {
                    return PackageRelations.ParseDebianField(Provides).SelectMany(g => g);
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
