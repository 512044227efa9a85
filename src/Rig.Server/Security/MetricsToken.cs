namespace Rig.Server.Security;

/// <summary>The read-only metrics token of a gateway: its SHA-256 in <c>DATA/metrics-token.sha256</c> (mode 0600), written
/// by <c>rig server metrics-token</c>. Read again when the file changes, so a new token works without a restart and the
/// old one stops working at once.</summary>
internal sealed class MetricsToken(string dataDirectory)
{
    private readonly Lock _gate = new();
    private (DateTime Written, long Length, string? Hash) _cached = (DateTime.MinValue, -1, null);

    /// <summary>The file holding the token's hash.</summary>
    public string FilePath { get; } = System.IO.Path.Combine(dataDirectory, "metrics-token.sha256");

    /// <summary>Make a new metrics token (the previous one stops working) and return it; only its hash is kept.</summary>
    public string Create()
    {
        var token = Tokens.Create("rigmet_");
        Protocol.Trust.WritePrivateFile(FilePath, Tokens.Hash(token) + "\n");
        return token;
    }

    /// <summary>True when <paramref name="hash"/> is the current metrics token's hash.</summary>
    public bool Matches(string hash)
    {
        var file = new FileInfo(FilePath);
        if (!file.Exists)
            return false;
        lock (_gate)
        {
            if (_cached.Written != file.LastWriteTimeUtc || _cached.Length != file.Length)
            {
                string? stored;
                try
                {
                    stored = File.ReadAllText(FilePath).Trim();
                }
                catch (IOException)
                {
                    return false;
                }
                _cached = (file.LastWriteTimeUtc, file.Length, stored.Length == 64 ? stored : null);
            }
            return _cached.Hash is { } current && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.ASCII.GetBytes(current), System.Text.Encoding.ASCII.GetBytes(hash));
        }
    }
}
