using Rig.Server.Store;

namespace Rig.Server.Security;

/// <summary><c>rig server rotate-secrets-key</c>: a new secrets key, every sealed value of the database (every model
/// revision, queued commands, rendered files) re-sealed with it in one transaction, the old key kept as
/// <see cref="SecretsKeyFile.BackupName"/> until the operator removes it. Run while the gateway is stopped
/// (docs/OPERATIONS.md, "Rotating the secrets key").</summary>
/// <summary>What a secrets key rotation re-sealed.</summary>
internal sealed record SecretRotation(string OldKeyId, string NewKeyId, int ModelRows, int Values, int Commands, int RenderedFiles);

internal static class SecretsKeyRotation
{
    /// <summary>Rotate the key of the gateway on <paramref name="options"/>' data directory. On failure the database and
    /// the key file are as they were.</summary>
    public static async Task<SecretRotation> RotateAsync(ServerOptions options, Func<string, string?>? environment = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(SecretsKeyFile.KeyVariable) is { Length: > 0 })
        {
            throw new SecretKeyException($"The secrets key comes from {SecretsKeyFile.KeyVariable}, which rig cannot change. Put the key in a file (mode 0600), " +
                $"set {SecretsKeyFile.KeyFileVariable} to it instead, and rotate again; or rotate by hand (docs/OPERATIONS.md).");
        }
        var path = Path.GetFullPath(environment(SecretsKeyFile.KeyFileVariable) is { Length: > 0 } named ? named : SecretsKeyFile.PathIn(options.DataDirectory));
        var directory = Path.GetDirectoryName(path)!;
        var backup = Path.Combine(directory, SecretsKeyFile.BackupName);
        var fresh = Path.Combine(directory, SecretsKeyFile.NewName);
        if (File.Exists(backup) || File.Exists(fresh))
        {
            throw new SecretKeyException($"'{(File.Exists(backup) ? backup : fresh)}' is left from an earlier rotation. Start the gateway once to check that it reads its secrets, " +
                "then remove that file (keep a copy while backups of the database made before that rotation exist) and rotate again.");
        }
        var old = SecretsKeyFile.Load(options.DataDirectory, create: false, environment);
        var key = SecretBox.NewKey();
        var next = new SecretBox(key);
        SecretsKeyFile.Write(fresh, key);
        File.Copy(path, backup); // keeps the old file's 0600 mode
        try
        {
            await using var store = await RigStore.OpenAsync(options.EffectiveConnectionString, ct: ct).ConfigureAwait(false);
            var rotation = await store.ResealAllAsync(old, next, ct).ConfigureAwait(false);
            File.Move(fresh, path, overwrite: true);
            return rotation;
        }
        catch
        {
            File.Delete(fresh);
            File.Delete(backup);
            throw;
        }
    }
}
