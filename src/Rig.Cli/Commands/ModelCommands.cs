using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Rig.Cli.Operator;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Files;
using Rig.Model.Planning;
using Rig.Server.Api;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Rig.Cli.Commands;

/// <summary>A model read from files, with the map that gives errors their file and line.</summary>
public sealed record LoadedModel(RigModel Model, SourceMap? Map);

/// <summary>Reading model files (a YAML directory or a JSON file) and showing errors with their positions.</summary>
public static class ModelInput
{
    /// <summary>Read PATH: a directory of YAML model files, or a JSON model file. Syntax errors are printed
    /// (file:line:col) and end the command with exit code 1: nothing is sent.</summary>
    public static LoadedModel Load(string path, bool json)
    {
        if (Directory.Exists(path))
        {
            var result = ModelFiles.Read(ModelDirectory.Load(path));
            if (result.Model is null)
                throw new ModelFileException(WithModelErrors(result));
            return new LoadedModel(result.Model, result.Map);
        }
        if (!File.Exists(path))
            throw new CliException($"'{path}' is neither a model directory nor a model file.");
        try
        {
            return new LoadedModel(JsonSerializer.Deserialize(File.ReadAllText(path), ModelJson.Default.RigModel) ?? throw new JsonException("the file is JSON null"), null);
        }
        catch (JsonException e)
        {
            throw new CliException($"'{path}' is not a JSON model: {e.Message} (a model directory of YAML files is the usual form; see docs/MODEL.md).");
        }
    }

    /// <summary>File errors, and the model-level errors of what could be read (a link to an unknown device), all in
    /// one run, by file and line.</summary>
    private static IReadOnlyList<ModelFileError> WithModelErrors(ModelFileResult result)
    {
        if (result.Partial is null)
            return result.Errors;
        var modelErrors = ModelFiles.Locate(Rig.Model.Validation.ModelValidator.Validate(result.Partial, renderTemplates: false), result.Map);
        return [.. result.Errors.Concat(modelErrors)
            .DistinctBy(e => (e.Code, e.Location, e.Key))
            .OrderBy(e => e.Location.File, StringComparer.Ordinal).ThenBy(e => e.Location.Line).ThenBy(e => e.Location.Column)];
    }

    /// <summary>Model errors with their file positions where known.</summary>
    public static IReadOnlyList<object> Located(IReadOnlyList<ModelError> errors, SourceMap? map) =>
        map is null
            ? [.. errors.Select(e => (object)new { e.Code, e.Where, e.Message })]
            : [.. ModelFiles.Locate(errors, map).Select(e => (object)new { e.Code, File = e.Location.File, e.Location.Line, e.Location.Column, Where = e.Key, e.Message })];

    /// <summary>Print model errors, with file:line:col when the model came from files.</summary>
    public static void Print(IReadOnlyList<ModelError> errors, SourceMap? map)
    {
        if (map is null)
        {
            foreach (var e in errors)
                AnsiConsole.MarkupLine($"[red]error[/] [yellow]{Markup.Escape(e.Where)}[/]: {Markup.Escape(e.Message)} [grey]({Markup.Escape(e.Code)})[/]");
            return;
        }
        Print(ModelFiles.Locate(errors, map));
    }

    /// <summary>Print file errors.</summary>
    public static void Print(IReadOnlyList<ModelFileError> errors, IAnsiConsole? console = null)
    {
        foreach (var e in errors)
            (console ?? AnsiConsole.Console).MarkupLine($"[red]error[/] [yellow]{Markup.Escape(e.Location.ToString())}[/]: {Markup.Escape(e.Message)} [grey]({Markup.Escape(e.Code)}, {Markup.Escape(e.Key)})[/]");
    }
}

/// <summary>Model files that do not parse: every error with its position.</summary>
public sealed class ModelFileException(IReadOnlyList<ModelFileError> errors) : Exception($"{errors.Count} error(s) in the model files")
{
    /// <summary>The errors.</summary>
    public IReadOnlyList<ModelFileError> Errors { get; } = errors;
}

/// <summary>Options of <c>rig plan</c>.</summary>
public sealed class PlanSettings : ConnectionSettings
{
    /// <summary>Model path.</summary>
    [CommandArgument(0, "[PATH]")]
    [Description("A model directory (YAML) or JSON file; without it, the current revision is planned")]
    public string? Path { get; init; }

    /// <summary>Selector.</summary>
    [CommandOption("--devices <SELECTOR>")]
    [Description("Plan only these devices (names, globs, key=value terms)")]
    public string? Devices { get; init; }

    /// <summary>Show unchanged devices too.</summary>
    [CommandOption("--all")]
    public bool All { get; init; }
}

/// <summary><c>rig plan PATH</c>: what the model would change on each device; nothing is saved or sent.
/// Exit codes: 0 no changes, 2 changes pending, 1 errors.</summary>
public sealed class PlanCommand : AsyncCommand<PlanSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, PlanSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var loaded = settings.Path is null ? null : ModelInput.Load(settings.Path, settings.Json);
        using var client = settings.Connect();
        var query = settings.Devices is null ? "" : $"?devices={Uri.EscapeDataString(settings.Devices)}";
        var plan = loaded is null
            ? await client.GetAsync<PlanReport>($"api/v1/plan{query}", cancellationToken).ConfigureAwait(false)
            : await client.PostJsonTextAsync<PlanReport>($"api/v1/plan{query}", JsonSerializer.Serialize(loaded.Model, ModelJson.Default.RigModel), cancellationToken).ConfigureAwait(false);
        var errors = plan.Errors.Concat(plan.Devices.SelectMany(d => d.Errors)).ToList();
        var code = errors.Count > 0 ? 1 : plan.HasChanges ? 2 : 0;
        if (settings.Json)
        {
            Output.JsonLine(new { exitCode = code, errors = ModelInput.Located(errors, loaded?.Map), plan });
            return code;
        }
        ModelInput.Print(plan.Errors, loaded?.Map);
        if (plan.Errors.Count == 0)
        {
            foreach (var change in plan.ModelChanges)
                AnsiConsole.MarkupLine($"[grey]model:[/] {change.Change} {Markup.Escape(change.Kind)} [bold]{Markup.Escape(change.Name)}[/]");
            PlanView.Print(plan, settings.All);
            ModelInput.Print([.. plan.Devices.SelectMany(d => d.Errors)], loaded?.Map);
        }
        return code;
    }
}

/// <summary>Options of <c>rig apply</c>.</summary>
public sealed class ApplySettings : ConnectionSettings
{
    /// <summary>Model path.</summary>
    [CommandArgument(0, "<PATH>")]
    [Description("A model directory (YAML) or JSON file")]
    public string Path { get; init; } = "";

    /// <summary>Why.</summary>
    [CommandOption("-m|--message <TEXT>")]
    [Description("Why this change (recorded in the history; required)")]
    public string? Message { get; init; }
}

/// <summary><c>rig apply PATH -m WHY</c>: record a new model revision. Nothing is sent: roll it out next.</summary>
public sealed class ApplyCommand : AsyncCommand<ApplySettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ApplySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (string.IsNullOrWhiteSpace(settings.Message))
            throw new CliException("Say why with -m \"...\": the reason is recorded with the revision for whoever reads the history later.");
        var loaded = ModelInput.Load(settings.Path, settings.Json);
        using var client = settings.Connect();
        ApplyResponse applied;
        try
        {
            applied = await client.PostJsonTextAsync<ApplyResponse>($"api/v1/apply?message={Uri.EscapeDataString(settings.Message)}", JsonSerializer.Serialize(loaded.Model, ModelJson.Default.RigModel), cancellationToken).ConfigureAwait(false);
        }
        catch (OperatorApiException e) when (e.Error.Errors is { Count: > 0 } errors)
        {
            if (settings.Json)
                Output.JsonLine(new { errors = ModelInput.Located(errors, loaded.Map) });
            else
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
                ModelInput.Print(errors, loaded.Map);
            }
            return 1;
        }
        if (settings.Json)
        {
            Output.JsonLine(applied);
            return 0;
        }
        if (!applied.Changed)
        {
            AnsiConsole.MarkupLine($"No change: the model is revision {applied.Revision} already.");
            return 0;
        }
        var table = new Table().AddColumns("change", "kind", "name");
        foreach (var c in applied.Changes)
            table.AddRow(c.Change, Markup.Escape(c.Kind), Markup.Escape(c.Name));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"Revision [bold]{applied.Revision}[/] recorded. Nothing was sent; next: [grey]rig rollout {applied.Revision}[/]");
        return 0;
    }
}

/// <summary>Options of <c>rig model show</c>.</summary>
public sealed class ModelShowSettings : ConnectionSettings
{
    /// <summary>Revision or date.</summary>
    [CommandOption("--at <REV|DATE>")]
    [Description("A revision number or a date/time (ISO 8601); default: the current revision")]
    public string? At { get; init; }

    /// <summary>One device's configuration.</summary>
    [CommandOption("--device <NAME>")]
    [Description("Show this device's rendered configuration files")]
    public string? Device { get; init; }

    /// <summary>Every device's configuration.</summary>
    [CommandOption("--rendered")]
    [Description("Show every device's rendered configuration files")]
    public bool Rendered { get; init; }
}

/// <summary><c>rig model show --at REV|DATE</c>: the model and every device's configuration as of then.</summary>
public sealed class ModelShowCommand : AsyncCommand<ModelShowSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ModelShowSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var at = settings.At ?? (await client.GetAsync<List<RevisionView>>("api/v1/revisions?limit=1", cancellationToken).ConfigureAwait(false)).FirstOrDefault()?.Revision.ToString(CultureInfo.InvariantCulture)
            ?? throw new CliException("The model has no revision yet; `rig apply` one.");
        var asOf = await client.GetAsync<ModelAsOf>($"api/v1/model/as-of?at={Uri.EscapeDataString(at)}", cancellationToken).ConfigureAwait(false);
        var devices = asOf.Devices.Where(d => settings.Device is null ? settings.Rendered : d.Device == settings.Device).ToList();
        if (settings.Json)
        {
            Output.JsonLine(asOf with { Devices = settings.Device is null && !settings.Rendered ? asOf.Devices : devices });
            return 0;
        }
        AnsiConsole.MarkupLine($"[bold]Revision {asOf.Revision}[/]{(asOf.CreatedAt is { } when ? $" of {when.ToLocalTime():yyyy-MM-dd HH:mm:ss}" : "")}");
        if (settings.Device is null)
        {
            foreach (var file in ModelFiles.Write(asOf.Model))
            {
                Output.Heading($"[grey]{Markup.Escape(file.Path)}[/]");
                Console.Out.Write(file.Text.EndsWith('\n') ? file.Text : file.Text + "\n");
            }
        }
        foreach (var device in devices)
        {
            foreach (var file in device.Files)
            {
                Output.Heading($"[bold]{Markup.Escape(device.Device)}[/]:{Markup.Escape(file.Path)} [grey]{file.Mode} {Markup.Escape(file.Owner)}:{Markup.Escape(file.Group)} {file.Sha256[..12]}[/]");
                Console.Out.Write(file.Content.EndsWith('\n') ? file.Content : file.Content + "\n");
            }
            foreach (var error in device.Errors)
                AnsiConsole.MarkupLine($"[red]error[/] {Markup.Escape(device.Device)}: {Markup.Escape(error.Message)}");
        }
        if (settings.Device is not null && devices.Count == 0)
            throw new CliException($"Device '{settings.Device}' is not in revision {asOf.Revision}.");
        return 0;
    }
}

/// <summary>Options of <c>rig model export</c>.</summary>
public sealed class ModelExportSettings : ConnectionSettings
{
    /// <summary>Target directory.</summary>
    [CommandArgument(0, "<DIR>")]
    [Description("An empty or new directory to write the model files into")]
    public string Directory { get; init; } = "";

    /// <summary>Revision or date.</summary>
    [CommandOption("--at <REV|DATE>")]
    public string? At { get; init; }
}

/// <summary><c>rig model export DIR</c>: the stored model as YAML files (e.g. after `rig device clone`).</summary>
public sealed class ModelExportCommand : AsyncCommand<ModelExportSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ModelExportSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var client = settings.Connect();
        var json = await client.GetAsync<JsonElement>($"api/v1/model{(settings.At is null ? "" : $"?at={Uri.EscapeDataString(settings.At)}")}", cancellationToken).ConfigureAwait(false);
        var model = JsonSerializer.Deserialize(json.GetRawText(), ModelJson.Default.RigModel)! with { Packages = [] };
        var files = ModelFiles.Write(model);
        ModelDirectory.Save(settings.Directory, files);
        if (settings.Json)
            Output.JsonLine(new { directory = Path.GetFullPath(settings.Directory), files = files.Select(f => f.Path) });
        else
            AnsiConsole.MarkupLine($"Wrote {files.Count} files to [bold]{Markup.Escape(settings.Directory)}[/].");
        return 0;
    }
}
