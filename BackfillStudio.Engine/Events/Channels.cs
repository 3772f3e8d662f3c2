namespace BackfillStudio.Engine.Events;

/// <summary>PostgreSQL NOTIFY channels shared by every process on one config database.</summary>
public static class NotifyChannels
{
    public const string JobCreated = "backfill_job_created";
    public const string JobChanged = "backfill_job_changed";
    /// <summary>A user asked to cancel an EXECUTING job (payload: its id); the engine running it stops at once.</summary>
    public const string JobCancel = "backfill_job_cancel";
}
