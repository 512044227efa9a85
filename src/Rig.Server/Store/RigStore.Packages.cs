using Dapper;
using Rig.Model.Domain;

namespace Rig.Server.Store;

/// <summary>A package row.</summary>
internal sealed record PackageRow(string Name, string Version, string Format, string OsFamily, string Architecture, string Sha256, long Size, string? Service, long Reboot)
{
    public PackageInfo ToInfo() => new()
    {
        Name = Name, Version = Version, Format = Format, OsFamily = OsFamily, Architecture = Architecture,
        Sha256 = Sha256, Size = Size, Service = Service, Reboot = Reboot != 0,
    };
}

/// <summary>What adding a package did.</summary>
public enum PackageAddOutcome
{
    /// <summary>New in the catalog.</summary>
    Added,
    /// <summary>The same name, version and digest were already there.</summary>
    AlreadyPresent,
    /// <summary>The name and version exist with another digest: refused.</summary>
    Conflict,
}

public sealed partial class RigStore
{
    /// <summary>Add a package to the catalog. A name and version are immutable: importing them again with other
    /// content is a conflict (bump the version instead).</summary>
    public Task<(PackageAddOutcome Outcome, PackageInfo Existing)> AddPackageAsync(PackageInfo package, string metadataJson, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(package);
        return WriteAsync(async (c, tx) =>
        {
            // Insert first: a concurrent import of the same name and version waits for ours and then does nothing,
            // instead of failing on the primary key (SELECT ... FOR UPDATE cannot lock a row that does not exist yet).
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO packages (name, version, format, os_family, architecture, sha256, size, service, reboot, metadata, imported_at) " +
                "VALUES (@Name, @Version, @Format, @OsFamily, @Architecture, @Sha256, @Size, @Service, @reboot, @metadataJson, @now) ON CONFLICT (name, version) DO NOTHING",
                new { package.Name, package.Version, package.Format, package.OsFamily, package.Architecture, package.Sha256, package.Size, package.Service, reboot = package.Reboot ? 1 : 0, metadataJson, now = NowMs },
                tx, cancellationToken: ct)).ConfigureAwait(false);
            if (inserted == 1)
                return (PackageAddOutcome.Added, package);
            var existing = await c.QuerySingleAsync<PackageRow>(new CommandDefinition(
                "SELECT name, version, format, os_family AS OsFamily, architecture, sha256, size, service, reboot FROM packages WHERE name = @Name AND version = @Version",
                new { package.Name, package.Version }, tx, cancellationToken: ct)).ConfigureAwait(false);
            return (existing.Sha256 == package.Sha256 ? PackageAddOutcome.AlreadyPresent : PackageAddOutcome.Conflict, existing.ToInfo());
        }, ct);
    }

    /// <summary>The whole catalog.</summary>
    public Task<IReadOnlyList<PackageInfo>> ListPackagesAsync(CancellationToken ct = default) => ReadAsync(c => PackagesAsync(c, ct), ct);

    /// <summary>True when some package has this digest (the blob may be served).</summary>
    public Task<bool> IsKnownBlobAsync(string sha256, CancellationToken ct = default) => ReadAsync(async c =>
        await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM packages WHERE sha256 = @sha256", new { sha256 }, cancellationToken: ct)).ConfigureAwait(false) > 0, ct);
}
