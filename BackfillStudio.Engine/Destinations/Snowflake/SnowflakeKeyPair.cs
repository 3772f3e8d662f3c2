using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>
/// Key-pair authentication as Snowflake documents it: an RS256 JWT whose issuer names the account, the
/// user and the SHA-256 fingerprint of the public key registered with <c>ALTER USER ... SET RSA_PUBLIC_KEY</c>.
/// </summary>
public sealed class SnowflakeKeyPair : IDisposable
{
    /// <summary>Snowflake accepts at most one hour; a token is renewed well before it ends.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(59);

    private readonly RSA _key;

    public SnowflakeKeyPair(string account, string user, string privateKeyPem, string? passphrase)
    {
        _key = LoadPrivateKey(privateKeyPem, passphrase);
        Subject = $"{JwtAccount(account)}.{user.ToUpperInvariant()}";
        Fingerprint = PublicKeyFingerprint(_key);
    }

    /// <summary><c>ACCOUNT.USER</c>, the JWT's <c>sub</c>.</summary>
    public string Subject { get; }

    /// <summary><c>SHA256:&lt;base64&gt;</c>, what <c>DESCRIBE USER</c> shows as RSA_PUBLIC_KEY_FP.</summary>
    public string Fingerprint { get; }

    public static RSA LoadPrivateKey(string pem, string? passphrase)
    {
        var rsa = RSA.Create();
        try
        {
            if (passphrase is null) rsa.ImportFromPem(pem);
            else rsa.ImportFromEncryptedPem(pem, passphrase);
            return rsa;
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    public static string PublicKeyFingerprint(RSA key) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));

    /// <summary>
    /// The account as the JWT names it: upper case; an account locator loses its region
    /// (<c>xy12345.us-east-1</c> → <c>XY12345</c>) and other periods become hyphens.
    /// </summary>
    public static string JwtAccount(string account)
    {
        var upper = account.Trim().ToUpperInvariant();
        var dot = upper.IndexOf('.');
        if (dot < 0) return upper;
        var rest = upper[(dot + 1)..];
        var isRegion = rest.Contains('-') || rest is "GLOBAL" || rest.StartsWith("AWS", StringComparison.Ordinal)
            || rest.StartsWith("AZURE", StringComparison.Ordinal) || rest.StartsWith("GCP", StringComparison.Ordinal);
        return isRegion ? upper[..dot] : upper.Replace('.', '-');
    }

    public string CreateToken(DateTimeOffset now)
    {
        var header = new { alg = "RS256", typ = "JWT" };
        var payload = new Dictionary<string, object>
        {
            ["iss"] = $"{Subject}.{Fingerprint}",
            ["sub"] = Subject,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["exp"] = now.Add(Lifetime).ToUnixTimeSeconds(),
        };
        var signingInput = $"{Base64Url(JsonSerializer.SerializeToUtf8Bytes(header))}.{Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload))}";
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return $"{signingInput}.{Base64Url(signature)}";
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => _key.Dispose();
}
