using System.Security.Cryptography;
using BackfillStudio.Engine.Common;

namespace BackfillStudio.Engine.Destinations.Snowflake;

/// <summary>
/// A Snowflake account reached through the SQL API v2, authenticated with a key pair (JWT) or a token.
/// <see cref="UppercaseIdentifiers"/> is the one case rule: keep PostgreSQL's names as they are (quoted,
/// so lowercase stays lowercase) or upper-case them, as unquoted Snowflake names are.
/// </summary>
public sealed record SnowflakeDestinationSettings(
    string Account,
    string User,
    string? PrivateKey,
    string? PrivateKeyPassphrase,
    string? Token,
    string TokenType,
    string Warehouse,
    string Database,
    string Schema,
    string? Role,
    Uri BaseUrl,
    bool UppercaseIdentifiers) : DestinationSettings
{
    public static readonly string[] TokenTypes = ["OAUTH", "PROGRAMMATIC_ACCESS_TOKEN"];
    public static readonly string[] IdentifierCases = ["lower", "upper"];

    public override IEnumerable<string?> Secrets => [PrivateKey, PrivateKeyPassphrase, Token];

    /// <summary>Snowflake's name for an object of ours, following the case rule.</summary>
    public string Name(string name) => UppercaseIdentifiers ? name.ToUpperInvariant() : name;

    internal static SnowflakeDestinationSettings Parse(ConfigReader reader, ValidationErrors errors)
    {
        var account = reader.Required("account");
        var privateKey = reader.Optional("private_key");
        var passphrase = reader.Optional("private_key_passphrase");
        var token = reader.Optional("token");
        var settings = new SnowflakeDestinationSettings(
            account,
            reader.Required("user"),
            privateKey,
            passphrase,
            token,
            reader.OneOf("token_type", "OAUTH", TokenTypes),
            reader.Required("warehouse"),
            reader.Required("database"),
            reader.Required("schema"),
            reader.Optional("role"),
            ParseBaseUrl(reader.Optional("base_url"), account, errors),
            reader.OneOf("identifier_case", "lower", IdentifierCases) == "upper");
        if ((privateKey is null) == (token is null))
            errors.Add("config.private_key", "Give either 'private_key' (key-pair authentication) or 'token', not both or neither.");
        else if (privateKey is not null && KeyError(privateKey, passphrase) is { } keyError)
            errors.Add("config.private_key", keyError);
        return settings;
    }

    private static Uri ParseBaseUrl(string? configured, string account, ValidationErrors errors)
    {
        if (configured is null)
        {
            if (Uri.TryCreate($"https://{account.ToLowerInvariant()}.snowflakecomputing.com", UriKind.Absolute, out var derived)
                && derived.Host == $"{account.ToLowerInvariant()}.snowflakecomputing.com")
                return derived;
            if (account.Length > 0) errors.Add("config.account", "'account' must be a Snowflake account identifier (letters, digits, '-', '_' and '.'), as in its URL.");
            return new Uri("https://invalid.invalid");
        }
        // Plain http only to this machine (a local proxy or emulator): tokens and signed JWTs must not cross a network in clear text.
        // No user name, password or query: the URL is shown to everyone who may read destinations.
        if (Uri.TryCreate(configured, UriKind.Absolute, out var uri) && (uri.Scheme == "https" || uri.Scheme == "http" && uri.IsLoopback)
            && uri.UserInfo.Length == 0 && uri.Query.Length == 0)
            return uri;
        errors.Add("config.base_url", "'base_url' must be an absolute https:// URL (http:// only for localhost), without a user name, password or query.");
        return new Uri("https://invalid.invalid");
    }

    private static string? KeyError(string pem, string? passphrase)
    {
        try
        {
            using var key = SnowflakeKeyPair.LoadPrivateKey(pem, passphrase);
            return null;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return passphrase is null && pem.Contains("ENCRYPTED", StringComparison.Ordinal)
                ? "The private key is encrypted: give 'private_key_passphrase'."
                : "'private_key' must be an RSA private key in PEM (PKCS#8) form, with the right passphrase if it is encrypted.";
        }
    }
}
