using System.Text.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Engine.Destinations;

public sealed record DestinationInput(string? Name, string? Type, JsonObject? Config);

/// <summary>A destination as the API shows it: <see cref="Config"/> never holds secrets; <see cref="SecretsSet"/> names those stored.</summary>
public sealed record DestinationView(int Id, string Name, string Type, JsonObject Config, IReadOnlyList<string> SecretsSet,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed class DestinationService(
    IDbContextFactory<ConfigDbContext> dbFactory,
    SecretProtector protector,
    DestinationWriterFactory writers)
{
    public async Task<IReadOnlyList<DestinationView>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var all = await db.Destinations.AsNoTracking().OrderBy(d => d.Id).ToListAsync(ct);
        return all.Select(ToView).ToList();
    }

    public async Task<DestinationView> GetAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return ToView(await FindAsync(db, id, ct));
    }

    public async Task<DestinationView> CreateAsync(DestinationInput input, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        SourceService.Require(input.Name, "name", 200, errors);
        if (string.IsNullOrWhiteSpace(input.Type)) errors.Add("type", "type is required.");
        if (input.Config is null) errors.Add("config", "config is required.");
        errors.ThrowIfAny();
        DestinationSettings.Parse(input.Type!, input.Config!, errors);
        errors.ThrowIfAny();

        var publicConfig = new JsonObject();
        var secrets = new JsonObject();
        foreach (var (key, value) in input.Config!)
        {
            var target = DestinationSettings.SecretKeys.Contains(key) ? secrets : publicConfig;
            target[key] = value?.DeepClone();
        }

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var name = input.Name!.Trim();
        if (await db.Destinations.AnyAsync(d => d.Name == name, ct))
            throw ValidationFailedException.For("name", $"A destination named '{name}' already exists.");
        var now = DateTimeOffset.UtcNow;
        var entity = new DestinationEntity
        {
            Name = name, Type = input.Type!, Config = publicConfig.ToJsonString(),
            SecretsProtected = secrets.Count == 0 ? null : protector.Protect(secrets.ToJsonString()),
            CreatedAt = now, UpdatedAt = now,
        };
        db.Destinations.Add(entity);
        await db.SaveChangesAsync(ct);
        return ToView(entity);
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
        return DestinationSettings.Parse(entity.Type, config, errors)
            ?? throw new InvalidOperationException($"Destination {entity.Id} has invalid stored settings.");
    }

    private static async Task<DestinationEntity> FindAsync(ConfigDbContext db, int id, CancellationToken ct) =>
        await db.Destinations.FirstOrDefaultAsync(d => d.Id == id, ct) ?? throw new NotFoundException($"Destination {id} does not exist.");

    private DestinationView ToView(DestinationEntity d)
    {
        var secretNames = protector.Unprotect(d.SecretsProtected) is { } json
            ? JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!.Keys.ToList()
            : [];
        return new DestinationView(d.Id, d.Name, d.Type, JsonNode.Parse(d.Config)!.AsObject(), secretNames, d.CreatedAt, d.UpdatedAt);
    }
}
