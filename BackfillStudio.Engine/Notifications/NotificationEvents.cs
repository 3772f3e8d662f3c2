namespace BackfillStudio.Engine.Notifications;

/// <summary>
/// The events a channel can subscribe to: a job ending, its verification finding a difference, or a schedule's
/// occurrence creating no job (it failed, or was skipped while the schedule's previous job still ran).
/// </summary>
public static class NotificationEvents
{
    public const string Completed = "COMPLETED";
    public const string Failed = "FAILED";
    public const string Cancelled = "CANCELLED";
    public const string Mismatch = "MISMATCH";
    public const string ScheduleFailed = "SCHEDULE_FAILED";
    public const string ScheduleSkipped = "SCHEDULE_SKIPPED";

    /// <summary>Events about a schedule's occurrence, whose body carries the schedule instead of a job.</summary>
    public static bool IsSchedule(string eventName) => eventName is ScheduleFailed or ScheduleSkipped;

    /// <summary>Sent by "Send test" only; no channel subscribes to it.</summary>
    public const string Test = "TEST";

    public static readonly string[] All = [Completed, Failed, Cancelled, Mismatch, ScheduleFailed, ScheduleSkipped];
}

/// <summary>A delivery's state in <c>notification_deliveries</c>.</summary>
public static class DeliveryStatus
{
    public const string Pending = "PENDING";
    public const string Delivered = "DELIVERED";
    public const string Failed = "FAILED";
}

/// <summary>The <c>Notifications</c> section of appsettings.json.</summary>
public sealed class NotificationOptions
{
    public const string Section = "Notifications";

    /// <summary>
    /// The address users open the UI at (<c>App:PublicUrl</c>; <c>Notifications:PublicUrl</c>, its first name, still
    /// works); messages link to the job's page under it. Empty: no link.
    /// </summary>
    public string PublicUrl { get; set; } = "";

    /// <summary>How long a delivery is retried (with back-off from 1 s up to an hour) before it is given up.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 24 * 30)]
    public int RetryHours { get; set; } = 24;
}
