using Rig.Model.Domain;

namespace Rig.Model.Files;

/// <summary>One file of a model directory: its path relative to the directory ('/'-separated) and its text.</summary>
public sealed record ModelSourceFile(string Path, string Text);

/// <summary>A position in a model file; <see cref="Line"/> and <see cref="Column"/> are 1-based (0 when the
/// position is not known).</summary>
public sealed record SourceLocation(string File, int Line, int Column)
{
    /// <summary>Where no file position is known (an object the files did not describe).</summary>
    public static SourceLocation Unknown { get; } = new("(model)", 0, 0);

    /// <inheritdoc />
    public override string ToString() => Line > 0 ? $"{File}:{Line}:{Column}" : File;
}

/// <summary>A problem in the model files: a stable code, the file position, the key as a model path
/// (<c>devices/web-1/hardware/cpus</c>) and a message saying what was wrong and what to do.</summary>
public sealed record ModelFileError(string Code, SourceLocation Location, string Key, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Location}: {Message} [{Code}]";
}

/// <summary>What reading a model directory gave: the model (null when there is any error, so nothing half-read
/// is ever applied), the positions of everything read, and every error.</summary>
public sealed record ModelFileResult(RigModel? Model, SourceMap Map, IReadOnlyList<ModelFileError> Errors)
{
    /// <summary>When there are errors: the model as far as the files could be read (objects with errors left out), for
    /// model-level checks in the same run; null otherwise.</summary>
    public RigModel? Partial { get; init; }
}

/// <summary>The codes of the errors found while reading model files (the validator's codes are in docs/MODEL.md).</summary>
public static class ModelFileCodes
{
    /// <summary>The text is not YAML (YamlDotNet's message and position).</summary>
    public const string YamlSyntax = "file.yaml-syntax";
    /// <summary>An alias (<c>*name</c>); model files do not use anchors and aliases.</summary>
    public const string YamlAlias = "file.yaml-alias";
    /// <summary>Nesting deeper than <c>RigLimits.MaxModelFileDepth</c>.</summary>
    public const string TooDeep = "file.too-deep";
    /// <summary>A file larger than <c>RigLimits.MaxModelFileBytes</c>.</summary>
    public const string TooLarge = "file.too-large";
    /// <summary>A key the format does not know (the closest known key is suggested).</summary>
    public const string UnknownKey = "file.unknown-key";
    /// <summary>A scalar, list or map where another of the three is expected.</summary>
    public const string WrongType = "file.wrong-type";
    /// <summary>Not a whole number.</summary>
    public const string NotANumber = "file.not-a-number";
    /// <summary>Not <c>true</c> or <c>false</c>.</summary>
    public const string NotABool = "file.not-a-bool";
    /// <summary>A required key is missing or has no value.</summary>
    public const string MissingKey = "file.missing-key";
    /// <summary>A value the format cannot read (e.g. <c>package: a b c</c>, a template path outside the directory).</summary>
    public const string InvalidValue = "file.invalid-value";
    /// <summary>A key given twice in one map.</summary>
    public const string DuplicateKey = "file.duplicate-key";
    /// <summary>A name defined twice, in one file or across files.</summary>
    public const string DuplicateName = "file.duplicate-name";
    /// <summary>A template's <c>file:</c> is not among the model directory's files.</summary>
    public const string TemplateMissing = "file.template-missing";
    /// <summary>A template with both or neither of <c>text:</c> and <c>file:</c>.</summary>
    public const string TemplateSource = "file.template-source";
    /// <summary>An item with none, or more than one, of package/bundle/file/service/reboot.</summary>
    public const string ItemKind = "file.item-kind";
}
