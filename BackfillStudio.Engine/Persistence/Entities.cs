namespace BackfillStudio.Engine.Persistence;

public sealed class SourceEntity
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public required string Host { get; set; }
    public int Port { get; set; }
    public required string Database { get; set; }
    public required string Username { get; set; }
    /// <summary>Data-Protection-encrypted password; never leaves the process in clear.</summary>
    public string? PasswordProtected { get; set; }
    public required string SslMode { get; set; }
    /// <summary>The rows/s ceiling of each job reading this source; null for none.</summary>
    public int? MaxRowsPerSecond { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class DestinationEntity
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public required string Type { get; set; }
    /// <summary>Non-secret settings as a JSON object.</summary>
    public required string Config { get; set; }
    /// <summary>Data-Protection-encrypted JSON object holding the secret settings.</summary>
    public string? SecretsProtected { get; set; }
    /// <summary>
    /// The engine that can reach a local-file destination's path (<c>Backfill:EngineName</c>); null: any engine (the
    /// path is on storage they all share, or the destination is a server).
    /// </summary>
    public string? EngineName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class PipelineEntity
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public int SourceId { get; set; }
    public SourceEntity? Source { get; set; }
    public List<PipelineDestinationEntity> Destinations { get; set; } = [];
    public List<PipelineTableEntity> Tables { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class PipelineDestinationEntity
{
    public int PipelineId { get; set; }
    public int DestinationId { get; set; }
    public DestinationEntity? Destination { get; set; }
}

public sealed class PipelineTableEntity
{
    public int Id { get; set; }
    public int PipelineId { get; set; }
    public required string TableName { get; set; }
    public string? TargetTableName { get; set; }

    /// <summary>Where the table's rows go in each destination: its target name, by default the source table's name without its schema.</summary>
    public string Target => TargetTableName ?? TableName[(TableName.IndexOf('.') + 1)..];
}

/// <summary>A row of <c>queue_backfill_data</c>. Status changes go through <see cref="Jobs.JobStateStore"/> only.</summary>
public sealed class BackfillJobEntity
{
    public int Id { get; set; }
    public int PipelineId { get; set; }
    public int SourceId { get; set; }
    public required string TableName { get; set; }
    public string? FilterSql { get; set; }
    public Jobs.JobStatus Status { get; set; } = Jobs.JobStatus.Pending;
    public long CountRecord { get; set; }
    public DateTimeOffset? CreatedAt { get; set; }
    public DateTimeOffset? UpdatedAt { get; set; }
    public string Filters { get; set; } = "[]";
    public long? TotalRecord { get; set; }
    public string? ErrorMessage { get; set; }
    public string? ResumeCursor { get; set; }
    public int Attempts { get; set; }
    public string? LeaseOwner { get; set; }
    /// <summary>Grows with every claim; see <see cref="Jobs.JobClaim"/>.</summary>
    public long ClaimEpoch { get; set; }
    public DateTimeOffset? HeartbeatAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public DateTimeOffset? CancelRequestedAt { get; set; }
    public string? CreatedBy { get; set; }
    public string? CancelledBy { get; set; }
    /// <summary>Who last put the job back in the queue after it FAILED or was CANCELLED, and when.</summary>
    public string? ResumedBy { get; set; }
    public DateTimeOffset? ResumedAt { get; set; }
    /// <summary>A deleted job is kept for the audit trail but hidden everywhere unless deleted jobs are asked for.</summary>
    public DateTimeOffset? DeletedAt { get; set; }
    public string? DeletedBy { get; set; }
    /// <summary>How the job checks itself once COMPLETED: none, count or checksum.</summary>
    public string VerifyAfterLoad { get; set; } = "none";
    /// <summary>The job's rows/s ceiling (its source's may be lower); null for none.</summary>
    public int? MaxRowsPerSecond { get; set; }
    /// <summary>Why the source governor holds the running job's reads back, as of its last checkpoint; null when it does not.</summary>
    public string? Throttled { get; set; }
    /// <summary>The latest verification report (<see cref="Verification.VerificationReport"/>), or null when never verified.</summary>
    public string? Verification { get; set; }
    /// <summary>Claim state of the verification (PENDING, RUNNING, then its outcome); changed by <see cref="Verification.VerificationStore"/> only.</summary>
    public string? VerifyStatus { get; set; }
    /// <summary>Whether the pending verification first re-copies the ranges the last one found different.</summary>
    public bool VerifyRepair { get; set; }
    public string? VerifyOwner { get; set; }
    public DateTimeOffset? VerifyHeartbeatAt { get; set; }
    public int VerifyAttempts { get; set; }
    public DateTimeOffset? VerifyCancelRequestedAt { get; set; }
    /// <summary>How many chunks the job asked to be split into; null: <c>Backfill:MaxParallelChunks</c>.</summary>
    public int? ParallelChunks { get; set; }
    /// <summary>
    /// Set on a chunk: the job it is part of. A chunk is a job row of its own (claim, lease, epoch, checkpoint), hidden
    /// from lists; its parent shows their progress and outcome (<see cref="Jobs.JobChunks"/>).
    /// </summary>
    public int? ParentId { get; set; }
    /// <summary>A chunk's key range (<see cref="Jobs.ChunkRange"/> as JSON); null for a job.</summary>
    public string? Chunk { get; set; }
    /// <summary>The schedule whose occurrence created the job; null for a job someone started.</summary>
    public int? ScheduleId { get; set; }
}

/// <summary>An engine that ran lately: each one renews its row while it runs (<see cref="Jobs.EngineRegistry"/>).</summary>
public sealed class EngineEntity
{
    public required string Name { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
}

/// <summary>A person who signs in to the UI; the role is an Identity role (Admin, Operator, Viewer).</summary>
public sealed class AppUser : Microsoft.AspNetCore.Identity.IdentityUser;

/// <summary>A REST API key: only its SHA-256 hash is stored; the key itself is shown once, when created.</summary>
public sealed class ApiKeyEntity
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public required string KeyHash { get; set; }
    /// <summary>The key's first characters, so users can tell their keys apart.</summary>
    public required string Prefix { get; set; }
    public required string Role { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>
/// Where job events are sent: a webhook URL (signed with the channel's secret) or e-mail recipients (through the
/// <c>Smtp</c> server). It hears of the events it subscribes to (<see cref="Notifications.NotificationEvents"/>) of its
/// pipelines (null: all of them).
/// </summary>
public sealed class NotificationChannelEntity
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public required string Type { get; set; }
    public string? Url { get; set; }
    public string[]? Recipients { get; set; }
    /// <summary>Data-Protection-encrypted signing secret; never leaves the process in clear.</summary>
    public string? SecretProtected { get; set; }
    public int[]? PipelineIds { get; set; }
    public string[] Events { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// One event for one channel: the outbox row written by the job's status change (in its transaction, by a trigger), then
/// the delivery log. Claimed by one engine at a time; retried with back-off under the same <see cref="DeliveryId"/>.
/// </summary>
public sealed class NotificationDeliveryEntity
{
    public long Id { get; set; }
    public int ChannelId { get; set; }
    public NotificationChannelEntity? Channel { get; set; }
    public Guid DeliveryId { get; set; }
    public required string Event { get; set; }
    public int? JobId { get; set; }
    /// <summary>The job as it was when the event happened (JSON).</summary>
    public required string Payload { get; set; }
    public required string Status { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public string? LastError { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
    public string? ClaimedBy { get; set; }
    public DateTimeOffset? ClaimedUntil { get; set; }
}

/// <summary>
/// A recurring backfill of a pipeline's table: every occurrence of <see cref="Cron"/> in <see cref="TimeZone"/> creates
/// one job, its filter values relative to the occurrence (<see cref="Schedules.RelativeTime"/>) resolved.
/// </summary>
public sealed class BackfillScheduleEntity
{
    public int Id { get; set; }
    public int PipelineId { get; set; }
    public required string TableName { get; set; }
    /// <summary>The filters as given (JSON), values such as <c>today-1d</c> not yet resolved.</summary>
    public string Filters { get; set; } = "[]";
    public required string Cron { get; set; }
    public required string TimeZone { get; set; }
    public string VerifyAfterLoad { get; set; } = "none";
    public int? MaxRowsPerSecond { get; set; }
    public int? ParallelChunks { get; set; }
    public bool Paused { get; set; }
    /// <summary>The next occurrence to run; null while paused.</summary>
    public DateTimeOffset? NextRunAt { get; set; }
    /// <summary>
    /// The first occurrence since the schedule's last job that created none (skipped while a job ran, or failed): the next
    /// job's relative lower bounds reach back to it. Null when every occurrence since the last job created one, when the
    /// filters have no relative lower bound, and after a resume or an edit of the table or filters.
    /// </summary>
    public DateTimeOffset? UncoveredSince { get; set; }
    public string? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>What one occurrence of a schedule did: created a job, was skipped, or failed; one row per occurrence.</summary>
public sealed class ScheduleRunEntity
{
    public long Id { get; set; }
    public int ScheduleId { get; set; }
    public DateTimeOffset OccurrenceAt { get; set; }
    public required string Outcome { get; set; }
    public int? JobId { get; set; }
    public string? Message { get; set; }
    /// <summary>The engine that ran the occurrence.</summary>
    public required string Engine { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
