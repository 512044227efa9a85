namespace Rig.Server.Packages;

/// <summary>Every timeout and limit of <c>rig package fetch</c> on the gateway, in one place. The whole fetch runs
/// inside one operator request, so the sum of the steps stays below the CLI's request timeout (10 minutes,
/// <c>OperatorClient</c>): an operator sees the gateway's error, never a bare client timeout.</summary>
internal sealed record PackageFetchLimits
{
    /// <summary>The values Rig ships with.</summary>
    public static PackageFetchLimits Default { get; } = new();

    /// <summary>The whole fetch: lists, resolution, downloads, imports. Below the CLI's 10-minute request timeout.</summary>
    public TimeSpan Total { get; init; } = TimeSpan.FromMinutes(9);

    /// <summary>Waiting for another fetch of the same distribution and architecture (they share one apt tree and run
    /// one at a time). Longer than a typical fetch (seconds to a minute), short enough to answer "busy" in time.</summary>
    public TimeSpan TreeLockWait { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Package lists older than this are refreshed (<c>apt-get update</c>) before a fetch. Debian publishes
    /// security updates several times a day and removes superseded versions from the security archive, so lists
    /// much older than this name files the mirror no longer has; a refresh of current lists costs one conditional
    /// request per suite.</summary>
    public TimeSpan ListsMaxAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary><c>apt-get update</c>: a first one downloads ~10 MB of lists per distribution and architecture.</summary>
    public TimeSpan Update { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>A query of the lists (<c>apt-cache show</c>, <c>apt-get install --simulate</c>, <c>--print-uris</c>):
    /// under a second normally, seconds for devices with thousands of packages.</summary>
    public TimeSpan Query { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary><c>apt-get download</c> of the closure: a few MB to a few hundred MB.</summary>
    public TimeSpan Download { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>apt's own limit on a stalled connection to the mirror (<c>Acquire::http::Timeout</c>, seconds).</summary>
    public int MirrorConnectionTimeoutSeconds { get; init; } = 30;

    /// <summary>Packages named in one request: a role's worth, not a distribution.</summary>
    public int MaxRequestedPackages { get; init; } = 256;

    /// <summary>Devices in one request: their common package set is computed from each one's inventory.</summary>
    public int MaxDevices { get; init; } = 1_000;

    /// <summary>Characters of a tool's output kept in an error message.</summary>
    public int MaxToolMessageChars { get; init; } = 4_000;
}
