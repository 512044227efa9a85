using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Packages;

/// <summary>What to fetch: packages (<c>NAME</c> or <c>NAME=VERSION</c>) of one distribution and architecture, for
/// devices whose packages need not be fetched.</summary>
/// <param name="Packages">Requested packages; <c>NAME=VERSION</c> pins a version.</param>
/// <param name="Distro">Debian suite codename or alias (<c>bookworm</c>).</param>
/// <param name="Architecture">dpkg architecture (<c>amd64</c>).</param>
/// <param name="Devices">Devices whose common packages are not fetched; none: the full closure.</param>
/// <param name="Mirror">The Debian archive to fetch from, or null for the gateway's default.</param>
/// <param name="SecurityMirror">The security archive, or null for the gateway's default.</param>
/// <param name="Components">Archive areas; null or empty: <c>main</c>.</param>
/// <param name="Format"><c>deb</c> (null: deb) or <c>rpm</c> (refused: see <see cref="PackageFetcher"/>).</param>
/// <param name="Refresh">Refresh the package lists even when they are recent.</param>
internal sealed record PackageFetchOrder(IReadOnlyList<string> Packages, string Distro, string Architecture, IReadOnlyList<string> Devices,
    string? Mirror = null, string? SecurityMirror = null, IReadOnlyList<string>? Components = null, string? Format = null, bool Refresh = false);

/// <summary>One package of a fetch and what became of it.</summary>
/// <param name="Name">Package name.</param>
/// <param name="Version">Version fetched.</param>
/// <param name="Architecture">Its architecture (<c>amd64</c>, <c>all</c>).</param>
/// <param name="Sha256">Digest as the signed lists give it (and as stored).</param>
/// <param name="Size">Bytes.</param>
/// <param name="Outcome">One of <see cref="FetchOutcomes"/>.</param>
/// <param name="Reason">Why it was needed: <c>requested</c>, or apt's reason (<c>Depends of nginx</c>).</param>
/// <param name="DeviceVersion">The older version the devices have, when the fetch is an upgrade for them.</param>
/// <param name="Error">Why it was not imported (conflict, rejected), or null.</param>
internal sealed record FetchedPackage(string Name, string Version, string Architecture, string Sha256, long Size, string Outcome, string Reason, string? DeviceVersion, string? Error);

/// <summary>What a fetch did.</summary>
internal sealed record PackageFetchResult(string Distro, string Architecture, string Mirror, string SecurityMirror, IReadOnlyList<string> Devices, int BasePackages,
    bool ListsRefreshed, IReadOnlyList<FetchedPackage> Packages, IReadOnlyList<string> Removals, IReadOnlyList<string> Notes);

/// <summary>Outcomes of one fetched package.</summary>
internal static class FetchOutcomes
{
    /// <summary>New in the store.</summary>
    public const string Added = "added";
    /// <summary>The store had this name, version and digest already (not downloaded again).</summary>
    public const string AlreadyPresent = "already-present";
    /// <summary>The store has this name and version with another digest: not imported.</summary>
    public const string Conflict = "conflict";
    /// <summary>The importer refused the file.</summary>
    public const string Rejected = "rejected";
}

/// <summary><c>rig package fetch</c> on the gateway: resolves requested Debian packages and the dependencies the
/// devices lack with the host's own apt (in a private tree, <see cref="AptTree"/>), downloads them from the
/// distribution's mirror — apt verifies the signed InRelease and each file's hash, and the fetcher checks each file's
/// SHA-256 against the verified lists once more before importing — and imports them through
/// <see cref="PackageImporter"/>. Nothing is imported unless every file verified.
/// RPM is not fetched: see <see cref="RpmRefusal"/>.</summary>
internal sealed partial class PackageFetcher(RigStore store, PackageImporter importer, string fetchDirectory, string? defaultMirror, string? defaultSecurityMirror,
    ILogger<PackageFetcher> logger, TimeProvider clock, PackageFetchLimits? limits = null)
{
    /// <summary>Debian's archive keyring (package debian-archive-keyring): signs every suite's InRelease.</summary>
    public const string DebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg";

    /// <summary>Why <c>--format rpm</c> is refused, with what to do instead.</summary>
    public const string RpmRefusal =
        "Fetching RPM packages is not supported: it needs dnf with the distribution's repositories, and this gateway's host is " +
        "Debian-based (Debian 12 packages dnf, but no RPM repository is configured or reachable from it). Download or build the " +
        ".rpm files with their dependencies on a host of that distribution (e.g. `dnf download --resolve NAME`) and import them with `rig package add FILE...`.";

    private readonly PackageFetchLimits _limits = limits ?? PackageFetchLimits.Default;
    private readonly Lazy<IReadOnlyList<HostAptSources.Entry>> _hostSources = new(() => HostAptSources.Read());

    /// <summary>Fetch and import; see the class summary.</summary>
    /// <exception cref="PackageFetchException">The request or the mirror is wrong, or apt cannot satisfy it; nothing was imported.</exception>
    public async Task<PackageFetchResult> FetchAsync(PackageFetchOrder order, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(order);
        var requested = Validate(order);
        var spec = Spec(order);
        // Devices first: a wrong device name is answered before apt runs.
        var baseSystem = await DeviceBaseSystem.CollectAsync(store, Distinct(order.Devices), spec.Architecture, ct).ConfigureAwait(false);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_limits.Total);
        var started = clock.GetTimestamp();
        ServerLog.FetchStarted(logger, string.Join(' ', requested.Select(r => r.Argument)), spec.Distro, spec.Architecture, baseSystem.Devices.Count, spec.Archive);
        try
        {
            var result = await FetchLockedAsync(spec, requested, baseSystem, order.Refresh, deadline.Token).ConfigureAwait(false);
            ServerLog.FetchFinished(logger, spec.Distro, spec.Architecture, result.Packages.Count(p => p.Outcome == FetchOutcomes.Added),
                result.Packages.Count(p => p.Outcome == FetchOutcomes.AlreadyPresent), result.Packages.Count(p => p.Error is not null), (long)clock.GetElapsedTime(started).TotalMilliseconds);
            return result;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            var e = new PackageFetchException(PackageFetchErrorKind.Repository, "timeout",
                $"The fetch did not finish within {_limits.Total.TotalMinutes:0} minutes and was stopped; nothing more was imported. Check the gateway's connection to {spec.Archive}, or fetch fewer packages at a time.");
            ServerLog.FetchFailed(logger, spec.Distro, spec.Architecture, e.Code, e.Message);
            throw e;
        }
        catch (PackageFetchException e)
        {
            ServerLog.FetchFailed(logger, spec.Distro, spec.Architecture, e.Code, e.Message);
            throw;
        }
    }

    private async Task<PackageFetchResult> FetchLockedAsync(AptTreeSpec spec, IReadOnlyList<Requested> requested, DeviceBaseSystem baseSystem, bool refresh, CancellationToken ct)
    {
        var tree = AptTree.Prepare(fetchDirectory, spec, _limits);
        await using var held = await tree.LockAsync(ct).ConfigureAwait(false);
        var work = tree.NewWorkDirectory();
        try
        {
            var refreshed = await tree.RefreshAsync(refresh, clock, ct).ConfigureAwait(false);
            if (refreshed)
                ServerLog.FetchListsRefreshed(logger, spec.Distro, spec.Architecture, spec.Archive);
            while (true)
            {
                var plan = await PlanAsync(tree, work, requested, baseSystem, ct).ConfigureAwait(false);
                var downloads = Path.Combine(work, "debs");
                if (Directory.Exists(downloads))
                    Directory.Delete(downloads, recursive: true);
                Directory.CreateDirectory(downloads);
                var missing = plan.Items.Where(i => i.Existing is null).ToList();
                if (missing.Count > 0)
                {
                    var download = await tree.AptAsync("apt-get", ["download", "--", .. missing.Select(i => $"{i.Install.Name}={i.Install.Version}")], downloads, _limits.Download, ct).ConfigureAwait(false);
                    if (download.ExitCode != 0 || AptOutput.Problems(download.StandardError).Any(p => p.StartsWith("E:", StringComparison.Ordinal)))
                    {
                        var text = tree.Brief(string.Join('\n', AptOutput.Problems(download.StandardOutput + "\n" + download.StandardError)));
                        // Lists older than the mirror name files it has since removed (a security update superseded
                        // them): refresh once and plan again.
                        if (!refreshed && text.Contains("404", StringComparison.Ordinal))
                        {
                            refreshed = await tree.RefreshAsync(force: true, clock, ct).ConfigureAwait(false);
                            continue;
                        }
                        throw new PackageFetchException(PackageFetchErrorKind.Repository, AptOutput.IsVerificationFailure(text) ? "repository-unverified" : "download-failed",
                            $"apt-get download failed for {spec.Distro}/{spec.Architecture} from {spec.Archive} / {spec.Security}; nothing was imported. Check the mirror and the gateway's network, then try again. apt said:\n{text}");
                    }
                }
                var verified = VerifyDownloads(downloads, missing);
                var results = await ImportAsync(plan, verified, ct).ConfigureAwait(false);
                var notes = new List<string>(baseSystem.Notes);
                if (baseSystem.Devices.Count == 0)
                {
                    notes.Insert(0, "No devices given: resolved against an empty system, so the full dependency closure was fetched " +
                        "(Essential packages such as dpkg and coreutils are on every Debian system and are fetched only when a package depends on them).");
                }
                if (plan.Removals.Count > 0)
                {
                    notes.Add($"apt would remove {string.Join(", ", plan.Removals)} from the devices to install these (Conflicts/Breaks): the devices' dpkg will refuse " +
                        "the install until the model removes them first.");
                }
                return new PackageFetchResult(spec.Distro, spec.Architecture, spec.Archive, spec.Security, baseSystem.Devices, baseSystem.Packages.Count, refreshed,
                    results, plan.Removals, notes);
            }
        }
        finally
        {
            TryDelete(work);
        }
    }

    /// <summary>One planned package: what apt chose, why, where it comes from, and the store's entry of that name and version.</summary>
    private sealed record PlannedItem(AptInstall Install, string Reason, AptUri Uri, PackageInfo? Existing);

    private sealed record Plan(IReadOnlyList<PlannedItem> Items, IReadOnlyList<string> Removals);

    /// <summary>Resolve against the devices' base: the status file, apt's simulated install, and the URIs and digests of
    /// each file to fetch.</summary>
    private async Task<Plan> PlanAsync(AptTree tree, string work, IReadOnlyList<Requested> requested, DeviceBaseSystem baseSystem, CancellationToken ct)
    {
        var status = Path.Combine(work, "status");
        var repository = await RepositoryEntriesAsync(tree, baseSystem, ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(status, baseSystem.StatusFile(repository, requested.Select(r => r.Name).ToHashSet(StringComparer.Ordinal)), ct).ConfigureAwait(false);

        var simulation = await tree.AptAsync("apt-get", ["install", "--simulate", "-o", $"Dir::State::status={status}", "-o", "Debug::pkgDepCache::AutoInstall=true",
            "-o", "APT::Get::Show-User-Simulation-Note=false", "--", .. requested.Select(r => r.Argument)], null, _limits.Query, ct).ConfigureAwait(false);
        if (simulation.ExitCode != 0)
            throw ResolutionFailure(tree, simulation);
        var (installs, removals) = AptOutput.ParseSimulation(simulation.StandardOutput);
        var reasons = AptOutput.ParseReasons(simulation.StandardError + "\n" + simulation.StandardOutput);
        var names = requested.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var absent = names.Where(n => !installs.Any(i => i.Name == n)).ToList();
        if (absent.Count > 0 || installs.Count == 0)
        {
            throw new PackageFetchException(PackageFetchErrorKind.Unresolvable, "resolve-failed",
                $"apt planned no install of {string.Join(", ", absent)} for {tree.Spec.Distro}/{tree.Spec.Architecture}; nothing was imported. apt said:\n{tree.Brief(AptOutput.Explanation(simulation.StandardOutput, simulation.StandardError))}");
        }

        var printed = await tree.AptAsync("apt-get", ["download", "--print-uris", "--", .. installs.Select(i => $"{i.Name}={i.Version}")], work, _limits.Query, ct).ConfigureAwait(false);
        if (printed.ExitCode != 0)
        {
            throw new PackageFetchException(PackageFetchErrorKind.Repository, "resolve-failed",
                $"apt could not name the files of {tree.Spec.Distro}/{tree.Spec.Architecture} to download; nothing was imported. apt said:\n{tree.Brief(AptOutput.Explanation(printed.StandardOutput, printed.StandardError))}");
        }
        var uris = AptOutput.ParsePrintUris(printed.StandardOutput).ToDictionary(u => u.FileName, StringComparer.Ordinal);
        var catalog = (await store.ListPackagesAsync(ct).ConfigureAwait(false)).ToDictionary(p => (p.Name, p.Version));
        var items = new List<PlannedItem>();
        foreach (var install in installs)
        {
            if (!uris.TryGetValue(AptOutput.DownloadFileName(install.Name, install.Version, install.Architecture), out var uri))
            {
                throw new PackageFetchException(PackageFetchErrorKind.Repository, "resolve-failed",
                    $"apt planned {install.Name} {install.Version} ({install.Architecture}) but named no file for it; nothing was imported. Refresh the lists (--refresh) and try again.");
            }
            var reason = names.Contains(install.Name) ? "requested" : reasons.GetValueOrDefault(install.Name) ?? (install.Replaces is null ? "dependency" : "newer version needed");
            items.Add(new PlannedItem(install, reason, uri, catalog.GetValueOrDefault((install.Name, install.Version))));
        }
        return new Plan(items, removals);
    }

    /// <summary>The repository's entries for the base's exact versions (<c>apt-cache show NAME=VERSION</c>; versions the
    /// repository does not have are silently absent), so the status file carries the same control fields dpkg would.</summary>
    private async Task<IReadOnlyDictionary<(string Name, string Version, string Architecture), IReadOnlyList<KeyValuePair<string, string>>>> RepositoryEntriesAsync(
        AptTree tree, DeviceBaseSystem baseSystem, CancellationToken ct)
    {
        var entries = new Dictionary<(string, string, string), IReadOnlyList<KeyValuePair<string, string>>>();
        foreach (var chunk in baseSystem.Packages.Chunk(2_000)) // argument vectors stay far below ARG_MAX
        {
            var shown = await tree.AptAsync("apt-cache", ["show", "--", .. chunk.Select(p => $"{p.Name}={p.Version}")], null, _limits.Query, ct).ConfigureAwait(false);
            foreach (var stanza in DebControl.Stanzas(shown.StandardOutput))
            {
                string? Field(string name) => stanza.FirstOrDefault(f => string.Equals(f.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
                if (Field("Package") is { } name && Field("Version") is { } version && Field("Architecture") is { } arch)
                    entries.TryAdd((name, version, arch), stanza);
            }
        }
        return entries;
    }

    private static PackageFetchException ResolutionFailure(AptTree tree, ToolResult simulation)
    {
        var text = simulation.StandardOutput + "\n" + simulation.StandardError;
        var (unknown, noCandidate) = AptOutput.ParseNotFound(text);
        var where = $"{tree.Spec.Distro} ({string.Join(", ", tree.Spec.Components)}) for {tree.Spec.Architecture} on {tree.Spec.Archive}";
        if (unknown.Count > 0)
        {
            return new PackageFetchException(PackageFetchErrorKind.NotFound, "unknown-package",
                $"Not in {where}: {string.Join(", ", unknown)}; nothing was imported. Check the spelling and the version (`apt-cache policy NAME` on a {tree.Spec.Distro} host lists the versions), " +
                "or name another component (--component contrib) or distribution.");
        }
        if (noCandidate.Count > 0)
        {
            return new PackageFetchException(PackageFetchErrorKind.NotFound, "no-candidate",
                $"{string.Join(", ", noCandidate)} has no installable version in {where} (a virtual package, or one that was removed); nothing was imported. " +
                $"Name a package that provides it instead. apt said:\n{tree.Brief(AptOutput.Explanation(simulation.StandardOutput, simulation.StandardError))}");
        }
        return new PackageFetchException(PackageFetchErrorKind.Unresolvable, "unresolvable",
            $"apt cannot install the request on {(tree.Spec.Distro)}/{tree.Spec.Architecture} over the devices' packages; nothing was imported. apt said:\n{tree.Brief(AptOutput.Explanation(simulation.StandardOutput, simulation.StandardError))}");
    }

    /// <summary>Every downloaded file is the one the verified lists name (size and SHA-256) before anything is imported:
    /// apt checks a file it downloads, but not one already present under the same name.</summary>
    private static Dictionary<PlannedItem, string> VerifyDownloads(string directory, IReadOnlyList<PlannedItem> items)
    {
        var files = new Dictionary<PlannedItem, string>();
        foreach (var item in items)
        {
            var path = Path.Combine(directory, AptOutput.DownloadFileName(item.Install.Name, item.Install.Version, item.Install.Architecture));
            if (!File.Exists(path))
            {
                throw new PackageFetchException(PackageFetchErrorKind.Repository, "download-failed",
                    $"apt-get download reported success but wrote no {Path.GetFileName(path)}; nothing was imported. Try again with --refresh.");
            }
            string digest;
            using (var stream = File.OpenRead(path))
            {
                digest = item.Uri.HashKind switch
                {
                    "SHA256" => Convert.ToHexStringLower(SHA256.HashData(stream)),
                    "SHA512" => Convert.ToHexStringLower(SHA512.HashData(stream)),
                    _ => throw new PackageFetchException(PackageFetchErrorKind.Repository, "repository-unverified",
                        $"The lists give {item.Install.Name} {item.Install.Version} only a {item.Uri.HashKind} digest, too weak to trust; nothing was imported."),
                };
            }
            var size = new FileInfo(path).Length;
            if (digest != item.Uri.Hash || size != item.Uri.Size)
            {
                throw new PackageFetchException(PackageFetchErrorKind.Repository, "repository-unverified",
                    $"{Path.GetFileName(path)} is not the file the signed lists name ({item.Uri.HashKind} {digest}, {size} bytes; expected {item.Uri.Hash}, {item.Uri.Size} bytes); nothing was imported. " +
                    "The mirror or something between it and the gateway altered it: try again, or use another mirror.");
            }
            files[item] = path;
        }
        return files;
    }

    private async Task<IReadOnlyList<FetchedPackage>> ImportAsync(Plan plan, Dictionary<PlannedItem, string> files, CancellationToken ct)
    {
        var results = new List<FetchedPackage>();
        foreach (var item in plan.Items)
        {
            var i = item.Install;
            FetchedPackage Result(string sha256, long size, string outcome, string? error) =>
                new(i.Name, i.Version, i.Architecture, sha256, size, outcome, item.Reason, i.Replaces, error);
            var expected = item.Uri.HashKind == "SHA256" ? item.Uri.Hash : null;
            if (item.Existing is { } existing)
            {
                // Known by name and version: compared by digest without downloading it again.
                results.Add(existing.Sha256 == expected
                    ? Result(existing.Sha256, existing.Size, FetchOutcomes.AlreadyPresent, null)
                    : Result(expected ?? "", item.Uri.Size, FetchOutcomes.Conflict,
                        $"Package {i.Name} {i.Version} is already in the store with sha256 {existing.Sha256}, but {MirrorFile(item)} has sha256 {expected}; a version never changes content: " +
                        "the store keeps its build (roles pin its digest). Give a different build a new version."));
                continue;
            }
            try
            {
                var imported = await importer.ImportFileAsync(files[item], ct).ConfigureAwait(false);
                results.Add(Result(imported.Package.Sha256, imported.Package.Size, imported.AlreadyPresent ? FetchOutcomes.AlreadyPresent : FetchOutcomes.Added, null));
            }
            catch (PackageRejectedException e)
            {
                results.Add(Result(expected ?? "", item.Uri.Size, e.Code == "conflict" ? FetchOutcomes.Conflict : FetchOutcomes.Rejected, e.Message));
            }
        }
        return results;

        static string MirrorFile(PlannedItem item) => $"the mirror's {Path.GetFileName(new Uri(item.Uri.Url).AbsolutePath)}";
    }

    /// <summary>A requested package: name, optional pinned version, and the argument apt gets.</summary>
    private sealed record Requested(string Name, string? Version)
    {
        public string Argument => Version is null ? Name : $"{Name}={Version}";
    }

    /// <summary>Check everything that reaches apt's argument vector or configuration: names and versions by Rig's
    /// rules (nothing that starts with '-' or holds blanks), distribution, architecture, components, mirrors, format.</summary>
    private List<Requested> Validate(PackageFetchOrder order)
    {
        if (string.Equals(order.Format, "rpm", StringComparison.OrdinalIgnoreCase))
            throw new PackageFetchException(PackageFetchErrorKind.BadRequest, "rpm-fetch-unsupported", RpmRefusal);
        if (order.Format is { Length: > 0 } format && !string.Equals(format, PackageFormats.Deb, StringComparison.OrdinalIgnoreCase))
            throw Bad("bad-format", $"Format '{format}' is not one Rig fetches; use deb (the default).");
        if (order.Packages is not { Count: > 0 })
            throw Bad("no-packages", "Name at least one package to fetch (NAME or NAME=VERSION).");
        if (order.Packages.Count > _limits.MaxRequestedPackages)
            throw Bad("too-many-packages", $"{order.Packages.Count} packages in one fetch is more than {_limits.MaxRequestedPackages}; fetch them in several runs.");
        if (order.Devices.Count > _limits.MaxDevices)
            throw Bad("too-many-devices", $"{order.Devices.Count} devices in one fetch is more than {_limits.MaxDevices}; name a few that share the same base system.");
        var requested = new List<Requested>();
        foreach (var text in order.Packages)
        {
            var (name, version) = text.IndexOf('=', StringComparison.Ordinal) is var eq and >= 0 ? (text[..eq], text[(eq + 1)..]) : (text, null);
            if (!Names.IsValidPackageName(name))
                throw Bad("bad-name", $"Refusing package name '{name}': a package name is {Names.PackageNameRule}; apt was not run.");
            if (version is not null && !Names.IsValidVersion(version))
                throw Bad("bad-version", $"Refusing version '{version}' of {name}: a version is {Names.VersionRule}; apt was not run.");
            if (requested.FirstOrDefault(r => r.Name == name) is { } other && other.Version != version)
                throw Bad("conflicting-request", $"{name} is requested twice ({other.Argument} and {text}); name it once.");
            if (!requested.Any(r => r.Name == name))
                requested.Add(new Requested(name, version));
        }
        if (order.Distro is null || !DistroRegex().IsMatch(order.Distro))
            throw Bad("bad-distro", $"Refusing distribution '{order.Distro}': give a Debian suite's codename (bookworm, trixie) or alias (stable, sid): lower-case letters and digits, starting with a letter.");
        if (order.Architecture is null || !DeviceBaseSystem.ArchitectureRegex().IsMatch(order.Architecture) || order.Architecture == "all")
            throw Bad("bad-architecture", $"Refusing architecture '{order.Architecture}': give dpkg's name of the devices' architecture (amd64, arm64, armhf, i386, ...).");
        foreach (var component in order.Components ?? [])
        {
            if (component is null || !ComponentRegex().IsMatch(component))
                throw Bad("bad-component", $"Refusing component '{component}': give an archive area (main, contrib, non-free, non-free-firmware).");
        }
        foreach (var device in order.Devices)
        {
            if (!Names.IsValidObjectName(device))
                throw Bad("bad-device", $"Refusing device name '{device}': a device name is {Names.ObjectNameRule}.");
        }
        CheckMirror(order.Mirror, "--mirror");
        CheckMirror(order.SecurityMirror, "--security-mirror");
        return requested;
    }

    private static void CheckMirror(string? mirror, string option)
    {
        if (string.IsNullOrEmpty(mirror))
            return;
        if (mirror.Length > 512 || mirror.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '"' or '\'' or '[' or ']')
            || !Uri.TryCreate(mirror, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw Bad("bad-mirror", $"Refusing {option} '{mirror}': give an http:// or https:// URL of a Debian mirror without credentials, query or blanks (e.g. http://deb.debian.org/debian).");
        }
    }

    private AptTreeSpec Spec(PackageFetchOrder order)
    {
        var (hostArchive, hostSecurity) = HostAptSources.Mirrors(_hostSources.Value, order.Distro);
        var archive = NonEmpty(order.Mirror) ?? NonEmpty(defaultMirror) ?? hostArchive;
        var security = NonEmpty(order.SecurityMirror) ?? NonEmpty(defaultSecurityMirror) ?? hostSecurity;
        CheckMirror(archive, "the mirror (server.json fetchMirror, or the host's apt sources)");
        CheckMirror(security, "the security mirror (server.json fetchSecurityMirror, or the host's apt sources)");
        var components = order.Components is { Count: > 0 } given ? Distinct(given) : ["main"];
        return new AptTreeSpec(order.Distro, order.Architecture, components, archive.TrimEnd('/'), security.TrimEnd('/'), DebianKeyring);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static List<string> Distinct(IReadOnlyList<string> values) => [.. values.Distinct(StringComparer.Ordinal)];

    private static PackageFetchException Bad(string code, string message) => new(PackageFetchErrorKind.BadRequest, code, message);

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // removed by the next fetch of this tree (AptTree.NewWorkDirectory)
        }
    }

    [GeneratedRegex(@"^[a-z][a-z0-9]{1,31}\z", RegexOptions.CultureInvariant)]
    private static partial Regex DistroRegex();

    [GeneratedRegex(@"^[a-z][a-z0-9-]{1,31}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ComponentRegex();
}
