using Rig.Agent.Platform;

namespace Rig.Agent.Tests;

/// <summary>The device's own record of what Rig installed and wrote: saved after every change, or once for the
/// changes of one answer.</summary>
public sealed class PackageDatabaseTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string DatabasePath => Path.Combine(_dir.Path, "state.json");

    public void Dispose() => _dir.Dispose();

    private static ManagedFileRecord File(string path) => new(path, new string('a', 64), "0644", "root", "root");

    [Fact]
    public void A_change_outside_a_deferred_scope_is_saved_at_once()
    {
        var database = new PackageDatabase(DatabasePath);

        database.Update(s => s with { Files = [File("/etc/a")] });

        Assert.Equal(new[] { "/etc/a" }, new PackageDatabase(DatabasePath).Snapshot.Files.Select(f => f.Path));
    }

    [Fact]
    public void Changes_in_a_deferred_scope_are_seen_at_once_and_saved_once_when_it_ends()
    {
        var database = new PackageDatabase(DatabasePath);
        database.Update(s => s with { BootCount = 1 });
        var scope = database.Deferred();

        database.Update(s => s with { Files = [.. s.Files, File("/etc/a")] });
        database.Update(s => s with { Files = [.. s.Files, File("/etc/b")] });

        Assert.Equal(2, database.Snapshot.Files.Count); // the agent reads its own changes
        Assert.Empty(new PackageDatabase(DatabasePath).Snapshot.Files); // a crash now loses them (the commands run again)

        scope.Dispose();
        scope.Dispose(); // idempotent

        var reopened = new PackageDatabase(DatabasePath);
        Assert.Equal(new[] { "/etc/a", "/etc/b" }, reopened.Snapshot.Files.Select(f => f.Path));
        Assert.Equal(1, reopened.Snapshot.BootCount);
    }

    [Fact]
    public void Nested_scopes_save_when_the_outermost_ends()
    {
        var database = new PackageDatabase(DatabasePath);
        using (database.Deferred())
        {
            using (database.Deferred())
                database.Update(s => s with { Files = [File("/etc/a")] });
            Assert.False(System.IO.File.Exists(DatabasePath));
        }

        Assert.Single(new PackageDatabase(DatabasePath).Snapshot.Files);
    }
}
