namespace Rig.Protocol.Archives;

/// <summary>An archive that is refused as a whole before anything is written (CHECKLIST 10-12).</summary>
/// <remarks>Codes: <c>path-traversal</c>, <c>absolute-path</c>, <c>link-escape</c>, <c>special-file</c>, <c>setuid</c>,
/// <c>too-large</c>, <c>compression-ratio</c>, <c>bad-manifest</c>, <c>bad-format</c>. Not retry-safe: the archive is wrong.</remarks>
public sealed class ArchiveRejectedException(string code, string message) : Errors.RigException(code, message, retrySafe: false);
