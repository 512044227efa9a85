namespace Rig.EndToEnd.Harness;

/// <summary>A temp directory removed at the end of a test (kept when RIG_KEEP_TEST_DIRS is set).</summary>
internal sealed class TempDirectory : IDisposable
{
    /// <summary>Create one.</summary>
    public TempDirectory(string prefix = "rig-e2e")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid().ToString("n")[..10]}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>The path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("RIG_KEEP_TEST_DIRS") is not null)
            return;
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
