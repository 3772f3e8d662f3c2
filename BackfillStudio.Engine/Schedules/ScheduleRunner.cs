using System.Globalization;
using System.Text.Json;
using BackfillStudio.Engine.Common;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Notifications;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BackfillStudio.Engine.Schedules;

/// <summary>
/// Runs due schedule occurrences on every engine. Each occurrence is taken under a row lock (<c>SKIP LOCKED</c>) and, in
/// one transaction, creates its job (or records why not) and moves the schedule to its next occurrence, so it creates
/// exactly one job however many engines run; the unique (schedule, occurrence) key of <c>schedule_runs</c> backs that up.
/// An occurrence is skipped while the schedule's previous job is still PENDING or EXECUTING, and fails (the schedule
/// moving on) when its job cannot be created. Occurrences missed while no engine ran are folded into one, the latest.
/// A job's lower bounds reach back to the first occurrence since the schedule's last job (<see cref="RunTime.From"/>),
/// so the windows of occurrences missed, skipped or failed are copied by the next job rather than never.
/// </summary>
public sealed class ScheduleRunner(
    IDbContextFactory<ConfigDbContext> dbFactory,
    JobService jobs,
    EngineIdentity identity,
    ILogger<ScheduleRunner> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Backoff = TimeSpan.FromMinutes(1);
    private const int MaxMissedCounted = 100_000;

    /// <summary>Schedules this engine could not run just now (say, the config database refused a write), left alone for a while so they do not hold up the others.</summary>
    private readonly Dictionary<int, DateTimeOffset> _backingOff = [];

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
        foreach (var (id, until) in _backingOff.ToList())
            if (until < DateTimeOffset.UtcNow) _backingOff.Remove(id);
        var skip = _backingOff.Keys.ToArray();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var schedule = (await db.Schedules.FromSql($"""
            SELECT * FROM backfill_schedules WHERE NOT paused AND next_run_at <= now() AND id <> ALL({skip})
            ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED
            """).ToListAsync(ct)).SingleOrDefault();
        if (schedule is null) return false;
        try
        {
            await RunAsync(db, schedule, ct);
            await tx.CommitAsync(ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            _backingOff[schedule.Id] = DateTimeOffset.UtcNow + Backoff;
            logger.LogWarning("Schedule {ScheduleId} could not run on this engine; trying again in {Backoff}: {Error}", schedule.Id, Backoff, e.Message);
        }
        return true;
    }

    private async Task RunAsync(ConfigDbContext db, BackfillScheduleEntity schedule, CancellationToken ct)
    {
        var now = await db.Database.SqlQuery<DateTimeOffset>($"SELECT now() AS \"Value\"").SingleAsync(ct);
        var cron = CronSchedule.Load(schedule.Cron, schedule.TimeZone);
        var (occurrence, missed) = LatestDue(cron, schedule.NextRunAt!.Value, now);
        // Only a relative lower bound can reach back over the windows of earlier occurrences.
        var reachesBack = RunTime.HasRelativeLowerBound(Templates(schedule));
        var from = schedule.UncoveredSince ?? schedule.NextRunAt!.Value;
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
                var at = new RunTime(occurrence, cron.Zone, reachesBack && from < occurrence ? from : null);
                job = await jobs.AddJobAsync(db, schedule.PipelineId, Request(schedule), $"schedule {schedule.Id}", at, ct);
                job.ScheduleId = schedule.Id;
                if (at.From is not null)
                    run.Message = $"Its lower bounds (>, >=) were resolved at {from.UtcDateTime.ToString("u", CultureInfo.InvariantCulture)}, the first occurrence since this " +
                                  "schedule's last job, so it also copies the windows of the occurrences that created none.";
            }
            // Whatever the source or the request says (a dropped column, a refused connection, a timeout), the
            // occurrence fails and the schedule moves on; the next occurrence tries again.
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                run.Outcome = ScheduleOutcome.Failed;
                run.Message = $"No job created: {Messages.Shorten(SecretScrubber.Scrub(e.Message, []), 1000)}";
            }
        }
        if (job is not null)
        {
            await db.SaveChangesAsync(ct);
            run.JobId = job.Id;
        }
        if (run.Outcome != ScheduleOutcome.Created && reachesBack) run.Message += " The next job of this schedule copies its window.";
        if (missed > 0)
            run.Message = $"{run.Message} {(missed >= MaxMissedCounted ? $"More than {MaxMissedCounted:N0}" : missed.ToString("N0"))} earlier occurrence(s) were missed while no engine ran.".TrimStart();
        db.ScheduleRuns.Add(run);
        if (run.Outcome == ScheduleOutcome.Failed) await ScheduleRunNotice.QueueAsync(db, NotificationEvents.ScheduleFailed, schedule, run, ct);
        if (run.Outcome == ScheduleOutcome.Skipped) await ScheduleRunNotice.QueueAsync(db, NotificationEvents.ScheduleSkipped, schedule, run, ct);
        schedule.NextRunAt = cron.Next(now);
        schedule.UncoveredSince = run.Outcome == ScheduleOutcome.Created || !reachesBack ? null : from;
        schedule.UpdatedAt = now;
        await db.SaveChangesAsync(ct);

        if (job is not null) await jobs.AnnounceCreatedAsync(job, ct);
        var level = run.Outcome == ScheduleOutcome.Created ? LogLevel.Information : LogLevel.Warning;
        logger.Log(level, "Schedule {ScheduleId}, occurrence {Occurrence:O}: {Outcome} {JobId} {Message}", schedule.Id, occurrence, run.Outcome,
            run.JobId, run.Message);
    }

    /// <summary>
    /// The latest occurrence due by <paramref name="now"/> (the stored one, <paramref name="first"/>, unless later ones are
    /// due too), found in windows widening back from now, and how many due occurrences before it were passed over.
    /// </summary>
    private static (DateTimeOffset Occurrence, int Missed) LatestDue(CronSchedule cron, DateTimeOffset first, DateTimeOffset now)
    {
        var latest = first;
        foreach (var window in new[] { TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), TimeSpan.FromDays(1), TimeSpan.FromDays(32), TimeSpan.FromDays(367), TimeSpan.FromDays(3660) })
        {
            var from = now - window > first ? now - window : first;
            if (cron.Between(from, now).DefaultIfEmpty(first).Last() is var found && found > first)
            {
                latest = found;
                break;
            }
            if (from == first) break;
        }
        var missed = latest == first ? 0 : cron.Between(first, latest).Take(MaxMissedCounted + 1).Count() - 1;
        return (latest, Math.Min(missed, MaxMissedCounted));
    }

    private static List<BackfillFilter> Templates(BackfillScheduleEntity s) => JsonSerializer.Deserialize<List<BackfillFilter>>(s.Filters) ?? [];

    private static CreateBackfillInput Request(BackfillScheduleEntity s) => new(s.TableName,
        Templates(s).Select(f => FilterInput.Of(f.Column, f.Operator, f.Value)).ToList(), s.VerifyAfterLoad, s.MaxRowsPerSecond, s.ParallelChunks);
}
