using System.Text.Json;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace BackfillStudio.Tests.Infrastructure;

/// <summary>
/// What two claims of a completed job would write as its first batch: <see cref="Stale"/>, read before the source's rows
/// changed (an engine that lost the job), and <see cref="Newer"/>, read after (the engine that took it over).
/// </summary>
public sealed record ClaimRace(JobPlan Plan, TableSchema Table, Batch Stale, Batch Newer, DestinationWriterFactory Writers)
{
    /// <param name="change">The SQL that changes the source's rows between the two reads.</param>
    public static async Task<ClaimRace> ReadAsync(Scenario s, int jobId, string table, string change)
    {
        var plan = await s.App.Services.GetRequiredService<JobPlanLoader>().LoadAsync(jobId, CancellationToken.None);
        await using var source = await plan.OpenSourceAsync("fencing test", CancellationToken.None);
        var schema = await source.TableAsync(table, CancellationToken.None);
        await using var reader = source.Reader(schema, FilterPredicate.Build(schema, []), new BatchLimits(1000, long.MaxValue));
        var stale = (await reader.ReadAsync(ResumeCursor.Start, CancellationToken.None))!;
        await PostgresServer.ExecuteAsync(s.SourceDb, change);
        var newer = (await reader.ReadAsync(ResumeCursor.Start, CancellationToken.None))!;
        return new ClaimRace(plan, schema, stale, newer, s.App.Services.GetRequiredService<DestinationWriterFactory>());
    }

    /// <summary>A writer of the job's batches under claim <paramref name="epoch"/>, at the completed job's checkpoint (so it keeps the job's files).</summary>
    public IDestinationWriter Writer(DestinationSettings destination, long epoch) =>
        Writers.Create(destination, new WriteTarget(Plan.Job.Id, epoch, Table, Plan.TargetTable, Plan.SourceName(Table.TableName),
            CheckpointedBatches: JsonSerializer.Deserialize<ResumeCursor>(Plan.Job.ResumeCursor!)!.Batches));
}
