namespace BackfillStudio.Engine.Destinations;

/// <summary>
/// The destination side of a job's fencing (<see cref="Jobs.JobClaim"/>): a table <c>_backfill_fence</c> beside the
/// target holding, per job and target table, the newest claim epoch that wrote there. Each batch's transaction raises it
/// to the writer's epoch, or finds a newer one and is rolled back with <see cref="StaleClaimException"/>; the row lock
/// it takes orders a stale writer's commit before or after the new owner's, never between.
/// </summary>
public static class ClaimFence
{
    public const string Table = "_backfill_fence";
}

/// <summary>A destination holds batches of a newer claim of the job: this writer's engine lost the job and must stop.</summary>
public sealed class StaleClaimException(string destination, WriteTarget target)
    : Exception($"{destination} holds batches of a newer claim of job {target.JobId} than this engine's ({target.Epoch}): another engine took the job over.");
