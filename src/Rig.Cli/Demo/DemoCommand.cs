using System.ComponentModel;
using System.Diagnostics;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Demo;

/// <summary>Options of <c>rig demo</c>.</summary>
internal sealed class DemoSettings : CommandSettings
{
    /// <summary>JSON summary.</summary>
    [CommandOption("--json")]
    [Description("Print one JSON summary object as the last line of standard output")]
    public bool Json { get; init; }

    /// <summary>Scenario.</summary>
    [CommandOption("--scenario <NAME>")]
    [Description("site (default), scale-out, upgrade-content, decommission, disaster-recovery")]
    public string Scenario { get; init; } = "site";

    /// <summary>Keep the temp directory.</summary>
    [CommandOption("--keep")]
    [Description("Keep the demo directory (gateway data, agent states, device roots) for inspection")]
    public bool Keep { get; init; }

    /// <summary>Directory.</summary>
    [CommandOption("--dir <DIR>")]
    [Description("Run in this directory instead of a new temporary one")]
    public string? Directory { get; init; }

    /// <summary>The demo's whole-run deadline unless <c>--timeout</c> says otherwise. The demo takes about 10 s on an idle
    /// machine; on two cores shared with builds (load average 30) it has taken 95 s. Every step inside it waits without a
    /// short deadline of its own (enrollment retries for <see cref="Rig.Protocol.RigLimits.GatewayUnreachableDeadline"/>),
    /// so this is the one bound, generous enough for a machine several times slower than that.</summary>
    public const int DefaultTimeoutSeconds = 900;

    /// <summary>Overall deadline.</summary>
    [CommandOption("--timeout <SECONDS>")]
    [Description("Give up after this many seconds (default 900)")]
    public int TimeoutSeconds { get; init; } = DefaultTimeoutSeconds;

    /// <summary>Keep running for the web UI.</summary>
    [CommandOption("--ui")]
    [Description("After provisioning, keep the gateway and agents running and print the web UI's address and a sign-in token; Ctrl+C or SIGTERM stops the agents and the gateway (and removes the directory unless kept)")]
    public bool Ui { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        !DemoScenarios.Names.Contains(Scenario) ? ValidationResult.Error($"Unknown scenario '{Scenario}'; use one of {string.Join(", ", DemoScenarios.Names)}.")
        : TimeoutSeconds < 1 ? ValidationResult.Error($"--timeout {TimeoutSeconds} is not a number of seconds (1 or more).")
        : ValidationResult.Success();
}

/// <summary>The summary <c>rig demo --json</c> prints: the site's figures, for a lifecycle scenario what it changed, and
/// with <c>--keep</c> (or <c>--dir</c>) the directory that was kept.</summary>
internal sealed record DemoSummary(int Devices, int Succeeded, int Failed, int Commands, int Reboots, double Seconds,
    string Scenario, long? Revision = null, IReadOnlyList<string>? Changed = null, IReadOnlyList<string>? Unchanged = null, string? Detail = null,
    string? Directory = null)
{
    /// <summary>With <c>--ui</c>: the web UI's address.</summary>
    public string? UiUrl { get; init; }

    /// <summary>With <c>--ui</c>: an operator token to sign in with (the demo gateway's first admin).</summary>
    public string? UiToken { get; init; }
}

/// <summary><c>rig demo</c>: a gateway on loopback with SQLite and the local store, sample packages, 6 agent
/// processes for a three-tier site, the whole site provisioned through the real protocol, every device root
/// checked against the model; then, with <c>--scenario</c>, one step of a device's life, checked the same way.</summary>
internal sealed class DemoCommand : AsyncCommand<DemoSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DemoSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var watch = Stopwatch.StartNew();
        var dir = settings.Directory is null ? Path.Combine(Path.GetTempPath(), $"rig-demo-{Guid.NewGuid().ToString("n")[..8]}") : Path.GetFullPath(settings.Directory);
        System.IO.Directory.CreateDirectory(dir);
        // Ctrl+C or SIGTERM (a service manager, `timeout`) stops the demo in order: agents stopped, gateway closed,
        // directory removed unless kept.
        using var signals = new StopSignals(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(signals.Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        var ui = new DemoUi(settings.Json);
        var session = new DemoSession(dir, ui);
        var kept = settings.Keep || settings.Directory is not null;
        try
        {
            await session.StartAsync(deadline.Token).ConfigureAwait(false);
            var rows = await ProvisionSiteAsync(session, deadline.Token).ConfigureAwait(false);
            var outcome = settings.Scenario == "site"
                ? new ScenarioOutcome(null, [.. rows.Select(r => r.Device)], [], null, rows)
                : await DemoScenarios.RunAsync(settings.Scenario, session, deadline.Token).ConfigureAwait(false);

            var final = outcome.Rows;
            var summary = new DemoSummary(final.Count, final.Count(r => r.Problems.Count == 0), final.Count(r => r.Problems.Count > 0), session.Commands, session.Reboots,
                Math.Round(watch.Elapsed.TotalSeconds, 2), settings.Scenario, outcome.Revision, outcome.Changed, outcome.Unchanged, outcome.Detail, kept ? dir : null);
            var lbConfig = DemoVerifier.FileText(session.Root("lb-1"), "/etc/haproxy/haproxy.cfg") ?? "";
            if (settings.Ui)
                summary = summary with { UiUrl = new Uri(session.Server.ApiUrl, "/ui/").ToString(), UiToken = session.Token };
            ui.Summary(final, summary, lbConfig, dir, kept);
            if (settings.Json)
                Output.JsonLine(summary);
            if (settings.Ui)
            {
                // The gateway and the agents stay up for a look around, until Ctrl+C: the deadline was for provisioning.
                deadline.CancelAfter(Timeout.InfiniteTimeSpan);
                ui.UiReady(summary.UiUrl!, summary.UiToken!, session.Server.Authority.Pin);
                try
                {
                    await Task.Delay(Timeout.Infinite, signals.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (signals.IsStopRequested)
                {
                    return summary.Failed == 0 ? 0 : 1;
                }
            }
            return summary.Failed == 0 ? 0 : 1;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !signals.IsStopRequested)
        {
            kept = true;
            throw new CliException($"The demo did not finish within {settings.TimeoutSeconds} s.", "demo-timeout",
                $"A machine this busy may need more: run it again with --timeout SECONDS. The directory is kept: look at {dir}/agents/*/agent.log.");
        }
        catch (OperationCanceledException) when (signals.IsStopRequested)
        {
            throw new CliException("The demo was interrupted.", "interrupted", "Nothing outside its directory was changed; run `rig demo` again.");
        }
        catch (CliException e)
        {
            kept = true;
            throw new CliException(e.Message, e.Code, $"{(e.Hint is null ? "" : e.Hint + " ")}The directory is kept: {dir}.", e.ExitCode);
        }
        catch (OperatorApiException)
        {
            kept = true;
            throw;
        }
        catch (Exception e)
        {
            // Whatever went wrong, the operator gets one line and where to look, never a stack trace; the details go to a file.
            kept = true;
            var log = Path.Combine(dir, "demo-error.log");
            try
            {
                await File.WriteAllTextAsync(log, $"rig demo {DateTimeOffset.UtcNow:O}\n\n{e}\n", CancellationToken.None).ConfigureAwait(false);
            }
            catch (IOException)
            {
                log = "(could not be written)";
            }
            throw new CliException($"The demo failed: {e.GetType().Name}: {e.Message.Split('\n')[0].TrimEnd()}", "demo-failed",
                $"The directory is kept: the details are in {log}, the agents' logs in {dir}/agents/*/agent.log. Run `rig demo` again, and report it with those files if it fails again.");
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
            if (!kept)
            {
                try
                {
                    System.IO.Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>Provision the whole site (plan, queue, poke) and check every device root against the model.</summary>
    private static async Task<List<DemoRow>> ProvisionSiteAsync(DemoSession session, CancellationToken ct)
    {
        var converge = await session.Api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest([], "demo"), ct).ConfigureAwait(false);
        var invalid = converge.Devices.Where(d => d.Outcome is "invalid" or "busy").ToList();
        if (invalid.Count > 0)
            throw new CliException("The plan failed: " + string.Join("; ", invalid.SelectMany(d => d.Errors.Select(e => $"{d.Device}: {e.Message}"))));
        var queued = converge.Devices.ToDictionary(d => d.Device, d => d.Commands);
        session.Commands += queued.Values.Sum();

        var finals = await session.Ui.TrackAsync(session.Api, queued, [.. session.Agents.Values], ct).ConfigureAwait(false);
        var problems = await session.VerifyAsync(queued.Keys, ct).ConfigureAwait(false);
        var model = await session.ModelAsync(ct).ConfigureAwait(false);
        var rows = new List<DemoRow>();
        foreach (var (device, agent) in session.Agents.OrderBy(a => DemoSite.Devices.ToList().FindIndex(d => d.Name == a.Key)))
        {
            var list = problems[device];
            if (finals[device].Queue?.Status != QueueStates.Succeeded)
                list.Insert(0, $"queue {finals[device].Queue?.Status ?? "missing"}: {finals[device].Queue?.Error}");
            if (agent.Reboots != 1)
                list.Add($"expected one reboot (os role), saw {agent.Reboots}");
            if (agent.UnexpectedExit is { } code)
                list.Add($"agent crashed {agent.Crashes} time(s), last exit code {code}; see {agent.LogPath}");
            rows.Add(DemoScenarios.Row(model, device, queued[device], agent.Reboots, list));
        }
        var lbConfig = DemoVerifier.FileText(session.Root("lb-1"), "/etc/haproxy/haproxy.cfg") ?? "";
        foreach (var web in DemoSite.Devices.Where(d => d.Tier == "web"))
        {
            if (!lbConfig.Contains($"server {web.Name} {web.Address}:80", StringComparison.Ordinal))
                rows.First(r => r.Device == "lb-1").Problems.Add($"haproxy.cfg does not list {web.Name} ({web.Address})");
        }
        session.Ui.Step($"Site provisioned: {rows.Count(r => r.Problems.Count == 0)}/{rows.Count} devices match the model");
        return rows;
    }
}

/// <summary>One device's line in the demo summary.</summary>
internal sealed record DemoRow(string Device, string Tier, string Roles, int Commands, int Reboots, List<string> Problems);
