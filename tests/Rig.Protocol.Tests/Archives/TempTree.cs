namespace Rig.Protocol.Tests.Archives;

/// <summary>A private temp tree <c>{root}/outer/inner/stage</c>: the staging directory sits three levels deep
/// so that an entry escaping with <c>..</c> would still land inside <see cref="Root"/>, where the test sees it.</summary>
internal sealed class TempTree : IDisposable
{
    public TempTree()
    {
        Root = Path.Combine(Path.GetTempPath(), "rig-protocol-tests-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path.Combine(Root, "outer", "inner"));
        Stage = Path.Combine(Root, "outer", "inner", "stage");
    }

    /// <summary>The whole private tree.</summary>
    public string Root { get; }

    /// <summary>The staging directory handed to <c>ExtractTo</c> (not created).</summary>
    public string Stage { get; }

    /// <summary>Every path under <see cref="Root"/> relative to it, '/'-separated, sorted; symbolic links are
    /// listed with their target and never followed.</summary>
    public IReadOnlyList<string> Snapshot()
    {
        var result = new List<string>();
        Walk(new DirectoryInfo(Root));
        result.Sort(StringComparer.Ordinal);
        return result;

        void Walk(DirectoryInfo dir)
        {
            foreach (var info in dir.EnumerateFileSystemInfos())
            {
                var rel = Path.GetRelativePath(Root, info.FullName).Replace('\\', '/');
                if (info.LinkTarget is { } target)
                    result.Add($"{rel} -> {target}");
                else if (info is DirectoryInfo sub)
                {
                    result.Add(rel + "/");
                    Walk(sub);
                }
                else
                    result.Add(rel);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temp dir must not fail a test.
        }
    }
}
