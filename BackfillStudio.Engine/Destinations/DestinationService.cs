using System.Text.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Engine.Destinations;

/// <param name="Engine">
/// For a local-file destination: the engine that can reach its path (<c>Backfill:EngineName</c>), <c>*</c> for any engine
/// (storage they all share); left out, this node's engine name when created, the stored one when updated.
/// </param>
public sealed record DestinationInput(string? Name, string? Type, JsonObject? Config, string? Engine = null);

/// <summary>
/// A destination as the API shows it: <see cref="Config"/> never holds secrets; <see cref="SecretsSet"/> names those
/// stored. <see cref="Engine"/> is the engine a local-file destination belongs to (null: any), <see cref="EngineRunning"/>
/// whether an engine of that name runs (null when any engine will do), <see cref="Warning"/> what a user should know.
/// </summary>
public sealed record DestinationView(int Id, string Name, string Type, JsonObject Config, IReadOnlyList<string> SecretsSet,
    string? Engine, bool? EngineRunning, string? Warning, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed class DestinationService(
    IDbContextFactory<ConfigDbContext> dbFactory,
    SecretProtector protector,
    DestinationWriterFactory writers,
    EngineIdentity identity,
    EngineRegistry engines)
{
    /// <summary>The <c>engine</c> that lets any engine write a local-file destination.</summary>
    public const string AnyEngine = "*";

    /// <summary>The engine a new local-file destination belongs to when its request names none: this node's.</summary>
    public string DefaultEngine => identity.Name;

    public async Task<IReadOnlyList<DestinationView>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var all = await db.Destinations.AsNoTracking().OrderBy(d => d.Id).ToListAsync(ct);
        var running = await engines.RunningAsync(ct);
        return all.Select(d => ToView(d, running)).ToList();
    }

    public async Task<DestinationView> GetAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return ToView(await FindAsync(db, id, ct), await engines.RunningAsync(ct));
    }

    public async Task<DestinationView> CreateAsync(DestinationInput input, CancellationToken ct)
    {
        var valid = Validate(input, storedEngine: identity.Name);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await EnsureUniqueNameAsync(db, valid.Name, null, ct);
        var now = DateTimeOffset.UtcNow;
        var entity = new DestinationEntity { Name = valid.Name, Type = valid.Type, Config = "{}", CreatedAt = now, UpdatedAt = now };
        Store(entity, valid);
        db.Destinations.Add(entity);
        await db.SaveChangesAsync(ct);
        return ToView(entity, await engines.RunningAsync(ct));
    }

    /// <summary>Replaces the settings; a secret left out keeps its stored value as long as the type stays the same.</summary>
    public async Task<DestinationView> UpdateAsync(int id, DestinationInput input, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entity = await FindAsync(db, id, ct);
        // A local-file destination keeps its engine (or any); one that becomes local belongs to this node's engine.
        var storedEngine = DestinationTypes.Find(entity.Type)?.IsLocal == true ? entity.EngineName : identity.Name;
        var valid = Validate(WithStoredSecrets(input, entity), storedEngine);
        await EnsureUniqueNameAsync(db, valid.Name, id, ct);
        if (valid.Engine is { } engine && await db.PipelineDestinations.AsNoTracking()
                .Where(p => p.DestinationId == id)
                .SelectMany(p => db.PipelineDestinations.Where(o => o.PipelineId == p.PipelineId && o.DestinationId != id))
                .Select(o => new { o.PipelineId, o.Destination!.Name, o.Destination.EngineName })
                .FirstOrDefaultAsync(o => o.EngineName != null && o.EngineName != engine, ct) is { } other)
            throw ValidationFailedException.For("engine", $"Pipeline {other.PipelineId} also writes to destination '{other.Name}', which " +
                $"belongs to engine '{other.EngineName}'; a job runs on one engine, so both must belong to the same one (or either to any).");
        Store(entity, valid);
        entity.UpdatedAt = DateTimeOffset.UtcNow;
        await db.SaveChangesAsync(ct);
        return ToView(entity, await engines.RunningAsync(ct));
    }

    /// <summary>Tests settings before they are saved; for an existing destination omitted secrets mean the stored ones.</summary>
    public async Task<ConnectionTestResult> TestInputAsync(int? id, DestinationInput input, CancellationToken ct)
    {
        if (id is { } existing)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            input = WithStoredSecrets(input, await FindAsync(db, existing, ct));
        }
        return await writers.TestAsync(Validate(input, storedEngine: null).Settings, ct);
    }

    public async Task DeleteAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entity = await FindAsync(db, id, ct);
        var usedBy = await db.PipelineDestinations.Where(p => p.DestinationId == id).Select(p => p.PipelineId).ToListAsync(ct);
        if (usedBy.Count > 0)
            throw new ConflictException($"Destination {id} is used by pipeline(s) {string.Join(", ", usedBy)}; remove it from them first.");
        db.Destinations.Remove(entity);
        await db.SaveChangesAsync(ct);
    }

    public async Task<ConnectionTestResult> TestAsync(int id, CancellationToken ct)
    {
        var settings = await GetSettingsAsync(id, ct);
        return await writers.TestAsync(settings, ct);
    }

    public async Task<DestinationSettings> GetSettingsAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return ToSettings(await FindAsync(db, id, ct));
    }

    /// <summary>Merges the stored config with the decrypted secrets into typed settings.</summary>
    public DestinationSettings ToSettings(DestinationEntity entity)
    {
        var config = JsonNode.Parse(entity.Config)!.AsObject();
        if (protector.Unprotect(entity.SecretsProtected) is { } secretJson)
        {
            foreach (var (key, value) in JsonNode.Parse(secretJson)!.AsObject())
                config[key] = value?.DeepClone();
        }
        var errors = new ValidationErrors();
        return DestinationTypes.Parse(entity.Type, config, errors)
            ?? throw new InvalidOperationException($"Destination {entity.Id} has invalid stored settings (saved before they were checked so): {errors} " +
                                                   "Edit the destination to correct them.");
    }

    private sealed record ValidDestination(string Name, string Type, JsonObject Config, DestinationSettings Settings, string? Engine);

    /// <param name="storedEngine">The engine a local-file destination keeps when the input names none.</param>
    private static ValidDestination Validate(DestinationInput input, string? storedEngine)
    {
        var errors = new ValidationErrors();
        SourceService.Require(input.Name, "name", 200, errors);
        if (string.IsNullOrWhiteSpace(input.Type)) errors.Add("type", "type is required.");
        if (input.Config is null) errors.Add("config", "config is required.");
        errors.ThrowIfAny();
        var settings = DestinationTypes.Parse(input.Type!, input.Config!, errors, refuseUnknownKeys: true);
        errors.ThrowIfAny();
        var local = DestinationTypes.Of(settings!).IsLocal;
        if (!local && input.Engine is not null)
            errors.Add("engine", $"Only destinations on an engine's own disk ({string.Join(", ", DestinationTypes.All.Where(t => t.IsLocal).Select(t => t.Name))}) " +
                "belong to an engine; leave engine out for a server.");
        else if (input.Engine is { } named && named != AnyEngine && (string.IsNullOrWhiteSpace(named) || named.Length > 200 || named.Contains('*')))
            errors.Add("engine", $"engine must be an engine's name (Backfill:EngineName, 1 to 200 characters) or '{AnyEngine}' for any engine.");
        errors.ThrowIfAny();
        var engine = !local ? null : input.Engine is null ? storedEngine : input.Engine == AnyEngine ? null : input.Engine.Trim();
        return new ValidDestination(input.Name!.Trim(), input.Type!, input.Config!, settings!, engine);
    }

    /// <summary>Keeps public settings in plain JSON and encrypts the secrets.</summary>
    private void Store(DestinationEntity entity, ValidDestination valid)
    {
        var publicConfig = new JsonObject();
        var secrets = new JsonObject();
        var secretKeys = DestinationTypes.Of(valid.Settings).SecretKeys.ToHashSet();
        foreach (var (key, value) in valid.Config)
        {
            var target = secretKeys.Contains(key) ? secrets : publicConfig;
            target[key] = value?.DeepClone();
        }
        entity.Name = valid.Name;
        entity.Type = valid.Type;
        entity.Config = publicConfig.ToJsonString();
        entity.SecretsProtected = secrets.Count == 0 ? null : protector.Protect(secrets.ToJsonString());
        entity.EngineName = valid.Engine;
    }

    /// <summary>
    /// Fills omitted secrets with the stored ones, but only for the same server and account: stored credentials are
    /// never sent to a host, URL or user that someone has just typed in (they must give the secret again).
    /// </summary>
    private DestinationInput WithStoredSecrets(DestinationInput input, DestinationEntity stored)
    {
        if (input.Config is null || input.Type != stored.Type || protector.Unprotect(stored.SecretsProtected) is not { } secretJson) return input;
        var storedConfig = JsonNode.Parse(stored.Config)!.AsObject();
        var identity = DestinationTypes.Find(stored.Type)?.IdentityKeys.ToList() ?? [];
        var moved = identity.Any(key => input.Config[key]?.ToString() != storedConfig[key]?.ToString());
        var config = input.Config.DeepClone().AsObject();
        var errors = new ValidationErrors();
        foreach (var (key, value) in JsonNode.Parse(secretJson)!.AsObject())
        {
            if (config[key] is not null && !(config[key] is JsonValue v && v.TryGetValue<string>(out var text) && text.Length == 0)) continue;
            if (moved) errors.Add($"config.{key}", $"Give '{key}' again when changing {string.Join(", ", identity)}.");
            else config[key] = value?.DeepClone();
        }
        errors.ThrowIfAny();
        return input with { Config = config };
    }

    private static async Task EnsureUniqueNameAsync(ConfigDbContext db, string name, int? exceptId, CancellationToken ct)
    {
        if (await db.Destinations.AnyAsync(d => d.Name == name && d.Id != exceptId, ct))
            throw ValidationFailedException.For("name", $"A destination named '{name}' already exists.");
    }

    private static async Task<DestinationEntity> FindAsync(ConfigDbContext db, int id, CancellationToken ct) =>
        await db.Destinations.FirstOrDefaultAsync(d => d.Id == id, ct) ?? throw new NotFoundException($"Destination {id} does not exist.");

    /// <summary>
    /// The stored settings that are the type's public ones: a key saved before keys were checked (a mis-cased "Password"
    /// is kept in plain text, say) is not shown.
    /// </summary>
    private static JsonObject PublicConfig(DestinationEntity d)
    {
        var type = DestinationTypes.Find(d.Type);
        var shown = type is null ? [] : type.SettingKeys.Except(type.SecretKeys).ToHashSet(StringComparer.Ordinal);
        var config = new JsonObject();
        foreach (var (key, value) in JsonNode.Parse(d.Config)!.AsObject())
            if (shown.Contains(key)) config[key] = value?.DeepClone();
        return config;
    }

    /// <param name="running">The engines running now (<see cref="EngineRegistry.RunningAsync"/>).</param>
    private DestinationView ToView(DestinationEntity d, IReadOnlySet<string> running)
    {
        var secretNames = protector.Unprotect(d.SecretsProtected) is { } json
            ? JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!.Keys.ToList()
            : [];
        bool? engineRunning = d.EngineName is { } engine ? running.Contains(engine) : null;
        var warning = engineRunning == false
            ? $"No running engine is named '{d.EngineName}': jobs writing here wait in PENDING until one is (Backfill:EngineName)."
            : d.EngineName is null && DestinationTypes.Find(d.Type)?.IsLocal == true && running.Count > 1
                ? $"Any engine may write here, and {running.Count} engines run ({string.Join(", ", running.Order())}): every one must reach " +
                  "this path on shared storage, or set the engine that can."
                : null;
        return new DestinationView(d.Id, d.Name, d.Type, PublicConfig(d), secretNames, d.EngineName, engineRunning, warning,
            d.CreatedAt, d.UpdatedAt);
    }
}
