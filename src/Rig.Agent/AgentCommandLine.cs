using Rig.Agent.Runtime;
using Rig.Protocol;

namespace Rig.Agent;

/// <summary>The agent's command line (also used by <c>rig agent</c>):
/// <c>enroll --state DIR --gateway URL --device NAME --token TOKEN --ca-pin PIN [--platform sandbox|linux] [--sandbox-root DIR] [--root DIR] [--network-live] [--poke-port N] [--poll SECONDS] [--batch N]</c>
/// and <c>run --state DIR [--verbose] [--log-format text|json]</c>. Exit codes: 0 stopped, 75 reboot requested (sandbox), 1 error, 64 usage (an
/// unknown command or option, a missing value: nothing is done), 69 the gateway could not be reached (enroll, install).
/// Every failure is one line on standard error; an unexpected one also writes its details to a file it names.</summary>
internal static class AgentCommandLine
{
    /// <summary>Usage text.</summary>
    public const string Usage = """
        usage: rig-agent enroll --state DIR --gateway https://HOST:PORT --device NAME --ca-pin sha256:HEX
                                (--token TOKEN | --token-file FILE | env RIG_ENROLL_TOKEN)
                                [--platform sandbox|linux] [--sandbox-root DIR] [--root DIR] [--network-live] [--poke-address ADDR] [--poke-port N] [--poke-host HOST] [--poll SECONDS]
                                [--batch N] [--wait-for-gateway SECONDS]
               rig-agent run --state DIR [--verbose] [--log-format text|json]
               rig-agent install --gateway https://HOST:PORT --device NAME --ca-pin sha256:HEX
                                 (--token TOKEN | --token-file FILE | env RIG_ENROLL_TOKEN)
                                 [--image DIR] [--state DIR] [--exec PATH] [--no-start] [enroll options]
                   enrolls (unless already enrolled), writes and enables the systemd unit rig-agent.service
                   (--image: into a system image mounted at DIR, started when it boots)
        """;

    /// <summary>Exit code of a usage error (BSD's EX_USAGE), the same as <c>rig</c>'s.</summary>
    public const int UsageExit = 64;

    /// <summary>Exit code when the gateway could not be reached (BSD's EX_UNAVAILABLE), the same as <c>rig</c>'s.</summary>
    public const int UnavailableExit = 69;

    private static readonly string[] EnrollOptions =
        ["state", "gateway", "device", "token", "token-file", "ca-pin", "platform", "sandbox-root", "root", "network-live", "poke-address", "poke-port", "poke-host", "poll", "batch", "wait-for-gateway"];

    /// <summary>The options each command takes; anything else is refused, never silently ignored.</summary>
    private static readonly Dictionary<string, HashSet<string>> Allowed = new(StringComparer.Ordinal)
    {
        ["enroll"] = [.. EnrollOptions],
        ["run"] = ["state", "verbose", "log-format"],
        ["install"] = [.. EnrollOptions, "image", "exec", "no-start"],
    };

    /// <summary>Run the agent command line.</summary>
    /// <param name="args">The arguments after the program name.</param>
    /// <param name="invocation">Leading arguments that select the agent in the program running this (e.g.
    /// <c>agent</c> for <c>rig agent</c>), for the unit <c>install</c> writes.</param>
    public static async Task<int> RunAsync(string[] args, IReadOnlyList<string>? invocation = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 ? UsageExit : 0;
        }
        if (args[0] is "--version" or "version")
        {
            Console.WriteLine(AgentInfo.Version);
            return 0;
        }
        if (!Allowed.TryGetValue(args[0], out var allowed))
        {
            Console.Error.WriteLine($"error: unknown command '{args[0]}'; the commands are enroll, run and install (see --help).");
            Console.Error.WriteLine(Usage);
            return UsageExit;
        }
        var options = ParseOptions(args.AsSpan(1));
        if (options?.Keys.FirstOrDefault(k => !allowed.Contains(k)) is { } unknown)
        {
            Console.Error.WriteLine($"error: unknown option '--{unknown}' for '{args[0]}'; nothing was done. See --help for the options.");
            Console.Error.WriteLine(Usage);
            return UsageExit;
        }
        if (options is not null && args[0] == "install" && !options.ContainsKey("state"))
            options["state"] = ServiceInstall.DefaultState;
        if (options is null || !options.TryGetValue("state", out var state))
        {
            Console.Error.WriteLine("error: --state DIR is required and options take a value.");
            Console.Error.WriteLine(Usage);
            return UsageExit;
        }
        var logFormat = options.GetValueOrDefault("log-format", "text");
        if (!AgentLog.Formats.Contains(logFormat))
        {
            Console.Error.WriteLine($"error: --log-format '{logFormat}' is unknown: use text or json; nothing was done.");
            return UsageExit;
        }
        var json = logFormat == "json";
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            switch (args[0])
            {
                case "enroll":
                    if (await EnrollFromOptionsAsync(new AgentPaths(state), options, "sandbox", stop.Token).ConfigureAwait(false) is not { } enrolled)
                        return UsageExit;
                    Console.Error.WriteLine($"enrolled {enrolled.Device} at {enrolled.GatewayUrl}; start it with: rig-agent run --state {state}");
                    return 0;
                case "install":
                    return await InstallAsync(options, state, invocation ?? [], stop.Token).ConfigureAwait(false);
                case "run":
                    await using (var runtime = new AgentRuntime(new AgentPaths(state), RigLimits.Default, options.ContainsKey("verbose"), json))
                        return (int)await runtime.RunAsync(stop.Token).ConfigureAwait(false);
                default:
                    Console.Error.WriteLine($"error: unknown command '{args[0]}'.");
                    Console.Error.WriteLine(Usage);
                    return UsageExit;
            }
        }
        catch (AgentException e)
        {
            Console.Error.WriteLine(json ? AgentLog.JsonLine(DateTimeOffset.UtcNow, "error", options.GetValueOrDefault("device", "-"), AgentException.ErrorCode, e.Message) : $"error: {e.Message}");
            return 1;
        }
        catch (GatewayUnreachableException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return UnavailableExit;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine($"error: stopped (signal) before '{args[0]}' finished.");
            return 1;
        }
        catch (Exception e)
        {
            return Unexpected(e, args, state);
        }
    }

    /// <summary>An exception nobody expected: one line naming a file with the details (the stack trace), never the stack
    /// trace itself on the console.</summary>
    private static int Unexpected(Exception e, string[] args, string state)
    {
        var name = $"rig-agent-error-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log";
        var text = $"rig-agent {AgentInfo.Version} {DateTimeOffset.UtcNow:O}\nargs: {string.Join(' ', Redact(args))}\n\n{e}\n";
        string? path = null;
        foreach (var directory in new[] { state, Path.GetTempPath() })
        {
            try
            {
                Directory.CreateDirectory(directory);
                path = Path.Combine(directory, name);
                Trust.WritePrivateFile(path, text);
                break;
            }
            catch (Exception write) when (write is IOException or UnauthorizedAccessException)
            {
                path = null;
            }
        }
        Console.Error.WriteLine($"error: rig-agent failed unexpectedly: {e.GetType().Name}: {e.Message.Split('\n')[0].TrimEnd()}");
        Console.Error.WriteLine(path is null ? "This is a bug in rig-agent; please report it with the command you ran." : $"This is a bug in rig-agent; the details are in {path}; please report it with that file.");
        return 1;
    }

    /// <summary>Arguments with the token's value replaced.</summary>
    private static IEnumerable<string> Redact(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            yield return args[i];
            if (args[i] == "--token" && i + 1 < args.Length)
            {
                yield return "***";
                i++;
            }
        }
    }

    /// <summary>Enroll with the options of <c>enroll</c>; null (after printing why) when a required one is missing.</summary>
    private static async Task<AgentConfig?> EnrollFromOptionsAsync(AgentPaths paths, Dictionary<string, string> options, string defaultPlatform, CancellationToken ct)
    {
        // The token may come from a file or the environment so it never shows in `ps` or shell history.
        if (!options.ContainsKey("token") && options.TryGetValue("token-file", out var tokenFile))
        {
            try
            {
                options["token"] = File.ReadAllText(tokenFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new AgentException($"cannot read --token-file '{tokenFile}': {e.Message} Write the token `rig device token` printed into that file (readable by root only).");
            }
        }
        if (!options.ContainsKey("token") && Environment.GetEnvironmentVariable("RIG_ENROLL_TOKEN") is { Length: > 0 } fromEnvironment)
            options["token"] = fromEnvironment.Trim();
        foreach (var required in new[] { "gateway", "device", "token", "ca-pin" })
        {
            if (!options.ContainsKey(required))
            {
                Console.Error.WriteLine($"error: --{required} is required to enroll.");
                return null;
            }
        }
        var config = new AgentConfig
        {
            GatewayUrl = options["gateway"],
            Device = options["device"],
            Platform = ParsePlatform(options.GetValueOrDefault("platform", defaultPlatform)),
            SandboxRoot = options.TryGetValue("sandbox-root", out var sandboxRoot) ? Path.GetFullPath(sandboxRoot) : null,
            Root = options.TryGetValue("root", out var root) ? Path.GetFullPath(root) : "/",
            NetworkLive = options.ContainsKey("network-live"),
            PokeAddress = options.GetValueOrDefault("poke-address", "0.0.0.0"),
            PokePort = options.TryGetValue("poke-port", out var port) ? ParseInt(port, "poke-port") : 7445,
            PokeHost = options.GetValueOrDefault("poke-host"),
            Poll = options.ContainsKey("poll"),
            PollSeconds = options.TryGetValue("poll", out var poll) ? ParseInt(poll, "poll") : 0,
            Batch = options.TryGetValue("batch", out var batch) ? ParseBatch(batch) : 0,
        };
        var limits = options.TryGetValue("wait-for-gateway", out var wait)
            ? RigLimits.Default with { GatewayUnreachableDeadline = TimeSpan.FromSeconds(ParseWait(wait)) }
            : RigLimits.Default;
        await Enrollment.EnrollAsync(paths, config, options["token"], options["ca-pin"], limits, ct).ConfigureAwait(false);
        return config;
    }

    private static async Task<int> InstallAsync(Dictionary<string, string> options, string state, IReadOnlyList<string> invocation, CancellationToken ct)
    {
        var image = options.TryGetValue("image", out var dir) ? Path.GetFullPath(dir) : "/";
        if (!Directory.Exists(image))
            throw new AgentException($"--image '{image}' is not a directory: give the root of the mounted system image.");
        if (!state.StartsWith('/'))
            throw new AgentException($"--state '{state}' must be an absolute path as the device sees it (e.g. {ServiceInstall.DefaultState}).");
        var install = new ServiceInstall
        {
            Root = image,
            State = state,
            Command = options.TryGetValue("exec", out var exec) ? [exec] : null,
            NoStart = options.ContainsKey("no-start"),
        };
        var paths = new AgentPaths(install.Host(state));
        if (paths.IsEnrolled)
        {
            Console.Error.WriteLine($"already enrolled as {AgentJson.LoadConfig(paths).Device} in {paths.Root}; keeping that identity");
        }
        else
        {
            if (await EnrollFromOptionsAsync(paths, options, "linux", ct).ConfigureAwait(false) is not { } enrolled)
                return UsageExit;
            Console.Error.WriteLine($"enrolled {enrolled.Device} at {enrolled.GatewayUrl} (state {paths.Root})");
        }
        foreach (var line in await install.InstallUnitAsync(invocation, ct).ConfigureAwait(false))
            Console.Error.WriteLine(line);
        return 0;
    }

    private static int ParseInt(string value, string name) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 65535
            ? n
            : throw new AgentException($"--{name} '{value}' is not a number between 0 and 65535.");

    private static int ParseWait(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 86_400
            ? n
            : throw new AgentException($"--wait-for-gateway '{value}' is not a number of seconds between 1 and 86400 (how long to keep trying to reach the gateway; the default is {RigLimits.Default.GatewayUnreachableDeadline.TotalSeconds:0}).");

    private static string ParsePlatform(string value) =>
        value is "sandbox" or "linux"
            ? value
            : throw new AgentException($"--platform '{value}' is unknown: use 'linux' on a real device or 'sandbox' for a directory standing in for one.");

    private static int ParseBatch(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 256
            ? n
            : throw new AgentException($"--batch '{value}' is not a number between 1 and 256 (commands per exchange; the default is 32).");

    private static Dictionary<string, string>? ParseOptions(ReadOnlySpan<string> args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
                return null;
            var name = args[i][2..];
            if (name is "verbose" or "no-start" or "network-live")
            {
                options[name] = "true";
                continue;
            }
            if (i + 1 >= args.Length)
                return null;
            options[name] = args[++i];
        }
        return options;
    }
}
