using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rig.Cli.Operator;

/// <summary>A named gateway an operator talks to from a workstation: its operator API URL, the CA it trusts (checked
/// against a pin when added) and the file holding the token (the token itself is never stored here).</summary>
internal sealed record ClientContext(string Server, string CaPin, string CaFile, string TokenFile);

/// <summary>The contexts file, <c>$XDG_CONFIG_HOME/rig/contexts.json</c> (else <c>~/.config/rig/contexts.json</c>),
/// with the CA certificates beside it.</summary>
internal sealed record ClientContexts
{
    /// <summary>The context operator commands use when none is named.</summary>
    public string? Current { get; init; }

    /// <summary>Contexts by name.</summary>
    public Dictionary<string, ClientContext> Contexts { get; init; } = new(StringComparer.Ordinal);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The directory of the contexts file.</summary>
    public static string Directory => Path.Combine(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } config ? config
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"), "rig");

    /// <summary>The contexts file.</summary>
    public static string FilePath => Path.Combine(Directory, "contexts.json");

    /// <summary>Read the file; an absent file is no contexts.</summary>
    public static ClientContexts Load()
    {
        if (!File.Exists(FilePath))
            return new ClientContexts();
        try
        {
            return JsonSerializer.Deserialize<ClientContexts>(File.ReadAllText(FilePath), Json) ?? new ClientContexts();
        }
        catch (JsonException e)
        {
            throw new CliException($"The contexts file {FilePath} is not valid JSON: {e.Message}.", "bad-contexts-file", "Fix or delete the file, then `rig context add` again.");
        }
    }

    /// <summary>Write the file (owner-only: it names token files and gateways).</summary>
    public void Save()
    {
        System.IO.Directory.CreateDirectory(Directory);
        Rig.Protocol.Trust.WritePrivateFile(FilePath, JsonSerializer.Serialize(this, Json));
    }

    /// <summary>A context's stored CA certificate path.</summary>
    public static string CaFileOf(string name) => Path.Combine(Directory, $"{name}.ca.crt");

    /// <summary>Check a context name: it becomes a file name.</summary>
    public static void CheckName(string name)
    {
        if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || name[0] == '.' || name[0] == '-')
            throw new UsageException($"'{name}' is not a context name: use 1-64 letters, digits, '-', '_' or '.', not starting with '.' or '-'.");
    }

    /// <summary>The pin of a CA certificate (<c>sha256:</c> + hex of its DER), as `rig server init` prints it.</summary>
    public static string PinOf(X509Certificate2 certificate) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
}
