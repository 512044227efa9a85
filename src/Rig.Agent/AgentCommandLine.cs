using Rig.Agent.Runtime;
using Rig.Protocol;

namespace Rig.Agent;

/// <summary>The agent's command line (also used by <c>rig agent</c>):
/// <c>enroll --state DIR --gateway URL --device NAME --token TOKEN --ca-pin PIN [--platform sandbox|linux] [--sandbox-root DIR] [--root DIR] [--network-live] [--poke-port N] [--poll SECONDS] [--batch N]</c>
/// and <c>run --state DIR [--verbose]</c>. Exit codes: 0 stopped, 75 reboot requested (sandbox), 1 error, 2 usage.</summary>
public static class AgentCommandLine
{
    /// <summary>Usage text.</summary>
    public const string Usage = """
        usage: rig-agent enroll --state DIR --gateway https://HOST:PORT --device NAME --ca-pin sha256:HEX
                                (--token TOKEN | --token-file FILE | env RIG_ENROLL_TOKEN)
                                [--platform sandbox|linux] [--sandbox-root DIR] [--root DIR] [--network-live] [--poke-address ADDR] [--poke-port N] [--poke-host HOST] [--poll SECONDS]
                                [--batch N]
               rig-agent run --state DIR [--verbose]
        """;

    /// <summary>Run the agent command line.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var options = ParseOptions(args.AsSpan(1));
        if (options is null || !options.TryGetValue("state", out var state))
        {
            Console.Error.WriteLine("error: --state DIR is required and options take a value.");
            Console.Error.WriteLine(Usage);
            return 2;
        }
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
                    // The token may come from a file or the environment so it never shows in `ps` or shell history.
                    if (!options.ContainsKey("token") && options.TryGetValue("token-file", out var tokenFile))
                        options["token"] = File.ReadAllText(tokenFile).Trim();
                    if (!options.ContainsKey("token") && Environment.GetEnvironmentVariable("RIG_ENROLL_TOKEN") is { Length: > 0 } fromEnvironment)
                        options["token"] = fromEnvironment.Trim();
                    foreach (var required in new[] { "gateway", "device", "token", "ca-pin" })
                    {
                        if (!options.ContainsKey(required))
                        {
                            Console.Error.WriteLine($"error: --{required} is required for enroll.");
                            return 2;
                        }
                    }
                    var config = new AgentConfig
                    {
                        GatewayUrl = options["gateway"],
                        Device = options["device"],
                        Platform = ParsePlatform(options.GetValueOrDefault("platform", "sandbox")),
                        SandboxRoot = options.TryGetValue("sandbox-root", out var sandboxRoot) ? Path.GetFullPath(sandboxRoot) : null,
                        Root = options.TryGetValue("root", out var root) ? Path.GetFullPath(root) : "/",
                        PokeAddress = options.GetValueOrDefault("poke-address", "0.0.0.0"),
                        PokePort = options.TryGetValue("poke-port", out var port) ? ParseInt(port, "poke-port") : 7445,
                        PokeHost = options.GetValueOrDefault("poke-host"),
                        Poll = options.ContainsKey("poll"),
                        PollSeconds = options.TryGetValue("poll", out var poll) ? ParseInt(poll, "poll") : 0,
                        Batch = options.TryGetValue("batch", out var batch) ? ParseBatch(batch) : 0,
                        NetworkLive = options.ContainsKey("network-live"),
                    };
                    await Enrollment.EnrollAsync(new AgentPaths(state), config, options["token"], options["ca-pin"], RigLimits.Default, stop.Token).ConfigureAwait(false);
                    Console.Error.WriteLine($"enrolled {config.Device} at {config.GatewayUrl}; start it with: rig-agent run --state {state}");
                    return 0;
                case "run":
                    await using (var runtime = new AgentRuntime(new AgentPaths(state), RigLimits.Default, options.ContainsKey("verbose")))
                        return (int)await runtime.RunAsync(stop.Token).ConfigureAwait(false);
                default:
                    Console.Error.WriteLine($"error: unknown command '{args[0]}'.");
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }
        catch (AgentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private static int ParseInt(string value, string name) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 65535
            ? n
            : throw new AgentException($"--{name} '{value}' is not a number between 0 and 65535.");

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
            if (name is "verbose" or "network-live")
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
