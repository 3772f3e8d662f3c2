namespace BackfillStudio.Engine.Events;

/// <summary>Published on every status change and checkpoint of a backfill job.</summary>
public sealed record JobChanged(int JobId, int PipelineId, Jobs.JobStatus Status, long CountRecord, long? TotalRecord, DateTimeOffset UpdatedAt);
