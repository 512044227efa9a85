using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Rig.Cli.Operator;
using Rig.EndToEnd.Harness;
using Rig.Server.Api;

namespace Rig.EndToEnd;

/// <summary>README's "Running it for real" block, run as written, so that it stays true: every <c>rig</c> line is run
/// by the real <c>rig</c> in a working directory holding a copy of <c>examples/</c>, with the environment the block's
/// <c>export</c> sets, against the gateway its <c>rig server init</c>/<c>run</c> lines make. A line that names a file
/// that does not exist, or a command that fails, fails the test.
/// <para>What the test changes, and only this:</para>
/// <list type="bullet">
/// <item><c>/var/lib/rig</c> is a temporary directory; <c>gateway.example</c> is <c>localhost</c> and its agent port
/// 7443 a free port; <c>rig server init</c> also gets <c>--agent-port</c>, <c>--api-port</c> (free ports: 7443 and 7444
/// may be taken on a test machine) and <c>--agent-listen 127.0.0.1</c>.</item>
/// <item><c>rigop_...</c> and <c>sha256:...</c> are the admin token and CA pin <c>rig server init</c> printed (the pin
/// read from the CA certificate it made).</item>
/// <item><c>rig server run</c> runs in the background until it prints that it listens.</item>
/// <item><c>apt-get install</c> (the agent's .deb) is skipped, and <c>rig-agent install OPTIONS</c> becomes
/// <c>rig agent enroll OPTIONS</c> with a sandbox root (<c>install</c> also enables a systemd unit; the .deb and the
/// unit are tested in AgentPackageTests), then the agent runs under the supervisor the demo uses. Its options must be
/// the ones <c>rig device token</c> printed.</item>
/// <item>The block's "the same for ..." comment: before <c>rig rollout</c>, every other device of examples/shop gets a
/// token and an agent exactly as web-1 did.</item>
/// <item><c>rig plan</c> exits 2 (changes pending, as documented); every other line must exit 0.</item>
/// </list></summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class ReadmeTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan RolloutTimeout = TimeSpan.FromMinutes(6);

    [Fact]
    public async Task Running_it_for_real_in_README_works_as_written()
    {
        var repo = RepoRoot();
        var block = Block(File.ReadAllText(Path.Combine(repo, "README.md")), "## Running it for real");
        using var dir = new TempDirectory();
        var work = Directory.CreateDirectory(Path.Combine(dir.Path, "checkout")).FullName;
        CopyCheckout(repo, "examples", work);
        var ports = LoopbackPorts.Free(2);
        var (agentPort, apiPort) = (ports[0], ports[1]);
        var run = new BlockRun(work, Path.Combine(dir.Path, "var-lib-rig"), agentPort, apiPort, dir.Path);
        try
        {
            foreach (var command in block)
                await run.RunAsync(command);

            Assert.True(run.Ran.Contains("rollout"), $"README's block never rolled out; it ran: {string.Join(", ", run.Ran)}");
            // The shop is there, file for file, from the package sources in examples/packages.
            var index = Path.Combine(work, "examples/packages/shop-content/files/srv/www/index.html");
            foreach (var device in new[] { "web-1", "web-2" })
                Assert.Equal(File.ReadAllText(index), File.ReadAllText(Path.Combine(run.Site!.Root(device), "srv/www/index.html")));
            Assert.Equal("nginx", new FileInfo(Path.Combine(run.Site!.Root("web-1"), "usr/sbin/nginx-lite")).LinkTarget);
            Assert.True(File.Exists(Path.Combine(run.Site.Root("app-1"), "opt/shop/bin/shop-app")), "app-1 has no /opt/shop/bin/shop-app: is examples/packages/shop-app/files/opt/shop/bin/shop-app tracked by git?");
        }
        finally
        {
            await run.DisposeAsync();
        }
    }

    /// <summary>The shell commands of the first <c>sh</c> block after <paramref name="heading"/>: continuation lines
    /// joined, comments dropped, <c>;</c>-separated commands split, each as its words.</summary>
    private static List<string[]> Block(string readme, string heading)
    {
        var at = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(at >= 0, $"README.md has no '{heading}' section.");
        var start = readme.IndexOf("```sh\n", at, StringComparison.Ordinal) + "```sh\n".Length;
        var end = readme.IndexOf("```", start, StringComparison.Ordinal);
        var text = readme[start..end].Replace("\\\n", " ", StringComparison.Ordinal);
        var commands = new List<string[]>();
        foreach (var line in text.Split('\n'))
        {
            var words = new List<string>();
            var word = new StringBuilder();
            var inWord = false;
            char? quote = null;
            foreach (var c in line)
            {
                if (quote is { } q)
                {
                    if (c == q)
                        quote = null;
                    else
                        word.Append(c);
                    continue;
                }
                if (c is '"' or '\'')
                {
                    quote = c;
                    inWord = true;
                }
                else if (c == '#' && !inWord)
                {
                    break; // a comment
                }
                else if (c is ' ' or ';')
                {
                    if (inWord)
                        words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                    if (c == ';' && words.Count > 0)
                    {
                        commands.Add([.. words]);
                        words.Clear();
                    }
                }
                else
                {
                    word.Append(c);
                    inWord = true;
                }
            }
            Assert.True(quote is null, $"README's block has an unclosed quote: {line}");
            if (inWord)
                words.Add(word.ToString());
            if (words.Count > 0)
                commands.Add([.. words]);
        }
        Assert.NotEmpty(commands);
        return commands;
    }

    /// <summary>One run of the block: the gateway it starts, the environment it exports, the agents it enrolls.</summary>
    private sealed partial class BlockRun(string work, string data, int agentPort, int apiPort, string scratch) : IAsyncDisposable
    {
        private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _printedAgentLines = new(StringComparer.Ordinal);
        private readonly StringBuilder _gatewayOutput = new();
        private Process? _gateway;
        private string? _adminToken;
        private string? _caPin;

        /// <summary>The sandbox agents' site (once the gateway runs).</summary>
        public TestSite? Site { get; private set; }

        /// <summary>The rig commands run, by name.</summary>
        public List<string> Ran { get; } = [];

        private string Substitute(string word) => word
            .Replace("/var/lib/rig", data, StringComparison.Ordinal)
            .Replace("gateway.example:7443", $"localhost:{agentPort}", StringComparison.Ordinal)
            .Replace("gateway.example", "localhost", StringComparison.Ordinal)
            .Replace("rigop_...", _adminToken ?? "rigop_...", StringComparison.Ordinal)
            .Replace("sha256:...", _caPin ?? "sha256:...", StringComparison.Ordinal);

        public async Task RunAsync(string[] command)
        {
            var words = command.Select(Substitute).ToArray();
            switch (words)
            {
                case ["rig", "server", "init", .. var rest]:
                    await InitAsync(rest);
                    break;
                case ["rig", "server", "run", .. var rest]:
                    await StartGatewayAsync(rest);
                    break;
                case ["export", .. var assignments]:
                    foreach (var assignment in assignments)
                    {
                        var eq = assignment.IndexOf('=', StringComparison.Ordinal);
                        Assert.True(eq > 0, $"README exports '{assignment}', not NAME=VALUE.");
                        _environment[assignment[..eq]] = assignment[(eq + 1)..];
                    }
                    break;
                case ["apt-get", "install", ..]:
                    break; // the agent's .deb: the sandbox agent below is `rig agent` from this build
                case ["rig-agent", "install", .. var options]:
                    await EnrollAsync(options, command);
                    break;
                case ["rig", "rollout", ..]:
                    await EnrollTheOtherDevicesAsync();
                    await RigAsync(words[1..], RolloutTimeout);
                    break;
                case ["rig", "package", "fetch", ..]:
                    await RigAsync(words[1..], FetchTimeout);
                    break;
                case ["rig", "plan", ..]:
                    await RigAsync(words[1..], CommandTimeout, expectedExit: 2);
                    break;
                case ["rig", "device", "token", var device, ..]:
                    var (_, stdout) = await RigAsync(words[1..], CommandTimeout);
                    TokenPrinted(device, stdout);
                    break;
                case ["rig", .. var args]:
                    await RigAsync(args, CommandTimeout);
                    break;
                default:
                    Assert.Fail($"README's block has a line this test cannot run: {string.Join(' ', command)}; teach ReadmeTests what it stands for.");
                    break;
            }
        }

        private async Task InitAsync(string[] rest)
        {
            var (_, stdout) = await RigAsync(["server", "init", .. rest, "--agent-port", $"{agentPort}", "--api-port", $"{apiPort}", "--agent-listen", "127.0.0.1"], CommandTimeout);
            _adminToken = AdminTokenRegex().Match(stdout) is { Success: true } token ? token.Value : throw new Xunit.Sdk.XunitException($"rig server init printed no admin token:\n{stdout}");
            // The pin init printed (its table may wrap it at 80 columns until issue 11's no-wrap change): the CA's.
            _caPin = Rig.Server.Security.CertificateAuthority.PinOf(X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(data, "ca", "ca.crt"))));
            Assert.Contains(_caPin[..20], stdout, StringComparison.Ordinal);
        }

        private async Task StartGatewayAsync(string[] rest)
        {
            Ran.Add("server run");
            _gateway = Process.Start(RigIn.StartInfo(work, _environment, ["server", "run", .. rest]))!;
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _gateway.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                    return;
                lock (_gatewayOutput)
                    _gatewayOutput.AppendLine(e.Data);
                if (e.Data.StartsWith("rig gateway listening", StringComparison.Ordinal))
                    ready.TrySetResult();
            };
            _gateway.ErrorDataReceived += (_, e) =>
            {
                lock (_gatewayOutput)
                    _gatewayOutput.AppendLine(e.Data);
            };
            _gateway.BeginOutputReadLine();
            _gateway.BeginErrorReadLine();
            await Task.WhenAny(ready.Task, _gateway.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(ready.Task.IsCompleted, $"`rig server run` did not start:\n{GatewayOutput}");
            var api = new OperatorClient(new Uri($"https://localhost:{apiPort}/"), _adminToken!, X509CertificateLoader.LoadCertificateFromFile(Path.Combine(data, "ca", "ca.crt")));
            Site = new TestSite(scratch, api, new Uri($"https://localhost:{agentPort}/"));
        }

        private string GatewayOutput
        {
            get
            {
                lock (_gatewayOutput)
                    return _gatewayOutput.ToString();
            }
        }

        /// <summary>`rig device token DEVICE` wrote the token to DEVICE.token, owner-only, and printed the agent's line.</summary>
        private void TokenPrinted(string device, string stdout)
        {
            var file = Path.Combine(work, $"{device}.token");
            Assert.True(File.Exists(file), $"`rig device token {device}` wrote no {device}.token:\n{stdout}");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var line = stdout.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("rig-agent install ", StringComparison.Ordinal));
            _printedAgentLines[device] = line ?? throw new Xunit.Sdk.XunitException($"`rig device token {device}` printed no rig-agent install line:\n{stdout}");
        }

        /// <summary>README's `rig-agent install` line, which must say what `rig device token` printed, as `rig agent enroll`.</summary>
        private async Task EnrollAsync(string[] options, string[] asWritten)
        {
            var device = options.SkipWhile(o => o != "--device").Skip(1).FirstOrDefault() ?? throw new Xunit.Sdk.XunitException($"README's rig-agent line names no --device: {string.Join(' ', asWritten)}");
            Assert.True(_printedAgentLines.TryGetValue(device, out var printed), $"README installs the agent of {device} before `rig device token {device}`.");
            Assert.Equal(printed, "rig-agent install " + string.Join(' ', options));
            await EnrollSandboxAgentAsync(device, options);
        }

        private async Task EnrollSandboxAgentAsync(string device, string[] options)
        {
            Ran.Add($"agent {device}");
            await RigAsync(["agent", "enroll", .. options, "--state", Site!.State(device), "--sandbox-root", Site.Root(device), "--poke-address", "127.0.0.1", "--poke-port", "0"], CommandTimeout);
            Site.RestartAgent(device); // starts the supervised agent on the enrolled state, as the unit would
            await TestSite.WaitUntilAsync(async () => (await Site.Api.GetAsync<DeviceDetail>($"api/v1/devices/{device}")).Status.LastSeenAt is not null,
                TimeSpan.FromSeconds(60), $"{device} to check in", () => Site.AgentLog(device));
        }

        /// <summary>"the same for lb-1, web-2, ...": every device of the model without an agent yet, as web-1 was.</summary>
        private async Task EnrollTheOtherDevicesAsync()
        {
            var devices = await Site!.Api.GetAsync<List<DeviceStatus>>("api/v1/devices");
            foreach (var device in devices.Select(d => d.Name).Where(d => !Ran.Contains($"agent {d}")))
            {
                var (_, stdout) = await RigAsync(["device", "token", device], CommandTimeout);
                TokenPrinted(device, stdout);
                await EnrollSandboxAgentAsync(device, _printedAgentLines[device]["rig-agent install ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
        }

        private async Task<(int Code, string Stdout)> RigAsync(string[] args, TimeSpan timeout, int expectedExit = 0)
        {
            var expanded = args.SelectMany(Glob).ToArray();
            Ran.Add(args.Length > 0 ? args[0] : "");
            var (code, stdout, stderr) = await RigIn.RunAsync(work, _environment, timeout, expanded);
            Assert.True(code == expectedExit,
                $"`rig {string.Join(' ', args)}` exited {code}, not {expectedExit}:\n{stdout}\n{stderr}\n--- gateway:\n{GatewayOutput}");
            return (code, stdout);
        }

        /// <summary>A word with '*' in its last segment expands to the sorted matches in the working directory, as the
        /// shell would; a pattern matching nothing fails the test (README names something that is not there).</summary>
        private IEnumerable<string> Glob(string word)
        {
            if (!word.Contains('*', StringComparison.Ordinal))
                return [word];
            var slash = word.LastIndexOf('/');
            var (folder, pattern) = slash < 0 ? ("", word) : (word[..slash], word[(slash + 1)..]);
            var full = Path.Combine(work, folder);
            var matches = Directory.Exists(full)
                ? Directory.EnumerateFileSystemEntries(full, pattern).Select(Path.GetFileName).Where(n => !n!.StartsWith('.')).Order(StringComparer.Ordinal).Select(n => folder.Length == 0 ? n! : $"{folder}/{n}").ToList()
                : [];
            Assert.True(matches.Count > 0, $"README's '{word}' matches nothing in the working directory.");
            return matches;
        }

        public async ValueTask DisposeAsync()
        {
            if (Site is not null)
                await Site.DisposeAsync();
            if (_gateway is { HasExited: false })
            {
                _gateway.Kill(entireProcessTree: true);
                await _gateway.WaitForExitAsync();
            }
            _gateway?.Dispose();
        }

        [GeneratedRegex("rigop_[A-Za-z0-9_-]+")]
        private static partial Regex AdminTokenRegex();
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rig.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Rig.slnx not found above the test directory.");
    }

    /// <summary>Copy <paramref name="folder"/> as a fresh clone would have it: only the files git tracks (a file a
    /// .gitignore hides, such as a package's bin/ directory, is not there for a new user either), or the whole tree
    /// when the tests run outside a git checkout.</summary>
    private static void CopyCheckout(string repo, string folder, string to)
    {
        var git = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-C", repo, "ls-files", "-z", "--", folder })
            git.ArgumentList.Add(a);
        string listed;
        try
        {
            using var process = Process.Start(git)!;
            listed = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                listed = "";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            listed = ""; // no git
        }
        var files = listed.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        if (files.Length == 0)
        {
            CopyTree(Path.Combine(repo, folder), Path.Combine(to, folder));
            return;
        }
        foreach (var file in files)
        {
            var source = Path.Combine(repo, file);
            var target = Path.Combine(to, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (new FileInfo(source).LinkTarget is { } link)
                File.CreateSymbolicLink(target, link);
            else
                File.Copy(source, target);
        }
    }

    /// <summary>Copy a tree as git checks it out: files with their executable bits, symbolic links as links.</summary>
    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
                File.CreateSymbolicLink(target, link);
            else if (entry is DirectoryInfo)
                CopyTree(entry.FullName, target);
            else
                File.Copy(entry.FullName, target);
        }
    }
}
