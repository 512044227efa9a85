using Rig.Agent;
using Rig.Cli.Commands;
using Rig.Cli.Demo;
using Rig.Cli.Operator;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli;

/// <summary>The <c>rig</c> command line.</summary>
internal static class RigCli
{
    /// <summary>Exit code of a usage error: an unknown command or option, a missing argument (BSD's EX_USAGE). Nothing
    /// was done.</summary>
    public const int UsageExit = ExitCodes.Usage;

    /// <summary>Every command of <c>rig</c>: the one command tree the parser, the help and the completion scripts
    /// are made from.</summary>
    internal static void Configure(IConfigurator config)
    {
        config.SetApplicationName("rig");
        config.SetApplicationVersion(Rig.Agent.Runtime.AgentInfo.Version);
        config.UseStrictParsing(); // an unknown option is an error, never silently ignored (`--bacth 25%` rolled out to 100%)
        config.PropagateExceptions();
        config.AddBranch("server", server =>
        {
            server.SetDescription("Run the gateway (database, package store, CA, agent endpoint, operator API).");
            server.AddCommand<ServerInitCommand>("init").WithDescription("Prepare a data directory and print the admin token once.");
            server.AddCommand<ServerRunCommand>("run").WithDescription("Run the gateway on an initialised data directory.");
            server.AddCommand<ServerRotateSecretsKeyCommand>("rotate-secrets-key").WithDescription("Make a new secrets key and re-seal every secret value with it (the gateway stopped; the old key is kept as secrets.key.old).");
            server.AddCommand<ServerMetricsTokenCommand>("metrics-token").WithDescription("Make a read-only token for /metrics and print it once (the previous one stops working).");
        });
        config.AddBranch("package", package =>
        {
            package.SetDescription("The package store.");
            package.AddCommand<PackageBuildCommand>("build").WithDescription("Build a .rig.tar.gz from a package directory (package.yaml + files/); offline, reproducible.");
            package.AddCommand<PackageAddCommand>("add").WithDescription("Import .rig.tar.gz, .deb or .rpm files (metadata is read from the files).");
            package.AddCommand<PackageListCommand>("list").WithDescription("List the package catalog.");
            package.AddCommand<PackageFetchCommand>("fetch").WithDescription("Download Debian packages and the dependencies the devices lack from the distribution's mirror (verified) into the store.");
        });
        config.AddBranch("device", device =>
        {
            device.SetDescription("Devices and their agents.");
            device.AddCommand<DeviceListCommand>("list").WithDescription("Devices with their last check-in and queue.");
            device.AddCommand<DeviceShowCommand>("show").WithDescription("One device: model and discovered facts side by side, roles, agent and certificate, inventory, and its latest two queues command by command with output and errors.");
            device.AddCommand<DeviceLogCommand>("log").WithDescription("Each finished command of a device's queue with its output; --follow prints them as they arrive until the queue ends.");
            device.AddCommand<DeviceTokenCommand>("token").WithDescription("Create a one-time enrollment token for a device in DEVICE.token (mode 0600) and print the agent's install line.");
            device.AddCommand<DeviceRevokeCommand>("revoke").WithDescription("Revoke a device's agent certificates.");
            device.AddCommand<DeviceCloneCommand>("clone").WithDescription("Scale out: a new device like another (roles, interconnections), as a new revision; shows its plan.");
            device.AddCommand<DeviceDecommissionCommand>("decommission").WithDescription("Remove a device's software and interconnections, then free it.");
            device.AddCommand<DeviceRebuildCommand>("rebuild").WithDescription("Disaster recovery: rebuild a lost device from the model (prints the enrollment token).");
            device.AddCommand<DeviceCancelCommand>("cancel").WithDescription("Cancel a device's active queue (a running command finishes).");
        });
        config.AddBranch("model", model =>
        {
            model.SetDescription("The central model.");
            model.AddCommand<ModelLoadCommand>("load").WithDescription("Replace the model with a JSON model file (validated first; nothing is saved on errors).");
            model.AddCommand<ModelShowCommand>("show").WithDescription("The model (and rendered configuration) as of a revision or date.");
            model.AddCommand<ModelExportCommand>("export").WithDescription("Write the stored model as YAML model files.");
        });
        config.AddBranch("rollout", rollout =>
        {
            rollout.SetDescription("Send a model revision to devices in waves.");
            rollout.AddCommand<RolloutStartCommand>("start").WithDescription("Roll out a revision: canary first, then batches; pauses itself past --max-failures.");
            rollout.AddCommand<RolloutStatusCommand>("status").WithDescription("A rollout's waves and devices (--follow to watch).");
            rollout.AddCommand<RolloutListCommand>("list").WithDescription("Rollouts, newest first.");
            rollout.AddCommand<RolloutActionCommand>("pause").WithDescription("Pause: running queues finish, nothing new starts.");
            rollout.AddCommand<RolloutActionCommand>("resume").WithDescription("Resume a paused rollout (--max-failures to raise the threshold).");
            rollout.AddCommand<RolloutActionCommand>("cancel").WithDescription("Cancel: running commands finish, nothing new starts.");
            rollout.AddCommand<RolloutRetryCommand>("retry").WithDescription("Retry the failed devices of a finished or paused rollout (default: the newest), with its settings.");
        });
        config.AddBranch("script", script =>
        {
            script.SetDescription("Stored scripts: named, ordered service/reboot/inventory steps.");
            script.AddCommand<ScriptAddCommand>("add").WithDescription("Store a script.");
            script.AddCommand<ScriptListCommand>("list").WithDescription("List stored scripts.");
            script.AddCommand<ScriptRunCommand>("run").WithDescription("Run a script on a device or selector (--wait: wait and print each device's result).");
        });
        config.AddBranch("audit", audit =>
        {
            audit.SetDescription("The tamper-evident audit log: every operator action and command result, hash-chained.");
            audit.SetDefaultCommand<AuditListCommand>();
            audit.AddCommand<AuditVerifyCommand>("verify").WithDescription("Recompute the audit log's hash chain; exit 1 naming the first entry altered, removed or reordered.");
            audit.AddCommand<AuditExportCommand>("export").WithDescription("Write every audit entry you may see as JSON lines (to --output FILE or standard output).");
        });
        config.AddBranch("context", ctx =>
        {
            ctx.SetDescription("Gateways this workstation talks to (operator API URL, pinned CA, token file).");
            ctx.AddCommand<ContextAddCommand>("add").WithDescription("Remember a gateway: fetches its CA and keeps it only if the pin matches.");
            ctx.AddCommand<ContextUseCommand>("use").WithDescription("Make a context the current one.");
            ctx.AddCommand<ContextListCommand>("list").WithDescription("List contexts; * marks the current one.");
            ctx.AddCommand<ContextRemoveCommand>("remove").WithDescription("Forget a context (its token file is left alone).");
        });
        config.AddBranch("token", token =>
        {
            token.SetDescription("Operator tokens: named, hashed at rest, shown once, expiring (docs/SECURITY.md).");
            token.AddCommand<TokenCreateCommand>("create").WithDescription("Make a token (for yourself, or with manage-trust for another operator and team); shown once.");
            token.AddCommand<TokenListCommand>("list").WithDescription("Tokens and their state (all with manage-trust, else your own); never their secrets.");
            token.AddCommand<TokenRotateCommand>("rotate").WithDescription("A new secret for a token (same name, fresh expiry; shown once); the old one is refused at once.");
            token.AddCommand<TokenRevokeCommand>("revoke").WithDescription("Revoke a token by name: refused from now on.");
        });
        config.AddBranch("team", team =>
        {
            team.SetDescription("Teams of operators; grants give teams rights (manage-trust).");
            team.AddCommand<TeamCreateCommand>("create").WithDescription("Make a team.");
            team.AddCommand<TeamListCommand>("list").WithDescription("Teams and their members.");
            team.AddCommand<TeamMemberCommand>("add").WithDescription("Add an operator to a team (made if new).");
            team.AddCommand<TeamMemberCommand>("remove").WithDescription("Remove an operator from a team.");
            team.AddCommand<TeamDeleteCommand>("delete").WithDescription("Delete a team without members or live grants.");
        });
        config.AddBranch("grant", grant =>
        {
            grant.SetDescription("Rights: verbs a team may (or may not) use on a scope of the model (manage-trust).");
            grant.AddCommand<GrantAddCommand>("add").WithDescription("Give (or --deny) a team verbs on customers, sites, role kinds or devices, with a reason.");
            grant.AddCommand<GrantListCommand>("list").WithDescription("Live grants (--history: every version, who revoked it and why).");
            grant.AddCommand<GrantRevokeCommand>("revoke").WithDescription("Revoke a grant, with a reason; a rollout it allowed starts no new wave.");
        });
        config.AddCommand<WhoAmICommand>("whoami").WithDescription("Who the token is: operator, teams and grants.");
        config.AddCommand<CompletionCommand>("completion").WithDescription("Print a shell completion script: `source <(rig completion bash)`, or for zsh into a file on $fpath.");
        config.AddCommand<StatusCommand>("status").WithDescription("The gateway at a glance: version, store, devices by state, agents seen recently, active rollouts.");
        config.AddCommand<PlanCommand>("plan").WithDescription("What a model would change on each device, with diffs; nothing is sent. Exit 0 none, 2 changes, 1 errors.");
        config.AddCommand<DriftCommand>("drift").WithDescription("What differs between the model and what devices report (packages, files, services, hardware, OS). Exit 0 none, 2 drift, 1 errors.");
        config.AddCommand<ApplyCommand>("apply").WithDescription("Record a model directory as a new revision (author, time, why). Nothing is sent.");
        config.AddCommand<HistoryCommand>("history").WithDescription("Model revisions: who, when, why.");
        config.AddCommand<ApprovalShowCommand>("approval").WithDescription("What a revision's approval policy asks (objects, approvals, where) and who approved or rejected it.");
        config.AddCommand<ApprovalDecisionCommand>("approve").WithDescription("Approve a revision (four eyes: not your own; needs 'approve' where it changed). -m says why.");
        config.AddCommand<ApprovalDecisionCommand>("reject").WithDescription("Reject a revision: its rollouts are refused until someone approves it. -m says why.");
                config.AddCommand<DiffCommand>("diff").WithDescription("What differs between two model revisions.");
        config.AddCommand<ConvergeCommand>("converge").WithDescription("Plan the model for devices, queue the changes and poke their agents.");
        config.AddCommand<DemoCommand>("demo").WithDescription("Provision a three-tier demo site with 6 agent processes on this machine.");
        config.AddExample("demo");
        config.AddExample("server", "init", "--data", "/var/lib/rig");
    }

    /// <summary>Run <c>rig</c> with <paramref name="args"/>.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        // `rig agent ...` is the agent itself (the same code as the rig-agent binary).
        if (args.Length > 0 && args[0] == "agent")
            return await AgentCommandLine.RunAsync(args[1..], ["agent"]).ConfigureAwait(false);

        // `rig rollout REV [options]` is `rig rollout start REV [options]`.
        if (args.Length > 1 && args[0] == "rollout" && args[1] is not ("start" or "status" or "list" or "pause" or "resume" or "cancel" or "retry" or "-h" or "--help"))
            args = ["rollout", "start", .. args[1..]];

        Output.Unwrapped(AnsiConsole.Console, Console.IsOutputRedirected);
        var app = new CommandApp();
        app.Configure(Configure);
        var json = args.Contains("--json");
        try
        {
            return await app.RunAsync(args).ConfigureAwait(false);
        }
        catch (CliException e)
        {
            return CliErrors.Report(json, e.ExitCode, e.Code, e.Message, e.Hint);
        }
        catch (OperatorApiException e)
        {
            if (!json)
            {
                foreach (var error in e.Error.Errors ?? [])
                    CliErrors.Stderr.MarkupLine($"  [yellow]{Output.Safe(error.Where)}[/]: {Output.Safe(error.Message)} [grey]({Output.Safe(error.Code)})[/]");
            }
            return CliErrors.Report(json, ExitCodes.Error, e.Error.Code, e.Message, e.Hint, e.Error.Errors);
        }
        catch (ModelFileException e)
        {
            if (!json)
                ModelInput.Print(e.Errors, CliErrors.Stderr);
            return CliErrors.Report(json, ExitCodes.Error, ModelFileException.ErrorCode, e.Message, "Fix the files at the positions shown; nothing was sent or saved.",
                e.Errors.Select(x => new { x.Code, x.Location.File, x.Location.Line, x.Location.Column, Where = x.Key, x.Message }).ToList());
        }
        catch (Exception e) when (e is CommandParseException or CommandRuntimeException or UsageException)
        {
            return Usage(json, e, args);
        }
        catch (Exception e)
        {
            return CliErrors.Unexpected(json, e, args);
        }
    }

    private static int Usage(bool json, Exception e, string[] args)
    {
        var command = string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')).Take(2));
        var hint = (e as UsageException)?.Hint ?? $"Nothing was done. See `rig {(command.Length == 0 ? "" : command + " ")}--help` for the usage.";
        return CliErrors.Report(json, ExitCodes.Usage, UsageException.ErrorCode, e.Message, hint);
    }
}
