using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources.Postgres;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace BackfillStudio.Engine.Sources;

/// <param name="MaxRowsPerSecond">The rows/s ceiling of each job reading this source; null for none.</param>
public sealed record SourceInput(string? Name, string? Host, int? Port, string? Database, string? Username, string? Password, string? SslMode,
    int? MaxRowsPerSecond = null);

public sealed record SourceView(int Id, string Name, string Host, int Port, string Database, string Username,
    string SslMode, bool HasPassword, int? MaxRowsPerSecond, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record ConnectionTestResult(bool Success, string? ServerVersion, string? Error);

/// <summary>Sources: CRUD, connection test and live catalog. Passwords are write-only.</summary>
public sealed class SourceService(IDbContextFactory<ConfigDbContext> dbFactory, SecretProtector protector)
{
    public async Task<IReadOnlyList<SourceView>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var sources = await db.Sources.AsNoTracking().OrderBy(s => s.Id).ToListAsync(ct);
        return sources.Select(ToView).ToList();
    }

    public async Task<SourceView> GetAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return ToView(await FindAsync(db, id, ct));
    }

    public async Task<SourceView> CreateAsync(SourceInput input, CancellationToken ct)
    {
        var valid = Validate(input);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await EnsureUniqueNameAsync(db, valid.Name, null, ct);
        var now = DateTimeOffset.UtcNow;
        var entity = new SourceEntity
        {
            Name = valid.Name, Host = valid.Host, Port = valid.Port, Database = valid.Database, Username = valid.Username,
            SslMode = valid.SslMode, MaxRowsPerSecond = valid.MaxRowsPerSecond, PasswordProtected = protector.Protect(input.Password), CreatedAt = now, UpdatedAt = now,
        };
        db.Sources.Add(entity);
        await db.SaveChangesAsync(ct);
        return ToView(entity);
    }

    /// <summary>Replaces the settings; an omitted password keeps the stored one.</summary>
    public async Task<SourceView> UpdateAsync(int id, SourceInput input, CancellationToken ct)
    {
        var valid = Validate(input);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entity = await FindAsync(db, id, ct);
        await EnsureUniqueNameAsync(db, valid.Name, id, ct);
        if (input.Password is null && entity.PasswordProtected is not null && !SameServer(entity, valid)) throw PasswordNeeded();
        entity.Name = valid.Name;
        entity.Host = valid.Host;
        entity.Port = valid.Port;
        entity.Database = valid.Database;
        entity.Username = valid.Username;
        entity.SslMode = valid.SslMode;
        entity.MaxRowsPerSecond = valid.MaxRowsPerSecond;
        if (input.Password is not null) entity.PasswordProtected = protector.Protect(input.Password);
        entity.UpdatedAt = DateTimeOffset.UtcNow;
        await db.SaveChangesAsync(ct);
        return ToView(entity);
    }

    /// <summary>Deletes the source and its pipelines; their jobs stay in the audit trail, marked deleted by <paramref name="actor"/>.</summary>
    public async Task DeleteAsync(int id, string? actor, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entity = await FindAsync(db, id, ct);
        await db.DeleteKeepingJobsAsync(entity, pipelineId: null, sourceId: id, actor,
            $"Source {id} has an executing backfill job; cancel it first.", ct);
    }

    public async Task<SourceSettings> GetSettingsAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var s = await FindAsync(db, id, ct);
        return new SourceSettings(s.Host, s.Port, s.Database, s.Username, protector.Unprotect(s.PasswordProtected), s.SslMode, s.MaxRowsPerSecond);
    }

    public async Task<ConnectionTestResult> TestAsync(int id, CancellationToken ct)
    {
        var settings = await GetSettingsAsync(id, ct);
        return await TestConnectionAsync(settings, ct);
    }

    /// <summary>Tests settings before they are saved; for an existing source an omitted password means the stored one.</summary>
    public async Task<ConnectionTestResult> TestInputAsync(int? id, SourceInput input, CancellationToken ct)
    {
        var valid = Validate(input);
        var password = input.Password;
        if (password is null && id is { } existing)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var stored = await FindAsync(db, existing, ct);
            if (stored.PasswordProtected is not null && !SameServer(stored, valid)) throw PasswordNeeded();
            password = protector.Unprotect(stored.PasswordProtected);
        }
        return await TestConnectionAsync(new SourceSettings(valid.Host, valid.Port, valid.Database, valid.Username, password, valid.SslMode), ct);
    }

    public static async Task<ConnectionTestResult> TestConnectionAsync(SourceSettings settings, CancellationToken ct)
    {
        try
        {
            await using var connection = new NpgsqlConnection(settings.ConnectionString("BackfillStudio test"));
            await connection.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT version()", connection);
            return new ConnectionTestResult(true, (string?)await cmd.ExecuteScalarAsync(ct), null);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or ArgumentException)
        {
            return new ConnectionTestResult(false, null, SecretScrubber.Scrub(e.Message, [settings.Password]));
        }
    }

    /// <summary>Opens source <paramref name="id"/> for a catalog read or a preview; <see cref="SourceUnavailableException"/> when it cannot.</summary>
    public async Task<PostgresSource> OpenAsync(int id, CancellationToken ct)
    {
        var settings = await GetSettingsAsync(id, ct);
        try
        {
            return await PostgresSource.OpenAsync(settings, $"source {id}", "BackfillStudio catalog", ct);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw new SourceUnavailableException($"Cannot connect to source {id}: {SecretScrubber.Scrub(e.Message, [settings.Password])}");
        }
    }

    private static async Task<SourceEntity> FindAsync(ConfigDbContext db, int id, CancellationToken ct) =>
        await db.Sources.FirstOrDefaultAsync(s => s.Id == id, ct) ?? throw new NotFoundException($"Source {id} does not exist.");

    private static async Task EnsureUniqueNameAsync(ConfigDbContext db, string name, int? exceptId, CancellationToken ct)
    {
        if (await db.Sources.AnyAsync(s => s.Name == name && s.Id != exceptId, ct))
            throw ValidationFailedException.For("name", $"A source named '{name}' already exists.");
    }

    /// <summary>The stored password is only reused for the server and user it was given for.</summary>
    private static bool SameServer(SourceEntity stored, ValidSource input) =>
        stored.Host == input.Host && stored.Port == input.Port && stored.Username == input.Username;

    private static ValidationFailedException PasswordNeeded() =>
        ValidationFailedException.For("password", "Give the password again when changing host, port or username.");

    private static SourceView ToView(SourceEntity s) => new(s.Id, s.Name, s.Host, s.Port, s.Database, s.Username, s.SslMode,
        s.PasswordProtected is not null, s.MaxRowsPerSecond, s.CreatedAt, s.UpdatedAt);

    private sealed record ValidSource(string Name, string Host, int Port, string Database, string Username, string SslMode, int? MaxRowsPerSecond);

    private static ValidSource Validate(SourceInput input)
    {
        var errors = new ValidationErrors();
        Require(input.Name, "name", 200, errors);
        Require(input.Host, "host", 255, errors);
        Require(input.Database, "database", 63, errors);
        Require(input.Username, "username", 63, errors);
        if (input.Port is { } port && port is <= 0 or > 65535) errors.Add("port", "port must be between 1 and 65535.");
        var sslMode = input.SslMode ?? "prefer";
        if (!SourceSettings.SslModes.Contains(sslMode))
            errors.Add("ssl_mode", $"ssl_mode must be one of {string.Join(", ", SourceSettings.SslModes)}.");
        RowRate.Validate(input.MaxRowsPerSecond, errors);
        errors.ThrowIfAny();
        return new ValidSource(input.Name!.Trim(), input.Host!.Trim(), input.Port ?? 5432, input.Database!, input.Username!, sslMode,
            input.MaxRowsPerSecond);
    }

    internal static void Require(string? value, string field, int maxLength, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(value)) errors.Add(field, $"{field} is required.");
        else if (value.Length > maxLength) errors.Add(field, $"{field} must be at most {maxLength} characters.");
        else if (StoredText.Unstorable(value) is { } unstorable) errors.Add(field, $"{field} must not contain {unstorable}.");
    }
}

/// <summary>The source database could not be reached; reported to clients as 502-like problem.</summary>
public sealed class SourceUnavailableException(string message) : Exception(message);
