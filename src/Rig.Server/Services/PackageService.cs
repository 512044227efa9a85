using Rig.Model.Domain;
using Rig.Server.Packages;

namespace Rig.Server.Services;

/// <summary>The package catalog: list it, import a package file, fetch Debian packages from a mirror. Refusals
/// (<see cref="PackageRejectedException"/>, <see cref="PackageFetchException"/>) pass through to the endpoint, which
/// chooses their HTTP status.</summary>
internal sealed class PackageService(Gateway.Gateway gateway, PackageImporter importer, PackageFetcher? fetcher, OperatorAccess access)
{
    /// <summary>The package catalog.</summary>
    public async Task<IReadOnlyList<PackageInfo>> ListAsync(Caller caller, CancellationToken ct)
    {
        access.Allow(caller, "package.list");
        var packages = await gateway.Store.ListPackagesAsync(ct).ConfigureAwait(false);
        return [.. access.Visible(caller, packages, _ => null).Where(p => p.Customer is null || OperatorAccess.MaySeeCustomer(caller, p.Customer))];
    }

    /// <summary>Import a package file (metadata read from the file).</summary>
    public async Task<PackageAddResponse> ImportAsync(Caller caller, Stream content, string fileName, string? customer, CancellationToken ct)
    {
        if (customer is null)
            access.Allow(caller, "package.add");
        else
            access.AllowCustomer(caller, Security.Verb.ManagePackages, customer);
        var result = await importer.ImportAsync(content, fileName, customer, ct).ConfigureAwait(false);
        return new PackageAddResponse(result.Package, result.AlreadyPresent);
    }

    /// <summary>Fetch Debian packages and the dependencies the devices lack into the package store.</summary>
    public async Task<PackageFetchResponse> FetchAsync(Caller caller, PackageFetchRequest request, CancellationToken ct)
    {
        access.Allow(caller, "package.fetch");
        var fetch = fetcher ?? throw new InvalidOperationException("This gateway has no package fetcher.");
        var order = new PackageFetchOrder(request.Packages ?? [], request.Distro ?? "", request.Architecture ?? "", request.Devices ?? [],
            request.Mirror, request.SecurityMirror, request.Components, request.Format, request.Refresh);
        var result = await fetch.FetchAsync(order, ct).ConfigureAwait(false);
        return new PackageFetchResponse(result.Distro, result.Architecture, result.Mirror, result.SecurityMirror, result.Devices, result.BasePackages,
            result.ListsRefreshed, [.. result.Packages.Select(p => new FetchedPackageView(p.Name, p.Version, p.Architecture, p.Sha256, p.Size, p.Outcome, p.Reason, p.DeviceVersion, p.Error))],
            result.Removals, result.Notes);
    }
}
