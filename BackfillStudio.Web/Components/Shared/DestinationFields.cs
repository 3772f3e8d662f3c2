using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Destinations.Snowflake;
using BackfillStudio.Engine.Sources;

namespace BackfillStudio.Web.Components.Shared;

public enum DestinationFieldKind { Text, Number, Secret, MultilineSecret, Choice }

/// <summary>One setting in a destination's <c>config</c>, as the destination form shows it.</summary>
public sealed record DestinationField(string Key, string Label, DestinationFieldKind Kind = DestinationFieldKind.Text,
    bool Required = false, string? Help = null, IReadOnlyList<string>? Choices = null)
{
    public bool IsSecret => Kind is DestinationFieldKind.Secret or DestinationFieldKind.MultilineSecret;
}

/// <summary>The form fields of each destination type; keys match <see cref="DestinationSettings.Parse"/>.</summary>
public static class DestinationFields
{
    public static IReadOnlyList<DestinationField> For(string? type) => type switch
    {
        "postgres" =>
        [
            new("host", "Host", Required: true),
            new("port", "Port", DestinationFieldKind.Number, Help: "5432 when empty"),
            new("database", "Database", Required: true),
            new("username", "Username", Required: true),
            new("password", "Password", DestinationFieldKind.Secret),
            new("schema", "Schema", Help: "public when empty; created if missing"),
            new("ssl_mode", "SSL mode", DestinationFieldKind.Choice, Help: "prefer when empty", Choices: SourceSettings.SslModes),
        ],
        "duckdb" =>
        [
            new("path", "Database file", Required: true, Help: "Path of the .duckdb file on the engine's machine; created if missing"),
            new("schema", "Schema", Help: "main when empty"),
        ],
        "parquet" => [new("path", "Folder", Required: true, Help: "One folder per table, one file per batch, on the engine's machine")],
        "snowflake" =>
        [
            new("account", "Account identifier", Required: true, Help: "e.g. myorg-myaccount"),
            new("user", "User", Required: true),
            new("private_key", "Private key (PEM, PKCS#8)", DestinationFieldKind.MultilineSecret),
            new("private_key_passphrase", "Private key passphrase", DestinationFieldKind.Secret),
            new("token", "OAuth or programmatic access token", DestinationFieldKind.Secret, Help: "Instead of a private key"),
            new("token_type", "Token type", DestinationFieldKind.Choice, Help: "OAUTH when empty", Choices: SnowflakeDestinationSettings.TokenTypes),
            new("warehouse", "Warehouse", Required: true),
            new("database", "Database", Required: true),
            new("schema", "Schema", Required: true),
            new("role", "Role"),
            new("base_url", "Base URL", Help: "https://<account>.snowflakecomputing.com when empty"),
            new("identifier_case", "Identifier case", DestinationFieldKind.Choice,
                Help: "lower (default) keeps PostgreSQL's names; upper matches unquoted Snowflake names", Choices: SnowflakeDestinationSettings.IdentifierCases),
        ],
        _ => [],
    };
}
