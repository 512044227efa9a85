namespace Rig.Protocol.Archives;

/// <summary>An archive that is refused as a whole before anything is written (CHECKLIST 10-12).</summary>
public sealed class ArchiveRejectedException(string code, string message) : Exception(message)
{
    /// <summary>Stable reason code: <c>path-traversal</c>, <c>absolute-path</c>, <c>link-escape</c>, <c>special-file</c>,
    /// <c>setuid</c>, <c>too-large</c>, <c>compression-ratio</c>, <c>bad-manifest</c>, <c>bad-format</c>.</summary>
    public string Code { get; } = code;
}
