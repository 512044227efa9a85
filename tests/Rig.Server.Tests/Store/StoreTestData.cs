using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Protocol;
using Rig.Protocol.Messages;
using Rig.Server.Store;

namespace Rig.Server.Tests.Store;

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public DateTimeOffset Now => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>Models, commands and agent messages for the store tests.</summary>
internal static class StoreTestData
{
    public const string Device = "web-1";
    public const string OtherDevice = "web-2";

    /// <summary>A deterministic lower-case hex SHA-256 of a label.</summary>
    public static string Digest(string label) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(label)));

    public static string NewId() => Guid.NewGuid().ToString("n");

    // ---- model -------------------------------------------------------------------------------

    /// <summary>A small site with every kind of model object. Lists are in the store's canonical order
    /// (ordinal by key); see <see cref="Canonical"/>.</summary>
    public static RigModel SampleModel() => Canonical(new RigModel
    {
        Parameters = new Dictionary<string, string> { ["http_port"] = "80", ["motd_banner"] = "managed by rig" },
        RoleKinds = ["monitoring"],
        Sites = [new Site { Name = "acme", Description = "Acme shop", Parameters = new Dictionary<string, string> { ["site_title"] = "Acme" } }],
        Devices = [MakeDevice("lb-1", "lb", "10.0.0.10"), MakeDevice("web-1", "web", "10.0.1.11"), MakeDevice("web-2", "web", "10.0.1.12")],
        Links =
        [
            new Interconnection { From = "lb-1", To = "web-1", Purpose = "http", Port = 8080 },
            new Interconnection { From = "lb-1", To = "web-2", Purpose = "http", Port = 8080, Attributes = new Dictionary<string, string> { ["weight"] = "2" } },
        ],
        Bundles =
        [
            new Bundle { Name = "base", Items = [new PackageItem("base-tools", "1.0"), new FileItem("/etc/motd", "motd")] },
            new Bundle { Name = "nginx", Items = [new PackageItem("nginx", "1.24.0"), new FileItem("/etc/nginx/nginx.conf", "nginx-conf", Mode: "0640"), new ServiceItem("nginx")] },
        ],
        Roles =
        [
            new Role { Name = "linux-base", Kind = BuiltInRoleKinds.Os, Items = [new BundleItem("base"), new RebootItem("base installed")] },
            new Role
            {
                Name = "web", Kind = BuiltInRoleKinds.App, Version = "3", Items = [new BundleItem("nginx")],
                Parameters = new Dictionary<string, string> { ["workers"] = "4" },
                Pins = new Dictionary<string, string> { ["nginx@1.24.0"] = Digest("nginx@1.24.0") },
            },
        ],
        Assignments = [new RoleAssignment("lb-1", "linux-base"), new RoleAssignment("web-1", "linux-base"), new RoleAssignment("web-1", "web"), new RoleAssignment("web-2", "web")],
        Templates = [new ConfigTemplate("motd", "Welcome to {{ device.hostname }}\n"), new ConfigTemplate("nginx-conf", "listen {{ params.http_port }};\n")],
    });

    public static Device MakeDevice(string name, string tier, string address) => new()
    {
        Name = name,
        Site = "acme",
        Tier = tier,
        OsFamily = "debian",
        Addresses = [address],
        Hardware = new HardwareFacts { CpuCount = 2, MemoryMiB = 4096, Disks = [new Disk("sda", 40)], Nics = [new Nic("eth0", "52:54:00:00:00:01", address)] },
        Facts = new Dictionary<string, string> { ["rack"] = "r1" },
    };

    /// <summary>The store keeps each top-level model object as its own row and returns them ordered by key
    /// (ordinal); nested lists keep their order. This sorts a model the same way.</summary>
    public static RigModel Canonical(RigModel model) => model with
    {
        Sites = [.. model.Sites.OrderBy(s => s.Name, StringComparer.Ordinal)],
        Devices = [.. model.Devices.OrderBy(d => d.Name, StringComparer.Ordinal)],
        Links = [.. model.Links.OrderBy(l => $"{l.From}|{l.To}|{l.Purpose}", StringComparer.Ordinal)],
        Bundles = [.. model.Bundles.OrderBy(b => b.Name, StringComparer.Ordinal)],
        Roles = [.. model.Roles.OrderBy(r => r.Name, StringComparer.Ordinal)],
        Assignments = [.. model.Assignments.OrderBy(a => $"{a.Device}|{a.Role}", StringComparer.Ordinal)],
        Templates = [.. model.Templates.OrderBy(t => t.Name, StringComparer.Ordinal)],
    };

    public static string Json(RigModel model) => JsonSerializer.Serialize(model, ModelJson.Default.RigModel);

    public static string Json(Rig.Model.Planning.RecordedState state) => JsonSerializer.Serialize(state, ModelJson.Default.RecordedState);

    public static PackageInfo Package(string name, string version, string? digestLabel = null, string? service = null, bool reboot = false) => new()
    {
        Name = name,
        Version = version,
        Format = PackageFormats.Deb,
        OsFamily = "debian",
        Architecture = "amd64",
        Sha256 = Digest(digestLabel ?? $"{name}@{version}"),
        Size = 4096,
        Service = service,
        Reboot = reboot,
    };

    // ---- commands ----------------------------------------------------------------------------

    public static NewCommand WriteFile(string path, string content, string role = "web", string? roleKind = BuiltInRoleKinds.App) =>
        new(NewId(), new WriteFileCommand(path, content, Digest(content), "0644", "root", "root"), role, roleKind, $"{path} changed");

    public static NewCommand DeleteFile(string path, string role = "web") =>
        new(NewId(), new DeleteFileCommand(path), role, BuiltInRoleKinds.App, $"{path} no longer wanted");

    public static NewCommand Install(string name, string version, string role = "web", string? roleKind = BuiltInRoleKinds.App) =>
        new(NewId(), new InstallCommand(new PackageRef(name, version, PackageFormats.Deb, Digest($"{name}@{version}"), 4096), role), role, roleKind, $"{name} {version} wanted");

    public static NewCommand Service(string name, ServiceAction action, string role = "web") =>
        new(NewId(), new ServiceCommand(name, action), role, BuiltInRoleKinds.App, $"{name} {action}");

    public static NewCommand Reboot() =>
        new(NewId(), new RebootCommand("kernel updated"), "linux-base", BuiltInRoleKinds.Os, "the role asks for a reboot");

    public static NewCommand Inventory() =>
        new(NewId(), new InventoryCommand(), "rig", null, "inventory");

    /// <summary>n write-file commands to distinct paths.</summary>
    public static List<NewCommand> Writes(int n, string prefix = "/etc/rig/f") =>
        [.. Enumerable.Range(0, n).Select(i => WriteFile($"{prefix}{i}", $"content {i}"))];

    // ---- agent messages ----------------------------------------------------------------------

    public static ExchangeRequest Inquiry(string device = Device) => new()
    {
        ProtocolVersion = ProtocolInfo.Version,
        Device = device,
        RequestId = NewId(),
        Reason = InquiryReason.Poll,
    };

    public static ExchangeRequest Report(CommandResult result, string device = Device, bool inquire = true) => new()
    {
        ProtocolVersion = ProtocolInfo.Version,
        Device = device,
        RequestId = NewId(),
        Reason = InquiryReason.Continue,
        Result = result,
        Inquire = inquire,
    };

    public static ExchangeRequest Rebooted(string commandId, string device = Device) => new()
    {
        ProtocolVersion = ProtocolInfo.Version,
        Device = device,
        RequestId = NewId(),
        Reason = InquiryReason.Startup,
        Rebooted = commandId,
    };

    public static CommandResult Succeeded(string commandId, InventoryReport? inventory = null) =>
        new() { CommandId = commandId, Outcome = CommandOutcome.Succeeded, Output = "ok", DurationMs = 12, Inventory = inventory };

    public static CommandResult Failed(string commandId, string error) =>
        new() { CommandId = commandId, Outcome = CommandOutcome.Failed, Error = error, ErrorCode = "test-failure" };

    public static CommandResult Rebooting(string commandId) =>
        new() { CommandId = commandId, Outcome = CommandOutcome.Rebooting, Output = "going down" };
}
