using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Verification;

namespace BackfillStudio.Engine.Destinations.Snowflake;

public sealed class SnowflakeDestinationType : DestinationType<SnowflakeDestinationSettings>
{
    /// <summary>The named HttpClient of the SQL API (its timeout is set where it is registered).</summary>
    public const string HttpClientName = "snowflake";

    public override string Name => "snowflake";

    public override IReadOnlyList<DestinationField> Fields { get; } =
    [
        new("account", "Account identifier", Required: true, Help: "e.g. myorg-myaccount", Identity: true),
        new("user", "User", Required: true, Identity: true),
        new("private_key", "Private key (PEM, PKCS#8)", DestinationFieldKind.MultilineSecret),
        new("private_key_passphrase", "Private key passphrase", DestinationFieldKind.Secret),
        new("token", "OAuth or programmatic access token", DestinationFieldKind.Secret, Help: "Instead of a private key"),
        new("token_type", "Token type", DestinationFieldKind.Choice, Help: "OAUTH when empty", Choices: SnowflakeDestinationSettings.TokenTypes),
        new("warehouse", "Warehouse", Required: true),
        new("database", "Database", Required: true),
        new("schema", "Schema", Required: true),
        new("role", "Role"),
        new("base_url", "Base URL", Help: "https://<account>.snowflakecomputing.com when empty", Identity: true),
        new("identifier_case", "Identifier case", DestinationFieldKind.Choice,
            Help: "lower (default) keeps PostgreSQL's names; upper matches unquoted Snowflake names", Choices: SnowflakeDestinationSettings.IdentifierCases),
    ];

    protected override SnowflakeDestinationSettings ParseSettings(ConfigReader config, ValidationErrors errors) =>
        SnowflakeDestinationSettings.Parse(config, errors);

    public static SnowflakeSqlApiClient Client(SnowflakeDestinationSettings settings, DestinationContext context) =>
        new(context.HttpClients.CreateClient(HttpClientName), settings, TimeProvider.System);

    protected override IDestinationWriter CreateWriter(SnowflakeDestinationSettings settings, WriteTarget target, DestinationContext context) =>
        new SnowflakeDestinationWriter(Client(settings, context), settings, target);

    protected override IDestinationVerifier CreateVerifier(SnowflakeDestinationSettings settings, VerifyScope scope, string destination, DestinationContext context) =>
        new SnowflakeVerifier(Client(settings, context), settings, scope, destination);

    protected override async Task<string> TestAsync(SnowflakeDestinationSettings settings, DestinationContext context, CancellationToken ct)
    {
        using var client = Client(settings, context);
        return await SnowflakeDestinationWriter.TestAsync(client, ct);
    }

    public override string Summary(Func<string, string?> config) => $"{config("account")} · {config("database")}.{config("schema")}";
}
