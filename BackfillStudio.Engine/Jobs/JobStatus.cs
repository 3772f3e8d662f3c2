namespace BackfillStudio.Engine.Jobs;

/// <summary>Lifecycle of a backfill job; stored upper-case in <c>queue_backfill_data.status</c>.</summary>
public enum JobStatus
{
    Pending,
    Executing,
    Completed,
    Failed,
    Cancelled,
}

public static class JobStatusNames
{
    public static string ToDb(this JobStatus status) => status.ToString().ToUpperInvariant();

    public static JobStatus Parse(string value) => Enum.Parse<JobStatus>(value, ignoreCase: true);

    public static bool IsFinished(this JobStatus status) =>
        status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
}
