using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Rig.Agent.Components;
using Rig.Agent.Platform.Sandbox;
using Rig.Agent.Runtime;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;
using Rig.Testing;
using static Rig.Agent.Tests.TestFiles;

namespace Rig.Agent.Tests;

/// <summary>The agent's package download against a real Kestrel over real TLS that goes away, cuts connections and
/// runs out of disk: a command fails only for what retrying cannot fix, never because the gateway was briefly away.</summary>
public sealed class BlobDownloadTests : IAsyncLifetime
{
    private static readonly RigLimits Limits = RigLimits.Default with { RetryInitialDelay = TimeSpan.FromMilliseconds(100), RetryMaxDelay = TimeSpan.FromMilliseconds(800) };
    private readonly TempDirectory _dir = new();
    private readonly int _port = LoopbackPorts.Free(1)[0];
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2 _server;
    private readonly byte[] _blob;
    private readonly PackageRef _package;
    private readonly List<string?> _ranges = [];
    private WebApplication? _gateway;
    private int _cutNextAt = -1;

    public BlobDownloadTests()
    {
        (_ca, _server) = Certificates();
        // Incompressible content of a real package's size, so a cut lands in the middle of the body.
        var payload = RandomNumberGenerator.GetBytes(768 * 1024);
        _blob = Archive("app", "1.0", new ArchiveInput("/opt/app/payload.bin", payload, "0644"));
        _package = new PackageRef("app", "1.0", PackageFormats.RigArchive, Sha256(_blob), _blob.Length);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
            await _gateway.DisposeAsync();
        _server.Dispose();
        _ca.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_download_that_starts_while_the_gateway_is_down_completes_once_the_gateway_listens_again()
    {
        var (executor, platform, client) = Agent(_dir.Sub("state"));
        using var _ = client;
        var install = Run(executor, client);

        // Down for longer than a gateway restart takes on a loaded machine (and than the old 4-retry budget, ~1.5 s).
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(install.IsCompleted, "the install must still be waiting for the gateway");
        await StartGatewayAsync();

        var result = await install.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(result.Outcome == CommandOutcome.Succeeded, $"{result.ErrorCode}: {result.Error}");
        Assert.Single(platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task A_download_cut_midway_resumes_with_a_range_request_where_it_stopped()
    {
        await StartGatewayAsync();
        _cutNextAt = _blob.Length / 2;
        var (executor, platform, client) = Agent(_dir.Sub("state"));
        using var _ = client;

        var result = await Run(executor, client).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(result.Outcome == CommandOutcome.Succeeded, $"{result.ErrorCode}: {result.Error}");
        lock (_ranges)
        {
            Assert.Equal(2, _ranges.Count);
            Assert.Null(_ranges[0]);
            Assert.StartsWith("bytes=", _ranges[1], StringComparison.Ordinal);
            var from = long.Parse(_ranges[1]!["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(from, 1, _blob.Length / 2); // what arrived before the cut was kept
        }
        Assert.Single(platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task A_blob_the_gateway_does_not_have_fails_at_once_with_download_refused()
    {
        await StartGatewayAsync();
        var (executor, platform, client) = Agent(_dir.Sub("state"));
        using var _ = client;
        var missing = _package with { Sha256 = new string('a', 64) };

        var result = await executor.ExecuteAsync(Command(new InstallCommand(missing, "web")), client, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((CommandOutcome.Failed, "download-refused"), (result.Outcome, result.ErrorCode));
        Assert.Empty(platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task A_blob_shorter_than_announced_fails_at_once_with_size_mismatch_instead_of_retrying_for_ever()
    {
        await StartGatewayAsync();
        var (executor, platform, client) = Agent(_dir.Sub("state"));
        using var _ = client;
        var longer = _package with { Size = _package.Size + 1000 }; // the gateway's copy is shorter than the catalog says

        var result = await executor.ExecuteAsync(Command(new InstallCommand(longer, "web")), client, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((CommandOutcome.Failed, "size-mismatch"), (result.Outcome, result.ErrorCode));
        Assert.Contains($"announced {longer.Size}", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir.Path, "state", "downloads")));
        Assert.Empty(platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task A_download_onto_a_full_disk_fails_with_disk_full_and_leaves_no_partial_file()
    {
        await StartGatewayAsync();
        using var disk = SmallDisk.Mount(4L * 1024 * 1024);
        var state = Directory.CreateDirectory(Path.Combine(disk.Path, "state")).FullName;
        var (executor, platform, client) = Agent(state);
        using var _ = client;
        Directory.CreateDirectory(Path.Combine(state, "downloads"));
        File.WriteAllBytes(Path.Combine(disk.Path, "fill"), new byte[4L * 1024 * 1024 - 256 * 1024 - 64 * 1024]);

        var result = await Run(executor, client).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal((CommandOutcome.Failed, "disk-full"), (result.Outcome, result.ErrorCode));
        Assert.Contains("disk is full", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(state, "downloads")));
        Assert.Empty(platform.Database.Snapshot.Packages);
    }

    [Fact]
    public async Task A_stop_while_the_gateway_is_away_ends_the_download_without_a_result_and_installs_nothing()
    {
        var (executor, platform, client) = Agent(_dir.Sub("state"));
        using var _ = client;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => executor.ExecuteAsync(Command(new InstallCommand(_package, "web")), client, stop.Token));

        Assert.Empty(platform.Database.Snapshot.Packages);
        Assert.False(Directory.Exists(Host(Path.Combine(_dir.Path, "root"), "/opt/app")));
    }

    private (CommandExecutor Executor, SandboxPlatform Platform, GatewayClient Client) Agent(string state)
    {
        var platform = new SandboxPlatform(_dir.Sub("root"), "dev1", ["/etc", "/opt"], Limits);
        var executor = new CommandExecutor(platform, new AgentPaths(state), Limits);
        var client = new GatewayClient(new Uri($"https://localhost:{_port}"), null, _ca, Limits);
        return (executor, platform, client);
    }

    private Task<CommandResult> Run(CommandExecutor executor, GatewayClient client) =>
        executor.ExecuteAsync(Command(new InstallCommand(_package, "web")), client, CancellationToken.None);

    private static Command Command(CommandSpec spec) => new() { Id = Guid.NewGuid().ToString("n"), QueueId = "q1", Sequence = 0, QueueLength = 1, Spec = spec };

    /// <summary>A gateway's file endpoint: serves the blob with range support; when <see cref="_cutNextAt"/> is set, the
    /// next response sends that many bytes and then the connection is cut.</summary>
    private async Task StartGatewayAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, _port, l => l.UseHttps(_server)));
        var app = builder.Build();
        app.MapGet(ProtocolInfo.FilesPrefix + "{digest}", async (string digest, HttpContext context) =>
        {
            lock (_ranges)
                _ranges.Add(context.Request.Headers.Range.Count == 0 ? null : context.Request.Headers.Range.ToString());
            if (digest != _package.Sha256)
            {
                context.Response.StatusCode = 404;
                await context.Response.WriteAsJsonAsync(new { code = "no-such-blob", message = "no such blob", retryable = false });
                return;
            }
            var cut = Interlocked.Exchange(ref _cutNextAt, -1);
            if (cut > 0)
            {
                context.Response.ContentLength = _blob.Length;
                await context.Response.Body.WriteAsync(_blob.AsMemory(0, cut));
                await context.Response.Body.FlushAsync();
                context.Abort();
                return;
            }
            await Results.Bytes(_blob, "application/octet-stream", enableRangeProcessing: true).ExecuteAsync(context);
        });
        await app.StartAsync();
        _gateway = app;
    }

    /// <summary>A CA and a server certificate for localhost/127.0.0.1 signed by it (the agent pins the CA).</summary>
    private static (X509Certificate2 Ca, X509Certificate2 Server) Certificates()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Rig test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1), RandomNumberGenerator.GetBytes(8));
        var server = X509CertificateLoader.LoadPkcs12(signed.CopyWithPrivateKey(serverKey).Export(X509ContentType.Pkcs12), null);
        return (ca, server);
    }
}
