namespace Rig.Server.Packages;

/// <summary>A package file refused at import: what was wrong, the offending value, what to do.</summary>
/// <remarks>Codes: <c>bad-name</c>, <c>bad-version</c>, <c>bad-format</c>, <see cref="Conflict"/>, ... Not retry-safe: the
/// file is wrong, or its name and version are taken by other content.</remarks>
internal sealed class PackageRejectedException(string code, string message) : Rig.Protocol.Errors.RigException(code, message, retrySafe: false)
{
    /// <summary>The package's name and version are stored already, with other content.</summary>
    public const string Conflict = "conflict";
}
