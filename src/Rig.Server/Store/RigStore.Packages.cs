using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Rig.Model.Domain;

namespace Rig.Server.Store;

/// <summary>A package row.</summary>
internal sealed record PackageRow(string Name, string Version, string Format, string OsFamily, string Architecture, string Sha256, long Size, string? Service, long Reboot, string? Relations, string? Customer)
{
    public PackageInfo ToInfo()
    {
        var relations = Relations is null ? null : JsonSerializer.Deserialize(Relations, StoreJson.Default.PackageRelationsColumn);
        return new()
        {
            Name = Name, Version = Version, Format = Format, OsFamily = OsFamily, Architecture = Architecture,
            Sha256 = Sha256, Size = Size, Service = Service, Reboot = Reboot != 0,
            Depends = relations?.Depends ?? [], Provides = relations?.Provides ?? [], Conflicts = relations?.Conflicts ?? [], Essential = relations?.Essential ?? false,
            Customer = Customer,
        };
    }

    public const string Columns = "name, version, format, os_family AS OsFamily, architecture, sha256, size, service, reboot, relations, customer";
}

/// <summary>The <c>relations</c> column of a package row.</summary>
internal sealed record PackageRelationsColumn(IReadOnlyList<string> Depends, IReadOnlyList<string> Provides, IReadOnlyList<string> Conflicts, bool Essential)
{
    public static string? For(PackageInfo package) =>
        package.Depends.Count == 0 && package.Provides.Count == 0 && package.Conflicts.Count == 0 && !package.Essential
            ? (package.Format is "deb" or "rpm" ? "{}" : null)
            : JsonSerializer.Serialize(new PackageRelationsColumn(package.Depends, package.Provides, package.Conflicts, package.Essential), StoreJson.Default.PackageRelationsColumn);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
[JsonSerializable(typeof(PackageRelationsColumn))]
internal sealed partial class StoreJson : JsonSerializerContext;

/// <summary>What adding a package did.</summary>
internal enum PackageAddOutcome
{
    /// <summary>New in the catalog.</summary>
    Added,
    /// <summary>The same name, version and digest were already there.</summary>
    AlreadyPresent,
    /// <summary>The name and version exist with another digest: refused.</summary>
    Conflict,
}

internal sealed partial class RigStore
{
    /// <summary>Add a package to the catalog. A name and version are immutable: importing them again with other
    /// content is a conflict (bump the version instead).</summary>
    public Task<(PackageAddOutcome Outcome, PackageInfo Existing)> AddPackageAsync(PackageInfo package, string metadataJson, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(package);
        return ForgetModelAfterAsync(WriteAsync(async (c, tx) =>
        {
            // Insert first: a concurrent import of the same name and version waits for ours and then does nothing,
            // instead of failing on the primary key (SELECT ... FOR UPDATE cannot lock a row that does not exist yet).
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO packages (name, version, format, os_family, architecture, sha256, size, service, reboot, metadata, relations, imported_at, customer) " +
                "VALUES (@Name, @Version, @Format, @OsFamily, @Architecture, @Sha256, @Size, @Service, @reboot, @metadataJson, @relations, @now, @Customer) ON CONFLICT (name, version) DO NOTHING",
                new { package.Name, package.Version, package.Format, package.OsFamily, package.Architecture, package.Sha256, package.Size, package.Service, reboot = package.Reboot ? 1 : 0, metadataJson, relations = PackageRelationsColumn.For(package), now = NowMs, package.Customer },
                tx, cancellationToken: ct)).ConfigureAwait(false);
            if (inserted == 1)
                return (PackageAddOutcome.Added, package);
            var existing = await c.QuerySingleAsync<PackageRow>(new CommandDefinition(
                $"SELECT {PackageRow.Columns} FROM packages WHERE name = @Name AND version = @Version",
                new { package.Name, package.Version }, tx, cancellationToken: ct)).ConfigureAwait(false);
            return (existing.Sha256 == package.Sha256 ? PackageAddOutcome.AlreadyPresent : PackageAddOutcome.Conflict, existing.ToInfo());
        }, ct));
    }

    /// <summary>The whole catalog.</summary>
    public Task<IReadOnlyList<PackageInfo>> ListPackagesAsync(CancellationToken ct = default) => ReadAsync(c => PackagesAsync(c, ct), ct);

    /// <summary>Native packages imported before their relations were kept (schema v5): name, version, format, digest.</summary>
    public Task<IReadOnlyList<PackageInfo>> PackagesWithoutRelationsAsync(CancellationToken ct = default) => ReadAsync<IReadOnlyList<PackageInfo>>(async c =>
        [.. (await c.QueryAsync<PackageRow>(new CommandDefinition($"SELECT {PackageRow.Columns} FROM packages WHERE relations IS NULL AND format IN ('deb', 'rpm') ORDER BY name, version",
            cancellationToken: ct)).ConfigureAwait(false)).Select(r => r.ToInfo())], ct);

    /// <summary>Keep the relations read again from a package file imported before schema v5.</summary>
    public Task SetPackageRelationsAsync(PackageInfo package, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(package);
        return ForgetModelAfterAsync(WriteAsync((c, tx) => c.ExecuteAsync(new CommandDefinition("UPDATE packages SET relations = @relations WHERE name = @Name AND version = @Version AND sha256 = @Sha256",
            new { relations = PackageRelationsColumn.For(package) ?? "{}", package.Name, package.Version, package.Sha256 }, tx, cancellationToken: ct)), ct));
    }

    /// <summary>True when the database answers a trivial query (readiness); false, never an exception, when it does not.</summary>
    public async Task<bool> IsReachableAsync(CancellationToken ct = default)
    {
        try
        {
            return await ReadAsync(async c => await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT 1", cancellationToken: ct)).ConfigureAwait(false) == 1, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or TimeoutException or IOException)
        {
            return false;
        }
    }

    /// <summary>True when some package has this digest (the blob may be served).</summary>
    public Task<bool> IsKnownBlobAsync(string sha256, CancellationToken ct = default) => ReadAsync(async c =>
        await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM packages WHERE sha256 = @sha256", new { sha256 }, cancellationToken: ct)).ConfigureAwait(false) > 0, ct);
}
