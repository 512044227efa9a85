using Rig.Protocol.Packaging;
using System.Text.RegularExpressions;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux;

/// <summary>The RPM plug-in: installs, upgrades and removes <c>.rpm</c> packages with the device's rpm. Stages
/// of an install (of one package, or of a set that requires itself in a cycle, <see cref="InstallCommand.With"/>):
/// read each blob's header (it must be the package the command names) -> every package at its version already:
/// done -> <c>rpm -U --test</c> of the rest in one transaction (unmet Requires are <c>missing-dependency</c>,
/// nothing is touched) -> <c>rpm -U</c> of the same -> record every package of the set in Rig's database.</summary>
/// <remarks>
/// <para>The database is always <c>/var/lib/rpm</c> inside the device root (<c>--dbpath</c>), whatever the
/// machine running the agent would use by default (Debian's own rpm keeps it in <c>~/.rpmdb</c>); on Fedora it
/// is a link to <c>/usr/lib/sysimage/rpm</c>. A root other than <c>/</c> is passed with <c>--root</c>
/// (scriptlets run chrooted into it).</para>
/// <para>Locking: an install or removal holds Rig's own lock, <c>/var/lib/rpm/.rig-agent.lock</c> inside the
/// root, from the installed-version check to the change, so two agent commands never interleave (rpm's own
/// <c>.rpm.lock</c> cannot be held for that: rpm takes it itself). rpm waits for ever on <c>.rpm.lock</c>, so
/// before each rpm run that changes something this installer also waits (bounded) until nobody holds it; the
/// rpm call itself has a timeout too.</para>
/// <para>Package names and paths follow <c>--</c> in every rpm call (rpm's option parser, popt, stops there),
/// and names are checked (<see cref="NativeTool.RequireValidName"/>) before anything runs.</para>
/// <para>Downgrades: the model decides the version, so a command for an older version than the installed one
/// is run with <c>--oldpackage</c>, and only then (an accidental downgrade cannot slip through otherwise).</para>
/// </remarks>
internal sealed partial class RpmInstaller(DeviceFileSystem files, PackageDatabase database, NativePackageTimeouts timeouts) : IPackageInstaller
{
    /// <summary>The rpm database inside the device root.</summary>
    public const string DatabasePath = "/var/lib/rpm";

    /// <summary>Rig's own lock file next to the database (see the remarks).</summary>
    public const string RigLockPath = DatabasePath + "/.rig-agent.lock";

    private const string QueryFormat = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n";

    private string[] RootArguments => ["--root", files.Root, "--dbpath", DatabasePath];

    /// <inheritdoc />
    public bool InstallsTogether => true;

    /// <inheritdoc />
    /// <remarks>A set (<see cref="InstallCommand.With"/>) is one rpm transaction (<c>rpm -U a.rpm b.rpm</c>, tested first
    /// with <c>--test</c>), which rpm orders itself, so packages that require each other in a cycle are installed
    /// together. Members already at their version are left out of it; <c>--oldpackage</c> is given only when a member
    /// of the set is a downgrade the command asks for.</remarks>
    public async Task<string> InstallAsync(IReadOnlyList<PackageBlob> packages, string workDirectory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(packages);
        try
        {
            if (packages.Count == 0)
                throw new ArgumentException("No package to install.", nameof(packages));
            foreach (var blob in packages)
                NativeTool.RequireValidName(blob.Package.Name, "rpm");
            RequireDatabase();
            foreach (var blob in packages)
                await CheckBlobAsync(blob.Package, blob.Path, ct).ConfigureAwait(false);
            using var held = await LockAsync(ct).ConfigureAwait(false);
            var before = new List<string?>(packages.Count);
            foreach (var blob in packages)
                before.Add(await InstalledVersionAsync(blob.Package.Name, ct).ConfigureAwait(false));
            var pending = Enumerable.Range(0, packages.Count).Where(i => before[i] != packages[i].Package.Version).ToList();
            if (pending.Count == 0)
            {
                foreach (var blob in packages)
                    await RecordAsync(blob.Package, ct).ConfigureAwait(false);
                return NativeTool.AlreadyInstalled([.. packages.Select(b => b.Package)]);
            }
            bool IsDowngrade(int i) => before[i] is { } current && RpmVersion.Compare(packages[i].Package.Version, current) < 0;
            string[] upgrade = pending.Any(IsDowngrade) ? ["-U", "--oldpackage"] : ["-U"];
            var set = pending.Select(i => packages[i]).ToList();
            var names = set.Select(b => b.Package.Name).ToList();

            var test = await RunRpmChangeAsync(names, [.. upgrade, "--test", "--", .. set.Select(b => b.Path)], ct).ConfigureAwait(false);
            if (test.ExitCode != 0)
                throw Refused(packages, test, "nothing was installed");
            var outcome = await RunRpmChangeAsync(names, [.. upgrade, "--", .. set.Select(b => b.Path)], ct).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
            {
                var now = new List<string>();
                foreach (var name in names)
                    now.Add(await InstalledVersionAsync(name, ct).ConfigureAwait(false) is { } version ? $"{name} {version} is installed" : $"{name} is not installed");
                throw Refused(packages, outcome, $"{string.Join(", ", now)}; check the device with '{Hint($"-Va {string.Join(' ', names)}")}'");
            }
            foreach (var blob in packages)
                await RecordAsync(blob.Package, ct).ConfigureAwait(false);
            var done = Enumerable.Range(0, packages.Count).Select(i =>
            {
                var package = packages[i].Package;
                return !pending.Contains(i) ? $"{package.Name} {package.Version} was already installed"
                    : before[i] is not { } current ? $"installed {package.Name} {package.Version}"
                    : $"{(IsDowngrade(i) ? "downgraded" : "upgraded")} {package.Name} from {current} to {package.Version}";
            }).ToList();
            return packages.Count == 1 ? $"{done[0]} with rpm" : $"{string.Join("; ", done)}; with rpm in one transaction";
        }
        finally
        {
            if (Directory.Exists(workDirectory))
                Directory.Delete(workDirectory, recursive: true);
        }
    }

    /// <inheritdoc />
    /// <remarks>Every name installed goes to one <c>rpm -e</c>, so packages that require each other are erased
    /// together.</remarks>
    public async Task<string> RemoveAsync(IReadOnlyList<string> names, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count == 0)
            throw new ArgumentException("No package to remove.", nameof(names));
        foreach (var name in names)
            NativeTool.RequireValidName(name, "rpm");
        RequireDatabase();
        using var held = await LockAsync(ct).ConfigureAwait(false);
        var present = new List<(string Name, string Version)>();
        foreach (var name in names)
        {
            if (await InstalledVersionAsync(name, ct).ConfigureAwait(false) is { } version)
                present.Add((name, version));
        }
        var what = NativeTool.Listing(names);
        if (present.Count == 0)
        {
            foreach (var name in names)
                Forget(name);
            return names.Count == 1 ? $"{what} is not installed; nothing to remove" : $"{what} are not installed; nothing to remove";
        }
        var erase = present.Select(p => p.Name).ToList();
        var outcome = await RunRpmChangeAsync(erase, ["-e", "--", .. erase], ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            var text = Clean(outcome.StandardError + "\n" + outcome.StandardOutput);
            var needs = NeededByRegex().Matches(text).Select(m => (What: m.Groups["what"].Value.Trim(), By: m.Groups["by"].Value.Replace("(installed)", "", StringComparison.Ordinal).Trim())).ToList();
            if (needs.Count > 0)
            {
                throw new CommandFailedException("dependency-conflict",
                    $"Cannot remove {what}: installed packages depend on {(names.Count == 1 ? "it" : "them")} ({string.Join(", ", needs.Select(n => $"{n.By} needs {n.What}").Distinct(StringComparer.Ordinal))}). " +
                    "Nothing was removed. " + DpkgInstaller.DependentsAdvice(what));
            }
            var installed = string.Join(", ", present.Select(p => $"{p.Name} {p.Version}"));
            throw new CommandFailedException("remove-failed", $"rpm could not remove {installed}: {NativeTool.Brief(text)}. Check the device with '{Hint($"-V {string.Join(' ', erase)}")}'.");
        }
        foreach (var name in names)
            Forget(name);
        if (names.Count == 1)
            return $"removed {present[0].Name} {present[0].Version} with rpm";
        var absent = names.Except(erase, StringComparer.Ordinal).ToList();
        return $"removed {string.Join(", ", present.Select(p => $"{p.Name} {p.Version}"))} with rpm in one transaction" + (absent.Count > 0 ? $"; {NativeTool.Listing(absent)} not installed" : "");
    }

    private void RequireDatabase()
    {
        var directory = files.Internal(DatabasePath);
        if (!Directory.Exists(directory))
        {
            throw new CommandFailedException("no-package-database",
                $"'{directory}' does not exist: the device root '{files.Root}' has no rpm database, so .rpm packages cannot be installed there. " +
                $"Use an RPM-family system, or create an empty database with 'rpm --root {files.Root} --dbpath {DatabasePath} --initdb'.");
        }
    }

    private async Task CheckBlobAsync(PackageRef package, string blobPath, CancellationToken ct)
    {
        var outcome = await RunRpmAsync(["-qp", "--nosignature", "--nodigest", "--qf", QueryFormat, "--", blobPath], ct).ConfigureAwait(false);
        var held = outcome.ExitCode == 0 ? Parse(outcome.StandardOutput).FirstOrDefault() : null;
        if (held is null)
            throw new CommandFailedException("bad-package", $"The blob {package.Sha256} of {package.Name} {package.Version} is not an .rpm rpm can read: {NativeTool.Brief(Clean(outcome.Message))}. Re-import the package.");
        if (held.Name != package.Name || held.Version != package.Version)
            throw new CommandFailedException("package-mismatch", $"The blob {package.Sha256} holds {held.Name} {held.Version}, not {package.Name} {package.Version}; re-import the package.");
    }

    /// <summary>The installed version, or null when rpm says exactly that the package is not installed. Any other
    /// failure (a locked or damaged database: rpm then prints errors and also "is not installed") is
    /// <c>package-query-failed</c>, never taken for "absent".</summary>
    private async Task<string?> InstalledVersionAsync(string name, CancellationToken ct)
    {
        var outcome = await RunRpmAsync([.. RootArguments, "-q", "--qf", QueryFormat, "--", name], ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            if (outcome.ExitCode == 1 && Clean(outcome.StandardError).Length == 0 && outcome.StandardOutput.Trim() == $"package {name} is not installed")
                return null;
            throw new CommandFailedException("package-query-failed",
                $"rpm could not tell whether {name} is installed in '{files.Root}' (exit code {outcome.ExitCode}): {NativeTool.Brief(Clean(outcome.StandardError + "\n" + outcome.StandardOutput))}. " +
                $"Check the database with '{Hint($"-q {name}")}' (and '{Hint("--rebuilddb")}' if it is damaged); nothing was changed.");
        }
        // Several versions may be installed at once (kernels); the newest stands for the package.
        return Parse(outcome.StandardOutput).Select(p => p.Version).OrderBy(v => v, Comparer<string>.Create(RpmVersion.Compare)).LastOrDefault();
    }

    /// <summary><c>missing-dependency</c> when rpm names unmet Requires, else <c>install-failed</c> with rpm's message.</summary>
    private static CommandFailedException Refused(IReadOnlyList<PackageBlob> packages, ProcessOutcome outcome, string state)
    {
        var text = Clean(outcome.StandardError + "\n" + outcome.StandardOutput);
        var first = packages[0].Package;
        var what = NativeTool.Listing(packages.Select(b => $"{b.Package.Name} {b.Package.Version}"));
        var needed = NeededByRegex().Matches(text).Where(m => !m.Groups["by"].Value.Contains("(installed)", StringComparison.Ordinal))
            .Select(m => m.Groups["what"].Value.Trim()).Distinct(StringComparer.Ordinal).ToList();
        if (needed.Count > 0)
        {
            return new CommandFailedException("missing-dependency",
                $"{what}{(packages.Count > 1 ? " (installed together)" : "")} {(packages.Count > 1 ? "need" : "needs")} {string.Join("; ", needed)}, which the device does not have. " +
                $"Add the missing package(s) to the model's bundle before {first.Name} (or to a role that comes earlier); {state}.");
        }
        return new CommandFailedException("install-failed", $"rpm could not install {what}: {NativeTool.Brief(text)} ({state}).");
    }

    private async Task RecordAsync(PackageRef package, CancellationToken ct)
    {
        var listing = await RunRpmAsync([.. RootArguments, "-ql", "--", package.Name], ct).ConfigureAwait(false);
        var owned = listing.ExitCode == 0 ? NativeTool.FilesOnly(files, listing.StandardOutput) : [];
        database.Update(s => s with
        {
            Packages = [.. s.Packages.Where(p => p.Name != package.Name), new InstalledPackageRecord(package.Name, package.Version, package.Format, package.Sha256, owned, null)],
        });
    }

    private void Forget(string name)
    {
        if (database.Snapshot.Packages.Any(p => p.Name == name && p.Format == PackageFormats.Rpm))
            database.Update(s => s with { Packages = [.. s.Packages.Where(p => !(p.Name == name && p.Format == PackageFormats.Rpm))] });
    }

    /// <summary>Rig's lock (<see cref="RigLockPath"/>), placed with the device root's own view of its links so it is
    /// always inside the root.</summary>
    private async Task<PackageManagerLock> LockAsync(CancellationToken ct)
    {
        var path = files.Resolve(RigLockPath, FinalLink.Refuse, allowedRootsOnly: false);
        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            throw new CommandFailedException("no-package-database",
                $"'{DatabasePath}' of the device root '{files.Root}' resolves to '{Path.GetDirectoryName(path)}', which does not exist inside the root: " +
                "Rig cannot lock the rpm database there. Fix the link in the image (it must point inside it); nothing was changed.");
        }
        return await PackageManagerLock.AcquireAsync(path, new LockDeadline(timeouts.LockWait), timeouts.LockPoll, ct).ConfigureAwait(false);
    }

    /// <summary>A transaction (-U, -e) on <paramref name="names"/> (Rig's lock held by the caller): first wait,
    /// bounded, until no other rpm holds the transaction lock. A run stopped at its timeout is reported with
    /// what the database says now.</summary>
    private async Task<ProcessOutcome> RunRpmChangeAsync(IReadOnlyList<string> names, string[] arguments, CancellationToken ct)
    {
        await PackageManagerLock.WaitUntilFreeAsync(Path.Combine(files.Internal(DatabasePath), ".rpm.lock"), new LockDeadline(timeouts.LockWait), timeouts.LockPoll, ct).ConfigureAwait(false);
        try
        {
            return await ProcessRunner.RunAsync("rpm", [.. RootArguments, .. arguments], timeouts.Change, ct, Environment).ConfigureAwait(false);
        }
        catch (CommandFailedException e) when (e.Code == "timeout")
        {
            var states = new List<string>();
            try
            {
                foreach (var name in names)
                    states.Add(await InstalledVersionAsync(name, ct).ConfigureAwait(false) is { } version ? $"{name} {version} is installed" : $"{name} is not installed");
            }
            catch (CommandFailedException query)
            {
                states.Add($"the state of the rest is unknown ({query.Message})");
            }
            var all = string.Join(' ', names);
            throw new CommandFailedException("timeout",
                $"{e.Message} The rpm database now says: {string.Join(", ", states)}; the transaction may be incomplete. Check the device with '{Hint($"-Va {all}")}' and " +
                $"'{Hint($"-q {all}")}', fix what the scriptlets left, then run the command again.");
        }
    }

    /// <summary>An rpm command line for a message, with this root's options when it is not <c>/</c>.</summary>
    private string Hint(string arguments) => files.Root == "/" ? $"rpm {arguments}" : $"rpm --root {files.Root} --dbpath {DatabasePath} {arguments}";

    private Task<ProcessOutcome> RunRpmAsync(string[] arguments, CancellationToken ct) =>
        ProcessRunner.RunAsync("rpm", arguments, timeouts.Query, ct, Environment);

    private static readonly Dictionary<string, string?> Environment = new() { ["PATH"] = NativeTool.SystemPath };

    private static List<NativePackageInfo> Parse(string output)
    {
        var result = new List<NativePackageInfo>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            if (parts.Length < 5)
                continue;
            var epoch = parts[1] is "(none)" or "" ? "" : parts[1] + ":";
            result.Add(new NativePackageInfo(parts[0], $"{epoch}{parts[2]}-{parts[3]}", parts[4]));
        }
        return result;
    }

    /// <summary>Debian's rpm warns on every run that it is not the system's package manager; that is no news here.</summary>
    private static string Clean(string text) =>
        string.Join('\n', text.Split('\n').Where(l => !l.StartsWith("rpm: RPM should not be used directly", StringComparison.Ordinal) && !l.StartsWith("rpm: However assuming you know", StringComparison.Ordinal))).Trim();

    // rpm: "\trig-no-such-package >= 1 is needed by rigtest-b-1-1.noarch" / "... is needed by (installed) rigtest-c-1-1.noarch"
    [GeneratedRegex(@"^\s*(?<what>.+?) is needed by (?<by>.+)$", RegexOptions.Multiline)]
    private static partial Regex NeededByRegex();
}
