using System.ComponentModel;
using System.Globalization;
using Rig.Cli.Operator;
using Rig.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary><c>rig whoami</c>: the operator behind the token, their teams and grants.</summary>
internal sealed class WhoAmICommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var me = await client.GetAsync<WhoAmIView>("api/v1/whoami", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(me);
            return 0;
        }
        AnsiConsole.MarkupLine($"Operator [bold]{Output.Safe(me.Operator)}[/] (token {Output.Safe(me.Token ?? "-")}), teams: {Output.Safe(me.Teams.Count == 0 ? "none" : string.Join(", ", me.Teams))}");
        if (me.Grants.Count == 0)
        {
            AnsiConsole.MarkupLine("[yellow]No grants: this operator may do nothing.[/] Ask an operator with 'manage-trust' for one (rig grant add).");
            return 0;
        }
        GrantTable.Print(me.Grants, withHistory: false);
        return 0;
    }
}

/// <summary>Grants as a table.</summary>
internal static class GrantTable
{
    public static void Print(IEnumerable<GrantView> grants, bool withHistory)
    {
        var table = new Table().AddColumns("id", "team", "effect", "verbs", "scope", "reason", "by");
        if (withHistory)
            table.AddColumn("revoked");
        foreach (var g in grants)
        {
            var row = new List<string>
            {
                g.Id.ToString(CultureInfo.InvariantCulture), Output.Safe(g.Team), g.Deny ? "[red]deny[/]" : "allow", Output.Safe(string.Join(",", g.Verbs)), Output.Safe(g.ScopeText),
                Output.Safe(g.Reason), Output.Safe(g.CreatedBy),
            };
            if (withHistory)
                row.Add(g.RevokedAt is { } at ? Output.Safe($"{at.UtcDateTime:u} by {g.RevokedBy}: {g.RevokeReason}") : "");
            table.AddRow([.. row]);
        }
        AnsiConsole.Write(table);
    }
}

/// <summary>Options of <c>rig token create</c>.</summary>
internal sealed class TokenCreateSettings : ConnectionSettings
{
    [CommandOption("--name <NAME>")]
    [Description("The token's name, unique among live tokens (e.g. alice-laptop)")]
    public string? Name { get; init; }

    [CommandOption("--operator <OPERATOR>")]
    [Description("Whose token it is (default: yours; another operator's needs manage-trust; made if new)")]
    public string? Operator { get; init; }

    [CommandOption("--team <TEAM>")]
    [Description("Add the operator to this team (needs manage-trust)")]
    public string? Team { get; init; }

    [CommandOption("--expires <DURATION>")]
    [Description("How long the token lives: 30d, 12h, 90m (default 90d, at most 400d)")]
    public string? Expires { get; init; }

    [CommandOption("--output <FILE>")]
    [Description("Write the token to FILE (mode 0600) instead of printing it")]
    public string? Output { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        string.IsNullOrWhiteSpace(Name) ? ValidationResult.Error("Give the token a name with --name (e.g. --name alice-laptop): tokens are listed and revoked by name.") : base.Validate();
}

/// <summary><c>rig token create --name N [--operator O] [--team T] [--expires 30d]</c>: the secret is shown once.</summary>
internal sealed class TokenCreateCommand : AsyncCommand<TokenCreateSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, TokenCreateSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var created = await client.PostAsync<TokenCreated>("api/v1/tokens", new TokenCreateRequest(settings.Name!, settings.Operator, settings.Team, settings.Expires), cancellationToken).ConfigureAwait(false);
        return Show(created, settings.Output, settings.Json, "made");
    }

    /// <summary>Print a new secret once, or write it to <paramref name="output"/> (mode 0600).</summary>
    internal static int Show(TokenCreated created, string? output, bool json, string what)
    {
        if (output is { } file)
        {
            if (Directory.Exists(file) || !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(file))))
                throw new CliException($"Cannot write the token to '{file}': it is a directory or its directory does not exist. The token was {what}; rotate it (rig token rotate {created.Token.Name} --output FILE) to get a secret you can keep.");
            Rig.Protocol.Trust.WritePrivateFile(file, created.Secret + "\n");
            created = created with { Secret = "" };
        }
        if (json)
        {
            Output.JsonLine(created); // with --output, the secret is in the file and empty here
            return 0;
        }
        var t = created.Token;
        AnsiConsole.MarkupLine($"Token [bold]{Output.Safe(t.Name)}[/] for operator [bold]{Output.Safe(t.Operator)}[/] {what}; expires {t.ExpiresAt?.UtcDateTime.ToString("u", CultureInfo.InvariantCulture) ?? "never"}.");
        if (output is not null)
            AnsiConsole.MarkupLine($"Written to {Output.Safe(output)} (mode 0600). Use it with --token-file or RIG_TOKEN.");
        else
        {
            AnsiConsole.MarkupLine("It is shown once; keep it like a password:");
            Console.Out.WriteLine(Output.Visible(created.Secret));
        }
        return 0;
    }
}

/// <summary><c>rig token list</c>: every token with manage-trust, else one's own; never their secrets.</summary>
internal sealed class TokenListCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var tokens = await client.GetAsync<List<TokenView>>("api/v1/tokens", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(tokens);
            return 0;
        }
        var table = new Table().AddColumns("name", "operator", "state", "created", "by", "expires");
        foreach (var t in tokens)
        {
            var state = t.State switch
            {
                "live" => "[green]live[/]",
                "expired" => "[yellow]expired[/]",
                _ => "[grey]revoked[/]",
            };
            table.AddRow(Output.Safe(t.Name), Output.Safe(t.Operator), state, t.CreatedAt.UtcDateTime.ToString("u", CultureInfo.InvariantCulture), Output.Safe(t.CreatedBy ?? "-"),
                t.ExpiresAt?.UtcDateTime.ToString("u", CultureInfo.InvariantCulture) ?? "never");
        }
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary>Options naming one thing (a token, a team).</summary>
internal sealed class NameSettings : ConnectionSettings
{
    [CommandArgument(0, "<NAME>")]
    public string Name { get; init; } = "";
}

/// <summary><c>rig token revoke NAME</c>.</summary>
internal sealed class TokenRevokeCommand : AsyncCommand<NameSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, NameSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var revoked = await client.PostAsync<TokenView>($"api/v1/tokens/{Uri.EscapeDataString(settings.Name)}/revoke", null, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(revoked);
        else
            AnsiConsole.MarkupLine($"Token [bold]{Output.Safe(revoked.Name)}[/] of {Output.Safe(revoked.Operator)} revoked: it is refused from now on.");
        return 0;
    }
}

/// <summary>Options of <c>rig token rotate</c>.</summary>
internal sealed class TokenRotateSettings : ConnectionSettings
{
    [CommandArgument(0, "<NAME>")]
    public string Name { get; init; } = "";

    [CommandOption("--expires <DURATION>")]
    [Description("How long the new secret lives: 30d, 12h, 90m (default 90d, at most 400d)")]
    public string? Expires { get; init; }

    [CommandOption("--output <FILE>")]
    [Description("Write the new token to FILE (mode 0600) instead of printing it")]
    public string? Output { get; init; }
}

/// <summary><c>rig token rotate NAME</c>: a new secret under the same name; the old one is refused at once.</summary>
internal sealed class TokenRotateCommand : AsyncCommand<TokenRotateSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, TokenRotateSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var expires = settings.Expires is null ? "" : $"?expires={Uri.EscapeDataString(settings.Expires)}";
        var rotated = await client.PostAsync<TokenCreated>($"api/v1/tokens/{Uri.EscapeDataString(settings.Name)}/rotate{expires}", null, cancellationToken).ConfigureAwait(false);
        return TokenCreateCommand.Show(rotated, settings.Output, settings.Json, "rotated: the old secret is refused from now on");
    }
}

/// <summary>Options of <c>rig team create</c>.</summary>
internal sealed class TeamCreateSettings : ConnectionSettings
{
    [CommandArgument(0, "<TEAM>")]
    public string Name { get; init; } = "";

    [CommandOption("-d|--description <TEXT>")]
    public string? Description { get; init; }
}

/// <summary><c>rig team create TEAM</c>.</summary>
internal sealed class TeamCreateCommand : AsyncCommand<TeamCreateSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, TeamCreateSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var team = await client.PostAsync<TeamView>("api/v1/teams", new TeamCreateRequest(settings.Name, settings.Description), cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(team);
        else
            AnsiConsole.MarkupLine($"Team [bold]{Output.Safe(team.Name)}[/] made. Next: [grey]rig team add {Output.Safe(team.Name)} OPERATOR[/] and [grey]rig grant add --team {Output.Safe(team.Name)} --verbs read ...[/]");
        return 0;
    }
}

/// <summary><c>rig team list</c>.</summary>
internal sealed class TeamListCommand : AsyncCommand<ConnectionSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ConnectionSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var teams = await client.GetAsync<List<TeamView>>("api/v1/teams", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
        {
            Output.JsonLine(teams);
            return 0;
        }
        var table = new Table().AddColumns("team", "members", "description", "by");
        foreach (var t in teams)
            table.AddRow(Output.Safe(t.Name), Output.Safe(string.Join(", ", t.Members)), Output.Safe(t.Description ?? ""), Output.Safe(t.CreatedBy));
        AnsiConsole.Write(table);
        return 0;
    }
}

/// <summary>Options of <c>rig team add|remove TEAM OPERATOR</c>.</summary>
internal sealed class TeamMemberSettings : ConnectionSettings
{
    [CommandArgument(0, "<TEAM>")]
    public string Team { get; init; } = "";

    [CommandArgument(1, "<OPERATOR>")]
    public string Operator { get; init; } = "";
}

/// <summary><c>rig team add TEAM OPERATOR</c> and <c>rig team remove TEAM OPERATOR</c>.</summary>
internal sealed class TeamMemberCommand : AsyncCommand<TeamMemberSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, TeamMemberSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(context);
        var add = context.Name == "add";
        using var client = settings.Connect();
        var team = await client.SendJsonAsync<TeamView>(add ? HttpMethod.Put : HttpMethod.Delete,
            $"api/v1/teams/{Uri.EscapeDataString(settings.Team)}/members/{Uri.EscapeDataString(settings.Operator)}", null, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(team);
        else
            AnsiConsole.MarkupLine($"{Output.Safe(settings.Operator)} {(add ? "added to" : "removed from")} team [bold]{Output.Safe(team.Name)}[/]; members: {Output.Safe(team.Members.Count == 0 ? "none" : string.Join(", ", team.Members))}.");
        return 0;
    }
}

/// <summary><c>rig team delete TEAM</c>.</summary>
internal sealed class TeamDeleteCommand : AsyncCommand<NameSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, NameSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        await client.DeleteAsync($"api/v1/teams/{Uri.EscapeDataString(settings.Name)}", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(new { deleted = settings.Name });
        else
            AnsiConsole.MarkupLine($"Team [bold]{Output.Safe(settings.Name)}[/] deleted.");
        return 0;
    }
}

/// <summary>Options of <c>rig grant add</c>.</summary>
internal sealed class GrantAddSettings : ConnectionSettings
{
    [CommandOption("--team <TEAM>")]
    [Description("The team the grant is for")]
    public string? Team { get; init; }

    [CommandOption("--verbs <VERBS>")]
    [Description("Comma-separated: read, plan, edit, approve, rollout, run-script, manage-packages, manage-devices, manage-trust (* = all)")]
    public string? Verbs { get; init; }

    [CommandOption("--deny")]
    [Description("Deny the verbs on the scope instead (a deny wins over every allow)")]
    public bool Deny { get; init; }

    [CommandOption("--customer <NAME>")]
    [Description("Restrict to these customers (repeatable)")]
    public string[] Customers { get; init; } = [];

    [CommandOption("--site <NAME>")]
    [Description("Restrict to these sites (repeatable)")]
    public string[] Sites { get; init; } = [];

    [CommandOption("--kind <KIND>")]
    [Description("Restrict to roles of these kinds: os, app, content, declared kinds (repeatable)")]
    public string[] Kinds { get; init; } = [];

    [CommandOption("--devices <SELECTOR>")]
    [Description("Restrict to the devices a selector matches (site=shop,tier=web, names, globs)")]
    public string? Devices { get; init; }

    [CommandOption("-m|--message <TEXT>")]
    [Description("Why (recorded with the grant and in the audit log; required)")]
    public string? Message { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Team))
            return ValidationResult.Error("Name the team with --team.");
        if (string.IsNullOrWhiteSpace(Verbs))
            return ValidationResult.Error("Give the verbs with --verbs, e.g. --verbs read,plan.");
        return string.IsNullOrWhiteSpace(Message) ? ValidationResult.Error("Say why with -m \"...\": it is recorded with the grant.") : base.Validate();
    }
}

/// <summary><c>rig grant add --team T --verbs read,edit [--site S] [--kind content] -m why</c>.</summary>
internal sealed class GrantAddCommand : AsyncCommand<GrantAddSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, GrantAddSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        static IReadOnlyList<string>? Listed(string[] values) => values.Length == 0 ? null : [.. values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];
        var scope = new ScopeView(Listed(settings.Customers), Listed(settings.Sites), Listed(settings.Kinds), settings.Devices);
        var verbs = settings.Verbs!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        using var client = settings.Connect();
        var grant = await client.PostAsync<GrantView>("api/v1/grants", new GrantRequest(settings.Team!, verbs, scope, settings.Message!, settings.Deny), cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(grant);
        else
            AnsiConsole.MarkupLine($"Grant [bold]{grant.Id}[/]: team {Output.Safe(grant.Team)} {(grant.Deny ? "[red]denied[/]" : "may")} {Output.Safe(string.Join(", ", grant.Verbs))} on {Output.Safe(grant.ScopeText)}.");
        return 0;
    }
}

/// <summary>Options of <c>rig grant list</c>.</summary>
internal sealed class GrantListSettings : ConnectionSettings
{
    [CommandOption("--history")]
    [Description("Every version ever made, with who revoked it and why")]
    public bool History { get; init; }
}

/// <summary><c>rig grant list [--history]</c>.</summary>
internal sealed class GrantListCommand : AsyncCommand<GrantListSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, GrantListSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var grants = await client.GetAsync<List<GrantView>>($"api/v1/grants{(settings.History ? "?history=true" : "")}", cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(grants);
        else
            GrantTable.Print(grants, settings.History);
        return 0;
    }
}

/// <summary>Options of <c>rig grant revoke ID -m why</c>.</summary>
internal sealed class GrantRevokeSettings : ConnectionSettings
{
    [CommandArgument(0, "<ID>")]
    public long Id { get; init; }

    [CommandOption("-m|--message <TEXT>")]
    [Description("Why (recorded; required)")]
    public string? Message { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        string.IsNullOrWhiteSpace(Message) ? ValidationResult.Error("Say why with -m \"...\": it is recorded with the grant.") : base.Validate();
}

/// <summary><c>rig grant revoke ID -m why</c>: rights end at once, also for work already started on their strength
/// (a rollout's next wave checks again).</summary>
internal sealed class GrantRevokeCommand : AsyncCommand<GrantRevokeSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, GrantRevokeSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var grant = await client.PostAsync<GrantView>($"api/v1/grants/{settings.Id}/revoke?message={Uri.EscapeDataString(settings.Message!)}", null, cancellationToken).ConfigureAwait(false);
        if (settings.Json)
            Output.JsonLine(grant);
        else
            AnsiConsole.MarkupLine($"Grant [bold]{grant.Id}[/] of team {Output.Safe(grant.Team)} revoked.");
        return 0;
    }
}
