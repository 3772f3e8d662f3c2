using System.Text.Json;
using BackfillStudio.Engine.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BackfillStudio.Engine.Notifications;

/// <summary>
/// A schedule's occurrence that created no job (<see cref="NotificationEvents.ScheduleFailed"/>, or
/// <see cref="NotificationEvents.ScheduleSkipped"/> while its previous job still ran) told to the channels that subscribe
/// to it: outbox rows added to the caller's transaction, the one that records the occurrence, so a nightly backfill that
/// did not start is never silent.
/// </summary>
public static class ScheduleRunNotice
{
    public static async Task QueueAsync(ConfigDbContext db, string eventName, BackfillScheduleEntity schedule, ScheduleRunEntity run, CancellationToken ct)
    {
        var channels = await db.NotificationChannels.AsNoTracking()
            .Where(c => c.Events.Contains(eventName) && (c.PipelineIds == null || c.PipelineIds.Length == 0 || c.PipelineIds.Contains(schedule.PipelineId)))
            .Select(c => c.Id).ToListAsync(ct);
        if (channels.Count == 0) return;
        var pipeline = await db.Pipelines.AsNoTracking().Where(p => p.Id == schedule.PipelineId).Select(p => p.Name).FirstOrDefaultAsync(ct);
        var payload = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["id"] = schedule.Id, ["pipeline_id"] = schedule.PipelineId, ["pipeline_name"] = pipeline, ["table_name"] = schedule.TableName,
            ["cron"] = schedule.Cron, ["time_zone"] = schedule.TimeZone, ["occurrence_at"] = run.OccurrenceAt, ["error_message"] = run.Message,
        });
        foreach (var channel in channels)
            db.NotificationDeliveries.Add(new NotificationDeliveryEntity
            {
                ChannelId = channel, DeliveryId = Guid.NewGuid(), Event = eventName, Payload = payload,
                Status = DeliveryStatus.Pending, NextAttemptAt = DateTimeOffset.UtcNow,
            });
    }
}
