using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

namespace Rig.Ui.Tests;

/// <summary>One <c>rig demo --ui</c> for all UI tests: a real gateway with SQLite and six real sandbox agents, the demo
/// site provisioned, kept running; and one headless Debian Chromium (<c>/usr/bin/chromium</c>, never a downloaded
/// browser). A missing Chromium fails the tests (CI installs it), it never skips them.</summary>
public sealed class UiDemo : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-ui-{Guid.NewGuid():n}"[..20]);
    private Process? _demo;
    private IPlaywright? _playwright;
    private readonly System.Text.StringBuilder _stderr = new();

    /// <summary>The UI's base address, e.g. <c>https://127.0.0.1:PORT</c> (no trailing slash).</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>The demo gateway's first admin token.</summary>
    public string AdminToken { get; private set; } = "";

    /// <summary>The demo's directory (gateway data, agents, device roots).</summary>
    public string Directory => _dir;

    /// <summary>The browser every test opens its own context in.</summary>
    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The six devices of the demo site.</summary>
    public static readonly string[] Devices = ["lb-1", "web-1", "web-2", "app-1", "app-2", "db-1"];

    public async Task InitializeAsync()
    {
        Assertions.SetDefaultExpectTimeout(60_000);
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's Chromium is missing: apt-get install chromium (.ci/run installs it)");
        var info = RigLauncher.BuiltAlongside().StartInfo("demo", "--ui", "--json", "--dir", _dir);
        _demo = Process.Start(info) ?? throw new InvalidOperationException("rig demo did not start");
        _demo.ErrorDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
        _demo.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        while (true)
        {
            var line = await _demo.StandardOutput.ReadLineAsync(deadline.Token);
            if (line is null)
                throw new InvalidOperationException($"rig demo --ui ended before it was ready (exit {(_demo.HasExited ? _demo.ExitCode : -1)}): {Errors}");
            if (!line.StartsWith('{'))
                continue;
            using var json = JsonDocument.Parse(line);
            Assert.True(json.RootElement.GetProperty("failed").GetInt32() == 0, $"the demo site was not provisioned: {line}");
            BaseUrl = json.RootElement.GetProperty("uiUrl").GetString()!.TrimEnd('/')[..^"/ui".Length];
            AdminToken = json.RootElement.GetProperty("uiToken").GetString()!;
            break;
        }
        _ = DrainAsync(_demo);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox"], // CI runs as root
        });
    }

    private static async Task DrainAsync(Process process)
    {
        try
        {
            while (await process.StandardOutput.ReadLineAsync() is not null)
            {
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private string Errors
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
            await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (_demo is { HasExited: false })
        {
            Signals.Send(_demo.Id, Signals.Interrupt);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _demo.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _demo.Kill(entireProcessTree: true);
            }
        }
        _demo?.Dispose();
        try
        {
            System.IO.Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Freeze <paramref name="device"/>'s agent process (SIGSTOP) until the answer is disposed (SIGCONT): a
    /// queue sent to it waits, so a test sees a rollout or a queue that is still running instead of racing it. The
    /// agent is the demo's <c>rig agent run --state DIR/agents/DEVICE</c>.</summary>
    public IDisposable FreezeAgent(string device)
    {
        var state = Path.Combine(_dir, "agents", device);
        foreach (var proc in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid))
                continue;
            string[] args;
            try
            {
                args = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
            }
            catch (IOException)
            {
                continue; // gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            var at = Array.IndexOf(args, "--state");
            if (at > 0 && at + 1 < args.Length && args[at + 1] == state && args.Contains("run"))
            {
                Assert.True(Signals.Send(pid, Signals.Stop), $"{device}'s agent (pid {pid}) could not be frozen");
                return new Thaw(pid);
            }
        }
        throw new InvalidOperationException($"no running agent of {device} (rig agent run --state {state}) was found");
    }

    /// <summary>Freeze several devices' agents; disposing the answer thaws them all.</summary>
    public IDisposable FreezeAgents(params string[] devices)
    {
        var thaws = new List<IDisposable>();
        try
        {
            foreach (var device in devices)
                thaws.Add(FreezeAgent(device));
        }
        catch
        {
            thaws.ForEach(t => t.Dispose());
            throw;
        }
        return new ThawAll(thaws);
    }

    private sealed class ThawAll(List<IDisposable> thaws) : IDisposable
    {
        public void Dispose() => thaws.ForEach(t => t.Dispose());
    }

    private sealed class Thaw(int pid) : IDisposable
    {
        public void Dispose() => Signals.Send(pid, Signals.Continue);
    }

    /// <summary>A new browser context (its own cookies) at the given width; the demo CA is not trusted by the browser,
    /// so certificate errors are ignored for this loopback gateway only.</summary>
    public async Task<IBrowserContext> NewContextAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true, BaseURL = BaseUrl, ViewportSize = new ViewportSize { Width = width, Height = height } });
        // CI shares two cores between test projects: a page may take seconds to load there. Generous bounds, no sleeps.
        context.SetDefaultTimeout(90_000);
        context.SetDefaultNavigationTimeout(90_000);
        return context;
    }

    /// <summary>A page signed in with <paramref name="token"/> (the admin's by default), on the dashboard.</summary>
    public async Task<IPage> SignedInPageAsync(string? token = null, int width = 1280)
    {
        var context = await NewContextAsync(width);
        var page = await context.NewPageAsync();
        await SignInAsync(page, token ?? AdminToken);
        return page;
    }

    /// <summary>Sign in through the form.</summary>
    public static async Task SignInAsync(IPage page, string token)
    {
        await page.GotoAsync("/ui/sign-in");
        await page.GetByLabel("Operator token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        // Signed in when the page it went to is there: its URL committed and its main part shown. Not the "load" event,
        // which also waits for every subresource and twice on a loaded machine never came within 90 s after it.
        await page.WaitForURLAsync(url => !url.Contains("/ui/sign-in", StringComparison.Ordinal), new() { WaitUntil = WaitUntilState.Commit });
        await Assertions.Expect(page.Locator("main h1")).ToBeVisibleAsync();
    }

    /// <summary>An operator API client with <paramref name="token"/> (the admin's by default), for setting the scene.</summary>
    public HttpClient Api(string? token = null)
    {
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        var client = new HttpClient(handler) { BaseAddress = new Uri(BaseUrl + "/"), Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? AdminToken);
        return client;
    }

    /// <summary>POST JSON to the API and read the answer's JSON, failing with the body on an error status.</summary>
    public async Task<JsonElement> PostAsync(string path, object? body, string? token = null)
    {
        using var api = Api(token);
        using var response = await api.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path} answered {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The current model as JSON (the admin sees all of it).</summary>
    public async Task<System.Text.Json.Nodes.JsonObject> ModelAsync()
    {
        using var api = Api();
        return System.Text.Json.Nodes.JsonNode.Parse(await api.GetStringAsync("api/v1/model"))!.AsObject();
    }

    /// <summary>Save <paramref name="model"/> as a new revision; its number.</summary>
    public async Task<long> PutModelAsync(System.Text.Json.Nodes.JsonObject model, string message, string? token = null)
    {
        using var api = Api(token);
        using var response = await api.PutAsync($"api/v1/model?message={Uri.EscapeDataString(message)}", new StringContent(model.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"PUT api/v1/model answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("revision").GetInt64();
    }

    /// <summary>A new operator in a new team with <paramref name="grants"/> (verbs and scope each); their token.</summary>
    public async Task<string> OperatorAsync(string name, params (string[] Verbs, object? Scope)[] grants)
    {
        var team = name + "-team";
        await PostAsync("api/v1/teams", new { name = team, description = $"{name}'s team (UI tests)" });
        foreach (var (verbs, scope) in grants)
            await PostAsync("api/v1/grants", new { team, verbs, scope, reason = "UI test persona" });
        var made = await PostAsync("api/v1/tokens", new { name = name + "-token", @operator = name, team, expires = "1d" });
        return made.GetProperty("secret").GetString()!;
    }

    /// <summary>GET JSON from the API.</summary>
    public async Task<JsonElement> GetAsync(string path, string? token = null)
    {
        using var api = Api(token);
        using var response = await api.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

/// <summary>All UI tests share one demo (it takes 10 s to minutes to provision) and run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class UiCollection : ICollectionFixture<UiDemo>
{
    public const string Name = "ui";
}
