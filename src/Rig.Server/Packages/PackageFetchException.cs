namespace Rig.Server.Packages;

/// <summary>Why a fetch failed, as a kind the operator API turns into an HTTP status once (at the endpoint).</summary>
internal enum PackageFetchErrorKind
{
    /// <summary>The request itself is wrong (a name, version, option, a format that cannot be fetched); nothing was run. Retrying the same request fails again.</summary>
    BadRequest,
    /// <summary>A device named in the request is unknown to the gateway.</summary>
    UnknownDevice,
    /// <summary>A device cannot be used as a base (no native package inventory yet, another architecture).</summary>
    DeviceNotUsable,
    /// <summary>The distribution has no such package or version.</summary>
    NotFound,
    /// <summary>apt found no set of packages that satisfies the request on the devices.</summary>
    Unresolvable,
    /// <summary>The mirror could not be read or its metadata did not verify (signature, hashes). Retrying is safe:
    /// nothing was imported.</summary>
    Repository,
    /// <summary>The gateway host lacks a tool or file (apt, the archive keyring).</summary>
    Unavailable,
    /// <summary>Another fetch of the same distribution and architecture is running. Retrying later is safe.</summary>
    Busy,
}

/// <summary>A fetch that failed before anything was imported: what was wrong, the offending value, what to do.</summary>
/// <remarks>Codes: <c>bad-name</c>, <c>unknown-package</c>, <c>repository-unverified</c>, ... Retry-safe when the mirror
/// failed or another fetch was running (<see cref="PackageFetchErrorKind.Repository"/>, <see cref="PackageFetchErrorKind.Busy"/>).</remarks>
internal sealed class PackageFetchException(PackageFetchErrorKind kind, string code, string message)
    : Rig.Protocol.Errors.RigException(code, message, retrySafe: kind is PackageFetchErrorKind.Repository or PackageFetchErrorKind.Busy)
{
    /// <summary>What kind of failure it is.</summary>
    public PackageFetchErrorKind Kind { get; } = kind;
}
