using System.ComponentModel;
using System.Diagnostics;

namespace Rig.Server.Packages;

/// <summary>What a tool printed and how it ended.</summary>
internal sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs the operating system's package tools on the gateway host: an argument vector (never a shell),
/// <c>LC_ALL=C</c> so messages can be read, a deadline after which the tool and its children are killed.</summary>
internal static class ToolRunner
{
    public static async Task<ToolResult> RunAsync(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment,
        string? workingDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // closed at once: a tool that asks a question gets end-of-file, never waits
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        if (workingDirectory is not null)
            info.WorkingDirectory = workingDirectory;
        foreach (var name in info.Environment.Keys.Where(k => k is "LANG" or "LANGUAGE" || k.StartsWith("LC_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(name);
        info.Environment["LC_ALL"] = "C";
        foreach (var (name, value) in environment)
            info.Environment[name] = value;

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new Win32Exception($"{program} did not start");
        }
        catch (Win32Exception e)
        {
            throw new PackageFetchException(PackageFetchErrorKind.Unavailable, "tool-missing",
                $"'{program}' cannot be run on the gateway host ({e.Message}); install it (Debian: apt-get install apt gpgv debian-archive-keyring) and try again.");
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                ct.ThrowIfCancellationRequested();
                throw new PackageFetchException(PackageFetchErrorKind.Repository, "timeout",
                    $"`{program} {string.Join(' ', arguments)}` did not finish within {timeout.TotalSeconds:0} s and was stopped; nothing was imported. Check that the gateway reaches the mirror, then try again.");
            }
            return new ToolResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }
}
