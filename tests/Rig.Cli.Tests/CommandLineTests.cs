using System.Diagnostics;
using System.Text.Json;

[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Rig.Cli.Tests;

/// <summary>The rig command as a user runs it: a real process, exit codes and messages.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rig-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int Code, string Stdout, string Stderr)> RigAsync(params string[] args) => RigAsync(new Dictionary<string, string?> { ["COLUMNS"] = "200" }, args);

    private static async Task<(int Code, string Stdout, string Stderr)> RigAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rig.dll"));
        foreach (var a in args)
            info.ArgumentList.Add(a);
        info.Environment.Remove("COLUMNS");
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Server_init_prints_the_admin_token_once_and_refuses_an_initialised_directory()
    {
        var data = Path.Combine(_dir, "data");
        var (code, stdout, stderr) = await RigAsync("server", "init", "--data", data, "--json");
        Assert.True(code == 0, stderr + stdout);
        var init = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.StartsWith("rigop_", init.GetProperty("adminToken").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("sha256:", init.GetProperty("caPin").GetString(), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(data, "server.json")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(data, "ca", "ca.key")));
        Assert.DoesNotContain(init.GetProperty("adminToken").GetString()!, File.ReadAllText(Path.Combine(data, "server.json")), StringComparison.Ordinal);

        (code, stdout, stderr) = await RigAsync("server", "init", "--data", data);
        Assert.Equal(1, code);
        Assert.Contains("already initialised", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_run_on_an_uninitialised_directory_says_to_run_init()
    {
        var (code, stdout, stderr) = await RigAsync("server", "run", "--data", Path.Combine(_dir, "nothing"));
        Assert.Equal(1, code);
        Assert.Contains("rig server init", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Operator_command_without_a_token_says_where_to_get_one()
    {
        var (code, stdout, stderr) = await RigAsync("package", "list", "--server", "https://localhost:1");
        Assert.Equal(1, code);
        Assert.Contains("RIG_TOKEN", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Operator_command_against_a_gateway_that_is_not_running_names_the_address()
    {
        var data = Path.Combine(_dir, "data");
        Assert.Equal(0, (await RigAsync("server", "init", "--data", data, "--api-port", "1", "--json")).Code);
        var (code, stdout, stderr) = await RigAsync("device", "list", "--data", data, "--token", "rigop_x");
        Assert.Equal(69, code); // EX_UNAVAILABLE: the gateway cannot be reached
        Assert.Contains("https://localhost:1/", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("rig server run", stdout + stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rollout", "1", "--device-timeout", "5x", "unknown unit 'x'")]
    [InlineData("rollout", "start", "--device-timeout", "30", "'30' is not a duration")]
    [InlineData("rollout", "start", "--device-timeout", "1s", "--device-timeout 1s is out of range: give 5s to 7d (default 30m)")]
    [InlineData("rollout", "start", "--device-timeout", "30d", "--device-timeout 30d is out of range")]
    public async Task A_bad_device_timeout_is_a_usage_error_naming_the_value_and_nothing_is_sent(string command, string sub, string option, string value, string expected)
    {
        // No gateway is listening at --server: the value is refused before anything is sent.
        var (code, stdout, stderr) = await RigAsync(command, sub, option, value, "--server", "https://localhost:1", "--token", "rigop_x");
        Assert.True(code == 64, $"exit {code}: {stdout}{stderr}");
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("localhost:1", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_commands_and_missing_agent_options_are_usage_errors()
    {
        Assert.Equal(64, (await RigAsync("frobnicate")).Code);
        var (code, _, stderr) = await RigAsync("agent", "enroll", "--state", _dir);
        Assert.Equal(64, code);
        Assert.Contains("--gateway", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await RigAsync("agent", "run", "--state", Path.Combine(_dir, "never-enrolled"));
        Assert.Equal(1, code);
        Assert.Contains("rig agent enroll", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rollout", "2", "--bacth", "25%")] // the testers' typo: rolled out to 100% and exited 0
    [InlineData("plan", "--devcies", "web-1")]
    [InlineData("device", "list", "--jsn")]
    [InlineData("rolout", "2")]
    [InlineData("package", "ad", "x.deb")]
    public async Task An_unknown_command_or_option_is_refused_with_usage_and_exit_code_64_before_anything_is_sent(params string[] args)
    {
        // A gateway address nothing listens on: a command that ran would fail to connect (exit 69 or 1), not 64.
        var (code, stdout, stderr) = await RigAsync([.. args, "--server", "https://127.0.0.1:9", "--token", "rigop_x"]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        var text = stdout + stderr;
        var offending = args.First(a => a is "rolout" or "ad" || a.StartsWith("--", StringComparison.Ordinal)).TrimStart('-');
        Assert.Contains($"'{offending}'", text, StringComparison.Ordinal); // the offending value, named
        Assert.Contains("--help", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("enroll", "--state", "/tmp/x", "--gatway", "https://g:1")]
    [InlineData("run", "--state", "/tmp/x", "--verbsoe", "yes")]
    [InlineData("enrol", "--state", "/tmp/x")]
    public async Task The_agent_refuses_an_unknown_command_or_option_with_exit_code_64(params string[] args)
    {
        var (code, stdout, stderr) = await RigAsync(["agent", .. args]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("unknown", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("apply", "model")]
    [InlineData("apply", "model", "-m", " ")]
    [InlineData("apply", "plan.json", "--yes")]
    [InlineData("model", "load", "model.json")]
    [InlineData("device", "clone", "web-3", "--from", "web-1", "--address", "10.0.0.3")]
    [InlineData("device", "decommission", "web-2", "--yes")]
    [InlineData("device", "rebuild", "web-1")]
    public async Task A_command_that_records_a_revision_without_a_message_is_a_usage_error_with_exit_code_64(params string[] args)
    {
        // A gateway address nothing listens on: a command that ran would fail to connect (exit 69 or 1), not 64.
        var (code, stdout, stderr) = await RigAsync([.. args, "--server", "https://127.0.0.1:9", "--token", "rigop_x"]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("-m/--message", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was done", stdout + stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plan", "-o", "plan.json")]
    [InlineData("plan", "model", "-o", "plan.json", "--devices", "web-1")]
    public async Task Saving_a_plan_without_a_model_or_of_some_devices_only_is_a_usage_error(params string[] args)
    {
        var (code, stdout, stderr) = await RigAsync([.. args, "--server", "https://127.0.0.1:9", "--token", "rigop_x"]);

        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("-o/--out", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rig_version_prints_the_version_and_exits_0()
    {
        var (code, stdout, stderr) = await RigAsync("--version");

        Assert.True(code == 0, stderr + stdout);
        Assert.Matches(@"^\d+\.\d+\.\d+", stdout.Trim());
    }

    /// <summary>Every command of rig with the arguments it requires, from Spectre's own model of the command tree.</summary>
    private static async Task<List<(string[] Path, int RequiredArguments, bool Operator, bool Message)>> CommandsAsync()
    {
        var (code, stdout, stderr) = await RigAsync("cli", "xmldoc");
        Assert.True(code == 0, stderr);
        var commands = new List<(string[], int, bool, bool)>();
        void Walk(System.Xml.Linq.XElement element, string[] path)
        {
            foreach (var command in element.Elements("Command"))
            {
                var name = (string)command.Attribute("Name")!;
                if (name.StartsWith("__", StringComparison.Ordinal))
                    continue;
                var here = (string[])[.. path, name];
                if ((string?)command.Attribute("IsBranch") == "true")
                    Walk(command, here);
                else
                {
                    var parameters = command.Element("Parameters");
                    var required = parameters?.Elements("Argument").Count(a => (string?)a.Attribute("Required") == "true") ?? 0;
                    var isOperator = parameters?.Elements("Option").Any(o => (string?)o.Attribute("Long") == "server") ?? false;
                    var message = parameters?.Elements("Option").Any(o => (string?)o.Attribute("Long") == "message") ?? false;
                    commands.Add((here, required, isOperator, message));
                }
            }
        }
        Walk(System.Xml.Linq.XDocument.Parse(stdout).Root!, []);
        Assert.True(commands.Count > 30, $"only {commands.Count} commands found");
        return commands;
    }

    /// <summary>Standard output is exactly one JSON document, an error with a code and a message.</summary>
    private static JsonElement OneErrorDocument(string command, string stdout)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(stdout).RootElement; // throws on a second document or anything around it
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"`rig {command} --json` printed more than one JSON document: {e.Message}\n{stdout}");
        }
        var error = root.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("code").GetString()), command);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), command);
        return error;
    }

    [Fact]
    public async Task Every_command_refuses_an_unknown_option_with_exit_64_and_one_json_error_document()
    {
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForEachAsync(await CommandsAsync(), new ParallelOptions { MaxDegreeOfParallelism = 3 }, async (command, _) =>
        {
            var name = string.Join(' ', command.Path);
            var (code, stdout, stderr) = await RigAsync([.. command.Path, .. Enumerable.Repeat("1", command.RequiredArguments), "--json", "--no-such-option"]);
            if (code != 64)
                failures.Add($"{name}: exit {code}\n{stdout}{stderr}");
            else if (OneErrorDocument(name, stdout).GetProperty("code").GetString() != "usage")
                failures.Add($"{name}: error code is not 'usage': {stdout}");
        });
        Assert.True(failures.IsEmpty, string.Join("\n", failures));
    }

    /// <summary>Options a command refuses to run without (beyond -m), so that it gets as far as the gateway.</summary>
    private static readonly Dictionary<string, string[]> RequiredOptions = new(StringComparer.Ordinal)
    {
        ["token create"] = ["--name", "n"],
        ["grant add"] = ["--team", "t", "--verbs", "read"],
    };

    [Fact]
    public async Task Every_operator_command_against_an_unreachable_gateway_exits_69_with_one_json_error_document()
    {
        // A CA file that exists (any certificate) and a gateway address nothing listens on.
        var ca = Path.Combine(_dir, "ca.crt");
        using (var key = System.Security.Cryptography.ECDsa.Create())
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=test", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(ca, cert.ExportCertificatePem());
        }
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var unreachable = 0;
        var operatorCommands = (await CommandsAsync()).Where(c => c.Operator).ToList();
        await Parallel.ForEachAsync(operatorCommands, new ParallelOptions { MaxDegreeOfParallelism = 3 }, async (command, _) =>
        {
            var name = string.Join(' ', command.Path);
            var (code, stdout, stderr) = await RigAsync([.. command.Path, .. Enumerable.Repeat("1", command.RequiredArguments), .. (command.Message ? (string[])["-m", "why"] : []),
                .. RequiredOptions.GetValueOrDefault(name, []), "--server", "https://127.0.0.1:9", "--token", "rigop_x", "--ca", ca, "--json"]);
            if (code == 0)
            {
                failures.Add($"{name}: exit 0\n{stdout}{stderr}");
                return;
            }
            if (stderr.Contains("   at ", StringComparison.Ordinal))
                failures.Add($"{name}: a stack trace on standard error\n{stderr}");
            try
            {
                var error = OneErrorDocument(name, stdout);
                if (code == 69 && error.GetProperty("code").GetString() == "gateway-unreachable")
                    Interlocked.Increment(ref unreachable);
                else if (code is not (1 or 64)) // a local check that fails first (a file argument that does not exist) is fine
                    failures.Add($"{name}: exit {code}\n{stdout}");
            }
            catch (Exception e) when (e is Xunit.Sdk.XunitException or KeyNotFoundException or InvalidOperationException)
            {
                failures.Add($"{name}: {e.Message}\n{stdout}{stderr}");
            }
        });
        Assert.True(failures.IsEmpty, string.Join("\n", failures));
        Assert.True(unreachable >= operatorCommands.Count - 6, $"only {unreachable} of {operatorCommands.Count} operator commands said the gateway is unreachable with exit 69");
    }

    [Fact]
    public async Task Human_errors_are_not_hard_wrapped_when_standard_error_is_not_a_terminal()
    {
        // No COLUMNS: Spectre would assume 80 columns for a pipe and split the hint in the middle.
        var (code, _, stderr) = await RigAsync(new Dictionary<string, string?>(), "device", "list", "--server", "https://127.0.0.1:9", "--token", "rigop_x", "--ca", "/nonexistent.crt");
        Assert.Equal(1, code);
        Assert.Contains("hint: Copy DATA/ca/ca.crt from the gateway, or add a context with `rig context add` (it fetches the CA and checks its pin).", stderr.Split('\n').Select(l => l.TrimEnd()), StringComparer.Ordinal);
    }

    [Fact]
    public async Task Bash_completion_completes_commands_and_each_commands_own_options()
    {
        var script = Path.Combine(_dir, "rig.bash");
        var (code, stdout, stderr) = await RigAsync("completion", "bash");
        Assert.True(code == 0, stderr);
        File.WriteAllText(script, stdout);

        async Task<string> CompleteAsync(params string[] words)
        {
            var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"source '{script}'; COMP_WORDS=({string.Join(' ', words.Select(w => $"'{w}'"))}); COMP_CWORD={words.Length - 1}; _rig; echo \"${{COMPREPLY[*]}}\"");
            using var bash = Process.Start(info)!;
            var output = await bash.StandardOutput.ReadToEndAsync();
            await bash.WaitForExitAsync();
            Assert.True(bash.ExitCode == 0, await bash.StandardError.ReadToEndAsync());
            return output.Trim();
        }

        Assert.Equal("start status", await CompleteAsync("rig", "rollout", "st"));
        Assert.Equal("--batch", await CompleteAsync("rig", "rollout", "start", "3", "--ba"));
        Assert.Equal("context converge", await CompleteAsync("rig", "con"));
        Assert.Contains("--message", (await CompleteAsync("rig", "apply", "--")).Split(' '));
        Assert.DoesNotContain("--batch", (await CompleteAsync("rig", "apply", "--")).Split(' ')); // apply's options, not rollout's
    }

    [Fact]
    public async Task Zsh_completion_loads_in_zsh_and_offers_each_commands_own_subcommands_and_options()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "fpath")).FullName;
        var (code, stdout, stderr) = await RigAsync("completion", "zsh");
        Assert.True(code == 0, stderr);
        File.WriteAllText(Path.Combine(dir, "_rig"), stdout);
        // compadd is zsh's own: replaced here by one that prints what it is given (zsh filters by prefix itself).
        var test = $$"""
            fpath=('{{dir}}' $fpath)
            autoload -U compinit && compinit -u
            source '{{dir}}/_rig'
            compadd() { shift; print -r -- "$*"; }
            words=(rig rollout st); CURRENT=3; _rig
            words=(rig apply --); CURRENT=3; _rig
            """;
        var info = new ProcessStartInfo("zsh") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add("-f");
        using var zsh = Process.Start(info)!;
        await zsh.StandardInput.WriteAsync(test);
        zsh.StandardInput.Close();
        var output = (await zsh.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await zsh.WaitForExitAsync();
        Assert.True(zsh.ExitCode == 0, await zsh.StandardError.ReadToEndAsync());
        Assert.Contains("status", output[0].Split(' '));
        Assert.Contains("--message", output[1].Split(' '));
        Assert.DoesNotContain("--batch", output[1].Split(' '));
    }

    [Fact]
    public async Task Completion_for_an_unknown_shell_is_a_usage_error()
    {
        var (code, _, stderr) = await RigAsync("completion", "fish");
        Assert.Equal(64, code);
        Assert.Contains("'fish'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_directory_with_file_errors_and_model_errors_reports_all_of_them_in_one_run()
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(repo.FullName, "Rig.slnx")))
            repo = repo.Parent!;
        var model = Directory.CreateDirectory(Path.Combine(_dir, "shop")).FullName;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(repo.FullName, "examples", "shop"), "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(model, Path.GetRelativePath(Path.Combine(repo.FullName, "examples", "shop"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var devices = Path.Combine(model, "devices.yaml");
        var text = File.ReadAllText(devices);
        static string First(string s, string from, string to) => s.IndexOf(from, StringComparison.Ordinal) is var i and >= 0 ? s[..i] + to + s[(i + from.Length)..] : throw new InvalidOperationException(from);
        text = First(text, "memoryMiB: 4096", "memoryMiB: [4096]"); // a wrong type (lb-1)
        text = First(text, "    tier: web\n", "    tier: web\n    tier: app\n"); // a duplicate key (web-1)
        text = text.Replace("to: web-2", "to: web-9", StringComparison.Ordinal); // a link to a device that does not exist
        File.WriteAllText(devices, text);

        // No gateway is needed: file errors stop the command before it connects, and the model-level checks of what
        // could be read run here too.
        var (code, stdout, stderr) = await RigAsync("plan", model, "--server", "https://127.0.0.1:9", "--token", "rigop_x", "--json");

        Assert.True(code == 1, $"exit {code}\n{stdout}{stderr}");
        var errors = OneErrorDocument("plan", stdout).GetProperty("errors").EnumerateArray()
            .Select(e => (Code: e.GetProperty("code").GetString(), File: e.GetProperty("file").GetString(), Line: e.GetProperty("line").GetInt32(), Message: e.GetProperty("message").GetString()!)).ToList();
        Assert.Contains(errors, e => e.Code is "file.wrong-type" or "file.not-a-number" && e.File == "devices.yaml");
        Assert.Contains(errors, e => e.Code == "file.duplicate-key" && e.File == "devices.yaml");
        Assert.Contains(errors, e => e.Code == "link.unknown-device" && e.Message.Contains("web-9", StringComparison.Ordinal) && e.Line > 0);

        // The same for people, on standard error, each with file:line:col.
        (code, stdout, stderr) = await RigAsync("plan", model, "--server", "https://127.0.0.1:9", "--token", "rigop_x");
        Assert.Equal(1, code);
        Assert.Contains("link.unknown-device", stderr, StringComparison.Ordinal);
        Assert.Contains("file.duplicate-key", stderr, StringComparison.Ordinal);
        Assert.Matches(@"devices\.yaml:\d+:\d+", stderr);
    }

    [Fact]
    public async Task Cli_md_documents_every_command_and_option()
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(repo.FullName, "Rig.slnx")))
            repo = repo.Parent!;
        var doc = File.ReadAllText(Path.Combine(repo.FullName, "docs", "CLI.md"));
        var (code, stdout, stderr) = await RigAsync("cli", "xmldoc");
        Assert.True(code == 0, stderr);
        var missing = new List<string>();
        void Walk(System.Xml.Linq.XElement element, string path)
        {
            foreach (var command in element.Elements("Command"))
            {
                var name = (string)command.Attribute("Name")!;
                if (name.StartsWith("__", StringComparison.Ordinal))
                    continue;
                var here = path.Length == 0 ? name : $"{path} {name}";
                if ((string?)command.Attribute("IsBranch") == "true")
                {
                    Walk(command, here);
                    continue;
                }
                var heading = doc.IndexOf($"### `rig {here}", StringComparison.Ordinal);
                if (heading < 0)
                {
                    missing.Add($"command `rig {here}`");
                    continue;
                }
                var next = doc.IndexOf("\n### ", heading + 4, StringComparison.Ordinal);
                var section = doc[heading..(next < 0 ? doc.Length : next)];
                foreach (var option in command.Element("Parameters")?.Elements("Option") ?? [])
                {
                    var longName = ((string?)option.Attribute("Long") ?? "").Split(',')[0];
                    if (longName.Length > 0 && longName is not ("server" or "token" or "token-file" or "ca" or "data" or "context" or "json")
                        && !section.Contains($"--{longName}", StringComparison.Ordinal))
                        missing.Add($"option --{longName} of `rig {here}`");
                }
            }
        }
        Walk(System.Xml.Linq.XDocument.Parse(stdout).Root!, "");
        Assert.True(missing.Count == 0, "docs/CLI.md does not document: " + string.Join(", ", missing));
    }

    [Fact]
    public async Task A_contexts_token_is_never_sent_to_a_gateway_named_on_the_command_line()
    {
        // A current context with a token file, and a command that names another gateway with --server.
        var config = Directory.CreateDirectory(Path.Combine(_dir, "config", "rig")).FullName;
        var tokenFile = Path.Combine(_dir, "prod.token");
        File.WriteAllText(tokenFile, "rigop_production_secret");
        var ca = Path.Combine(config, "prod.ca.crt");
        using (var key = System.Security.Cryptography.ECDsa.Create())
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=test", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(ca, cert.ExportCertificatePem());
        }
        File.WriteAllText(Path.Combine(config, "contexts.json"), JsonSerializer.Serialize(new
        {
            current = "prod",
            contexts = new Dictionary<string, object> { ["prod"] = new { server = "https://127.0.0.1:9/", caPin = "sha256:" + new string('0', 64), caFile = ca, tokenFile } },
        }));
        var environment = new Dictionary<string, string?> { ["COLUMNS"] = "200", ["XDG_CONFIG_HOME"] = Path.Combine(_dir, "config") };

        // With the context alone, its token is used (the gateway is unreachable here: 69 proves the request was tried).
        var (code, stdout, stderr) = await RigAsync(environment, "device", "list", "--json");
        Assert.True(code == 69, $"exit {code}\n{stdout}{stderr}");

        // Naming another gateway: the context's token and CA are not used for it.
        (code, stdout, stderr) = await RigAsync(environment, "device", "list", "--server", "https://127.0.0.2:9", "--ca", ca, "--json");
        Assert.True(code == 1, $"exit {code}\n{stdout}{stderr}");
        Assert.Equal("no-token", OneErrorDocument("device list", stdout).GetProperty("code").GetString());

        // And --context with --server is a contradiction, refused before anything is sent.
        (code, stdout, stderr) = await RigAsync(environment, "device", "list", "--context", "prod", "--server", "https://127.0.0.2:9", "--json");
        Assert.True(code == 64, $"exit {code}\n{stdout}{stderr}");
    }
}
