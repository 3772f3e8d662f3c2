using System.Text.Json;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Events;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Pipelines;
using BackfillStudio.Engine.Schedules;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Verification;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Jobs;

/// <param name="Verify">none, count or checksum: how the job verifies itself once COMPLETED (default <c>Backfill:VerifyAfterLoad</c>).</param>
/// <param name="MaxRowsPerSecond">A ceiling on how fast the job reads its source (its source's own may be lower); null for none.</param>
/// <param name="ParallelChunks">How many key ranges the job is split into, run at once by any engines (default <c>Backfill:MaxParallelChunks</c>).</param>
public sealed record CreateBackfillInput(string? TableName, IReadOnlyList<FilterInput>? Filters, string? Verify = null, int? MaxRowsPerSecond = null,
    int? ParallelChunks = null);

/// <summary>One chunk of a job split into key ranges: its progress, and the engine that runs (or last ran) it.</summary>
public sealed record ChunkView(int No, JobStatus Status, long CountRecord, long? TotalRecord, string? Engine, string? ErrorMessage, int Attempts);

/// <summary>The body of a verify request: count or checksum (default: the job's verify mode, else count).</summary>
public sealed record VerifyInput(string? Mode);

public sealed record JobView(
    int Id, int PipelineId, int SourceId, string TableName, IReadOnlyList<BackfillFilter> Filters, string? FilterSql,
    JobStatus Status, long CountRecord, long? TotalRecord, bool IsError, string? ErrorMessage,
    DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    string? CreatedBy, string? CancelledBy, DateTimeOffset? CancelledAt, string? DeletedBy, DateTimeOffset? DeletedAt,
    string? ResumedBy, DateTimeOffset? ResumedAt, string Verify, VerificationReport? Verification, int? MaxRowsPerSecond, string? Throttled,
    string? WaitingFor = null, int? ParallelChunks = null, IReadOnlyList<ChunkView>? Chunks = null, int? ScheduleId = null);

public sealed record JobPage(int Total, IReadOnlyList<JobView> Items);

/// <summary>How many source rows a backfill would copy; <see cref="MatchingRows"/> is null when counting timed out.</summary>
public sealed record BackfillPreview(long? MatchingRows, string? Message);

/// <summary>Creates, lists, cancels and deletes backfill jobs; used by the REST API and the UI alike.</summary>
public sealed class JobService(IDbContextFactory<ConfigDbContext> dbFactory, SourceService sources, JobStateStore states,
    VerificationStore verifications, EngineRegistry engines, IOptions<BackfillOptions> options)
{
    public const int MaxPageSize = 1000;

    public static readonly TimeSpan PreviewTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The verify mode of a job whose request names none (<c>Backfill:VerifyAfterLoad</c>).</summary>
    public string DefaultVerify => options.Value.VerifyAfterLoad;

    /// <summary>How many chunks a big job is split into when its request names none (<c>Backfill:MaxParallelChunks</c>).</summary>
    public int DefaultParallelChunks => options.Value.MaxParallelChunks;

    /// <summary>The fewest rows a chunk is planned with (<c>Backfill:MinChunkRows</c>).</summary>
    public long MinChunkRows => options.Value.MinChunkRows;

    /// <param name="actor">Who asks (a user name or an API key's name), kept on the job for the audit trail.</param>
    public async Task<JobView> CreateAsync(int pipelineId, CreateBackfillInput input, string? actor, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var job = await AddJobAsync(db, pipelineId, input, actor, null, ct);
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            await db.HoldPipelineAsync(pipelineId, ct);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        await AnnounceCreatedAsync(job, ct);
        return ToView(job);
    }

    /// <summary>
    /// Validates a job request and adds its job to <paramref name="db"/>, unsaved, so the caller saves it in its own
    /// transaction (a schedule's occurrence, with its outcome). Relative filter values are resolved against <paramref name="at"/>.
    /// </summary>
    public async Task<BackfillJobEntity> AddJobAsync(ConfigDbContext db, int pipelineId, CreateBackfillInput input, string? actor, RunTime? at,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var verify = ParseVerify(input.Verify);
        var (pipeline, table, filters) = await ValidateAsync(db, pipelineId, input, at, ct);
        var job = new BackfillJobEntity
        {
            PipelineId = pipelineId,
            SourceId = pipeline.SourceId,
            TableName = table.TableName,
            Filters = JsonSerializer.Serialize(filters),
            FilterSql = FilterValidator.Render(table, filters),
            CreatedBy = actor,
            VerifyAfterLoad = verify.ToDb(),
            MaxRowsPerSecond = input.MaxRowsPerSecond,
            ParallelChunks = input.ParallelChunks,
        };
        db.BackfillJobs.Add(job);
        return job;
    }

    /// <summary>Tells engines and pages of a job saved by <see cref="AddJobAsync"/>.</summary>
    public Task AnnounceCreatedAsync(BackfillJobEntity job, CancellationToken ct) =>
        states.AnnounceCreatedAsync(new JobChanged(job.Id, job.PipelineId, job.Status, 0, null, job.UpdatedAt ?? DateTimeOffset.UtcNow), ct);

    /// <summary>
    /// Checks a job request as <see cref="CreateAsync"/> would, relative filter values resolved against <paramref name="at"/>;
    /// returns the table's name as the catalog spells it, and the filters as they would be run.
    /// </summary>
    public async Task<(string TableName, IReadOnlyList<BackfillFilter> Filters)> ValidateAsync(int pipelineId, CreateBackfillInput input, RunTime? at,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        ParseVerify(input.Verify);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (_, table, filters) = await ValidateAsync(db, pipelineId, input, at, ct);
        return (table.TableName, filters);
    }

    /// <summary>Counts the source rows a backfill with these filters would copy, giving up after <see cref="PreviewTimeout"/>.</summary>
    /// <param name="at">For a schedule: the moment its relative filter values are resolved against.</param>
    public async Task<BackfillPreview> PreviewAsync(int pipelineId, CreateBackfillInput input, CancellationToken ct, RunTime? at = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var (pipeline, table, filters) = await ValidateAsync(db, pipelineId, input, at, ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PreviewTimeout);
        await using var source = await sources.OpenAsync(pipeline.SourceId, timeout.Token);
        try
        {
            var count = await source.CountAsync(table, FilterPredicate.Build(table, filters), timeout.Token);
            return new BackfillPreview(count, null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new BackfillPreview(null, $"Counting took longer than {PreviewTimeout.TotalSeconds:0} s; the job counts exactly when it starts.");
        }
    }

    private VerifyMode ParseVerify(string? verify)
    {
        if (string.IsNullOrWhiteSpace(verify)) verify = options.Value.VerifyAfterLoad;
        if (VerifyModes.TryParse(verify, out var mode)) return mode;
        var errors = new ValidationErrors();
        errors.Add("verify", $"verify '{Messages.Shorten(verify)}' is not one of {VerifyModes.Names(withNone: true)}.");
        errors.ThrowIfAny();
        return mode;
    }

    private async Task<(PipelineEntity Pipeline, TableSchema Table, IReadOnlyList<BackfillFilter> Filters)> ValidateAsync(
        ConfigDbContext db, int pipelineId, CreateBackfillInput input, RunTime? at, CancellationToken ct)
    {
        var pipeline = await PipelineService.FindAsync(db, pipelineId, ct);
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(input.TableName))
            errors.Add("table_name", "table_name is required.");
        else if (pipeline.Tables.All(t => t.TableName != input.TableName))
            errors.Add("table_name", $"Table '{Messages.Shorten(input.TableName)}' is not one of pipeline {pipelineId}'s tables: {string.Join(", ", pipeline.Tables.Select(t => t.TableName))}.");
        if (input.Filters is { Count: > FilterValidator.MaxFilters })
            errors.Add("filters", $"At most {FilterValidator.MaxFilters} filters are allowed; got {input.Filters.Count}.");
        RowRate.Validate(input.MaxRowsPerSecond, errors);
        if (input.ParallelChunks is < 1 or > JobChunks.MaxChunks)
            errors.Add("parallel_chunks", $"parallel_chunks must be between 1 and {JobChunks.MaxChunks}; got {input.ParallelChunks}.");
        errors.ThrowIfAny();

        await using var source = await sources.OpenAsync(pipeline.SourceId, ct);
        TableSchema table;
        try
        {
            table = await source.TableAsync(input.TableName!, ct);
        }
        catch (NotFoundException gone)
        {
            // One of the pipeline's tables, dropped or renamed in the source since: the request names it, the pipeline exists.
            throw ValidationFailedException.For("table_name", gone.Message);
        }
        if (await source.ReadRefusalAsync(table, ct) is { } refusal) errors.Add("table_name", refusal);
        var inputs = at is null ? input.Filters : at.Resolve(table, input.Filters, errors);
        errors.ThrowIfAny();
        var filters = FilterValidator.Validate(table, inputs, errors);
        errors.ThrowIfAny();
        await FilterValueParser.CheckOnServerAsync(source.Connection, table, filters, errors, ct);
        errors.ThrowIfAny();
        return (pipeline, table, filters);
    }

    /// <param name="includeDeleted">Also deleted jobs (the audit trail), which are otherwise hidden.</param>
    public async Task<JobPage> ListAsync(int? pipelineId, string? status, int skip, int limit, CancellationToken ct, bool includeDeleted = false)
    {
        var errors = new ValidationErrors();
        if (skip < 0) errors.Add("skip", "skip must be 0 or more.");
        if (limit is < 1 or > MaxPageSize) errors.Add("limit", $"limit must be between 1 and {MaxPageSize}.");
        JobStatus? wanted = null;
        if (!string.IsNullOrWhiteSpace(status))
        {
            if (EnumText.TryParse<JobStatus>(status, out var parsed)) wanted = parsed;
            else errors.Add("status", $"status '{Messages.Shorten(status)}' is not one of {string.Join(", ", Enum.GetValues<JobStatus>().Select(s => s.ToDb()))}.");
        }
        errors.ThrowIfAny();

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        // A deleted pipeline's jobs remain in the audit trail.
        if (pipelineId is { } pid && !includeDeleted && !await db.Pipelines.AnyAsync(p => p.Id == pid, ct))
            throw new NotFoundException($"Pipeline {pid} does not exist.");
        var query = includeDeleted ? db.BackfillJobs.IgnoreQueryFilters().AsNoTracking().Where(j => j.ParentId == null) : db.BackfillJobs.AsNoTracking();
        if (pipelineId is { } id) query = query.Where(j => j.PipelineId == id);
        if (wanted is { } w) query = query.Where(j => j.Status == w);
        var total = await query.CountAsync(ct);
        var items = await query.OrderByDescending(j => j.Id).Skip(skip).Take(limit).ToListAsync(ct);
        return new JobPage(total, await ViewsAsync(db, items, ct));
    }

    /// <summary>The status of each pipeline's newest job; pipelines without jobs are absent.</summary>
    public async Task<IReadOnlyDictionary<int, JobStatus>> LatestStatusByPipelineAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.BackfillJobs.AsNoTracking()
            .Where(j => j.Id == db.BackfillJobs.Where(k => k.PipelineId == j.PipelineId).Max(k => k.Id))
            .ToDictionaryAsync(j => j.PipelineId, j => j.Status, ct);
    }

    public async Task<JobView> GetAsync(int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var job = await db.BackfillJobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, ct)
            ?? throw new NotFoundException($"Backfill job {id} does not exist.");
        return (await ViewsAsync(db, [job], ct))[0];
    }

    public async Task<JobView> CancelAsync(int id, string? actor, CancellationToken ct)
    {
        await GetAsync(id, ct);
        if (await states.RequestCancelAsync(id, actor, ct) is null)
        {
            var finished = await GetAsync(id, ct);
            // A finished job's running or queued verification is what a cancel then stops.
            if (await verifications.CancelAsync(id, actor, ct) is null)
                throw new ConflictException($"Backfill job {id} is already {finished.Status.ToDb()} and cannot be cancelled.");
        }
        return await GetAsync(id, ct);
    }

    /// <summary>Queues a verification of a finished job; returns the job with its verification PENDING.</summary>
    public async Task<JobView> VerifyAsync(int id, VerifyInput? input, CancellationToken ct)
    {
        var job = await GetAsync(id, ct);
        var mode = VerifyMode.None;
        var text = input?.Mode ?? (job.Verify == "none" ? "count" : job.Verify);
        if (!VerifyModes.TryParse(text, out mode) || mode == VerifyMode.None)
        {
            var errors = new ValidationErrors();
            errors.Add("mode", $"mode '{Messages.Shorten(text)}' is not one of {VerifyModes.Names(withNone: false)}.");
            errors.ThrowIfAny();
        }
        if (await verifications.RequestAsync(id, mode, ct) is null)
        {
            job = await GetAsync(id, ct);
            throw new ConflictException(job.Verification?.Status is VerifyStatus.Pending or VerifyStatus.Running
                ? $"Backfill job {id} is already being verified."
                : $"Backfill job {id} is {job.Status.ToDb()}; only COMPLETED, FAILED or CANCELLED jobs can be verified.");
        }
        var queued = await GetAsync(id, ct);
        await states.AnnounceQueuedAsync(id, ct);
        return queued;
    }

    /// <summary>Queues a repair of the ranges the job's last verification found different, followed by a new verification.</summary>
    public async Task<JobView> RepairAsync(int id, CancellationToken ct)
    {
        await GetAsync(id, ct);
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var job = await db.BackfillJobs.AsNoTracking().FirstAsync(j => j.Id == id, ct);
            await using var source = await sources.OpenAsync(job.SourceId, ct);
            var table = await source.TableAsync(job.TableName, ct);
            if (table.PrimaryKey.Count == 0)
                throw new ConflictException($"{job.TableName} has no primary key, so backfill job {id} cannot repair ranges; start a new backfill instead.");
        }
        if (await verifications.RequestRepairAsync(id, ct) is null)
        {
            var job = await GetAsync(id, ct);
            throw new ConflictException(job.Verification?.Status switch
            {
                VerifyStatus.Pending or VerifyStatus.Running => $"Backfill job {id} is being verified; repair once it ends.",
                VerifyStatus.Mismatch when job.Status is JobStatus.Failed or JobStatus.Cancelled =>
                    $"Backfill job {id} is {job.Status.ToDb()}: it differs by the rows it has not copied yet. Resume it instead; only a COMPLETED job is repaired.",
                VerifyStatus.Mismatch => $"Backfill job {id} is {job.Status.ToDb()}; cancel it or let it end first.",
                _ => $"Backfill job {id} has nothing to repair: its last verification is {job.Verification?.Status ?? "missing"}, not MISMATCH.",
            });
        }
        var queued = await GetAsync(id, ct);
        await states.AnnounceQueuedAsync(id, ct);
        return queued;
    }

    /// <summary>Queues a FAILED or CANCELLED job again, to continue from its checkpoint; returns it as queued.</summary>
    public async Task<JobView> ResumeAsync(int id, string? actor, CancellationToken ct)
    {
        await GetAsync(id, ct);
        if (await states.ResumeAsync(id, actor, ct) is null)
        {
            var job = await GetAsync(id, ct);
            throw new ConflictException(JobTransitions.Resume.From.Contains(job.Status)
                ? $"Backfill job {id} is being verified; resume it once the verification ends (or stop it)."
                : $"Backfill job {id} is {job.Status.ToDb()}; only FAILED or CANCELLED jobs can be resumed.");
        }
        var queued = await GetAsync(id, ct);
        await states.AnnounceQueuedAsync(id, ct);
        return queued;
    }

    public async Task DeleteAsync(int id, string? actor, CancellationToken ct)
    {
        await GetAsync(id, ct);
        if (!await states.DeleteUnlessExecutingAsync(id, actor, ct))
        {
            await GetAsync(id, ct);
            throw new ConflictException($"Backfill job {id} is EXECUTING; cancel it first, then delete it.");
        }
    }

    /// <summary>The jobs' views with their chunks, if split, each PENDING one saying which absent engine it waits for, if any.</summary>
    private async Task<IReadOnlyList<JobView>> ViewsAsync(ConfigDbContext db, IReadOnlyList<BackfillJobEntity> jobs, CancellationToken ct)
    {
        var pending = jobs.Where(j => j.Status == JobStatus.Pending && j.DeletedAt is null).Select(j => j.PipelineId).Distinct().ToList();
        var absent = await engines.AbsentEnginesAsync(pending, ct);
        var ids = jobs.Select(j => (int?)j.Id).ToList();
        var chunks = (await db.BackfillJobs.IgnoreQueryFilters().AsNoTracking().Where(c => ids.Contains(c.ParentId)).OrderBy(c => c.Id).ToListAsync(ct))
            .ToLookup(c => c.ParentId!.Value, c => new ChunkView(ChunkRange.FromJson(c.Chunk)!.No, c.Status, c.CountRecord, c.TotalRecord,
                c.LeaseOwner, c.ErrorMessage, c.Attempts));
        return jobs.Select(j =>
        {
            var view = ToView(j) with { Chunks = chunks.Contains(j.Id) ? chunks[j.Id].ToList() : null };
            return j.Status == JobStatus.Pending && j.DeletedAt is null && absent.TryGetValue(j.PipelineId, out var engine)
                ? view with { WaitingFor = $"engine '{engine}', which is not running: a destination of the pipeline belongs to it (Backfill:EngineName)" }
                : view;
        }).ToList();
    }

    public static JobView ToView(BackfillJobEntity j) => new(
        j.Id, j.PipelineId, j.SourceId, j.TableName,
        JsonSerializer.Deserialize<List<BackfillFilter>>(j.Filters) ?? [], j.FilterSql, j.Status, j.CountRecord, j.TotalRecord,
        j.Status == JobStatus.Failed, j.ErrorMessage, j.CreatedAt, j.UpdatedAt, j.StartedAt, j.FinishedAt,
        j.CreatedBy, j.CancelledBy, j.CancelRequestedAt, j.DeletedBy, j.DeletedAt, j.ResumedBy, j.ResumedAt,
        j.VerifyAfterLoad, VerificationReport.FromJson(j.Verification), j.MaxRowsPerSecond,
        j.Status == JobStatus.Executing ? j.Throttled : null, ParallelChunks: j.ParallelChunks, ScheduleId: j.ScheduleId);
}
