using Rig.Protocol.Packaging;
using System.Text.RegularExpressions;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux;

/// <summary>The RPM plug-in: installs, upgrades and removes <c>.rpm</c> packages with the device's rpm. Stages
/// of an install: read the blob's header (it must be the package the command names) -> same version installed:
/// done -> <c>rpm -U --test</c> (unmet Requires are <c>missing-dependency</c>, nothing is touched) ->
/// <c>rpm -U</c> -> record in Rig's database.</summary>
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
public sealed partial class RpmInstaller(DeviceFileSystem files, PackageDatabase database, NativePackageTimeouts timeouts) : IPackageInstaller
{
    /// <summary>The rpm database inside the device root.</summary>
    public const string DatabasePath = "/var/lib/rpm";

    /// <summary>Rig's own lock file next to the database (see the remarks).</summary>
    public const string RigLockPath = DatabasePath + "/.rig-agent.lock";

    private const string QueryFormat = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n";

    private string[] RootArguments => ["--root", files.Root, "--dbpath", DatabasePath];

    /// <inheritdoc />
    public async Task<string> InstallAsync(PackageRef package, string blobPath, string workDirectory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(package);
        try
        {
            NativeTool.RequireValidName(package.Name, "rpm");
            RequireDatabase();
            await CheckBlobAsync(package, blobPath, ct).ConfigureAwait(false);
            using var held = await LockAsync(ct).ConfigureAwait(false);
            var current = await InstalledVersionAsync(package.Name, ct).ConfigureAwait(false);
            if (current == package.Version)
            {
                await RecordAsync(package, ct).ConfigureAwait(false);
                return $"{package.Name} {package.Version} is already installed; nothing to do";
            }
            var downgrade = current is not null && RpmVersion.Compare(package.Version, current) < 0;
            string[] upgrade = downgrade ? ["-U", "--oldpackage"] : ["-U"];

            var test = await RunRpmChangeAsync(package.Name, [.. upgrade, "--test", "--", blobPath], ct).ConfigureAwait(false);
            if (test.ExitCode != 0)
                throw Refused(package, test, "nothing was installed");
            var outcome = await RunRpmChangeAsync(package.Name, [.. upgrade, "--", blobPath], ct).ConfigureAwait(false);
            if (outcome.ExitCode != 0)
            {
                var now = await InstalledVersionAsync(package.Name, ct).ConfigureAwait(false);
                throw Refused(package, outcome, now is null ? "nothing is installed" : $"{package.Name} {now} is installed; check the device with '{Hint($"-Va {package.Name}")}'");
            }
            await RecordAsync(package, ct).ConfigureAwait(false);
            return current is null
                ? $"installed {package.Name} {package.Version} with rpm"
                : $"{(downgrade ? "downgraded" : "upgraded")} {package.Name} from {current} to {package.Version} with rpm";
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
        NativeTool.RequireValidName(name, "rpm");
        RequireDatabase();
        using var held = await LockAsync(ct).ConfigureAwait(false);
        var current = await InstalledVersionAsync(name, ct).ConfigureAwait(false);
        if (current is null)
        {
            Forget(name);
            return $"{name} is not installed; nothing to remove";
        }
        var outcome = await RunRpmChangeAsync(name, ["-e", "--", name], ct).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            var text = Clean(outcome.StandardError + "\n" + outcome.StandardOutput);
            var needs = NeededByRegex().Matches(text).Select(m => (What: m.Groups["what"].Value.Trim(), By: m.Groups["by"].Value.Replace("(installed)", "", StringComparison.Ordinal).Trim())).ToList();
            if (needs.Count > 0)
            {
                throw new CommandFailedException("dependency-conflict",
                    $"Cannot remove {name}: installed packages depend on it ({string.Join(", ", needs.Select(n => $"{n.By} needs {n.What}").Distinct(StringComparer.Ordinal))}). " +
                    $"Remove them first (take them out of the model too) or keep {name} in the model; nothing was removed.");
            }
            throw new CommandFailedException("remove-failed", $"rpm could not remove {name} {current}: {NativeTool.Brief(text)}. Check the device with '{Hint($"-V {name}")}'.");
        }
        Forget(name);
        return $"removed {name} {current} with rpm";
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
    private static CommandFailedException Refused(PackageRef package, ProcessOutcome outcome, string state)
    {
        var text = Clean(outcome.StandardError + "\n" + outcome.StandardOutput);
        var needed = NeededByRegex().Matches(text).Where(m => !m.Groups["by"].Value.Contains("(installed)", StringComparison.Ordinal))
            .Select(m => m.Groups["what"].Value.Trim()).Distinct(StringComparer.Ordinal).ToList();
        if (needed.Count > 0)
        {
            return new CommandFailedException("missing-dependency",
                $"{package.Name} {package.Version} needs {string.Join("; ", needed)}, which the device does not have. Add the missing package(s) to the " +
                $"model's bundle before {package.Name} (or to a role that comes earlier); {state}.");
        }
        return new CommandFailedException("install-failed", $"rpm could not install {package.Name} {package.Version}: {NativeTool.Brief(text)} ({state}).");
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

    /// <summary>A transaction (-U, -e) on <paramref name="name"/> (Rig's lock held by the caller): first wait,
    /// bounded, until no other rpm holds the transaction lock. A run stopped at its timeout is reported with
    /// what the database says now.</summary>
    private async Task<ProcessOutcome> RunRpmChangeAsync(string name, string[] arguments, CancellationToken ct)
    {
        await PackageManagerLock.WaitUntilFreeAsync(Path.Combine(files.Internal(DatabasePath), ".rpm.lock"), new LockDeadline(timeouts.LockWait), timeouts.LockPoll, ct).ConfigureAwait(false);
        try
        {
            return await ProcessRunner.RunAsync("rpm", [.. RootArguments, .. arguments], timeouts.Change, ct, Environment).ConfigureAwait(false);
        }
        catch (CommandFailedException e) when (e.Code == "timeout")
        {
            string state;
            try
            {
                state = await InstalledVersionAsync(name, ct).ConfigureAwait(false) is { } version ? $"{name} {version} is installed" : $"{name} is not installed";
            }
            catch (CommandFailedException query)
            {
                state = $"its state is unknown ({query.Message})";
            }
            throw new CommandFailedException("timeout",
                $"{e.Message} The rpm database now says: {state}; the transaction may be incomplete. Check the device with '{Hint($"-Va {name}")}' and " +
                $"'{Hint($"-q {name}")}', fix what the scriptlets left, then run the command again.");
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
