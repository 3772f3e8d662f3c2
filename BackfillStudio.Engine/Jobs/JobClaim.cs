namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// One engine's claim of a job. <see cref="Epoch"/> grows with every claim of the job (its fencing token): every
/// status change, heartbeat and checkpoint is conditional on it, and destinations refuse batches of an older epoch
/// than one they have seen, so an engine that lost the job (frozen past its lease, say) can no longer change anything.
/// </summary>
public sealed record JobClaim(int JobId, long Epoch);
