using System.Text.Json;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Sources;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BackfillStudio.Engine.Schedules;

/// <summary>
/// Runs due schedule occurrences on every engine. Each occurrence is taken under a row lock (<c>SKIP LOCKED</c>) and, in
/// one transaction, creates its job (or records why not) and moves the schedule to its next occurrence, so it creates
/// exactly one job however many engines run; the unique (schedule, occurrence) key of <c>schedule_runs</c> backs that up.
/// An occurrence is skipped while the schedule's previous job is still PENDING or EXECUTING. Occurrences missed while no
/// engine ran are folded into one, the latest.
/// </summary>
public sealed class ScheduleRunner(
    IDbContextFactory<ConfigDbContext> dbFactory,
    JobService jobs,
    EngineIdentity identity,
    ILogger<ScheduleRunner> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await RunDueAsync(stoppingToken)) await Task.Delay(PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Could not run scheduled backfills now: {Error}", e.Message);
                await Task.Delay(PollInterval, stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }

    /// <summary>Runs the most overdue occurrence, if one is due; false when none is.</summary>
    private async Task<bool> RunDueAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var schedule = (await db.Schedules.FromSql($"""
            SELECT * FROM backfill_schedules WHERE NOT paused AND next_run_at <= now() ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED
            """).ToListAsync(ct)).SingleOrDefault();
        if (schedule is null) return false;

        var now = await db.Database.SqlQuery<DateTimeOffset>($"SELECT now() AS \"Value\"").SingleAsync(ct);
        var cron = CronSchedule.Load(schedule.Cron, schedule.TimeZone);
        var (occurrence, missed) = LatestDue(cron, schedule.NextRunAt!.Value, now);
        var run = new ScheduleRunEntity { ScheduleId = schedule.Id, OccurrenceAt = occurrence, Outcome = ScheduleOutcome.Created, Engine = identity.Name };
        BackfillJobEntity? job = null;
        var previous = await db.BackfillJobs.AsNoTracking()
            .Where(j => j.ScheduleId == schedule.Id && (j.Status == JobStatus.Pending || j.Status == JobStatus.Executing))
            .OrderBy(j => j.Id).Select(j => new { j.Id, j.Status }).FirstOrDefaultAsync(ct);
        if (previous is not null)
        {
            run.Outcome = ScheduleOutcome.Skipped;
            run.Message = $"Job {previous.Id} of this schedule is still {previous.Status.ToDb()}.";
        }
        else
        {
            try
            {
                job = await jobs.AddJobAsync(db, schedule.PipelineId, Request(schedule), $"schedule {schedule.Id}", new RunTime(occurrence, cron.Zone), ct);
                job.ScheduleId = schedule.Id;
                await db.SaveChangesAsync(ct);
                run.JobId = job.Id;
            }
            catch (Exception e) when (e is ValidationFailedException or NotFoundException or SourceUnavailableException)
            {
                run.Outcome = ScheduleOutcome.Failed;
                run.Message = $"No job created: {e.Message}";
            }
        }
        if (missed > 0) run.Message = $"{run.Message} {missed} earlier occurrence(s) were missed while no engine ran.".TrimStart();
        db.ScheduleRuns.Add(run);
        schedule.NextRunAt = cron.Next(occurrence > now ? occurrence : now);
        schedule.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);

        if (job is not null) await jobs.AnnounceCreatedAsync(job, ct);
        var level = run.Outcome == ScheduleOutcome.Created ? LogLevel.Information : LogLevel.Warning;
        logger.Log(level, "Schedule {ScheduleId}, occurrence {Occurrence:O}: {Outcome} {JobId} {Message}", schedule.Id, occurrence, run.Outcome,
            run.JobId, run.Message);
        return true;
    }

    /// <summary>The latest occurrence due by <paramref name="now"/>, starting from the stored one, and how many before it were passed over.</summary>
    private static (DateTimeOffset Occurrence, int Missed) LatestDue(CronSchedule cron, DateTimeOffset first, DateTimeOffset now)
    {
        var occurrence = first;
        var missed = 0;
        // Bounded: a per-second schedule an engine missed for days is folded, not walked, past this many steps.
        while (missed < 100_000 && cron.Next(occurrence) is { } next && next <= now)
        {
            occurrence = next;
            missed++;
        }
        return (occurrence, missed);
    }

    private static CreateBackfillInput Request(BackfillScheduleEntity s) => new(s.TableName,
        (JsonSerializer.Deserialize<List<BackfillFilter>>(s.Filters) ?? []).Select(f => FilterInput.Of(f.Column, f.Operator, f.Value)).ToList(),
        s.VerifyAfterLoad, s.MaxRowsPerSecond, s.ParallelChunks);
}
