using BackfillStudio.Engine.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace BackfillStudio.Web.Health;

/// <summary>Ready means the config database answers and has every migration this build knows applied.</summary>
public sealed class ConfigDatabaseHealthCheck(IDbContextFactory<ConfigDbContext> dbFactory) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            return pending.Count == 0
                ? HealthCheckResult.Healthy("The config database is reachable and migrated.")
                : HealthCheckResult.Unhealthy($"The config database lacks {pending.Count} migration(s): {string.Join(", ", pending)}.");
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // The exception text is not passed on: it may name the server; the log has the details.
            return HealthCheckResult.Unhealthy("The config database cannot be reached.", e);
        }
    }
}
