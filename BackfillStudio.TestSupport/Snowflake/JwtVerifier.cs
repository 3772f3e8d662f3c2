using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BackfillStudio.TestSupport.Snowflake;

/// <summary>
/// Checks key-pair JWTs as Snowflake does: RS256, signed with the registered key of the user named in <c>sub</c>
/// (<c>ACCOUNT.USER</c> in upper case), <c>iss</c> = <c>ACCOUNT.USER.SHA256:&lt;fingerprint of that key&gt;</c>,
/// not expired, not issued in the future, and valid for at most an hour.
/// </summary>
internal sealed class JwtVerifier
{
    private const string TokenType = "KEYPAIR_JWT";
    private const string BearerPrefix = "Bearer ";
    private const long MaxLifetimeSeconds = 3600;
    private const long AllowedClockSkewSeconds = 60;

    private sealed record RegisteredKey(byte[] SubjectPublicKeyInfo, string Fingerprint);

    private readonly ConcurrentDictionary<string, RegisteredKey> _keys = new(StringComparer.Ordinal);

    public void Register(string account, string user, RSA publicKey)
    {
        var spki = publicKey.ExportSubjectPublicKeyInfo();
        var fingerprint = "SHA256:" + Convert.ToBase64String(SHA256.HashData(spki));
        _keys[$"{account.ToUpperInvariant()}.{user.ToUpperInvariant()}"] = new RegisteredKey(spki, fingerprint);
    }

    /// <returns>Why the request is not authenticated, or null when it is.</returns>
    public string? Reject(string authorization, string tokenType)
    {
        if (!string.Equals(tokenType, TokenType, StringComparison.OrdinalIgnoreCase))
            return $"The X-Snowflake-Authorization-Token-Type header must be {TokenType}.";
        if (!authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            return "The Authorization header must be 'Bearer <token>'.";
        var parts = authorization[BearerPrefix.Length..].Trim().Split('.');
        if (parts.Length != 3) return "The token must have a header, a payload and a signature.";

        JsonObject? header, payload;
        byte[] signature;
        try
        {
            header = ParseJson(parts[0]);
            payload = ParseJson(parts[1]);
            signature = DecodeBase64Url(parts[2]);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return "The token is not made of base64url-encoded JSON.";
        }
        if (header is null || payload is null) return "The token header and payload must be JSON objects.";
        if (JsonFields.GetString(header, "alg") != "RS256") return "The token must be signed with RS256.";

        var subject = JsonFields.GetString(payload, "sub");
        if (subject is null || !_keys.TryGetValue(subject, out var key))
            return $"The subject '{subject}' is not a known ACCOUNT.USER (upper case).";
        if (JsonFields.GetString(payload, "iss") != $"{subject}.{key.Fingerprint}")
            return "The issuer must be ACCOUNT.USER.SHA256:<fingerprint of the user's public key>.";
        if (!SignatureMatches(key, $"{parts[0]}.{parts[1]}", signature))
            return "The signature does not match the user's public key.";
        return LifetimeProblem(payload);
    }

    private static string? LifetimeProblem(JsonObject payload)
    {
        if (!JsonFields.TryGetInteger(payload["iat"], out var issuedAt) || !JsonFields.TryGetInteger(payload["exp"], out var expiresAt))
            return "The token must have numeric iat and exp claims.";
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (expiresAt <= now) return "The token has expired.";
        if (issuedAt > now + AllowedClockSkewSeconds) return "The token is issued in the future.";
        if (expiresAt - issuedAt > MaxLifetimeSeconds) return "The token is valid for more than one hour.";
        return null;
    }

    private static bool SignatureMatches(RegisteredKey key, string signedText, byte[] signature)
    {
        // A fresh RSA per check: RSA instances are not documented as safe for concurrent use.
        using var rsa = RSA.Create();
        rsa.ImportSubjectPublicKeyInfo(key.SubjectPublicKeyInfo, out _);
        try
        {
            return rsa.VerifyData(Encoding.ASCII.GetBytes(signedText), signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static JsonObject? ParseJson(string part) => JsonNode.Parse(Encoding.UTF8.GetString(DecodeBase64Url(part))) as JsonObject;

    private static byte[] DecodeBase64Url(string text)
    {
        var base64 = text.Replace('-', '+').Replace('_', '/');
        base64 += (base64.Length % 4) switch
        {
            0 => "",
            2 => "==",
            3 => "=",
            _ => throw new FormatException("A base64url text cannot have this length."),
        };
        return Convert.FromBase64String(base64);
    }
}
