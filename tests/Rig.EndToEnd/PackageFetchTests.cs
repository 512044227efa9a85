using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Model.Domain;
using Rig.Protocol.Packaging;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Rig.Testing;

namespace Rig.EndToEnd;

/// <summary><c>rig package fetch</c> against the real Debian mirror: a real gateway process runs the host's apt in its
/// private tree, downloads from deb.debian.org, verifies, imports; real agents on debootstrap roots supply the device
/// inventories. Needs root (the Debian root) and the mirror, like <see cref="DebianPackageTests"/>.</summary>
public sealed class PackageFetchTests
{
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task Fetch_without_devices_imports_the_whole_closure_with_the_digests_of_the_signed_lists_and_again_finds_it_present()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));

        var (exit, fetch, _, output) = await FetchAsync(gateway, "nginx-light", "--distro", "bookworm", "--arch", "amd64");

        Assert.True(exit == 0, output);
        Assert.Empty(fetch!.Devices);
        Assert.Contains(fetch.Notes, n => n.Contains("empty system", StringComparison.Ordinal));
        Assert.All(fetch.Packages, p => Assert.Equal("added", p.Outcome));
        var byName = fetch.Packages.ToDictionary(p => p.Name);
        Assert.Equal("requested", byName["nginx-light"].Reason);
        foreach (var name in new[] { "nginx", "nginx-common", "libc6", "libssl3", "zlib1g", "libpcre2-8-0" })
            Assert.True(byName.ContainsKey(name), $"{name} missing from the closure: {string.Join(", ", byName.Keys)}");
        Assert.StartsWith("Depends of ", byName["libc6"].Reason, StringComparison.Ordinal);

        // The store holds exactly what was fetched, each the file the distribution's signed lists name.
        using var api = gateway.Api();
        var catalog = await api.GetAsync<List<PackageInfo>>("api/v1/packages");
        Assert.Equal(fetch.Packages.Select(p => (p.Name, p.Version, p.Sha256)).Order(), catalog.Select(p => (p.Name, p.Version, p.Sha256)).Order());
        var signed = SignedDigests(gateway.DataDirectory, catalog.Select(p => p.Name).ToHashSet());
        foreach (var p in catalog)
            Assert.True(signed.GetValueOrDefault((p.Name, p.Version, p.Architecture)) == p.Sha256, $"{p.Name} {p.Version}: stored {p.Sha256}, the signed lists say {signed.GetValueOrDefault((p.Name, p.Version, p.Architecture))}");

        // Closed: every dependency of every fetched package is met by the fetched packages alone (read from the stored files).
        var fetched = await ControlOfBlobsAsync(gateway.DataDirectory, catalog);
        AssertEveryDependencyMet(fetched, fetched);

        var (again, second, _, output2) = await FetchAsync(gateway, "nginx-light", "--distro", "bookworm", "--arch", "amd64");
        Assert.True(again == 0, output2);
        Assert.False(second!.ListsRefreshed);
        Assert.Equal(fetch.Packages.Select(p => (p.Name, p.Version, p.Sha256)), second.Packages.Select(p => (p.Name, p.Version, p.Sha256)));
        Assert.All(second.Packages, p => Assert.Equal("already-present", p.Outcome));
    }

    [Fact]
    public async Task Fetch_for_a_minbase_device_imports_only_what_it_lacks_and_a_role_naming_just_nginx_light_installs_it()
    {
        using var dir = new TempDirectory();
        var root = await DebianRoot.CreateAsync(Path.Combine(dir.Path, "debian-root"));
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        await site.SaveModelAsync(Model([]));
        await site.StartAgentAsync("deb-1", platform: ["--platform", "linux", "--root", root]);
        DeviceDetail? device = null;
        await TestSite.WaitUntilAsync(async () => (device = await site.Api.GetAsync<DeviceDetail>("api/v1/devices/deb-1")).Inventory?.NativePackages is { Count: > 0 },
            TimeSpan.FromSeconds(60), "deb-1's inventory with its dpkg packages", () => site.AgentLog("deb-1"));
        var onDevice = ReadDpkgStatus(File.ReadAllText(Path.Combine(root, "var/lib/dpkg/status")));

        var (exit, fetch, _, output) = await FetchAsync(gateway, "nginx-light", "--distro", "bookworm", "--arch", "amd64", "--device", "deb-1");

        Assert.True(exit == 0, output);
        Assert.Equal(["deb-1"], fetch!.Devices);
        Assert.Equal(device!.Inventory!.NativePackages!.Count(p => p.Format == "deb"), fetch.BasePackages);
        var names = fetch.Packages.Select(p => p.Name).ToHashSet();
        Assert.Contains("nginx-light", names);
        Assert.Contains("nginx-common", names);
        Assert.Contains("libssl3", names); // not in minbase
        Assert.DoesNotContain("libc6", names); // in minbase
        foreach (var p in fetch.Packages)
            Assert.False(onDevice.Any(d => d.Name == p.Name && d.Version == p.Version), $"{p.Name} {p.Version} is on the device already but was fetched ({p.Reason})");
        Assert.True(fetch.Packages.Count < 25, $"{fetch.Packages.Count} packages fetched for a minbase device: {string.Join(", ", names)}");

        // Enough: the fetched packages and the device's own meet every dependency of the fetched ones.
        using var api = gateway.Api();
        var catalog = await api.GetAsync<List<PackageInfo>>("api/v1/packages");
        var fetched = await ControlOfBlobsAsync(gateway.DataDirectory, catalog);
        AssertEveryDependencyMet(fetched, [.. fetched, .. onDevice]);

        // The issue's story: the role lists just nginx-light; the plan adds what the device lacks from the store.
        var nginxLight = catalog.Single(p => p.Name == "nginx-light");
        await site.SaveModelAsync(Model([new PackageItem("nginx-light", nginxLight.Version)]));
        var rollout = await site.StartRolloutAsync(new RolloutRequest(null, null));
        var done = await site.WaitForRolloutToFinishAsync(rollout.Id, TimeSpan.FromMinutes(5));
        var detail = await site.Api.GetAsync<DeviceDetail>("api/v1/devices/deb-1");
        Assert.True(done.Status == RolloutStates.Succeeded,
            $"rollout {done.Status}: {detail.Status.Queue?.Error}\n{string.Join('\n', detail.Commands.Select(c => $"{c.Kind} {c.Status} {c.Result?.ErrorCode} {c.Result?.Error}"))}\n{site.AgentLog("deb-1")}");
        var nginx = await DebianRoot.ChrootAsync(root, "/usr/sbin/nginx", "-v");
        Assert.True(nginx.ExitCode == 0 && nginx.Output.Contains("nginx version", StringComparison.Ordinal), nginx.Output);
        var audit = await DebianRoot.ChrootAsync(root, "dpkg", "--audit");
        Assert.Equal((0, ""), (audit.ExitCode, audit.Output.Trim()));
        var installed = ReadDpkgStatus(File.ReadAllText(Path.Combine(root, "var/lib/dpkg/status")));
        foreach (var p in fetch.Packages)
            Assert.Contains(installed, d => d.Name == p.Name && d.Version == p.Version);
    }

    [Fact]
    public async Task A_package_or_version_the_distribution_lacks_is_named_in_the_error_and_nothing_is_imported()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));

        var (exit, stdout, stderr) = await Launch.RunAsync(FetchTimeout, ["package", "fetch", "rig-no-such-package", "hello", "--distro", "bookworm", "--arch", "amd64", .. Connection(gateway)]);
        var text = Flat(stdout + stderr);
        Assert.True(exit == 1, text);
        Assert.Contains("Not in bookworm (main) for amd64", text, StringComparison.Ordinal);
        Assert.Contains("rig-no-such-package", text, StringComparison.Ordinal);
        Assert.Contains("nothing was imported", text, StringComparison.Ordinal);

        var (pinned, fetch, json, output) = await FetchAsync(gateway, "hello=0.0.1-1", "--distro", "bookworm", "--arch", "amd64");
        Assert.True(pinned == 1 && fetch is null, output);
        var error = json.GetProperty("error");
        Assert.Equal("unknown-package", error.GetProperty("code").GetString());
        Assert.Contains("hello=0.0.1-1", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        using var api = gateway.Api();
        Assert.Empty(await api.GetAsync<List<PackageInfo>>("api/v1/packages"));
    }

    [Fact]
    public async Task Names_versions_and_options_starting_with_a_dash_are_refused_before_apt_runs_and_rpm_is_refused_with_the_reason()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        using var api = gateway.Api();
        var good = new PackageFetchRequest(["hello"], "bookworm", "amd64");
        var refused = new (PackageFetchRequest Request, string Code, string Offending)[]
        {
            (good with { Packages = ["-oAPT::Get::AllowUnauthenticated=true"] }, "bad-name", "'-oAPT::Get::AllowUnauthenticated'"),
            (good with { Packages = ["--print-uris"] }, "bad-name", "--print-uris"),
            (good with { Packages = ["hello=-1"] }, "bad-version", "-1"),
            (good with { Packages = ["hello=1.0 --allow-unauthenticated"] }, "bad-version", "1.0 --allow-unauthenticated"),
            (good with { Distro = "-obookworm" }, "bad-distro", "-obookworm"),
            (good with { Architecture = "--host-architecture=i386" }, "bad-architecture", "--host-architecture=i386"),
            (good with { Components = ["-omain"] }, "bad-component", "-omain"),
            (good with { Devices = ["-x"] }, "bad-device", "-x"),
            (good with { Mirror = "-oAcquire::AllowInsecureRepositories=true" }, "bad-mirror", "-oAcquire::AllowInsecureRepositories=true"),
            (good with { Mirror = "http://deb.debian.org/debian\nTrusted: yes" }, "bad-mirror", "Trusted: yes"),
            (good with { SecurityMirror = "file:///var/lib/rig" }, "bad-mirror", "file:///var/lib/rig"),
        };
        foreach (var (request, code, offending) in refused)
        {
            var e = await Assert.ThrowsAsync<OperatorApiException>(() => api.PostAsync<JsonElement>("api/v1/packages/fetch", request));
            Assert.True((e.Status, e.Error.Code) == (400, code), $"{JsonSerializer.Serialize(request)}: {e.Status} {e.Error.Code} {e.Message}");
            Assert.Contains(offending, e.Message, StringComparison.Ordinal);
        }
        var rpm = await Assert.ThrowsAsync<OperatorApiException>(() => api.PostAsync<JsonElement>("api/v1/packages/fetch", good with { Format = "rpm" }));
        Assert.Equal((400, "rpm-fetch-unsupported"), (rpm.Status, rpm.Error.Code));
        Assert.Contains("rig package add", rpm.Message, StringComparison.Ordinal);

        // Through the CLI too: an option-like value reaches the gateway as a value and is refused there.
        var (exit, stdout, stderr) = await Launch.RunAsync(FetchTimeout, ["package", "fetch", "hello", "--distro", "bookworm", "--arch", "amd64",
            "--mirror=-oAcquire::AllowInsecureRepositories=true", .. Connection(gateway)]);
        Assert.True(exit == 1, stdout + stderr);
        Assert.Contains("Refusing --mirror", Flat(stdout + stderr), StringComparison.Ordinal);

        Assert.False(Directory.Exists(Path.Combine(gateway.DataDirectory, "fetch")), "apt's tree was prepared for a refused request");
        Assert.Empty(await api.GetAsync<List<PackageInfo>>("api/v1/packages"));
    }

    [Fact]
    public async Task A_mirror_whose_signature_does_not_verify_or_is_missing_fails_the_fetch_even_with_good_lists_from_before()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var mirror = new MirrorProxy("http://deb.debian.org");
        var local = $"http://127.0.0.1:{mirror.Port}/debian";

        // Through the proxy unchanged: verified and imported (debian-archive-keyring depends on nothing).
        var (exit, fetch, json, output) = await FetchAsync(gateway, "debian-archive-keyring", "--distro", "bookworm", "--arch", "amd64", "--mirror", local);
        Assert.True(exit == 0, output);
        Assert.Equal(local, fetch!.Mirror);
        Assert.Equal(["debian-archive-keyring"], fetch.Packages.Select(p => p.Name));
        Assert.True(mirror.Served > 0);

        foreach (var mode in new[] { MirrorMode.TamperedInRelease, MirrorMode.Unsigned })
        {
            mirror.Mode = mode;
            (exit, fetch, json, output) = await FetchAsync(gateway, "hello", "--distro", "bookworm", "--arch", "amd64", "--mirror", local, "--refresh");
            Assert.True(exit == 1, $"{mode}: {output}");
            var error = json;
            var message = error.GetProperty("error").GetProperty("message").GetString()!;
            Assert.True(error.GetProperty("error").GetProperty("code").GetString() == "repository-unverified", $"{mode}: {message}"); // the API's 502 code, as one error document
            Assert.Contains(mode == MirrorMode.TamperedInRelease ? "BADSIG" : "signed", message, StringComparison.Ordinal);
            Assert.Contains("nothing was fetched or imported", message, StringComparison.Ordinal);
        }

        using var api = gateway.Api();
        Assert.Equal(["debian-archive-keyring"], (await api.GetAsync<List<PackageInfo>>("api/v1/packages")).Select(p => p.Name));
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static string[] Connection(GatewayHarness gateway) => ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath];

    /// <summary><c>rig package fetch ARGS --json</c>: exit code, the parsed response (null on an error), the JSON line,
    /// and everything printed (with the gateway's log) for failure messages.</summary>
    private static async Task<(int Exit, PackageFetchResponse? Response, JsonElement Json, string Output)> FetchAsync(GatewayHarness gateway, params string[] args)
    {
        var watch = Stopwatch.StartNew();
        var (exit, stdout, stderr) = await Launch.RunAsync(FetchTimeout, ["package", "fetch", .. args, .. Connection(gateway), "--json"]);
        var output = $"exit {exit}\n{stdout}\n{stderr}\n--- gateway ---\n{gateway.Output}";
        JsonElement json;
        try
        {
            json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.Clone();
        }
        catch (JsonException)
        {
            Assert.Fail($"rig package fetch --json printed no JSON line:\n{output}");
            throw;
        }
        var response = json.TryGetProperty("packages", out _) ? json.Deserialize<PackageFetchResponse>(OperatorClient.Json) : null;
        Console.WriteLine($"rig package fetch {string.Join(' ', args)}: exit {exit} in {watch.Elapsed.TotalSeconds:0.0} s");
        return (exit, response, json, output);
    }

    /// <summary>Spectre wraps long lines at the console width: compare messages with the line breaks gone.</summary>
    private static string Flat(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.TrimEntries));

    /// <summary>SHA-256 of each wanted package version in the Packages lists apt verified in the gateway's fetch tree.</summary>
    private static Dictionary<(string, string, string), string> SignedDigests(string dataDirectory, IReadOnlySet<string> wanted)
    {
        var digests = new Dictionary<(string, string, string), string>();
        foreach (var file in Directory.GetFiles(Path.Combine(dataDirectory, "fetch"), "*_Packages", SearchOption.AllDirectories))
        {
            string? name = null, version = null, arch = null, sha = null;
            foreach (var line in File.ReadLines(file).Append(""))
            {
                if (line.Length == 0)
                {
                    if (name is not null && wanted.Contains(name) && version is not null && arch is not null && sha is not null)
                        digests.TryAdd((name, version, arch), sha);
                    name = version = arch = sha = null;
                }
                else if (line.StartsWith("Package: ", StringComparison.Ordinal)) name = line[9..];
                else if (line.StartsWith("Version: ", StringComparison.Ordinal)) version = line[9..];
                else if (line.StartsWith("Architecture: ", StringComparison.Ordinal)) arch = line[14..];
                else if (line.StartsWith("SHA256: ", StringComparison.Ordinal)) sha = line[8..];
            }
        }
        return digests;
    }

    /// <summary>A package's name, version, dependency groups (Pre-Depends and Depends) and what it provides.</summary>
    private sealed record Control(string Name, string Version, IReadOnlyList<IReadOnlyList<PackageRelation>> Depends, IReadOnlyList<PackageRelation> Provides);

    /// <summary>The control fields of each stored package, read from its blob with dpkg-deb (not through Rig).</summary>
    private static async Task<List<Control>> ControlOfBlobsAsync(string dataDirectory, IEnumerable<PackageInfo> packages)
    {
        var controls = new List<Control>();
        foreach (var p in packages)
        {
            var blob = Path.Combine(dataDirectory, "blobs", "sha256", p.Sha256[..2], p.Sha256);
            var (code, text) = await DebianRoot.RunToolAsync("dpkg-deb", "--field", blob, "Package", "Version", "Pre-Depends", "Depends", "Provides");
            Assert.True(code == 0, text);
            controls.AddRange(ReadDpkgStatus(text + "\nStatus: install ok installed\n"));
        }
        return controls;
    }

    /// <summary>Installed packages of dpkg status text (or control fields with a Status line).</summary>
    private static List<Control> ReadDpkgStatus(string text)
    {
        var controls = new List<Control>();
        foreach (var paragraph in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? last = null;
            foreach (var line in paragraph.Split('\n'))
            {
                if (line.StartsWith(' ') && last is not null)
                    fields[last] += " " + line.Trim();
                else if (line.IndexOf(':', StringComparison.Ordinal) is > 0 and var colon)
                    fields[last = line[..colon]] = line[(colon + 1)..].Trim();
            }
            if (!fields.TryGetValue("Package", out var name) || !fields.GetValueOrDefault("Status", "").EndsWith(" installed", StringComparison.Ordinal))
                continue;
            var depends = PackageRelations.ParseDebianField(fields.GetValueOrDefault("Pre-Depends")).Concat(PackageRelations.ParseDebianField(fields.GetValueOrDefault("Depends"))).ToList();
            var provides = PackageRelations.ParseDebianField(fields.GetValueOrDefault("Provides")).SelectMany(g => g).ToList();
            controls.Add(new Control(name, fields["Version"], depends, provides));
        }
        return controls;
    }

    /// <summary>Every dependency group of each of <paramref name="packages"/> has an alternative that some package of
    /// <paramref name="available"/> meets by name and version, or provides.</summary>
    private static void AssertEveryDependencyMet(IReadOnlyList<Control> packages, IReadOnlyList<Control> available)
    {
        foreach (var package in packages)
        {
            foreach (var group in package.Depends)
            {
                var met = group.Any(want => available.Any(a => (a.Name == want.Name && want.Allows(a.Version, "deb"))
                    || a.Provides.Any(p => p.Name == want.Name && (want.Operator is null || (p.Version is not null && want.Allows(p.Version, "deb"))))));
                Assert.True(met, $"{package.Name} {package.Version} depends on '{PackageRelations.Format(group)}', which nothing fetched or installed meets");
            }
        }
    }

    private static RigModel Model(IReadOnlyList<Item> packages) => new()
    {
        Sites = [new Site { Name = "t" }],
        Devices = [new Device { Name = "deb-1", Site = "t", Tier = "web", OsFamily = "debian", Addresses = ["10.9.0.10"] }],
        Roles = [new Role { Name = "web", Kind = BuiltInRoleKinds.App, Version = packages.Count == 0 ? "1" : "2", Items = [.. packages] }],
        Assignments = [new RoleAssignment("deb-1", "web")],
    };

    private enum MirrorMode
    {
        Pass,
        TamperedInRelease,
        Unsigned,
    }

    /// <summary>A loopback HTTP mirror that passes requests through to a real Debian mirror, or serves an InRelease with
    /// one changed byte (its signature no longer matches), or no signed file at all.</summary>
    private sealed class MirrorProxy : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly HttpClient _upstream = new() { Timeout = TimeSpan.FromMinutes(2) };
        private readonly string _origin;
        private readonly Task _loop;
        private int _served;

        public MirrorProxy(string origin)
        {
            _origin = origin;
            Port = LoopbackPorts.Free(1)[0];
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            _loop = Task.Run(LoopAsync);
        }

        public int Port { get; }

        public volatile MirrorMode Mode = MirrorMode.Pass;

        public int Served => Volatile.Read(ref _served);

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                _ = Task.Run(() => ServeAsync(context));
            }
        }

        private async Task ServeAsync(HttpListenerContext context)
        {
            var path = context.Request.Url!.AbsolutePath;
            try
            {
                var signedFile = path.EndsWith("/InRelease", StringComparison.Ordinal) || path.EndsWith("/Release.gpg", StringComparison.Ordinal);
                if (Mode == MirrorMode.Unsigned && signedFile)
                {
                    context.Response.StatusCode = 404;
                    return;
                }
                using var upstream = await _upstream.GetAsync(_origin + path);
                var body = await upstream.Content.ReadAsByteArrayAsync();
                if (Mode == MirrorMode.TamperedInRelease && path.EndsWith("/InRelease", StringComparison.Ordinal) && upstream.IsSuccessStatusCode)
                    body = Tampered(body);
                context.Response.StatusCode = (int)upstream.StatusCode;
                context.Response.ContentLength64 = body.Length;
                if (context.Request.HttpMethod != "HEAD")
                    await context.Response.OutputStream.WriteAsync(body);
                Interlocked.Increment(ref _served);
            }
            catch (Exception e) when (e is HttpRequestException or HttpListenerException or IOException or TaskCanceledException)
            {
                context.Response.StatusCode = 502;
            }
            finally
            {
                context.Response.Close();
            }
        }

        /// <summary>The InRelease with one hex digit of the first SHA256 line changed: the clear-signed text no longer
        /// matches its signature.</summary>
        private static byte[] Tampered(byte[] inRelease)
        {
            var text = Encoding.UTF8.GetString(inRelease);
            var at = text.IndexOf("\nSHA256:\n ", StringComparison.Ordinal) + "\nSHA256:\n ".Length;
            Assert.True(at > 20, "the mirror's InRelease has no SHA256 section");
            var chars = text.ToCharArray();
            chars[at] = chars[at] == 'a' ? 'b' : 'a';
            return Encoding.UTF8.GetBytes(chars);
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
            _upstream.Dispose();
        }
    }
}
