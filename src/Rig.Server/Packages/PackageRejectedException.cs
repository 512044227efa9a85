namespace Rig.Server.Packages;

/// <summary>A package file refused at import: what was wrong, the offending value, what to do.</summary>
public sealed class PackageRejectedException(string code, string message) : Exception(message)
{
    /// <summary>Stable reason code (<c>bad-name</c>, <c>bad-version</c>, <c>bad-format</c>, <c>conflict</c>, ...).</summary>
    public string Code { get; } = code;
}
