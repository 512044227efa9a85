using System.Text.Json;
using System.Text.Json.Serialization;
using Rig.Cli.Operator;
using Spectre.Console;
using Rig.Protocol.Errors;

namespace Rig.Cli;

/// <summary>rig's exit codes: one table (docs/CLI.md); no other meaning reuses them.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>An error: the message says what and what to do.</summary>
    public const int Error = 1;
    /// <summary>Changes or drift pending (<c>rig plan</c>, <c>rig drift</c>).</summary>
    public const int Pending = 2;
    /// <summary>A rollout paused itself (failure threshold) or was paused.</summary>
    public const int Paused = 3;
    /// <summary>A usage error (BSD's EX_USAGE): unknown command or option, missing or malformed argument. Nothing was done.</summary>
    public const int Usage = 64;
    /// <summary>The gateway could not be reached (BSD's EX_UNAVAILABLE).</summary>
    public const int Unavailable = 69;
}

/// <summary>A user-facing CLI error: what was wrong (with the offending value), a stable code, and what to do.</summary>
/// <remarks>Retry-safe only when the gateway could not be reached (<see cref="ExitCodes.Unavailable"/>).</remarks>
internal sealed class CliException(string message, string code = "failed", string? hint = null, int exitCode = ExitCodes.Error)
    : RigException(code, message, retrySafe: exitCode == ExitCodes.Unavailable)
{
    /// <summary>What to do next, or null when the message says it.</summary>
    public string? Hint { get; } = hint;
    /// <summary>The exit code (<see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>A usage error found by a command itself (a malformed option value): exit 64, nothing done.</summary>
internal sealed class UsageException(string message, string? hint = null) : RigException(ErrorCode, message, retrySafe: false)
{
    /// <summary>The code of a usage error in <c>--json</c> output.</summary>
    public const string ErrorCode = "usage";

    /// <summary>What to do next.</summary>
    public string? Hint { get; } = hint;
}

/// <summary>How every failure reaches the operator: one line (plus a hint) on standard error, or with <c>--json</c>
/// exactly one JSON document <c>{"error":{"code","message","hint"}}</c> on standard output — the operator API's error
/// shape.</summary>
internal static class CliErrors
{
    private static readonly JsonSerializerOptions Json = new(OperatorClient.Json) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private static IAnsiConsole? _stderr;

    /// <summary>A console on standard error, for messages that are not the command's output.</summary>
    public static IAnsiConsole Stderr => _stderr ??= Output.Unwrapped(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }), Console.IsErrorRedirected);

    /// <summary>Report an error and return <paramref name="exit"/>.</summary>
    public static int Report(bool json, int exit, string code, string message, string? hint, object? errors = null)
    {
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new ErrorDocument(new ErrorBody(code, message, hint, errors)), Json));
            return exit;
        }
        Stderr.MarkupLine($"[red]error:[/] {Output.Safe(message)}");
        if (hint is not null)
            Stderr.MarkupLine($"[grey]hint:[/] {Output.Safe(hint)}");
        return exit;
    }

    /// <summary>An unexpected exception: one line and the path of a file with the details (never a stack trace on
    /// the terminal).</summary>
    public static int Unexpected(bool json, Exception e, string[] args)
    {
        string? path = null;
        try
        {
            var dir = Path.Combine(Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } state ? state
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state"), "rig", "errors");
            Directory.CreateDirectory(dir);
            path = Path.Combine(dir, $"rig-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log");
            File.WriteAllText(path, $"rig {Rig.Agent.Runtime.AgentInfo.Version} {DateTimeOffset.UtcNow:O}\nargs: {string.Join(' ', Redact(args))}\n\n{e}\n");
        }
        catch (Exception write) when (write is IOException or UnauthorizedAccessException)
        {
            path = null;
        }
        return Report(json, ExitCodes.Error, "internal",
            $"rig failed unexpectedly: {e.GetType().Name}: {FirstLine(e.Message)}",
            path is null ? "This is a bug in rig; please report it with the command you ran." : $"This is a bug in rig; the details are in {path}; please report it with that file.");
    }

    /// <summary>Arguments with secrets (the value after --token) replaced.</summary>
    public static IEnumerable<string> Redact(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--token=", StringComparison.Ordinal))
                yield return "--token=***";
            else if (args[i] == "--token" && i + 1 < args.Length)
            {
                yield return "--token";
                yield return "***";
                i++;
            }
            else
                yield return args[i];
        }
    }

    private static string FirstLine(string s) => s.Split('\n', 2)[0].TrimEnd();

    private sealed record ErrorDocument(ErrorBody Error);

    private sealed record ErrorBody(string Code, string Message, string? Hint, object? Errors);
}
