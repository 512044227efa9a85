using System.Security.Cryptography;
using System.Text;

namespace Rig.Server.Security;

/// <summary>Secret tokens (enrollment, operator). Only their SHA-256 is stored; the token itself is shown once.</summary>
internal static class Tokens
{
    /// <summary>A new random token with a readable prefix (<c>rigenroll_</c>, <c>rigop_</c>).</summary>
    public static string Create(string prefix) => prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The stored form of a token.</summary>
    public static string Hash(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }
}
