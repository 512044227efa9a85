using System.Text.RegularExpressions;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Protocol;

namespace Rig.Model.Files;

/// <summary>The YAML model-file format (docs/MODEL.md): a directory of <c>*.yaml</c>/<c>*.yml</c> files and
/// template files under <c>templates/</c> is one model. Pure: the caller reads and writes the files
/// (Rig.Cli's ModelDirectory).</summary>
public static partial class ModelFiles
{
    /// <summary>The directory template files live in; files under it are never read as model YAML.</summary>
    public const string TemplatesDirectory = "templates";

    /// <summary>Read a model directory's files. Every error is reported with file, line, column and key; when
    /// there is any, <see cref="ModelFileResult.Model"/> is null. Semantic checks (unknown devices, cycles,
    /// template parameters...) are <see cref="Validation.ModelValidator"/>'s: pass its errors to <see cref="Locate"/>.</summary>
    public static ModelFileResult Read(IReadOnlyList<ModelSourceFile> files) => Read(files, RigLimits.Default);

    /// <summary>Read with explicit limits (tests shrink them).</summary>
    public static ModelFileResult Read(IReadOnlyList<ModelSourceFile> files, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(limits);
        return new ModelFileReader(limits).Read(files);
    }

    /// <summary>Export a model as a directory of YAML files plus one file per template under
    /// <c>templates/</c>; <c>Read(Write(m))</c> gives back <c>m</c> for any model without duplicate names.</summary>
    public static IReadOnlyList<ModelSourceFile> Write(RigModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ModelFileWriter.Write(model);
    }

    /// <summary>Give validation, desired-state and planning errors the file position of what they are about
    /// (the longest recorded prefix of their <see cref="ModelError.Where"/>; a template syntax error points
    /// into the template file itself when the template came from one).</summary>
    public static IReadOnlyList<ModelFileError> Locate(IReadOnlyList<ModelError> errors, SourceMap map)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(map);
        return [.. errors.Select(e => new ModelFileError(e.Code, TemplateSyntaxLocation(e, map) ?? map.Find(e.Where) ?? SourceLocation.Unknown, e.Where, e.Message))];
    }

    private static SourceLocation? TemplateSyntaxLocation(ModelError error, SourceMap map)
    {
        const string prefix = "templates/";
        if (error.Code != "template.syntax" || !error.Where.StartsWith(prefix, StringComparison.Ordinal))
            return null;
        if (map.TemplateFile(error.Where[prefix.Length..]) is not { } file)
            return null;
        var position = TemplatePosition().Match(error.Message);
        return position.Success
            ? new SourceLocation(file, int.Parse(position.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(position.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))
            : new SourceLocation(file, 1, 1);
    }

    /// <summary>Fluid reports a syntax error's position as "(line:column)".</summary>
    [GeneratedRegex(@"\((\d{1,9}):(\d{1,9})\)", RegexOptions.CultureInvariant)]
    private static partial Regex TemplatePosition();
}
