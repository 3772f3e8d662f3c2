using Microsoft.Extensions.Logging;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Verification;

namespace BackfillStudio.Engine.Destinations;

/// <summary>What the engine gives a destination type at run time.</summary>
public sealed record DestinationContext(BackfillOptions Options, IHttpClientFactory HttpClients, ILoggerFactory Loggers);

/// <summary>
/// Everything that makes a kind of destination: its fields (the API's validation, secret handling and the UI form
/// all read them), parsing its settings, its writer and verifier, and its connection test. One per destination
/// folder, listed once in <see cref="DestinationTypes"/>.
/// </summary>
public abstract class DestinationType
{
    /// <summary>The <c>type</c> of the API and of the stored destination.</summary>
    public abstract string Name { get; }

    public abstract IReadOnlyList<DestinationField> Fields { get; }

    public abstract Type SettingsType { get; }

    public IEnumerable<string> SecretKeys => Fields.Where(f => f.IsSecret).Select(f => f.Key);

    /// <summary>
    /// Whether the rows go to a path on the engine's machine (a file, a folder), so the destination belongs to the engine
    /// that can reach it (<see cref="Persistence.DestinationEntity.EngineName"/>) rather than to any engine.
    /// </summary>
    public virtual bool IsLocal => false;

    /// <summary>The settings that say where the secrets are sent (see <see cref="DestinationField.Identity"/>).</summary>
    public virtual IEnumerable<string> IdentityKeys => Fields.Where(f => f.Identity).Select(f => f.Key);

    /// <summary>Every key a <c>config</c> may hold: the fields', and aliases such as PostgreSQL's "user".</summary>
    public IReadOnlySet<string> SettingKeys => Fields.Select(f => f.Key).Concat(IdentityKeys).ToHashSet(StringComparer.Ordinal);

    /// <summary>Reads and validates the settings; errors are keyed <c>config.&lt;name&gt;</c>.</summary>
    public abstract DestinationSettings Parse(ConfigReader config, ValidationErrors errors);

    public abstract IDestinationWriter CreateWriter(DestinationSettings settings, WriteTarget target, DestinationContext context);

    /// <param name="destination">How messages name the destination.</param>
    public abstract IDestinationVerifier CreateVerifier(DestinationSettings settings, VerifyScope scope, string destination, DestinationContext context);

    /// <summary>Connects and returns the server's version (or what was checked); throws when it cannot.</summary>
    public abstract Task<string> TestAsync(DestinationSettings settings, DestinationContext context, CancellationToken ct);

    /// <summary>A one-line summary of where the rows go, from the public settings only.</summary>
    public abstract string Summary(Func<string, string?> config);
}

/// <summary>A <see cref="DestinationType"/> whose methods take its own settings record.</summary>
public abstract class DestinationType<TSettings> : DestinationType where TSettings : DestinationSettings
{
    public sealed override Type SettingsType => typeof(TSettings);

    public sealed override DestinationSettings Parse(ConfigReader config, ValidationErrors errors) => ParseSettings(config, errors);

    public sealed override IDestinationWriter CreateWriter(DestinationSettings settings, WriteTarget target, DestinationContext context) =>
        CreateWriter((TSettings)settings, target, context);

    public sealed override IDestinationVerifier CreateVerifier(DestinationSettings settings, VerifyScope scope, string destination, DestinationContext context) =>
        CreateVerifier((TSettings)settings, scope, destination, context);

    public sealed override Task<string> TestAsync(DestinationSettings settings, DestinationContext context, CancellationToken ct) =>
        TestAsync((TSettings)settings, context, ct);

    protected abstract TSettings ParseSettings(ConfigReader config, ValidationErrors errors);

    protected abstract IDestinationWriter CreateWriter(TSettings settings, WriteTarget target, DestinationContext context);

    protected abstract IDestinationVerifier CreateVerifier(TSettings settings, VerifyScope scope, string destination, DestinationContext context);

    protected abstract Task<string> TestAsync(TSettings settings, DestinationContext context, CancellationToken ct);
}
