using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Rig.Server.Packages;

/// <summary>Where and what a private apt tree fetches: one distribution and architecture from one pair of mirrors,
/// verified with one keyring.</summary>
/// <param name="Distro">The Debian suite's codename (<c>bookworm</c>) or alias (<c>stable</c>, <c>sid</c>).</param>
/// <param name="Architecture">dpkg's architecture name (<c>amd64</c>, <c>arm64</c>).</param>
/// <param name="Components">Archive areas (<c>main</c>, <c>contrib</c>, ...).</param>
/// <param name="Archive">The Debian archive mirror (suites DISTRO and DISTRO-updates).</param>
/// <param name="Security">The security archive mirror (suite DISTRO-security).</param>
/// <param name="Keyring">The keyring every InRelease must be signed with (apt's <c>Signed-By</c>).</param>
internal sealed record AptTreeSpec(string Distro, string Architecture, IReadOnlyList<string> Components, string Archive, string Security, string Keyring)
{
    /// <summary>Unstable and experimental have no -updates and -security suites.</summary>
    public bool HasUpdateSuites => Distro is not ("sid" or "unstable" or "experimental" or "rc-buggy");

    /// <summary>The sources file (deb822), mirrors and keyring as given.</summary>
    public string SourcesText()
    {
        var components = string.Join(' ', Components);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Types: deb\nURIs: {Archive}\nSuites: {Distro}{(HasUpdateSuites ? $" {Distro}-updates" : "")}\nComponents: {components}\nArchitectures: {Architecture}\nSigned-By: {Keyring}\n");
        if (HasUpdateSuites)
            text.Append(CultureInfo.InvariantCulture, $"\nTypes: deb\nURIs: {Security}\nSuites: {Distro}-security\nComponents: {components}\nArchitectures: {Architecture}\nSigned-By: {Keyring}\n");
        return text.ToString();
    }

    /// <summary>The tree's directory name: readable, and distinct per mirror set (two mirrors never share lists, so
    /// a fetch from a broken mirror cannot discard the lists of a good one).</summary>
    public string DirectoryName => $"{Distro}-{Architecture}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(SourcesText())))[..12]}";
}

/// <summary>A private apt tree under the gateway's data directory: its own configuration (read through
/// <c>APT_CONFIG</c>, so none of the host's <c>/etc/apt</c> is read), sources, lists, caches and logs. The host's apt
/// state is never read or touched. apt verifies each InRelease against the keyring and each downloaded .deb against
/// the hashes in the verified lists; the tree never allows unauthenticated or insecure repositories.</summary>
internal sealed class AptTree
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);
    private readonly PackageFetchLimits _limits;

    private AptTree(string root, AptTreeSpec spec, PackageFetchLimits limits)
    {
        Root = root;
        Spec = spec;
        _limits = limits;
    }

    /// <summary>The tree's directory.</summary>
    public string Root { get; }

    /// <summary>What it fetches.</summary>
    public AptTreeSpec Spec { get; }

    private string ConfigPath => Path.Combine(Root, "apt.conf");
    private string StampPath => Path.Combine(Root, "state", "lists-updated");

    /// <summary>A status file with no packages: the base of a fetch for no device.</summary>
    public string EmptyStatusPath => Path.Combine(Root, "state", "empty-status");

    /// <summary>Create (or bring up to date) the tree for <paramref name="spec"/> under <paramref name="fetchRoot"/>.</summary>
    public static AptTree Prepare(string fetchRoot, AptTreeSpec spec, PackageFetchLimits limits)
    {
        var root = Path.GetFullPath(Path.Combine(fetchRoot, spec.DirectoryName));
        if (root.Any(c => c == '"' || char.IsControl(c)))
        {
            throw new PackageFetchException(PackageFetchErrorKind.Unavailable, "bad-fetch-directory",
                $"The fetch directory '{root}' contains a quote or control character, which apt's configuration cannot hold; run the gateway with a plainer data directory.");
        }
        foreach (var dir in new[] { "etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d", "etc/trusted.gpg.d", "state/lists/partial", "cache/archives/partial", "log", "work" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        WriteIfChanged(Path.Combine(root, "etc", "sources.list"), "# Rig: the sources are in sources.list.d/rig.sources\n");
        WriteIfChanged(Path.Combine(root, "etc", "sources.list.d", "rig.sources"), spec.SourcesText());
        WriteIfChanged(Path.Combine(root, "state", "empty-status"), "");
        WriteIfChanged(Path.Combine(root, "apt.conf"), Configuration(root, spec, limits));
        return new AptTree(root, spec, limits);
    }

    /// <summary>apt's configuration for the tree. Every directory is the tree's own; the architecture list is set so
    /// apt never asks the host's dpkg for foreign architectures.</summary>
    private static string Configuration(string root, AptTreeSpec spec, PackageFetchLimits limits) => $$"""
        // Written by Rig's gateway for `rig package fetch`; rewritten before every fetch.
        Dir "/";
        Dir::Etc "{{root}}/etc";
        Dir::Etc::main "apt.conf";
        Dir::Etc::parts "apt.conf.d";
        Dir::Etc::sourcelist "sources.list";
        Dir::Etc::sourceparts "sources.list.d";
        Dir::Etc::preferences "preferences";
        Dir::Etc::preferencesparts "preferences.d";
        Dir::Etc::trusted "trusted.gpg";
        Dir::Etc::trustedparts "trusted.gpg.d";
        Dir::State "{{root}}/state";
        Dir::State::status "{{root}}/state/empty-status";
        Dir::Cache "{{root}}/cache";
        // Built in memory every run: each fetch brings its own status file.
        Dir::Cache::pkgcache "";
        Dir::Log "{{root}}/log";
        APT::Architecture "{{spec.Architecture}}";
        #clear APT::Architectures;
        APT::Architectures { "{{spec.Architecture}}"; };
        // Devices get what dpkg needs: Depends and Pre-Depends, not Recommends or Suggests.
        APT::Install-Recommends "false";
        APT::Install-Suggests "false";
        APT::Get::AllowUnauthenticated "false";
        Acquire::AllowInsecureRepositories "false";
        Acquire::AllowDowngradeToInsecureRepositories "false";
        Acquire::AllowWeakRepositories "false";
        Acquire::Check-Valid-Until "true";
        Acquire::Languages "none";
        Acquire::Retries "2";
        Acquire::http::Timeout "{{limits.MirrorConnectionTimeoutSeconds}}";
        Acquire::https::Timeout "{{limits.MirrorConnectionTimeoutSeconds}}";
        // apt run as root drops to the _apt user for downloads, which cannot enter the gateway's data directory
        // (mode 0700: it holds the CA key). Run the gateway as its own user (docs/OPERATIONS.md) and apt runs as
        // that user; this only keeps apt quiet when the gateway runs as root.
        APT::Sandbox::User "root";
        """ + "\n";

    /// <summary>Hold the tree for one fetch: one fetch per tree at a time, in this process (a semaphore) and across
    /// processes sharing the directory (a lock file).</summary>
    public async Task<IAsyncDisposable> LockAsync(CancellationToken ct)
    {
        var gate = Gates.GetOrAdd(Root, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(_limits.TreeLockWait, ct).ConfigureAwait(false))
            throw Busy();
        try
        {
            var deadline = DateTime.UtcNow + _limits.TreeLockWait;
            while (true)
            {
                try
                {
                    var file = new FileStream(Path.Combine(Root, "fetch.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                    return new Held(gate, file);
                }
                catch (IOException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(250, ct).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    throw Busy();
                }
            }
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    private PackageFetchException Busy() => new(PackageFetchErrorKind.Busy, "fetch-busy",
        $"Another fetch for {Spec.Distro}/{Spec.Architecture} has been running for over {_limits.TreeLockWait.TotalSeconds:0} s; try again when it has finished.");

    private sealed class Held(SemaphoreSlim gate, FileStream file) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await file.DisposeAsync().ConfigureAwait(false);
            gate.Release();
        }
    }

    /// <summary>A fresh, empty working directory for one fetch (the tree must be held). Leftovers of a fetch that
    /// died with its gateway are removed first.</summary>
    public string NewWorkDirectory()
    {
        var work = Path.Combine(Root, "work");
        foreach (var stale in Directory.GetDirectories(work))
            Directory.Delete(stale, recursive: true);
        var dir = Path.Combine(work, Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>When the lists were last refreshed successfully, or null.</summary>
    public DateTimeOffset? ListsUpdatedAt()
    {
        try
        {
            return File.Exists(StampPath) && long.TryParse(File.ReadAllText(StampPath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Refresh the lists with <c>apt-get update</c> when they are older than <see cref="PackageFetchLimits.ListsMaxAge"/>
    /// (or <paramref name="force"/>). Any error or warning fails the fetch: apt keeps the previous lists when a new
    /// InRelease does not verify and says so only as a warning, and a mirror serving metadata that does not verify is
    /// never something to fetch from quietly. Returns true when the lists were refreshed.</summary>
    public async Task<bool> RefreshAsync(bool force, TimeProvider clock, CancellationToken ct)
    {
        if (!File.Exists(Spec.Keyring))
        {
            throw new PackageFetchException(PackageFetchErrorKind.Unavailable, "keyring-missing",
                $"The keyring '{Spec.Keyring}' that Debian's repository metadata is verified with does not exist on the gateway host; install it (apt-get install debian-archive-keyring) and try again.");
        }
        if (!force && ListsUpdatedAt() is { } updated && clock.GetUtcNow() - updated < _limits.ListsMaxAge)
            return false;
        var result = await AptAsync("apt-get", ["update"], null, _limits.Update, ct).ConfigureAwait(false);
        var problems = AptOutput.Problems(result.StandardOutput + "\n" + result.StandardError);
        if (result.ExitCode != 0 || problems.Count > 0)
        {
            var text = Brief(string.Join('\n', problems.Count > 0 ? problems : [result.StandardError.Trim(), result.StandardOutput.Trim()]));
            if (AptOutput.IsVerificationFailure(text))
            {
                throw new PackageFetchException(PackageFetchErrorKind.Repository, "repository-unverified",
                    $"The repository metadata from {Spec.Archive} / {Spec.Security} did not verify against {Spec.Keyring}; nothing was fetched or imported. " +
                    $"A mirror must serve Debian's signed files unchanged: check --mirror, or report the mirror. apt said:\n{text}");
            }
            throw new PackageFetchException(PackageFetchErrorKind.Repository, "repository-unreachable",
                $"apt-get update could not read the package lists of {Spec.Distro}/{Spec.Architecture} from {Spec.Archive} / {Spec.Security}; nothing was fetched or imported. " +
                $"Check the mirror URL (--mirror), the distribution name (--distro) and the gateway's network. apt said:\n{text}");
        }
        await File.WriteAllTextAsync(StampPath, clock.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>Run apt-get or apt-cache with the tree's configuration.</summary>
    public Task<ToolResult> AptAsync(string tool, IReadOnlyList<string> arguments, string? workingDirectory, TimeSpan timeout, CancellationToken ct) =>
        ToolRunner.RunAsync(tool, arguments, new Dictionary<string, string>(StringComparer.Ordinal) { ["APT_CONFIG"] = ConfigPath, ["DEBIAN_FRONTEND"] = "noninteractive" },
            workingDirectory, timeout, ct);

    /// <summary>At most <see cref="PackageFetchLimits.MaxToolMessageChars"/> of a tool's message.</summary>
    public string Brief(string text)
    {
        text = text.Trim();
        return text.Length <= _limits.MaxToolMessageChars ? text : text[..(_limits.MaxToolMessageChars / 2)] + "\n...\n" + text[^(_limits.MaxToolMessageChars / 2)..];
    }

    private static void WriteIfChanged(string path, string content)
    {
        if (File.Exists(path) && File.ReadAllText(path) == content)
            return;
        var temp = path + ".tmp";
        File.WriteAllText(temp, content);
        File.Move(temp, path, overwrite: true);
    }
}
