using System.Diagnostics;

namespace Rig.Bench.Converge;

/// <summary>A program the benchmark compares against or needs (ansible-playbook, cf-agent, tar), found on PATH.</summary>
internal sealed record ExternalTool(string Name, string Path, string Version)
{
    /// <summary>Find <paramref name="name"/> on PATH (or in /usr/sbin, /sbin) and read its version; throws with the
    /// Debian package to install when it is missing.</summary>
    public static async Task<ExternalTool> RequireAsync(string name, string debianPackage, string versionArgument, CancellationToken ct)
    {
        var path = Find(name) ?? throw new InvalidOperationException(
            $"'{name}' was not found on PATH; the converge benchmark compares against it. Install Debian's package: apt-get install -y {debianPackage}");
        var (code, stdout, stderr) = await RunAsync(path, [versionArgument], null, null, TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
        var version = (stdout + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "unknown";
        if (code != 0)
            throw new InvalidOperationException($"'{path} {versionArgument}' failed ({code}): {(stderr + stdout).Trim()}");
        return new ExternalTool(name, path, version);
    }

    /// <summary>The program's full path, or null.</summary>
    public static string? Find(string name)
    {
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
        return directories.Select(d => System.IO.Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    /// <summary>Run a program to completion (argument vector, no shell) with a deadline; output is captured.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> args, string? workingDirectory,
        IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        if (workingDirectory is not null)
            info.WorkingDirectory = workingDirectory;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            info.Environment[k] = v;
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{program} {string.Join(' ', info.ArgumentList)}' did not finish within {timeout.TotalSeconds:0} s.");
        }
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
