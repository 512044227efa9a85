using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Packages;

namespace Rig.Server.Tests.Packages;

/// <summary>The base a fetch resolves against, from inventories the gateway really stored (check-ins through
/// <c>Gateway.ExchangeAsync</c> on a real SQLite store): what every device has, and the devices that cannot be a base.</summary>
public sealed class DeviceBaseSystemTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-fetchbase-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
        var model = new RigModel
        {
            Sites = [new Site { Name = "s" }],
            Devices = [.. new[] { "web-1", "web-2", "arm-1", "sandbox-1", "rpm-1", "quiet-1" }.Select(d => new Device { Name = d, Site = "s" })],
        };
        var applied = await _server.Gateway.ApplyAsync(model, "test", "devices", CancellationToken.None);
        Assert.NotNull(applied.Saved);
        await CheckInAsync("web-1", Deb("libc6", "2.36-9", "amd64"), Deb("tzdata", "2024a", "all"), Deb("libssl3", "3.0.11", "amd64"), Deb("curl", "7.88", "amd64"),
            Deb("libc6", "2.36-9", "i386"), new NativePackage("bash", "5.2", "x86_64", "rpm"));
        await CheckInAsync("web-2", Deb("libc6", "2.36-9", "amd64"), Deb("tzdata", "2024a", "all"), Deb("libssl3", "3.0.15", "amd64"));
        await CheckInAsync("arm-1", Deb("libc6", "2.36-9", "arm64"), Deb("tzdata", "2024a", "all"));
        await CheckInAsync("sandbox-1", null);
        await CheckInAsync("rpm-1", new NativePackage("bash", "5.2", "x86_64", "rpm"));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static NativePackage Deb(string name, string version, string arch) => new(name, version, arch, PackageFormats.Deb);

    private async Task CheckInAsync(string device, params NativePackage[]? native)
    {
        var request = new ExchangeRequest
        {
            ProtocolVersion = ProtocolInfo.Version, Device = device, RequestId = Guid.NewGuid().ToString("n"), Reason = InquiryReason.CheckIn,
            Inventory = new InventoryReport { Hostname = device, Platform = native is null ? "sandbox" : "linux", NativePackages = native },
        };
        await _server.Gateway.ExchangeAsync(device, request, "127.0.0.1", CancellationToken.None);
    }

    [Fact]
    public async Task Several_devices_give_the_packages_all_of_them_have_in_the_same_version_of_the_fetch_architecture()
    {
        var base_ = await DeviceBaseSystem.CollectAsync(_server.Store, ["web-1", "web-2"], "amd64", CancellationToken.None);

        // libssl3 differs in version, curl is on one device only, libc6:i386 and the rpm are not amd64 Debian packages.
        Assert.Equal([("libc6", "2.36-9", "amd64"), ("tzdata", "2024a", "all")], base_.Packages.Select(p => (p.Name, p.Version, p.Architecture)));
        Assert.Equal(["web-1", "web-2"], base_.Devices);

        var one = await DeviceBaseSystem.CollectAsync(_server.Store, ["web-1"], "amd64", CancellationToken.None);
        Assert.Equal(["curl", "libc6", "libssl3", "tzdata"], one.Packages.Select(p => p.Name));
        Assert.Empty((await DeviceBaseSystem.CollectAsync(_server.Store, [], "amd64", CancellationToken.None)).Packages);
    }

    [Theory]
    [InlineData("ghost-1", "amd64", "UnknownDevice", "unknown-device")]
    [InlineData("quiet-1", "amd64", "DeviceNotUsable", "no-inventory")]
    [InlineData("sandbox-1", "amd64", "DeviceNotUsable", "no-native-packages")]
    [InlineData("rpm-1", "amd64", "DeviceNotUsable", "no-dpkg-packages")]
    [InlineData("arm-1", "amd64", "DeviceNotUsable", "wrong-architecture")]
    public async Task A_device_that_cannot_be_a_base_is_named_with_the_reason(string device, string arch, string kindName, string code)
    {
        var e = await Assert.ThrowsAsync<PackageFetchException>(() => DeviceBaseSystem.CollectAsync(_server.Store, ["web-1", device], arch, CancellationToken.None));
        Assert.Equal((Enum.Parse<PackageFetchErrorKind>(kindName), code), (e.Kind, e.Code));
        Assert.Contains($"'{device}'", e.Message, StringComparison.Ordinal);
    }
}
