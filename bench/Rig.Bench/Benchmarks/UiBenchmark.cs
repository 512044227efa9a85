using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Bench.Common;
using Rig.Model;
using Rig.Model.Domain;
using Spectre.Console;

namespace Rig.Bench.Benchmarks;

/// <summary>Server-side rendering of the web UI at fleet size: a real gateway (in this process, SQLite) holding a model of
/// 10,000 devices in 10 sites of 1,000, signed in through the sign-in form like a browser, then each page fetched over
/// real HTTPS with the session cookie, one request at a time, after a warm-up. Reported per page: median and p95 of the
/// whole request (TLS on a kept-alive connection, routing, session check, the services' reads, rendering, transfer), and
/// its ratio to <c>GET /healthz</c> on the same client (the floor: everything but the page's own work). The target
/// (issue: web UI) is under 300 ms per page on this machine. A page whose route answers 404 (not built yet in this
/// branch) is reported as missing, not as a failure.</summary>
internal sealed class UiBenchmark : IBenchmark
{
    /// <summary>The issue's target for one page, on this machine.</summary>
    private const double TargetMs = 300;

    /// <summary>Devices per page of the device list (the UI's lists show about 100).</summary>
    private const int DevicesPerPage = 100;

    /// <inheritdoc />
    public string Name => "ui";

    /// <inheritdoc />
    public async Task<BenchReport> RunAsync(BenchOptions options, CancellationToken ct)
    {
        var (sites, perSite) = options.Quick ? (2, 100) : (10, 1_000);
        var devices = sites * perSite;
        var requests = options.Runs ?? (options.Quick ? 5 : 50);
        var warmUp = options.Quick ? 2 : 10;
        var dir = Directory.CreateTempSubdirectory("rig-bench-ui-").FullName;
        using var cleanup = ExitCleanup.Add(() => Directory.Delete(dir, recursive: true));
        var measurements = new List<Measurement>();
        var notes = new List<string>();
        var missing = new List<string>();
        await using (var gateway = await GatewayHarness.StartNewAsync(new GatewaySetup(Path.Combine(dir, "gateway")) { InProcess = true, LogLevel = "Error" }, ct).ConfigureAwait(false))
        {
            var model = Fleet(sites, perSite);
            using (var api = gateway.Api())
            {
                var watch = Stopwatch.StartNew();
                await api.PutJsonTextAsync<ModelPutResponse>("api/v1/model?message=ui%20benchmark%20fleet", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), ct).ConfigureAwait(false);
                AnsiConsole.MarkupLine($"  [grey]model of {devices:N0} devices in {sites} sites saved in {watch.Elapsed.TotalSeconds:0.0} s[/]");
            }

            using var client = Client(gateway.Ca, gateway.ApiUrl);
            await SignInAsync(client, gateway.Token, ct).ConfigureAwait(false);

            var floor = await MeasureAsync(client, "/healthz", warmUp, requests, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException("GET /healthz answered 404.");
            measurements.Add(Measurement.Of("floor: GET /healthz", "ms", floor, "same client, connection and TLS session as the pages"));
            var bigSite = model.Sites[0].Name;
            var lastPage = (devices + DevicesPerPage - 1) / DevicesPerPage;
            var pages = new (string Label, string Path)[]
            {
                ("dashboard", "/ui/"),
                ($"site of {perSite:N0} devices", $"/ui/sites/{bigSite}"),
                ("device list, first page", "/ui/devices?page=1"),
                ($"device list, last page of {devices:N0}", $"/ui/devices?page={lastPage}"),
            };
            var floorMedian = Stats.Median(floor);
            foreach (var (label, path) in pages)
            {
                var times = await MeasureAsync(client, path, warmUp, requests, ct).ConfigureAwait(false);
                if (times is null)
                {
                    notes.Add($"{label} ({path}): missing (the route answered 404 in this build)");
                    missing.Add(path);
                    continue;
                }
                var median = Stats.Median(times);
                var p95 = Stats.Percentile(times, 95);
                measurements.Add(Measurement.Of($"{label}: render", "ms", times,
                    $"{path}; p95 {p95:0.#} ms; target < {TargetMs:0} ms: {(p95 < TargetMs ? "met" : "NOT met")} (p95)"));
                measurements.Add(Measurement.Single($"{label} / floor (median)", "ratio", median / floorMedian, "page median / GET /healthz median"));
                AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(label)}: median {median:0.#} ms, p95 {p95:0.#} ms[/]");
            }
        }
        notes.Add($"target: under {TargetMs:0} ms per page on this machine (the issue's), judged on p95; no agent is enrolled, so every device is 'never enrolled' and no queue or drift is stored.");
        notes.Add("gateway in this process (as rig demo runs it): the client's CPU shares the same cores.");
        return new BenchReport(Name, DateTimeOffset.UtcNow, BenchReport.Revision(), options.Quick, MachineInfo.Current(Path.GetTempPath()),
            new Dictionary<string, string>
            {
                ["devices"] = devices.ToString(CultureInfo.InvariantCulture),
                ["sites"] = $"{sites} of {perSite:N0} devices, tiers lb/web/app/db, each site's load balancer linked to its web tier",
                ["model"] = "one os role with a templated file on every device",
                ["requests"] = $"{requests} per page, one at a time, after {warmUp} unmeasured",
                ["engine"] = "sqlite",
                ["client"] = "HttpClient over HTTPS (kept-alive), session cookie from POST /ui/sign-in",
                ["missing"] = missing.Count == 0 ? "none" : string.Join(", ", missing),
            },
            measurements, notes);
    }

    /// <summary>Sites of <paramref name="perSite"/> devices: a load balancer, then web, app and db tiers; the balancer is
    /// linked to every web device of its site; one os role with a templated file everywhere.</summary>
    private static RigModel Fleet(int sites, int perSite)
    {
        var devices = new List<Device>(sites * perSite);
        var links = new List<Interconnection>();
        for (var s = 0; s < sites; s++)
        {
            for (var i = 0; i < perSite; i++)
            {
                var tier = i == 0 ? "lb" : (i % 10) switch { < 6 => "web", < 9 => "app", _ => "db" };
                var name = $"s{s}-d{i:0000}";
                devices.Add(new Device { Name = name, Site = $"s{s}", Tier = tier, Addresses = [$"10.{s}.{i / 250}.{i % 250 + 1}"] });
                if (tier == "web")
                    links.Add(new Interconnection { From = $"s{s}-d0000", To = name, Purpose = "http", Port = 80 });
            }
        }
        return new RigModel
        {
            Sites = [.. Enumerable.Range(0, sites).Select(s => new Site { Name = $"s{s}" })],
            Devices = devices,
            Links = links,
            Templates = [new ConfigTemplate("motd", "device {{ device.name }} in {{ site.name }}\n")],
            Roles = [new Role { Name = "os", Kind = BuiltInRoleKinds.Os, Items = [new FileItem("/etc/motd", "motd")] }],
            Assignments = [.. devices.Select(d => new RoleAssignment(d.Name, "os"))],
        };
    }

    /// <summary>A client that trusts only the gateway's CA, keeps cookies and does not follow redirects.</summary>
    private static HttpClient Client(X509Certificate2 ca, Uri baseAddress) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = true,
        CookieContainer = new CookieContainer(),
        SslOptions =
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) => GatewayHarness.IssuedBy(ca, certificate, errors),
        },
    })
    { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Sign in as a browser does: the form (its anti-forgery nonce comes as a cookie and a hidden field, the
    /// same value), then POST the token; the answer is a redirect carrying the session cookie.</summary>
    private static async Task SignInAsync(HttpClient client, string token, CancellationToken ct)
    {
        var baseUri = client.BaseAddress!;
        using var form = await client.GetAsync(new Uri(baseUri, "/ui/sign-in"), ct).ConfigureAwait(false);
        form.EnsureSuccessStatusCode();
        var html = await form.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        const string marker = "name=\"_signin\" value=\"";
        var at = html.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
            throw new InvalidOperationException("The sign-in form has no _signin field.");
        var nonce = html[(at + marker.Length)..html.IndexOf('"', at + marker.Length)];
        using var content = new FormUrlEncodedContent(new Dictionary<string, string> { ["_signin"] = nonce, ["token"] = token, ["next"] = "/ui/" });
        using var signedIn = await client.PostAsync(new Uri(baseUri, "/ui/sign-in"), content, ct).ConfigureAwait(false);
        var location = signedIn.Headers.Location?.ToString() ?? "";
        if (signedIn.StatusCode != HttpStatusCode.SeeOther || location.Contains("sign-in", StringComparison.Ordinal))
            throw new InvalidOperationException($"Sign-in failed: {(int)signedIn.StatusCode} to '{location}'.");
    }

    /// <summary>Request times in ms of <paramref name="requests"/> GETs after <paramref name="warmUp"/>, or null when the
    /// route answers 404. Anything but 200 (a redirect to the sign-in form, an error page) fails the benchmark.</summary>
    private static async Task<List<double>?> MeasureAsync(HttpClient client, string path, int warmUp, int requests, CancellationToken ct)
    {
        var times = new List<double>(requests);
        for (var i = 0; i < warmUp + requests; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await client.GetAsync(path, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            watch.Stop();
            if (response.StatusCode == HttpStatusCode.NotFound)
                return null;
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode} {response.Headers.Location}: {body[..Math.Min(body.Length, 500)]}");
            }
            if (i >= warmUp)
                times.Add(watch.Elapsed.TotalMilliseconds);
        }
        return times;
    }
}
