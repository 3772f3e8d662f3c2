using System.Text.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Notifications;

/// <summary>
/// Delivers the outbox (<c>notification_deliveries</c>) on every engine, to webhooks and by e-mail: claims due deliveries with <c>SKIP LOCKED</c> and a
/// lease, so one attempt at a time runs anywhere; a failed attempt is retried after 1, 2, 4 ... s (at most an hour) until
/// <see cref="NotificationOptions.RetryHours"/> have passed since the event, then marked FAILED. A delivery whose engine
/// died mid-attempt is taken again when its lease ends: at least once, each time under the same delivery id.
/// </summary>
public sealed class NotificationDispatcher(
    ConfigDataSource config,
    SecretProtector protector,
    EngineIdentity identity,
    IOptions<NotificationOptions> options,
    IOptions<SmtpOptions> smtp,
    ILogger<NotificationDispatcher> logger) : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private sealed record Due(long Id, Guid DeliveryId, string Event, string Payload, DateTimeOffset CreatedAt, string Channel, string Type,
        string? Url, string? SecretProtected, string[]? Recipients);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await ClaimAsync(stoppingToken) is { } delivery) await DeliverAsync(delivery, stoppingToken);
                else await Task.Delay(PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Could not deliver notifications now: {Error}", e.Message);
                await Task.Delay(PollInterval, stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Claims the oldest due delivery. One at a time: its lease then outlasts its one attempt (at most a few timeouts of
    /// 10 s), where a batch of claims would leave the last ones to expire, and be sent again elsewhere, behind a slow receiver.
    /// </summary>
    private async Task<Due?> ClaimAsync(CancellationToken ct)
    {
        await using var cmd = config.DataSource.CreateCommand($"""
            UPDATE notification_deliveries d SET claimed_by = @me, claimed_until = now() + make_interval(secs => @lease), attempts = d.attempts + 1
            FROM notification_channels c
            WHERE c.id = d.channel_id AND d.id IN (
                SELECT id FROM notification_deliveries
                WHERE status = '{DeliveryStatus.Pending}' AND next_attempt_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING d.id, d.delivery_id, d.event, d.payload::text, d.created_at, c.name, c.type, c.url, c.secret_protected, c.recipients
            """);
        cmd.Parameters.AddWithValue("me", identity.Owner);
        cmd.Parameters.AddWithValue("lease", Lease.TotalSeconds);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new Due(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetString(5), reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<string[]>(9))
            : null;
    }

    private async Task DeliverAsync(Due delivery, CancellationToken ct)
    {
        var body = Body(delivery);
        var error = delivery.Type == NotificationService.Email
            ? await EmailSender.SendAsync(smtp.Value, delivery.Recipients ?? [], Subject(delivery, body), MailText(body), delivery.DeliveryId, ct)
            : await WebhookSender.SendAsync(Http, delivery.Url!, protector.Unprotect(delivery.SecretProtected) ?? "", delivery.Event,
                delivery.DeliveryId, JsonSerializer.SerializeToUtf8Bytes(body), ct);
        if (error is null) logger.LogInformation("Notification {DeliveryId} ({Event}) delivered to channel '{Channel}'", delivery.DeliveryId, delivery.Event, delivery.Channel);
        else logger.LogWarning("Notification {DeliveryId} ({Event}) to channel '{Channel}' not delivered: {Error}", delivery.DeliveryId, delivery.Event, delivery.Channel, error);
        await using var cmd = config.DataSource.CreateCommand($"""
            UPDATE notification_deliveries SET claimed_by = NULL, claimed_until = NULL, last_error = @error,
                   status = CASE WHEN @error IS NULL THEN '{DeliveryStatus.Delivered}'
                                 WHEN created_at < now() - make_interval(hours => @retryHours) THEN '{DeliveryStatus.Failed}'
                                 ELSE status END,
                   delivered_at = CASE WHEN @error IS NULL THEN now() END,
                   next_attempt_at = now() + make_interval(secs => least(3600, power(2, least(attempts - 1, 12))))
            WHERE id = @id AND claimed_by = @me
            """);
        cmd.Parameters.AddWithValue("id", delivery.Id);
        cmd.Parameters.AddWithValue("me", identity.Owner);
        cmd.Parameters.AddWithValue("error", NpgsqlTypes.NpgsqlDbType.Text, (object?)error ?? DBNull.Value);
        cmd.Parameters.AddWithValue("retryHours", options.Value.RetryHours);
        await cmd.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private static string Subject(Due delivery, JsonObject body) => delivery.Event switch
    {
        NotificationEvents.Test => "[BackfillStudio] Test notification",
        NotificationEvents.ScheduleFailed => $"[BackfillStudio] Schedule {body["schedule"]?["id"]} created no job: {body["schedule"]?["table_name"]}",
        NotificationEvents.ScheduleSkipped => $"[BackfillStudio] Schedule {body["schedule"]?["id"]} skipped a run: {body["schedule"]?["table_name"]}",
        _ => $"[BackfillStudio] Job {body["job"]?["id"]} {delivery.Event}: {body["job"]?["table_name"]}",
    };

    /// <summary>The mail: the message line, the link, then every field of the job (or schedule).</summary>
    private static string MailText(JsonObject body)
    {
        var text = new System.Text.StringBuilder().AppendLine((string?)body["message"]).AppendLine();
        if (body["link"] is { } link) text.AppendLine($"Open: {link}").AppendLine();
        if ((body["job"] ?? body["schedule"]) is JsonObject subject)
            foreach (var (field, value) in subject.Where(f => f.Value is not null))
                text.AppendLine($"{field}: {(value is JsonValue ? value.ToString() : value!.ToJsonString())}");
        return text.AppendLine().AppendLine($"Delivery {body["delivery_id"]}").ToString();
    }

    /// <summary>
    /// The JSON body: the event, the job as it was then (or, for a schedule's failed occurrence, the schedule), and a
    /// link to the job's page or the schedule's pipeline page (with <c>App:PublicUrl</c>).
    /// </summary>
    private JsonObject Body(Due delivery)
    {
        var subject = JsonNode.Parse(delivery.Payload)!.AsObject();
        var isSchedule = NotificationEvents.IsSchedule(delivery.Event);
        var body = new JsonObject
        {
            ["delivery_id"] = delivery.DeliveryId.ToString(),
            ["event"] = delivery.Event,
            ["occurred_at"] = delivery.CreatedAt.ToUniversalTime().ToString("O"),
            ["message"] = Message(delivery.Event, subject),
        };
        if (isSchedule) body["schedule"] = subject;
        else body["job"] = delivery.Event == NotificationEvents.Test ? null : subject;
        var publicUrl = options.Value.PublicUrl.TrimEnd('/');
        if (publicUrl.Length > 0 && (isSchedule ? subject["pipeline_id"] : subject["id"]) is { } id)
            body["link"] = isSchedule ? $"{publicUrl}/pipelines/{id}" : $"{publicUrl}/jobs/{id}";
        return body;
    }

    /// <summary>One readable line: "Backfill job 12 of public.orders (pipeline shop) COMPLETED: 500,000 rows in 41 s (12,195 rows/s)."</summary>
    private static string Message(string eventName, JsonObject subject)
    {
        if (eventName == NotificationEvents.Test) return (string?)subject["message"] ?? "Test notification from BackfillStudio.";
        if (NotificationEvents.IsSchedule(eventName))
            return $"Schedule {subject["id"]} of {subject["table_name"]} (pipeline {subject["pipeline_name"]}, '{subject["cron"]}' in {subject["time_zone"]}) " +
                   $"{(eventName == NotificationEvents.ScheduleSkipped ? "skipped" : "created no job for")} its run at {subject["occurrence_at"]}: {subject["error_message"]}";
        var head = $"Backfill job {subject["id"]} of {subject["table_name"]} (pipeline {subject["pipeline_name"]})";
        var filters = (string?)subject["filter_sql"] is { Length: > 0 } f ? $" where {f}" : "";
        var rows = (long?)subject["count_record"] ?? 0;
        var seconds = (double?)subject["duration_seconds"];
        var rate = seconds is > 0 ? $" ({rows / seconds.Value:N0} rows/s)" : "";
        var took = seconds is { } s ? $" in {s:N0} s{rate}" : "";
        return eventName switch
        {
            NotificationEvents.Completed => $"{head}{filters} COMPLETED: {rows:N0} rows{took}.",
            NotificationEvents.Mismatch => $"{head}{filters}: its verification found {subject["verification"]?["ranges_mismatched"]} mismatched ranges.",
            _ => $"{head}{filters} {eventName} after {rows:N0} rows{took}: {subject["error_message"] ?? "cancelled"}",
        };
    }
}
