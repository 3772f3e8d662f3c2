using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Sources.Postgres;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Engine.Jobs;

/// <summary>One destination of a job's pipeline, with its decrypted settings.</summary>
public sealed record PlannedDestination(int Id, string Name, DestinationSettings Settings);

/// <summary>
/// What a job copies and where: the job row, its source, the target table and the pipeline's destinations.
/// </summary>
/// <param name="Fingerprint">
/// Where the rows go (source, target table, each destination's type and non-secret settings), kept in the
/// resume cursor: a job never continues into a place other than the one its first batches went to.
/// </param>
public sealed record JobPlan(BackfillJobEntity Job, SourceSettings Source, string TargetTable,
    IReadOnlyList<PlannedDestination> Destinations, string Fingerprint)
{
    public IEnumerable<string?> Secrets => Destinations.SelectMany(d => d.Settings.Secrets).Append(Source.Password);

    /// <summary>
    /// Opens the job's source; <paramref name="purpose"/> is the session's application_name, <paramref name="stallSeconds"/>
    /// its commands' timeout (<see cref="SourceSettings.CommandTimeoutSeconds"/>), <paramref name="statementSeconds"/> the
    /// server's <c>statement_timeout</c>.
    /// </summary>
    public Task<PostgresSource> OpenSourceAsync(string purpose, CancellationToken ct, int stallSeconds = 0, int statementSeconds = 0) =>
        PostgresSource.OpenAsync(Source with { CommandTimeoutSeconds = stallSeconds, StatementTimeoutSeconds = statementSeconds },
            $"source {Job.SourceId}", purpose, ct);

    /// <summary>The job's rows/s ceiling: its own or its source's, whichever is lower; null when neither sets one.</summary>
    public int? MaxRowsPerSecond => (Job.MaxRowsPerSecond, Source.MaxRowsPerSecond) switch
    {
        ({ } job, { } source) => Math.Min(job, source),
        (var job, var source) => job ?? source,
    };

    /// <summary>How <see cref="TargetOwnership"/> names the job's source table.</summary>
    public string SourceName(string tableName) => TargetOwnership.SourceOf(Source.Host, Source.Port, Source.Database, tableName);
}

/// <summary>Loads a job's plan from the config database (used by the job runner and by verification).</summary>
public sealed class JobPlanLoader(IDbContextFactory<ConfigDbContext> dbFactory, SourceService sources, DestinationService destinations)
{
    public async Task<JobPlan> LoadAsync(int jobId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        // A chunk is a job row too, hidden from lists by the query filter.
        var job = await db.BackfillJobs.IgnoreQueryFilters().AsNoTracking().FirstAsync(j => j.Id == jobId && j.DeletedAt == null, ct);
        var pipeline = await db.Pipelines.AsNoTracking()
            .Include(p => p.Tables).Include(p => p.Destinations).ThenInclude(d => d.Destination)
            .FirstOrDefaultAsync(p => p.Id == job.PipelineId, ct)
            ?? throw new InvalidOperationException($"Pipeline {job.PipelineId} no longer exists.");
        var table = pipeline.Tables.FirstOrDefault(t => t.TableName == job.TableName)
            ?? throw new InvalidOperationException($"Table {job.TableName} is no longer part of pipeline {pipeline.Id}.");
        var ordered = pipeline.Destinations.OrderBy(d => d.DestinationId).ToList();
        var planned = ordered.Select(d => new PlannedDestination(d.DestinationId, d.Destination!.Name, destinations.ToSettings(d.Destination!))).ToList();
        var source = await sources.GetSettingsAsync(job.SourceId, ct);
        var targetTable = table.Target;
        var fingerprint = JsonSerializer.Serialize(new
        {
            source = new { source.Host, source.Port, source.Database, job.TableName },
            target = targetTable,
            destinations = ordered.Select(d => new { d.DestinationId, d.Destination!.Type, d.Destination.Config }),
        });
        return new JobPlan(job, source, targetTable, planned, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint))));
    }
}
