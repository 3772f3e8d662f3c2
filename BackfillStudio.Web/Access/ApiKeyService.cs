using System.Security.Cryptography;
using System.Text;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Web.Access;

public sealed record ApiKeyView(int Id, string Name, string Prefix, string Role, DateTimeOffset CreatedAt, string? CreatedBy,
    DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>A new key: <see cref="Key"/> is shown this once and never stored.</summary>
public sealed record CreatedApiKey(ApiKeyView View, string Key);

/// <summary>Who an API key authenticates: the name it acts under (for the audit trail) and its role.</summary>
public sealed record ApiKeyIdentity(string Name, string Role);

/// <summary>API keys: created with a role, stored as SHA-256 hashes, revocable, with their last use recorded.</summary>
public sealed class ApiKeyService(IDbContextFactory<ConfigDbContext> dbFactory, IConfiguration configuration, TimeProvider time)
{
    private const string KeyPrefix = "bfs_";
    private static readonly TimeSpan LastUseResolution = TimeSpan.FromMinutes(1);

    public async Task<IReadOnlyList<ApiKeyView>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await db.ApiKeys.AsNoTracking().OrderBy(k => k.Id).ToListAsync(ct)).Select(ToView).ToList();
    }

    public async Task<CreatedApiKey> CreateAsync(string? name, string? role, string? createdBy, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(name)) errors.Add("name", "name is required.");
        else if (name.Length > 200) errors.Add("name", "name must be at most 200 characters.");
        else if (StoredText.Unstorable(name) is { } unstorable) errors.Add("name", $"name must not contain {unstorable}.");
        if (role is null || !AccessRoles.All.Contains(role)) errors.Add("role", $"role must be one of {string.Join(", ", AccessRoles.All)}.");
        errors.ThrowIfAny();

        var key = KeyPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var entity = new ApiKeyEntity
        {
            Name = name!.Trim(), KeyHash = Hash(key), Prefix = key[..12], Role = role!, CreatedAt = time.GetUtcNow(), CreatedBy = createdBy,
        };
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.ApiKeys.Add(entity);
        await db.SaveChangesAsync(ct);
        return new CreatedApiKey(ToView(entity), key);
    }

    public async Task RevokeAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id, ct) ?? throw new NotFoundException($"API key {id} does not exist.");
        key.RevokedAt ??= time.GetUtcNow();
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The identity behind a presented key, or null for an unknown or revoked one.</summary>
    public async Task<ApiKeyIdentity?> AuthenticateAsync(string presented, CancellationToken ct)
    {
        if (configuration["Auth:BootstrapApiKey"] is { Length: > 0 } bootstrap
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(bootstrap)))
            return new ApiKeyIdentity("bootstrap API key", AccessRoles.Admin);

        var hash = Hash(presented);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.KeyHash == hash && k.RevokedAt == null, ct);
        if (key is null) return null;
        var now = time.GetUtcNow();
        if (key.LastUsedAt is null || now - key.LastUsedAt > LastUseResolution)
        {
            key.LastUsedAt = now;
            await db.SaveChangesAsync(ct);
        }
        return new ApiKeyIdentity($"API key '{key.Name}'", key.Role);
    }

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static ApiKeyView ToView(ApiKeyEntity k) => new(k.Id, k.Name, k.Prefix, k.Role, k.CreatedAt, k.CreatedBy, k.LastUsedAt, k.RevokedAt);
}
