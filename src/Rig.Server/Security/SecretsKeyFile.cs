namespace Rig.Server.Security;

/// <summary>Where the gateway's secrets key comes from: <c>RIG_SECRETS_KEY</c> (base64 of 32 bytes), else the file
/// <c>RIG_SECRETS_KEY_FILE</c> names, else <c>secrets.key</c> in the data directory, created (mode 0600) when the data
/// directory is initialised or the gateway first starts. A key file that its group or others may read is refused.
/// The key is never in the database: a copy of the database alone reveals no secret value.</summary>
internal static class SecretsKeyFile
{
    /// <summary>The key file's name in the data directory.</summary>
    public const string FileName = "secrets.key";

    /// <summary>The previous key, kept by <c>rig server rotate-secrets-key</c> until the operator removes it.</summary>
    public const string BackupName = "secrets.key.old";

    /// <summary>The new key while <c>rig server rotate-secrets-key</c> runs; renamed to <see cref="FileName"/> when the
    /// database is re-sealed.</summary>
    public const string NewName = "secrets.key.new";

    /// <summary>The key itself, base64.</summary>
    public const string KeyVariable = "RIG_SECRETS_KEY";

    /// <summary>A file holding the key, base64.</summary>
    public const string KeyFileVariable = "RIG_SECRETS_KEY_FILE";

    /// <summary>The key file's path in <paramref name="dataDirectory"/>.</summary>
    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>The key for a gateway on <paramref name="dataDirectory"/>: from the environment, or the data directory's
    /// file, created when <paramref name="create"/> and there is none. Also opens values sealed with the backup key
    /// when its file is there (a rotation that stopped half way).</summary>
    public static SecretBox Load(string dataDirectory, bool create, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(KeyVariable) is { Length: > 0 } inline)
            return new SecretBox(Decode(inline, $"the environment variable {KeyVariable}"));
        var path = environment(KeyFileVariable) is { Length: > 0 } named ? named : PathIn(dataDirectory);
        if (!File.Exists(path))
        {
            if (!create || path != PathIn(dataDirectory))
            {
                throw new SecretKeyException($"The secrets key file '{path}' does not exist. Restore it from your backup of the data directory, " +
                    $"or set {KeyVariable}/{KeyFileVariable}; without it the secret values in the database cannot be read.");
            }
            Write(path, SecretBox.NewKey());
        }
        var key = Read(path);
        // A rotation that stopped half way leaves the other key beside this one: the ring opens values sealed with either.
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var others = new[] { BackupName, NewName }.Select(n => Path.Combine(directory, n)).Where(File.Exists).Select(Read).ToArray();
        return new SecretBox(key, others);
    }

    /// <summary>Read a key file, refusing one its group or others may read.</summary>
    public static byte[] Read(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            const UnixFileMode exposed = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & exposed) != 0)
            {
                throw new SecretKeyException($"The secrets key file '{path}' may be read by its group or others (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); " +
                    $"it must be readable by its owner only. Run `chmod 600 {path}`, and if others may have read it, rotate the key (`rig server rotate-secrets-key`).");
            }
        }
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SecretKeyException($"The secrets key file '{path}' cannot be read ({e.Message}); the gateway must run as the user that owns it.");
        }
        return Decode(text, $"the file '{path}'");
    }

    /// <summary>Write <paramref name="key"/> to <paramref name="path"/> (mode 0600, flushed, replaced atomically).</summary>
    public static void Write(string path, byte[] key) => Protocol.Trust.WritePrivateFile(path, Convert.ToBase64String(key) + "\n");

    private static byte[] Decode(string text, string where)
    {
        try
        {
            var key = Convert.FromBase64String(text.Trim());
            if (key.Length == SecretBox.KeyBytes)
                return key;
        }
        catch (FormatException)
        {
        }
        throw new SecretKeyException($"The secrets key in {where} is not the base64 of {SecretBox.KeyBytes} bytes. Give the key the gateway was set up with " +
            $"(a new one: `head -c 32 /dev/urandom | base64`, only for a gateway with no secret values yet).");
    }
}
