using System.Text.Json;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Pipelines;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Engine.Schedules;

/// <param name="Cron">Five fields (minute hour day month weekday), or six with seconds first.</param>
/// <param name="TimeZone">An IANA time zone the cron expression and relative filter values follow (default UTC).</param>
public sealed record ScheduleInput(string? TableName, IReadOnlyList<FilterInput>? Filters, string? Cron, string? TimeZone = null,
    string? Verify = null, int? MaxRowsPerSecond = null, int? ParallelChunks = null)
{
    public CreateBackfillInput Job => new(TableName, Filters, Verify, MaxRowsPerSecond, ParallelChunks);
}

/// <summary>One occurrence of a schedule: CREATED (with its job), SKIPPED or FAILED, and why.</summary>
public sealed record ScheduleRunView(DateTimeOffset OccurrenceAt, string Outcome, int? JobId, string? Message, string Engine, DateTimeOffset CreatedAt);

public sealed record ScheduleView(int Id, int PipelineId, string TableName, IReadOnlyList<BackfillFilter> Filters, string Cron, string TimeZone,
    string Verify, int? MaxRowsPerSecond, int? ParallelChunks, bool Paused, DateTimeOffset? NextRunAt, IReadOnlyList<DateTimeOffset> NextRuns,
    DateTimeOffset? UncoveredSince, ScheduleRunView? LastRun, string? CreatedBy, DateTimeOffset CreatedAt);

/// <summary>Creates, lists, pauses, resumes and deletes a pipeline's scheduled backfills; the engines run them (<see cref="ScheduleRunner"/>).</summary>
public sealed class ScheduleService(IDbContextFactory<ConfigDbContext> dbFactory, JobService jobs)
{
    public const int UpcomingRuns = 3;
    public const string DefaultTimeZone = "UTC";

    public async Task<ScheduleView> CreateAsync(int pipelineId, ScheduleInput input, string? actor, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var (cron, table, filters) = await ValidateAsync(pipelineId, input, now, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var schedule = new BackfillScheduleEntity { PipelineId = pipelineId, TableName = table, Cron = "", TimeZone = "", CreatedBy = actor };
        Apply(schedule, input, cron, table, filters, now);
        db.Schedules.Add(schedule);
        await db.SaveChangesAsync(ct);
        return View(schedule, null);
    }

    /// <summary>Replaces the schedule's job request, cron and zone; a running schedule goes on from the new cron's next occurrence, a paused one stays paused.</summary>
    public async Task<ScheduleView> UpdateAsync(int pipelineId, int id, ScheduleInput input, CancellationToken ct)
    {
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var schedule = await FindAsync(db, pipelineId, id, ct, tracked: true);
            var now = DateTimeOffset.UtcNow;
            var (cron, table, filters) = await ValidateAsync(pipelineId, input, now, ct);
            Apply(schedule, input, cron, table, filters, now);
            await db.SaveChangesAsync(ct);
        }
        return await GetAsync(pipelineId, id, ct);
    }

    /// <summary>The request checked as an occurrence now would run it (relative values as of now), with cron and zone errors beside the job's.</summary>
    private async Task<(CronSchedule Cron, string Table, IReadOnlyList<BackfillFilter> Filters)> ValidateAsync(int pipelineId, ScheduleInput input,
        DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var errors = new ValidationErrors();
        var cron = CronSchedule.Parse(input.Cron, input.TimeZone ?? DefaultTimeZone, errors);
        (string TableName, IReadOnlyList<BackfillFilter> Filters) job = ("", []);
        try
        {
            job = await jobs.ValidateAsync(pipelineId, input.Job, new RunTime(now, cron?.Zone ?? TimeZoneInfo.Utc), ct);
        }
        catch (ValidationFailedException e)
        {
            errors.AddAll(e);
        }
        errors.ThrowIfAny();
        return (cron!, job.TableName, RunTime.Templates(job.Filters, input.Filters));
    }

    private void Apply(BackfillScheduleEntity schedule, ScheduleInput input, CronSchedule cron, string table, IReadOnlyList<BackfillFilter> filters,
        DateTimeOffset now)
    {
        // Windows left uncovered belong to the request that had them.
        if (schedule.TableName != table || !(JsonSerializer.Deserialize<List<BackfillFilter>>(schedule.Filters) ?? []).SequenceEqual(filters))
            schedule.UncoveredSince = null;
        schedule.TableName = table;
        schedule.Filters = JsonSerializer.Serialize(filters);
        schedule.Cron = input.Cron!.Trim();
        schedule.TimeZone = cron.Zone.Id;
        schedule.VerifyAfterLoad = string.IsNullOrWhiteSpace(input.Verify) ? jobs.DefaultVerify : input.Verify.Trim().ToLowerInvariant();
        schedule.MaxRowsPerSecond = input.MaxRowsPerSecond;
        schedule.ParallelChunks = input.ParallelChunks;
        schedule.NextRunAt = schedule.Paused ? null : cron.Next(now);
        schedule.UpdatedAt = now;
    }

    public async Task<IReadOnlyList<ScheduleView>> ListAsync(int pipelineId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await PipelineService.FindAsync(db, pipelineId, ct);
        var schedules = await db.Schedules.AsNoTracking().Where(s => s.PipelineId == pipelineId).OrderBy(s => s.Id).ToListAsync(ct);
        var ids = schedules.Select(s => s.Id).ToList();
        var lastRuns = await db.ScheduleRuns.AsNoTracking().Where(r => ids.Contains(r.ScheduleId))
            .GroupBy(r => r.ScheduleId).Select(g => g.OrderByDescending(r => r.OccurrenceAt).First()).ToListAsync(ct);
        return schedules.Select(s => View(s, lastRuns.FirstOrDefault(r => r.ScheduleId == s.Id))).ToList();
    }

    public async Task<ScheduleView> GetAsync(int pipelineId, int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var schedule = await FindAsync(db, pipelineId, id, ct);
        var last = await db.ScheduleRuns.AsNoTracking().Where(r => r.ScheduleId == id).OrderByDescending(r => r.OccurrenceAt).FirstOrDefaultAsync(ct);
        return View(schedule, last);
    }

    /// <summary>The schedule's occurrences, newest first.</summary>
    public async Task<IReadOnlyList<ScheduleRunView>> RunsAsync(int pipelineId, int id, int limit, CancellationToken ct)
    {
        if (limit is < 1 or > JobService.MaxPageSize)
            throw ValidationFailedException.For("limit", $"limit must be between 1 and {JobService.MaxPageSize}.");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await FindAsync(db, pipelineId, id, ct);
        return (await db.ScheduleRuns.AsNoTracking().Where(r => r.ScheduleId == id).OrderByDescending(r => r.OccurrenceAt).Take(limit).ToListAsync(ct))
            .Select(RunView).ToList();
    }

    /// <summary>Stops creating jobs until resumed; the schedule's running job, if any, goes on.</summary>
    public Task<ScheduleView> PauseAsync(int pipelineId, int id, CancellationToken ct) => SetPausedAsync(pipelineId, id, paused: true, ct);

    /// <summary>Runs again from the next occurrence after now; those missed while paused (or skipped before) are not made up.</summary>
    public Task<ScheduleView> ResumeAsync(int pipelineId, int id, CancellationToken ct) => SetPausedAsync(pipelineId, id, paused: false, ct);

    private async Task<ScheduleView> SetPausedAsync(int pipelineId, int id, bool paused, CancellationToken ct)
    {
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var schedule = await FindAsync(db, pipelineId, id, ct, tracked: true);
            if (schedule.Paused != paused)
            {
                schedule.Paused = paused;
                schedule.NextRunAt = paused ? null : CronSchedule.Load(schedule.Cron, schedule.TimeZone).Next(DateTimeOffset.UtcNow);
                schedule.UncoveredSince = null;
                schedule.UpdatedAt = DateTimeOffset.UtcNow;
                await db.SaveChangesAsync(ct);
            }
        }
        return await GetAsync(pipelineId, id, ct);
    }

    /// <summary>Deletes the schedule and its occurrence log; the jobs it created stay (with its id).</summary>
    public async Task DeleteAsync(int pipelineId, int id, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.Schedules.Remove(await FindAsync(db, pipelineId, id, ct, tracked: true));
        await db.SaveChangesAsync(ct);
    }

    private static async Task<BackfillScheduleEntity> FindAsync(ConfigDbContext db, int pipelineId, int id, CancellationToken ct, bool tracked = false)
    {
        await PipelineService.FindAsync(db, pipelineId, ct);
        var query = tracked ? db.Schedules : db.Schedules.AsNoTracking();
        return await query.FirstOrDefaultAsync(s => s.Id == id && s.PipelineId == pipelineId, ct)
            ?? throw new NotFoundException($"Schedule {id} of pipeline {pipelineId} does not exist.");
    }

    private static ScheduleView View(BackfillScheduleEntity s, ScheduleRunEntity? last) => new(
        s.Id, s.PipelineId, s.TableName, JsonSerializer.Deserialize<List<BackfillFilter>>(s.Filters) ?? [], s.Cron, s.TimeZone, s.VerifyAfterLoad,
        s.MaxRowsPerSecond, s.ParallelChunks, s.Paused, s.NextRunAt,
        // A zone this host's time zone data lacks shows no upcoming runs rather than failing the list.
        s.NextRunAt is { } next ? CronSchedule.Parse(s.Cron, s.TimeZone, new ValidationErrors())?.Upcoming(next, UpcomingRuns) ?? [] : [],
        s.UncoveredSince, last is null ? null : RunView(last), s.CreatedBy, s.CreatedAt);

    private static ScheduleRunView RunView(ScheduleRunEntity r) => new(r.OccurrenceAt, r.Outcome, r.JobId, r.Message, r.Engine, r.CreatedAt);
}
