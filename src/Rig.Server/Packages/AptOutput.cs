using System.Globalization;
using System.Text.RegularExpressions;

namespace Rig.Server.Packages;

/// <summary>A package apt would install: its name, the version and architecture it chose, and the version the
/// devices have when it is an upgrade.</summary>
internal sealed record AptInstall(string Name, string Version, string Architecture, string? Replaces);

/// <summary>A package file apt would download (<c>--print-uris</c>): where from, its size and its digest as the
/// signed lists give them.</summary>
internal sealed record AptUri(string Url, string FileName, long Size, string HashKind, string Hash);

/// <summary>Reads what apt prints (run with <c>LC_ALL=C</c>): the simulation's <c>Inst</c>/<c>Remv</c> lines, the
/// resolver's debug lines naming why a package is installed, <c>--print-uris</c> lines, and errors.</summary>
internal static partial class AptOutput
{
    /// <summary><c>Inst NAME [OLD] (NEW RELEASES [ARCH])</c> lines in apt's order (dependencies first), and
    /// <c>Remv NAME [OLD]</c> lines.</summary>
    public static (IReadOnlyList<AptInstall> Installs, IReadOnlyList<string> Removals) ParseSimulation(string stdout)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        var installs = new List<AptInstall>();
        var removals = new List<string>();
        foreach (var raw in stdout.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (InstRegex().Match(line) is { Success: true } inst)
            {
                installs.Add(new AptInstall(WithoutArch(inst.Groups["name"].Value), inst.Groups["version"].Value, inst.Groups["arch"].Value,
                    inst.Groups["old"].Success ? inst.Groups["old"].Value : null));
            }
            else if (RemvRegex().Match(line) is { Success: true } remv)
            {
                removals.Add(remv.Groups["old"].Success ? $"{WithoutArch(remv.Groups["name"].Value)} {remv.Groups["old"].Value}" : WithoutArch(remv.Groups["name"].Value));
            }
        }
        return (installs, removals);
    }

    /// <summary>Why each package was pulled in, from <c>Debug::pkgDepCache::AutoInstall</c>
    /// (<c>Installing libssl3:amd64 as Depends of nginx:amd64</c>): name -> "Depends of nginx". The first reason wins.</summary>
    public static IReadOnlyDictionary<string, string> ParseReasons(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var reasons = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            if (ReasonRegex().Match(raw.TrimEnd('\r')) is { Success: true } m)
                reasons.TryAdd(WithoutArch(m.Groups["name"].Value), $"{m.Groups["type"].Value} of {WithoutArch(m.Groups["parent"].Value)}");
        }
        return reasons;
    }

    /// <summary><c>'URL' FILE SIZE KIND:HASH</c> lines of <c>apt-get download --print-uris</c>.</summary>
    public static IReadOnlyList<AptUri> ParsePrintUris(string stdout)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        var uris = new List<AptUri>();
        foreach (var raw in stdout.Split('\n'))
        {
            if (UriRegex().Match(raw.TrimEnd('\r')) is { Success: true } m)
            {
                uris.Add(new AptUri(m.Groups["url"].Value, m.Groups["file"].Value, long.Parse(m.Groups["size"].Value, NumberStyles.None, CultureInfo.InvariantCulture),
                    m.Groups["kind"].Value.ToUpperInvariant(), m.Groups["hash"].Value.ToLowerInvariant()));
            }
        }
        return uris;
    }

    /// <summary>The name of the file <c>apt-get download</c> writes for a package: <c>NAME_VERSION_ARCH.deb</c>, the
    /// epoch's colon written <c>%3a</c>.</summary>
    public static string DownloadFileName(string name, string version, string architecture) =>
        $"{name}_{version.Replace(":", "%3a", StringComparison.Ordinal)}_{architecture}.deb";

    /// <summary>Error and warning lines (<c>E:</c>, <c>W:</c>, <c>Err:</c> with the indented lines under it).</summary>
    public static IReadOnlyList<string> Problems(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var problems = new List<string>();
        var inErr = false;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("E: ", StringComparison.Ordinal) || line.StartsWith("W: ", StringComparison.Ordinal) || line.StartsWith("Err:", StringComparison.Ordinal))
            {
                problems.Add(line);
                inErr = line.StartsWith("Err:", StringComparison.Ordinal);
            }
            else if (inErr && line.StartsWith(' '))
            {
                problems.Add(line);
            }
            else
            {
                inErr = false;
            }
        }
        return problems;
    }

    /// <summary>True when apt's message says the metadata or a file did not verify (signature, key, hashes, dates).</summary>
    public static bool IsVerificationFailure(string text) =>
        text.Contains("GPG error", StringComparison.Ordinal) || text.Contains("NO_PUBKEY", StringComparison.Ordinal)
        || text.Contains("BADSIG", StringComparison.Ordinal) || text.Contains("not signed", StringComparison.Ordinal) || text.Contains("no longer signed", StringComparison.Ordinal)
        || text.Contains("signature", StringComparison.OrdinalIgnoreCase) || text.Contains("Hash Sum mismatch", StringComparison.Ordinal)
        || text.Contains("File has unexpected size", StringComparison.Ordinal) || text.Contains("is not valid yet", StringComparison.Ordinal)
        || text.Contains("expired", StringComparison.Ordinal) || text.Contains("cannot be authenticated", StringComparison.Ordinal);

    /// <summary>Packages apt could not locate (<c>E: Unable to locate package X</c>), versions it did not find
    /// (<c>E: Version 'V' for 'X' was not found</c>: "X=V") and packages with no candidate (virtual or removed).</summary>
    public static (IReadOnlyList<string> Unknown, IReadOnlyList<string> NoCandidate) ParseNotFound(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var unknown = new List<string>();
        var noCandidate = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (UnableToLocateRegex().Match(line) is { Success: true } locate)
                unknown.Add(locate.Groups["name"].Value);
            else if (VersionNotFoundRegex().Match(line) is { Success: true } version)
                unknown.Add($"{version.Groups["name"].Value}={version.Groups["version"].Value}");
            else if (NoCandidateRegex().Match(line) is { Success: true } candidate)
                noCandidate.Add(candidate.Groups["name"].Value);
        }
        return (unknown, noCandidate);
    }

    /// <summary>apt's explanation of a failed resolution: every line but the progress lines and debug lines.</summary>
    public static string Explanation(string stdout, string stderr)
    {
        var lines = (stdout + "\n" + stderr).Split('\n').Select(l => l.TrimEnd('\r'))
            .Where(l => l.Trim().Length > 0 && !ReasonRegex().IsMatch(l) && !l.StartsWith("Reading ", StringComparison.Ordinal) && !l.StartsWith("Building ", StringComparison.Ordinal));
        return string.Join('\n', lines);
    }

    private static string WithoutArch(string name) => name.Split(':')[0];

    [GeneratedRegex(@"^Inst (?<name>\S+) (?:\[(?<old>[^\]]+)\] )?\((?<version>\S+)(?: [^\[]*)? ?\[(?<arch>[^\]]+)\]\)", RegexOptions.CultureInvariant)]
    private static partial Regex InstRegex();

    [GeneratedRegex(@"^Remv (?<name>\S+)(?: \[(?<old>[^\]]+)\])?", RegexOptions.CultureInvariant)]
    private static partial Regex RemvRegex();

    [GeneratedRegex(@"^\s*(?:Installing|Upgrading) (?<name>\S+) as (?<type>\S+) of (?<parent>\S+)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex ReasonRegex();

    [GeneratedRegex(@"^'(?<url>[^']+)' (?<file>\S+) (?<size>[0-9]+) (?<kind>[A-Za-z0-9]+):(?<hash>[0-9A-Fa-f]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex UriRegex();

    [GeneratedRegex(@"^E: Unable to locate package (?<name>\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex UnableToLocateRegex();

    [GeneratedRegex(@"^E: Version '(?<version>[^']+)' for '(?<name>[^']+)' was not found", RegexOptions.CultureInvariant)]
    private static partial Regex VersionNotFoundRegex();

    [GeneratedRegex(@"^E: Package '(?<name>[^']+)' has no installation candidate", RegexOptions.CultureInvariant)]
    private static partial Regex NoCandidateRegex();
}
