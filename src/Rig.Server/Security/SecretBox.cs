using System.Security.Cryptography;
using System.Text;

namespace Rig.Server.Security;

/// <summary>A secrets key is missing, unreadable, exposed or not the one the database's values were sealed with. The
/// message says which key, where it was looked for and what to do.</summary>
internal sealed class SecretKeyException(string message) : InvalidOperationException(message);

/// <summary>Seals and opens secret values with AES-256-GCM. A sealed value is one text,
/// <c>rigsecret:v1:KEYID:BASE64(nonce 12 | tag 16 | ciphertext)</c>, with a random nonce per value and the value's
/// identity (e.g. <c>param/site/shop/db_password</c>) as associated data, so a ciphertext copied to another parameter
/// (or another command) does not open. Seals with the current key; opens with any key of the ring, chosen by id.</summary>
internal sealed class SecretBox
{
    /// <summary>Every sealed value starts with this.</summary>
    public const string Prefix = "rigsecret:v1:";

    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    /// <summary>Key length: AES-256.</summary>
    public const int KeyBytes = 32;

    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    /// <summary>A box that seals with <paramref name="key"/> and also opens values sealed with <paramref name="older"/>.</summary>
    public SecretBox(byte[] key, params byte[][] older)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != KeyBytes)
            throw new SecretKeyException($"A secrets key is {KeyBytes} bytes (AES-256); this one is {key.Length}. Give the base64 of 32 random bytes (`head -c 32 /dev/urandom | base64`).");
        KeyId = IdOf(key);
        _keys[KeyId] = key;
        foreach (var k in older)
            _keys.TryAdd(IdOf(k), k);
    }

    /// <summary>The id of the key values are sealed with: the first 12 hex digits of its SHA-256 (names a key, reveals nothing).</summary>
    public string KeyId { get; }

    /// <summary>A new random key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeyBytes);

    /// <summary>The id of <paramref name="key"/>.</summary>
    public static string IdOf(byte[] key) => Convert.ToHexStringLower(SHA256.HashData(key))[..12];

    /// <summary>Whether <paramref name="text"/> is a sealed value.</summary>
    public static bool IsSealed(string? text) => text is not null && text.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The key id a sealed value names.</summary>
    public static string KeyIdOf(string sealedText)
    {
        ArgumentNullException.ThrowIfNull(sealedText);
        var rest = sealedText.AsSpan(Prefix.Length);
        var colon = rest.IndexOf(':');
        return colon < 0 ? "" : rest[..colon].ToString();
    }

    /// <summary>Seal <paramref name="plaintext"/> bound to <paramref name="identity"/>.</summary>
    public string Seal(string plaintext, string identity)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(identity);
        var data = Encoding.UTF8.GetBytes(plaintext);
        var blob = new byte[NonceBytes + TagBytes + data.Length];
        var nonce = blob.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_keys[KeyId], TagBytes);
        aes.Encrypt(nonce, data, blob.AsSpan(NonceBytes + TagBytes), blob.AsSpan(NonceBytes, TagBytes), Encoding.UTF8.GetBytes(identity));
        return $"{Prefix}{KeyId}:{Convert.ToBase64String(blob)}";
    }

    /// <summary>Open a sealed value bound to <paramref name="identity"/>. A key the ring does not hold, a value sealed for
    /// another identity or altered, throw <see cref="SecretKeyException"/> saying which.</summary>
    public string Open(string sealedText, string identity)
    {
        ArgumentNullException.ThrowIfNull(sealedText);
        ArgumentNullException.ThrowIfNull(identity);
        if (!IsSealed(sealedText))
            throw new SecretKeyException($"The secret value of {identity} is not sealed ({Prefix}...); the database was changed by hand. Apply the model with the value again.");
        var id = KeyIdOf(sealedText);
        if (!_keys.TryGetValue(id, out var key))
        {
            throw new SecretKeyException(
                $"The secret value of {identity} was sealed with secrets key {id}, but the gateway has key {KeyId}. Give the gateway the key it was sealed with " +
                $"({SecretsKeyFile.FileName} in the data directory, {SecretsKeyFile.KeyVariable} or {SecretsKeyFile.KeyFileVariable}; after a rotation the old key is in {SecretsKeyFile.BackupName}) and start again.");
        }
        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(sealedText[(Prefix.Length + id.Length + 1)..]);
        }
        catch (FormatException)
        {
            blob = [];
        }
        if (blob.Length < NonceBytes + TagBytes)
            throw new SecretKeyException($"The secret value of {identity} is damaged (not base64 of nonce, tag and ciphertext); apply the model with the value again.");
        var plain = new byte[blob.Length - NonceBytes - TagBytes];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(blob.AsSpan(0, NonceBytes), blob.AsSpan(NonceBytes + TagBytes), blob.AsSpan(NonceBytes, TagBytes), plain, Encoding.UTF8.GetBytes(identity));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SecretKeyException($"The secret value of {identity} does not open with key {id}: it was altered, or sealed for another parameter and moved. Apply the model with the value again.");
        }
        return Encoding.UTF8.GetString(plain);
    }
}
