using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Rig.Agent.Components;
using Rig.Agent.Platform;
using Rig.Agent.Platform.Linux;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Messages;

namespace Rig.Agent.Tests.Linux;

/// <summary>A remove command's package name never reaches rpm or dpkg as an option: <c>rpm -e -a</c> would erase
/// every package, <c>rpm -q --eval=%(...)</c> would run a shell command as root. Checked by the executor and
/// again by each installer, against a real rpm database with a real package in it.</summary>
public sealed class PackageNameValidationTests(RpmFixture fixture) : IClassFixture<RpmFixture>, IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private LinuxPlatform _platform = null!;
    private X509Certificate2 _ca = null!;
    private GatewayClient _unusedGateway = null!;

    private string Root => _dir.Sub("root");

    public async Task InitializeAsync()
    {
        await Native.RunAsync("rpm", "--root", Root, "--dbpath", "/var/lib/rpm", "--initdb");
        _platform = Native.Platform(Root);
        var blob = fixture.Rpms["rigtest-app-1.0-1"];
        await _platform.Installers[PackageFormats.Rpm].InstallAsync(Native.Ref("rigtest-app", "1.0-1", PackageFormats.Rpm, blob), blob, Path.Combine(_dir.Path, "work"), CancellationToken.None);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _ca = new CertificateRequest("CN=unused test CA", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        _unusedGateway = new GatewayClient(new Uri($"https://127.0.0.1:{port}"), null, _ca, RigLimits.Default);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        _unusedGateway?.Dispose();
        _ca?.Dispose();
        _dir.Dispose();
    }

    private async Task<string> InstalledAsync() =>
        (await Native.TryRunAsync("rpm", "--root", Root, "--dbpath", "/var/lib/rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\\n")).StandardOutput.Trim();

    private Task<CommandResult> RemoveAsync(string name, string format) =>
        new CommandExecutor(_platform, new AgentPaths(_dir.Sub("state")), RigLimits.Default)
            .ExecuteAsync(new Command { Id = "rm-1", QueueId = "q1", Sequence = 0, QueueLength = 1, Spec = new RemoveCommand(name, format) }, _unusedGateway, CancellationToken.None);

    [Fact]
    public async Task A_remove_command_whose_name_is_an_rpm_option_is_refused_and_nothing_runs()
    {
        var marker = Path.Combine(_dir.Path, "eval-ran");

        var all = await RemoveAsync("-a", PackageFormats.Rpm);
        var eval = await RemoveAsync($"--eval=%(touch {marker})", PackageFormats.Rpm);
        var pipe = await RemoveAsync($"--pipe=touch {marker}", PackageFormats.Rpm);

        Assert.All([all, eval, pipe], result => Assert.Equal(("bad-package", CommandOutcome.Failed), (result.ErrorCode, result.Outcome)));
        Assert.Contains("Refusing to remove package '-a'", all.Error, StringComparison.Ordinal);
        Assert.Contains($"'--eval=%(touch {marker})'", eval.Error, StringComparison.Ordinal);
        Assert.Contains(Names.PackageNameRule, all.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "rpm evaluated the name");
        Assert.Equal("rigtest-app-1.0-1", await InstalledAsync());
        Assert.Contains(_platform.Database.Snapshot.Packages, p => p.Name == "rigtest-app");
    }

    [Fact]
    public async Task A_remove_command_with_an_unknown_format_is_refused()
    {
        var result = await RemoveAsync("rigtest-app", "exe");

        Assert.Equal("bad-package", result.ErrorCode);
        Assert.Contains("'exe' is not a package format Rig knows", result.Error, StringComparison.Ordinal);
        Assert.Equal("rigtest-app-1.0-1", await InstalledAsync());
    }

    [Fact]
    public async Task The_installers_refuse_an_option_for_a_name_themselves()
    {
        var rpm = await Assert.ThrowsAsync<CommandFailedException>(() => _platform.Installers[PackageFormats.Rpm].RemoveAsync("-a", CancellationToken.None));
        // dpkg refuses before it looks for its database: an rpm root will do.
        var deb = await Assert.ThrowsAsync<CommandFailedException>(() => _platform.Installers[PackageFormats.Deb].RemoveAsync("--force-all", CancellationToken.None));

        Assert.Equal(("bad-package", "bad-package"), (rpm.Code, deb.Code));
        Assert.Contains("Refusing package name '-a'", rpm.Message, StringComparison.Ordinal);
        Assert.Contains("rpm was not run", rpm.Message, StringComparison.Ordinal);
        Assert.Contains("Refusing package name '--force-all'", deb.Message, StringComparison.Ordinal);
        Assert.Equal("rigtest-app-1.0-1", await InstalledAsync());
    }
}
