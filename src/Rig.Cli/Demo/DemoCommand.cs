using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol.Archives;
using Rig.Server;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Store;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Demo;

/// <summary>Options of <c>rig demo</c>.</summary>
public sealed class DemoSettings : CommandSettings
{
    /// <summary>JSON summary.</summary>
    [CommandOption("--json")]
    [Description("Print one JSON summary object as the last line of standard output")]
    public bool Json { get; init; }

    /// <summary>Keep the temp directory.</summary>
    [CommandOption("--keep")]
    [Description("Keep the demo directory (gateway data, agent states, device roots) for inspection")]
    public bool Keep { get; init; }

    /// <summary>Directory.</summary>
    [CommandOption("--dir <DIR>")]
    [Description("Run in this directory instead of a new temporary one")]
    public string? Directory { get; init; }

    /// <summary>Overall deadline.</summary>
    [CommandOption("--timeout <SECONDS>")]
    [Description("Give up after this many seconds (default 180)")]
    public int TimeoutSeconds { get; init; } = 180;
}

/// <summary>The summary <c>rig demo --json</c> prints.</summary>
public sealed record DemoSummary(int Devices, int Succeeded, int Failed, int Commands, int Reboots, double Seconds);

/// <summary><c>rig demo</c>: a gateway on loopback with SQLite and the local store, sample packages, 6 agent
/// processes for a three-tier site, the whole site provisioned through the real protocol, then every device
/// root checked against the model.</summary>
public sealed class DemoCommand : AsyncCommand<DemoSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DemoSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var watch = Stopwatch.StartNew();
        var dir = settings.Directory is null ? Path.Combine(Path.GetTempPath(), $"rig-demo-{Guid.NewGuid().ToString("n")[..8]}") : Path.GetFullPath(settings.Directory);
        System.IO.Directory.CreateDirectory(dir);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        var ui = new DemoUi(settings.Json);
        var agents = new List<AgentProcess>();
        GatewayServer? server = null;
        try
        {
            var options = new ServerOptions
            {
                DataDirectory = Path.Combine(dir, "gateway"),
                AgentListenAddress = "127.0.0.1",
                AgentPort = 0,
                ApiPort = 0,
                DnsNames = ["localhost"],
                LogLevel = "Error",
            };
            var token = await GatewayServer.InitializeAsync(options, deadline.Token).ConfigureAwait(false);
            server = await GatewayServer.StartAsync(options, deadline.Token).ConfigureAwait(false);
            ui.Step($"Gateway on [bold]{server.AgentUrl}[/] (agents, mTLS) and [bold]{server.ApiUrl}[/] (operators), SQLite in {Markup.Escape(options.DataDirectory)}");
            using var api = new OperatorClient(server.ApiUrl, token, X509CertificateLoader.LoadCertificate(server.Authority.Certificate.RawData));

            // Packages: built here, imported through the operator API (metadata read from the files).
            var manifests = new Dictionary<string, RigArchiveManifest>(StringComparer.Ordinal);
            foreach (var file in DemoSite.WritePackages(Path.Combine(dir, "packages")))
            {
                var added = await api.AddPackageAsync(file, deadline.Token).ConfigureAwait(false);
                using var stream = File.OpenRead(file);
                manifests[added.Package.Key] = RigArchive.Inspect(stream, server.Options.Limits).Manifest;
            }
            ui.Step($"Imported {manifests.Count} packages into the content-addressed store");

            var model = DemoSite.Model();
            var saved = await api.PutJsonTextAsync<ModelPutResponse>("api/v1/model?message=demo%20site", JsonSerializer.Serialize(model, ModelJson.Default.RigModel), deadline.Token).ConfigureAwait(false);
            ui.Step($"Model revision {saved.Revision}: site '{DemoSite.Site}', {model.Devices.Count} devices, {model.Links.Count} interconnections, {model.Roles.Count} roles");

            // Agents: enroll with one-time tokens (pinning the CA), then run under a supervisor that restarts them after reboots.
            var launcher = RigLauncher.Current();
            var enrollments = DemoSite.Devices.Select(async d =>
            {
                var enrollment = await api.PostAsync<EnrollmentToken>($"api/v1/devices/{d.Name}/enrollment-token", null, deadline.Token).ConfigureAwait(false);
                var state = Path.Combine(dir, "agents", d.Name);
                await RunToEndAsync(launcher, deadline.Token, "agent", "enroll", "--state", state, "--gateway", server.AgentUrl.ToString(), "--device", d.Name,
                    "--token", enrollment.Token, "--ca-pin", enrollment.CaPin, "--sandbox-root", Path.Combine(dir, "devices", d.Name), "--poke-address", "127.0.0.1", "--poke-port", "0").ConfigureAwait(false);
                return new AgentProcess(d.Name, state, launcher);
            });
            agents.AddRange(await Task.WhenAll(enrollments).ConfigureAwait(false));
            foreach (var agent in agents)
                agent.Start();
            await WaitForCheckInsAsync(api, agents, deadline.Token).ConfigureAwait(false);
            ui.Step($"{agents.Count} agent processes enrolled (one-time tokens, pinned CA) and checked in over mTLS");

            var converge = await api.PostAsync<ConvergeResponse>("api/v1/converge", new ConvergeRequest([], "demo"), deadline.Token).ConfigureAwait(false);
            var invalid = converge.Devices.Where(d => d.Outcome is "invalid" or "busy").ToList();
            if (invalid.Count > 0)
                throw new CliException("The plan failed: " + string.Join("; ", invalid.SelectMany(d => d.Errors.Select(e => $"{d.Device}: {e.Message}"))));
            var queued = converge.Devices.ToDictionary(d => d.Device, d => d.Commands);

            var finals = await ui.TrackAsync(api, queued, agents, deadline.Token).ConfigureAwait(false);

            // Check every device's root against the model, from the gateway's own model.
            var current = await api.GetAsync<JsonElement>("api/v1/model", deadline.Token).ConfigureAwait(false);
            var central = JsonSerializer.Deserialize(current.GetRawText(), ModelJson.Default.RigModel)!;
            var builder = new DesiredStateBuilder(new ModelIndex(central));
            var rows = new List<DemoRow>();
            foreach (var agent in agents)
            {
                var final = finals[agent.Device];
                var problems = DemoVerifier.Verify(builder.Build(agent.Device), Path.Combine(dir, "devices", agent.Device), manifests).ToList();
                if (final.Queue?.Status != QueueStatus.Succeeded)
                    problems.Insert(0, $"queue {final.Queue?.Status ?? "missing"}: {final.Queue?.Error}");
                if (agent.Reboots != 1)
                    problems.Add($"expected one reboot (os role), saw {agent.Reboots}");
                if (agent.UnexpectedExit is { } code)
                    problems.Add($"agent exited with code {code}; see {agent.LogPath}");
                var roles = central.Assignments.Where(a => a.Device == agent.Device).Select(a => a.Role);
                rows.Add(new DemoRow(agent.Device, central.Devices.First(d => d.Name == agent.Device).Tier ?? "", string.Join(", ", roles), queued[agent.Device], agent.Reboots, problems));
            }
            var lbConfig = DemoVerifier.FileText(Path.Combine(dir, "devices", "lb-1"), "/etc/haproxy/haproxy.cfg") ?? "";
            foreach (var web in DemoSite.Devices.Where(d => d.Tier == "web"))
            {
                if (!lbConfig.Contains($"server {web.Name} {web.Address}:80", StringComparison.Ordinal))
                    rows.First(r => r.Device == "lb-1").Problems.Add($"haproxy.cfg does not list {web.Name} ({web.Address})");
            }

            var summary = new DemoSummary(rows.Count, rows.Count(r => r.Problems.Count == 0), rows.Count(r => r.Problems.Count > 0), rows.Sum(r => r.Commands), rows.Sum(r => r.Reboots), Math.Round(watch.Elapsed.TotalSeconds, 2));
            ui.Summary(rows, summary, lbConfig, dir, settings.Keep);
            if (settings.Json)
                Output.JsonLine(summary);
            return summary.Failed == 0 ? 0 : 1;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"The demo did not finish within {settings.TimeoutSeconds} s; run with --keep and look at {dir}/agents/*/agent.log.");
        }
        finally
        {
            await Task.WhenAll(agents.Select(a => a.StopAsync(TimeSpan.FromSeconds(5)))).ConfigureAwait(false);
            if (server is not null)
                await server.DisposeAsync().ConfigureAwait(false);
            if (!settings.Keep && settings.Directory is null)
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

    private static async Task WaitForCheckInsAsync(OperatorClient api, IReadOnlyList<AgentProcess> agents, CancellationToken ct)
    {
        while (true)
        {
            var devices = await api.GetAsync<List<DeviceStatus>>("api/v1/devices", ct).ConfigureAwait(false);
            if (agents.All(a => devices.Any(d => d.Name == a.Device && d.LastSeenAt is not null)))
                return;
            if (agents.FirstOrDefault(a => a.UnexpectedExit is not null) is { } dead)
                throw new CliException($"Agent {dead.Device} exited with code {dead.UnexpectedExit}; see {dead.LogPath}.");
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
    }

    private static async Task RunToEndAsync(RigLauncher launcher, CancellationToken ct, params string[] args)
    {
        using var process = Process.Start(launcher.StartInfo(args))!;
        var stderr = process.StandardError.ReadToEndAsync(ct);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new CliException($"`rig {string.Join(' ', args.Take(2))}` failed ({process.ExitCode}): {(await stderr.ConfigureAwait(false)).Trim()} {(await stdout.ConfigureAwait(false)).Trim()}");
    }
}

/// <summary>One device's line in the demo summary.</summary>
public sealed record DemoRow(string Device, string Tier, string Roles, int Commands, int Reboots, List<string> Problems);
