using System.Text.RegularExpressions;

namespace Rig.Protocol;

/// <summary>What a name or version may contain. Checked at every boundary (import, model, agent), so that
/// nothing that reaches a package manager's argument vector can look like an option or shell syntax (CHECKLIST 14).</summary>
public static partial class Names
{
    /// <summary>Package names: letters, digits, and <c>+ . _ -</c>, starting with a letter or digit, at most 128.</summary>
    public static bool IsValidPackageName(string? value) => value is { Length: > 0 and <= 128 } && PackageNameRegex().IsMatch(value);

    /// <summary>Versions: letters, digits and <c>. + ~ : _ -</c> (Debian epochs and tildes), starting with a letter or digit.</summary>
    public static bool IsValidVersion(string? value) => value is { Length: > 0 and <= 128 } && VersionRegex().IsMatch(value);

    /// <summary>Model object names (sites, devices, roles, bundles, role kinds): lower-case DNS-label-like. Template
    /// names follow the package-name rule (they often carry a file extension).</summary>
    public static bool IsValidObjectName(string? value) => value is { Length: > 0 and <= 63 } && ObjectNameRegex().IsMatch(value);

    /// <summary>Parameter names: identifiers usable in templates (<c>params.http_port</c>).</summary>
    public static bool IsValidParameterName(string? value) => value is { Length: > 0 and <= 128 } && ParameterNameRegex().IsMatch(value);

    /// <summary>A lower-case hex SHA-256 digest.</summary>
    public static bool IsValidSha256(string? value) => value is { Length: 64 } && Sha256Regex().IsMatch(value);

    /// <summary>Service names as systemd accepts them, without shell metacharacters.</summary>
    public static bool IsValidServiceName(string? value) => value is { Length: > 0 and <= 128 } && ServiceNameRegex().IsMatch(value);

    /// <summary>An explanation of the package-name rule for error messages.</summary>
    public const string PackageNameRule = "letters, digits and '+._-', starting with a letter or digit, at most 128 characters";

    /// <summary>An explanation of the version rule for error messages.</summary>
    public const string VersionRule = "letters, digits and '.+~:_-', starting with a letter or digit, at most 128 characters";

    /// <summary>An explanation of the object-name rule for error messages.</summary>
    public const string ObjectNameRule = "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

    /// <summary>An explanation of the parameter-name rule for error messages.</summary>
    public const string ParameterNameRule = "a letter or '_' followed by letters, digits or '_'";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9+._-]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex PackageNameRegex();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9.+~:_-]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionRegex();

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]*[a-z0-9])?\z", RegexOptions.CultureInvariant)]
    private static partial Regex ObjectNameRegex();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex ParameterNameRegex();

    [GeneratedRegex(@"^[0-9a-f]{64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Sha256Regex();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9@._:-]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex ServiceNameRegex();
}
