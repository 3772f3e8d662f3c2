using System.Text.Json;
using System.Text.Json.Serialization;

namespace BackfillStudio.Engine.Jobs;

/// <summary>Lifecycle of a backfill job; stored, and shown in JSON, upper-case (<c>PENDING</c>, ...) as the seed contract has it.</summary>
[JsonConverter(typeof(JobStatusJsonConverter))]
public enum JobStatus
{
    Pending,
    Executing,
    Completed,
    Failed,
    Cancelled,
}

public sealed class JobStatusJsonConverter() : JsonStringEnumConverter<JobStatus>(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: false);

public static class JobStatusNames
{
    public static string ToDb(this JobStatus status) => status.ToString().ToUpperInvariant();

    public static JobStatus Parse(string value) => Enum.Parse<JobStatus>(value, ignoreCase: true);

    public static readonly JobStatus[] Finished = [JobStatus.Completed, JobStatus.Failed, JobStatus.Cancelled];

    public static bool IsFinished(this JobStatus status) => Finished.Contains(status);

    public static string[] ToDb(this IEnumerable<JobStatus> statuses) => statuses.Select(s => s.ToDb()).ToArray();
}

/// <summary>A status change: the states it may start from and the state it ends in.</summary>
public sealed record JobTransition(IReadOnlyList<JobStatus> From, JobStatus To);

/// <summary>
/// Every status change a job can make, in one table; <see cref="JobStateStore"/> applies each as a conditional UPDATE
/// (<c>WHERE status = ANY(from)</c>), so a transition not listed here cannot happen.
/// </summary>
public static class JobTransitions
{
    public static readonly JobTransition Claim = new([JobStatus.Pending], JobStatus.Executing);
    public static readonly JobTransition Complete = new([JobStatus.Executing], JobStatus.Completed);
    public static readonly JobTransition Fail = new([JobStatus.Executing], JobStatus.Failed);
    public static readonly JobTransition CancelExecuting = new([JobStatus.Executing], JobStatus.Cancelled);
    public static readonly JobTransition CancelPending = new([JobStatus.Pending], JobStatus.Cancelled);
    /// <summary>After a transient error or a shutdown: the job resumes from its checkpoint.</summary>
    public static readonly JobTransition Requeue = new([JobStatus.Executing], JobStatus.Pending);
    public static readonly JobTransition Resume = new([JobStatus.Failed, JobStatus.Cancelled], JobStatus.Pending);
    /// <summary>A job whose engine stopped renewing its lease: back to PENDING, or CANCELLED/FAILED (see <see cref="JobStateStore.ReclaimExpiredAsync"/>).</summary>
    public static readonly JobTransition Reclaim = new([JobStatus.Executing], JobStatus.Pending);
}
