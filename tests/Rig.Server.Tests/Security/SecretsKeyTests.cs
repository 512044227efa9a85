using Rig.Model.Domain;
using Rig.Server.Security;
using Rig.Server.Store;

namespace Rig.Server.Tests.Security;

/// <summary>The secrets key outside the database: created owner-only at init, refused when others may read it or when
/// it does not open the database's values (with what to do, before anything listens), rotated with every value re-sealed.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SecretsKeyTests : IDisposable
{
    private const string Password = "correct-horse-battery-staple";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-secrets-{Guid.NewGuid():n}");

    private ServerOptions Options => new() { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };

    private string KeyPath => SecretsKeyFile.PathIn(_dir);

    private static RigModel SecretModel() => new()
    {
        Secrets = ["db_password"],
        Parameters = new Dictionary<string, string> { ["db_password"] = Password },
    };

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Save the secret model with the data directory's key, as a running gateway would.</summary>
    private async Task SaveSecretModelAsync()
    {
        await using var store = await RigStore.OpenAsync(Options.EffectiveConnectionString);
        store.Secrets = SecretsKeyFile.Load(_dir, create: false);
        await store.SaveModelAsync(SecretModel(), "admin", "with a secret");
    }

    [Fact]
    public async Task Init_creates_the_key_file_readable_by_its_owner_only()
    {
        await GatewayServer.InitializeAsync(Options);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyPath));
        Assert.Equal(SecretBox.KeyBytes, Convert.FromBase64String(File.ReadAllText(KeyPath).Trim()).Length);
    }

    [Fact]
    public async Task A_gateway_refuses_to_start_with_a_group_readable_key_file_saying_how_to_fix_it()
    {
        await GatewayServer.InitializeAsync(Options);
        File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        var refused = await Assert.ThrowsAsync<SecretKeyException>(() => GatewayServer.StartAsync(Options));

        Assert.Contains(KeyPath, refused.Message, StringComparison.Ordinal);
        Assert.Contains("mode 0640", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {KeyPath}", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gateway_refuses_to_start_with_a_key_that_does_not_open_its_secret_values()
    {
        await GatewayServer.InitializeAsync(Options);
        await SaveSecretModelAsync();
        var sealedWith = SecretsKeyFile.Load(_dir, create: false).KeyId;
        SecretsKeyFile.Write(KeyPath, SecretBox.NewKey()); // the wrong key (a restore that mixed up data directories)

        var refused = await Assert.ThrowsAsync<SecretKeyException>(() => GatewayServer.StartAsync(Options));

        Assert.Contains($"sealed with secrets key {sealedWith}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Give the gateway the key it was sealed with", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_key_file_is_refused_when_it_may_not_be_created()
    {
        Directory.CreateDirectory(_dir);

        var refused = Assert.Throws<SecretKeyException>(() => SecretsKeyFile.Load(_dir, create: false));

        Assert.Contains("does not exist", refused.Message, StringComparison.Ordinal);
        Assert.Contains(SecretsKeyFile.KeyVariable, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_can_come_from_the_environment_and_a_malformed_one_is_refused()
    {
        var key = SecretBox.NewKey();

        var box = SecretsKeyFile.Load(_dir, create: false, name => name == SecretsKeyFile.KeyVariable ? Convert.ToBase64String(key) : null);
        var refused = Assert.Throws<SecretKeyException>(() => SecretsKeyFile.Load(_dir, create: false, name => name == SecretsKeyFile.KeyVariable ? "c2hvcnQ=" : null));

        Assert.Equal(SecretBox.IdOf(key), box.KeyId);
        Assert.Contains(SecretsKeyFile.KeyVariable, refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(KeyPath));
    }

    [Fact]
    public void A_sealed_value_opens_only_for_the_identity_it_was_sealed_for()
    {
        var box = new SecretBox(SecretBox.NewKey());
        var sealedText = box.Seal(Password, "param/site/a/db_password");

        Assert.StartsWith($"rigsecret:v1:{box.KeyId}:", sealedText, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, sealedText, StringComparison.Ordinal);
        Assert.NotEqual(sealedText, box.Seal(Password, "param/site/a/db_password")); // a random nonce per value
        Assert.Equal(Password, box.Open(sealedText, "param/site/a/db_password"));
        Assert.Throws<SecretKeyException>(() => box.Open(sealedText, "param/site/b/db_password"));
    }

    [Fact]
    public async Task Rotation_reseals_with_a_new_key_and_keeps_the_old_one_as_a_backup_until_removed()
    {
        await GatewayServer.InitializeAsync(Options);
        await SaveSecretModelAsync();
        var oldKey = File.ReadAllText(KeyPath);

        var rotation = await SecretsKeyRotation.RotateAsync(Options, _ => null);

        Assert.Equal(1, rotation.Values);
        Assert.Equal(oldKey, File.ReadAllText(Path.Combine(_dir, SecretsKeyFile.BackupName)));
        Assert.NotEqual(oldKey, File.ReadAllText(KeyPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyPath));
        Assert.False(File.Exists(Path.Combine(_dir, SecretsKeyFile.NewName)));
        await using (var store = await RigStore.OpenAsync(Options.EffectiveConnectionString))
        {
            store.Secrets = new SecretBox(Convert.FromBase64String(File.ReadAllText(KeyPath).Trim())); // the new key alone
            Assert.Equal(Password, (await store.LoadModelAsync()).Model.Parameters["db_password"]);
        }
        var again = await Assert.ThrowsAsync<SecretKeyException>(() => SecretsKeyRotation.RotateAsync(Options, _ => null));
        Assert.Contains(SecretsKeyFile.BackupName, again.Message, StringComparison.Ordinal);
        await using var server = await GatewayServer.StartAsync(Options); // starts on the rotated key
    }
}
