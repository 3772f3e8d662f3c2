using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Sources;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Engine.Pipelines;

public sealed record PipelineTableInput(string? TableName, string? TargetTableName);

public sealed record PipelineInput(string? Name, int? SourceId, IReadOnlyList<int>? DestinationIds, IReadOnlyList<PipelineTableInput?>? Tables);

public sealed record PipelineTableView(string TableName, string TargetTableName);

public sealed record PipelineView(int Id, string Name, int SourceId, IReadOnlyList<int> DestinationIds,
    IReadOnlyList<PipelineTableView> Tables, DateTimeOffset CreatedAt);

public sealed class PipelineService(IDbContextFactory<ConfigDbContext> dbFactory, SourceService sources)
{
    public async Task<IReadOnlyList<PipelineView>> ListAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var all = await Query(db).OrderBy(p => p.Id).ToListAsync(ct);
        return all.Select(ToView).ToList();
    }

    public async Task<PipelineView> GetAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return ToView(await FindAsync(db, id, ct));
    }

    public async Task<PipelineView> CreateAsync(PipelineInput input, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        SourceService.Require(input.Name, "name", 200, errors);
        if (input.SourceId is null) errors.Add("source_id", "source_id is required.");
        if (input.DestinationIds is not { Count: > 0 }) errors.Add("destination_ids", "At least one destination is required.");
        else if (input.DestinationIds.Distinct().Count() != input.DestinationIds.Count) errors.Add("destination_ids", "destination_ids contains duplicates.");
        if (input.Tables is not { Count: > 0 }) errors.Add("tables", "At least one table is required.");
        errors.ThrowIfAny();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var name = input.Name!.Trim();
        if (await db.Pipelines.AnyAsync(p => p.Name == name, ct)) errors.Add("name", $"A pipeline named '{name}' already exists.");
        if (!await db.Sources.AnyAsync(s => s.Id == input.SourceId, ct)) errors.Add("source_id", $"Source {input.SourceId} does not exist.");
        var known = await db.Destinations.Where(d => input.DestinationIds!.Contains(d.Id)).Select(d => new { d.Id, d.Name, d.EngineName }).ToListAsync(ct);
        foreach (var missing in input.DestinationIds!.Except(known.Select(d => d.Id)))
            errors.Add("destination_ids", $"Destination {missing} does not exist.");
        var pinned = known.Where(d => d.EngineName is not null).GroupBy(d => d.EngineName).ToList();
        if (pinned.Count > 1)
            errors.Add("destination_ids", "A job runs on one engine, but these destinations belong to different ones: " +
                string.Join("; ", pinned.Select(g => $"{string.Join(", ", g.Select(d => $"'{d.Name}'"))} on engine '{g.Key}'")) + ".");
        errors.ThrowIfAny();

        ILookup<string, SourceTable> catalog;
        await using (var source = await sources.OpenAsync(input.SourceId!.Value, ct))
            catalog = (await source.ListTablesAsync(includePartitions: true, ct)).ToLookup(t => t.TableName);
        var tables = new List<PipelineTableEntity>();
        for (var i = 0; i < input.Tables!.Count; i++)
        {
            var table = input.Tables[i];
            var field = $"tables[{i}]";
            if (string.IsNullOrWhiteSpace(table?.TableName))
            {
                errors.Add($"{field}.table_name", "table_name is required.");
                continue;
            }
            var named = catalog[table.TableName].ToList();
            var sourceTable = named.Count == 1 ? named[0] : null;
            if (named.Count == 0)
                errors.Add($"{field}.table_name", $"Table '{Messages.Shorten(table.TableName)}' does not exist in source {input.SourceId} (use schema.table as GET /sources/{input.SourceId}/tables lists it).");
            else if (named.Count > 1)
                errors.Add($"{field}.table_name", PostgresCatalog.TwoTablesNamed(table.TableName));
            else if (tables.Any(t => t.TableName == table.TableName))
                errors.Add($"{field}.table_name", $"Table '{table.TableName}' is listed twice.");
            if (table.TargetTableName is { } target)
            {
                if (string.IsNullOrWhiteSpace(target))
                    errors.Add($"{field}.target_table_name", "target_table_name must not be empty.");
                else if (StoredText.Unstorable(target) is { } unstorable)
                    errors.Add($"{field}.target_table_name", $"target_table_name must not contain {unstorable}.");
                else if (Sql.IdentifierTooLong(target) is { } tooLong)
                    errors.Add($"{field}.target_table_name", $"target_table_name {tooLong}.");
            }
            var targetName = table.TargetTableName ?? sourceTable?.Name;
            // DuckDB (and Snowflake's upper-case identifiers) do not tell Items from items.
            if (tables.FirstOrDefault(t => string.Equals(t.TargetTableName, targetName, StringComparison.OrdinalIgnoreCase)
                                           && t.TableName != table.TableName) is { } clash)
                errors.Add($"{field}.target_table_name", $"Tables '{clash.TableName}' and '{Messages.Shorten(table.TableName)}' would both write " +
                    $"target table '{targetName}' and overwrite each other's rows; set target_table_name on one of them.");
            tables.Add(new PipelineTableEntity { TableName = table.TableName, TargetTableName = targetName });
        }
        errors.ThrowIfAny();

        var entity = new PipelineEntity
        {
            Name = name, SourceId = input.SourceId.Value, CreatedAt = DateTimeOffset.UtcNow, Tables = tables,
            Destinations = input.DestinationIds!.Select(d => new PipelineDestinationEntity { DestinationId = d }).ToList(),
        };
        db.Pipelines.Add(entity);
        await db.SaveChangesAsync(ct);
        return ToView(entity);
    }

    /// <summary>Deletes the pipeline; its jobs stay in the audit trail, marked deleted by <paramref name="actor"/>.</summary>
    public async Task DeleteAsync(int id, string? actor, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entity = await FindAsync(db, id, ct);
        await db.DeleteKeepingJobsAsync(entity, pipelineId: id, sourceId: null, actor,
            $"Pipeline {id} has an executing backfill job; cancel it first.", ct);
    }

    private static IQueryable<PipelineEntity> Query(ConfigDbContext db) =>
        db.Pipelines.AsNoTracking().Include(p => p.Tables).Include(p => p.Destinations);

    internal static async Task<PipelineEntity> FindAsync(ConfigDbContext db, int id, CancellationToken ct) =>
        await db.Pipelines.Include(p => p.Tables).Include(p => p.Destinations).FirstOrDefaultAsync(p => p.Id == id, ct)
        ?? throw new NotFoundException($"Pipeline {id} does not exist.");

    private static PipelineView ToView(PipelineEntity p) => new(p.Id, p.Name, p.SourceId,
        p.Destinations.Select(d => d.DestinationId).Order().ToList(),
        p.Tables.OrderBy(t => t.Id).Select(t => new PipelineTableView(t.TableName, t.Target)).ToList(),
        p.CreatedAt);
}
