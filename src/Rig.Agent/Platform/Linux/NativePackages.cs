using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Platform.Linux;

/// <summary>A package as rpm describes it (a blob's header, or an installed package).</summary>
/// <param name="Name">Package name.</param>
/// <param name="Version">Full version as the package manager writes it (Debian <c>[epoch:]upstream[-revision]</c>,
/// RPM <c>[epoch:]version-release</c>), the same form Rig's package catalog uses.</param>
/// <param name="Architecture">Architecture (<c>amd64</c>, <c>all</c>, <c>x86_64</c>, <c>noarch</c>...).</param>
internal sealed record NativePackageInfo(string Name, string Version, string Architecture);

/// <summary>Every wait and timeout of the dpkg and rpm installers, in one place.</summary>
internal sealed record NativePackageTimeouts
{
    /// <summary>The defaults.</summary>
    public static NativePackageTimeouts Default { get; } = new();

    /// <summary>How long a command waits for another run of the package manager (apt, unattended-upgrades, an
    /// operator's dpkg) to release the database before it fails with <c>package-database-locked</c>. Five
    /// minutes covers an ordinary apt run; a longer wait would hold the device's queue behind a stuck tool.</summary>
    public TimeSpan LockWait { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often a busy lock is tried again while waiting; small next to <see cref="LockWait"/>.</summary>
    public TimeSpan LockPoll { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>One install, upgrade or removal (dpkg -i, rpm -U, purge, erase) including maintainer scripts,
    /// which may compile or migrate things; a tool still running after this is stopped (<c>timeout</c>).</summary>
    public TimeSpan Change { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>A read-only call (dpkg-deb -f, dpkg-query, rpm -q, version comparisons): seconds normally.</summary>
    public TimeSpan Query { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>Helpers shared by the dpkg and rpm installers.</summary>
internal static class NativeTool
{
    /// <summary>PATH for the package managers and their maintainer scripts: root's tools (ldconfig,
    /// start-stop-daemon) live in sbin, which the agent's own PATH may lack.</summary>
    public const string SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The non-directory paths of <paramref name="listing"/> (one absolute device path a line), as
    /// recorded in Rig's database so Rig archives never overwrite a file the package manager owns.</summary>
    public static List<string> FilesOnly(DeviceFileSystem files, string listing) =>
    [
        .. listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(path => path.StartsWith('/') && path != "/." && !Directory.Exists(System.IO.Path.Combine(files.Root, path.TrimStart('/'))))
            .Distinct(StringComparer.Ordinal),
    ];

    /// <summary>Refuse a package name that is not a plain name (<see cref="Names.IsValidPackageName"/>) before it
    /// reaches a package manager's argument list, where <c>-a</c> or <c>--eval=...</c> would be an option run
    /// as root. The command executor checks first; this is the installers' own check.</summary>
    /// <exception cref="CommandFailedException"><c>bad-package</c> naming the value.</exception>
    public static void RequireValidName(string name, string tool)
    {
        if (!Names.IsValidPackageName(name))
        {
            throw new CommandFailedException("bad-package",
                $"Refusing package name '{name}': a package name is {Names.PackageNameRule}; {tool} was not run. Fix the name in the model.");
        }
    }

    /// <summary><c>a</c>, <c>a and b</c>, <c>a, b and c</c>: packages named in a message.</summary>
    public static string AlreadyInstalled(IReadOnlyList<PackageRef> packages) => packages.Count == 1
        ? $"{packages[0].Name} {packages[0].Version} is already installed; nothing to do"
        : $"{Listing(packages.Select(p => $"{p.Name} {p.Version}"))} are already installed; nothing to do";

    /// <summary>Names joined for a message.</summary>
    public static string Listing(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count <= 1 ? string.Concat(list) : $"{string.Join(", ", list[..^1])} and {list[^1]}";
    }

    /// <summary>At most the last 2,000 characters of a tool's message, for a command's error.</summary>
    public static string Brief(string message)
    {
        var text = message.Trim();
        return text.Length <= 2000 ? text : "..." + text[^2000..];
    }
}
