using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Verification;

namespace BackfillStudio.Engine.Destinations.Postgres;

public sealed record PostgresDestinationSettings(
    string Host, int Port, string Database, string Username, string? Password, string Schema, string SslMode) : DestinationSettings
{
    public override IEnumerable<string?> Secrets => [Password];

    public SourceSettings Connection => new(Host, Port, Database, Username, Password, SslMode);
}

public sealed class PostgresDestinationType : DestinationType<PostgresDestinationSettings>
{
    public override string Name => "postgres";

    public override IReadOnlyList<DestinationField> Fields { get; } =
    [
        new("host", "Host", Required: true, Identity: true),
        new("port", "Port", DestinationFieldKind.Number, Help: "5432 when empty", Identity: true),
        new("database", "Database", Required: true),
        new("username", "Username", Required: true, Identity: true),
        new("password", "Password", DestinationFieldKind.Secret),
        new("schema", "Schema", Help: "public when empty; created if missing"),
        new("ssl_mode", "SSL mode", DestinationFieldKind.Choice, Help: "prefer when empty", Choices: SourceSettings.SslModes),
    ];

    /// <summary>"user" is accepted for "username", so it says where the password goes too.</summary>
    public override IEnumerable<string> IdentityKeys => base.IdentityKeys.Append("user");

    protected override PostgresDestinationSettings ParseSettings(ConfigReader config, ValidationErrors errors) => new(
        config.Required("host"),
        config.Port("port", 5432),
        config.Required("database"),
        config.Optional("username") ?? config.Required("user"),
        config.Optional("password"),
        config.PostgresIdentifier("schema") ?? "public",
        config.SslMode("ssl_mode"));

    protected override IDestinationWriter CreateWriter(PostgresDestinationSettings settings, WriteTarget target, DestinationContext context) =>
        new PostgresDestinationWriter(settings, target, TimeSpan.FromSeconds(context.Options.DdlLockTimeoutSeconds), context.Options.StallTimeoutSeconds);

    protected override IDestinationVerifier CreateVerifier(PostgresDestinationSettings settings, VerifyScope scope, string destination, DestinationContext context) =>
        new PostgresVerifier(settings, scope, destination);

    protected override Task<string> TestAsync(PostgresDestinationSettings settings, DestinationContext context, CancellationToken ct) =>
        PostgresDestinationWriter.TestAsync(settings, ct);

    public override string Summary(Func<string, string?> config) =>
        $"{config("host")}:{config("port") ?? "5432"}/{config("database")} · {config("schema") ?? "public"}";
}
