using System.Text.Json;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Events;
using BackfillStudio.Engine.Persistence;
using BackfillStudio.Engine.Verification;
using Npgsql;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// The only writer of <c>queue_backfill_data.status</c>. Every transition is one conditional UPDATE
/// (<c>WHERE status = ANY(@from)</c>) that reports whether it won, so the API and any number of
/// engines cannot race a job into a wrong state. Each change is published in process and through NOTIFY.
/// </summary>
public sealed partial class JobStateStore(ConfigDataSource config, JobEventBus bus, EngineIdentity identity)
{
    internal const string Returning = "RETURNING id, pipeline_id, status, count_record, total_record, updated_at";

    /// <summary>
    /// Claims the oldest pending job this engine can write (<see cref="EngineRegistry"/>) under a new epoch, or returns null
    /// when none is waiting. The error
    /// that sent it back to the queue stays in error_message (why it is being retried) until it completes.
    /// </summary>
    public async Task<JobClaim?> ClaimNextAsync(CancellationToken ct)
    {
        var claimed = await ExecuteAsync($"""
            UPDATE queue_backfill_data SET status = @to, lease_owner = @owner, claim_epoch = claim_epoch + 1, heartbeat_at = now(), throttled = NULL,
                   started_at = COALESCE(started_at, now()), attempts = attempts + 1, updated_at = now(), finished_at = NULL
            WHERE id = (SELECT id FROM queue_backfill_data WHERE status = ANY(@from) AND deleted_at IS NULL
                        AND {EngineRegistry.ReachableByEngine}
                        ORDER BY COALESCE(parent_id, id), id LIMIT 1 FOR UPDATE SKIP LOCKED)
            {Returning}, claim_epoch
            """, reader => reader.GetInt64(6), ct, [("owner", identity.Owner), ("engine", identity.Name), .. Move(JobTransitions.Claim)]);
        return claimed is var (change, epoch) ? new JobClaim(change.JobId, epoch) : null;
    }

    /// <summary>
    /// Records the job's total. Returns null when the claim was lost; otherwise whether a cancel was requested already
    /// (one that came between the claim and the runner's start, whose notification found nothing to stop).
    /// </summary>
    public Task<bool?> SetTotalAsync(JobClaim claim, long total, CancellationToken ct) =>
        UpdateRunningAsync(claim, "total_record = @total", ct, ("total", total));

    /// <summary>
    /// Records, after every destination accepted a batch, the rows written in all (<paramref name="countRecord"/>, a total,
    /// so that a retried checkpoint counts nothing twice) and the resume cursor, and whether (and why) the source governor
    /// holds the job back. Returns null when the claim was lost; otherwise whether cancellation was requested.
    /// </summary>
    public Task<bool?> CheckpointAsync(JobClaim claim, long countRecord, ResumeCursor cursor, string? throttled, CancellationToken ct) =>
        UpdateRunningAsync(claim, "count_record = @count, resume_cursor = @cursor::jsonb, throttled = @throttled, heartbeat_at = now()", ct,
            ("count", countRecord), ("cursor", JsonSerializer.Serialize(cursor)), ("throttled", (object?)throttled ?? DBNull.Value));

    /// <summary>
    /// Sets <paramref name="set"/> on a job this engine runs under <paramref name="claim"/> (retried through config-database
    /// outages: every such update is idempotent). Returns null when the claim was lost; otherwise whether a cancel was requested.
    /// </summary>
    private async Task<bool?> UpdateRunningAsync(JobClaim claim, string set, CancellationToken ct, params (string Name, object Value)[] parameters) =>
        (await ConfigRetry.RunAsync(token => ExecuteAsync($"""
            UPDATE queue_backfill_data SET {set}, updated_at = now()
            WHERE id = @id AND claim_epoch = @epoch AND status = @executing
            {Returning}, cancel_requested_at IS NOT NULL
            """, reader => reader.GetBoolean(6), token,
            [("id", claim.JobId), ("epoch", claim.Epoch), ("executing", JobStatus.Executing.ToDb()), .. parameters]), ct))?.Extra;

    /// <summary>Ends a job COMPLETED and, when it was created with a verify mode, queues its verification in the same statement.</summary>
    public Task<JobChanged?> CompleteAsync(JobClaim claim, CancellationToken ct) => ConfigRetry.RunAsync(token => ExecuteAsync($"""
        UPDATE queue_backfill_data SET status = @to, error_message = NULL, finished_at = now(), updated_at = now(),
               verify_status = CASE WHEN verify_after_load <> 'none' THEN '{VerifyStatus.Pending}' ELSE verify_status END,
               verify_repair = CASE WHEN verify_after_load <> 'none' THEN false ELSE verify_repair END,
               verify_attempts = CASE WHEN verify_after_load <> 'none' THEN 0 ELSE verify_attempts END,
               verification = CASE WHEN verify_after_load <> 'none'
                                   THEN jsonb_set(@queued::jsonb, ARRAY['mode'], to_jsonb(verify_after_load)) ELSE verification END
        WHERE id = @id AND claim_epoch = @epoch AND status = ANY(@from)
        {Returning}
        """, token, [("id", claim.JobId), ("epoch", claim.Epoch), ("queued", VerificationReport.Queued(VerifyMode.Count).ToJson()), .. Move(JobTransitions.Complete)]), ct);

    public Task<JobChanged?> CancelExecutingAsync(JobClaim claim, CancellationToken ct) =>
        FinishAsync(claim, JobTransitions.CancelExecuting, null, ct);

    public Task<JobChanged?> FailAsync(JobClaim claim, string errorMessage, CancellationToken ct) =>
        FinishAsync(claim, JobTransitions.Fail, errorMessage, ct);

    /// <summary>Gives a job back to the queue after a transient error; it resumes from its checkpoint.</summary>
    public Task<JobChanged?> RequeueAsync(JobClaim claim, string errorMessage, CancellationToken ct) => ConfigRetry.RunAsync(token => ExecuteAsync($"""
        UPDATE queue_backfill_data SET status = @to, lease_owner = NULL, error_message = @error, updated_at = now()
        WHERE id = @id AND claim_epoch = @epoch AND status = ANY(@from) AND cancel_requested_at IS NULL
        {Returning}
        """, token, [("id", claim.JobId), ("epoch", claim.Epoch), ("error", errorMessage), .. Move(JobTransitions.Requeue)]), ct);

    /// <summary>
    /// Cancels a pending job at once, or asks the engine running it to stop: it hears of it through NOTIFY and stops
    /// its batch in flight (a missed notification is seen at the next checkpoint).
    /// </summary>
    public async Task<JobChanged?> RequestCancelAsync(int id, string? actor, CancellationToken ct)
    {
        var changed = await RequestCancelOneAsync(id, actor, ct);
        if (changed is not null) await CancelChunksAsync(id, actor, ct);
        return changed;
    }

    private async Task<JobChanged?> RequestCancelOneAsync(int id, string? actor, CancellationToken ct)
    {
        var cancelled = await ExecuteAsync($"""
            UPDATE queue_backfill_data SET status = @to, cancel_requested_at = now(), cancelled_by = @actor, finished_at = now(), updated_at = now()
            WHERE id = @id AND status = ANY(@from)
            {Returning}
            """, ct, [("id", id), ("actor", (object?)actor ?? DBNull.Value), .. Move(JobTransitions.CancelPending)]);
        if (cancelled is not null) return cancelled;
        var requested = await ExecuteAsync($"""
            UPDATE queue_backfill_data SET cancel_requested_at = COALESCE(cancel_requested_at, now()),
                cancelled_by = COALESCE(cancelled_by, @actor), updated_at = now()
            WHERE id = @id AND status = @executing
            {Returning}
            """, ct, ("id", id), ("actor", (object?)actor ?? DBNull.Value), ("executing", JobStatus.Executing.ToDb()));
        if (requested is not null) await NotifyAsync(NotifyChannels.JobCancel, id.ToString(), ct);
        return requested;
    }

    /// <summary>
    /// Puts a FAILED or CANCELLED job back in the queue: it continues from its checkpoint (count_record keeps
    /// what was written) with a fresh count of attempts. <see cref="AnnounceQueuedAsync"/> then wakes the engines.
    /// </summary>
    /// <remarks>A job split into chunks gets its FAILED and CANCELLED chunks back in the queue with it, each to continue from its own checkpoint.</remarks>
    public Task<JobChanged?> ResumeAsync(int id, string? actor, CancellationToken ct) => ExecuteAsync($"""
        WITH resumed AS (
            UPDATE queue_backfill_data SET status = @to, attempts = 0, lease_owner = NULL, finished_at = NULL,
                   error_message = NULL, cancel_requested_at = NULL, cancelled_by = NULL,
                   resumed_by = @actor, resumed_at = now(), updated_at = now()
            WHERE id = @id AND status = ANY(@from) AND deleted_at IS NULL
                  AND (verify_status IS NULL OR verify_status <> ALL(@verifying))
            {Returning}),
        chunks AS (
            UPDATE queue_backfill_data c SET status = @to, attempts = 0, lease_owner = NULL, finished_at = NULL,
                   error_message = NULL, cancel_requested_at = NULL, cancelled_by = NULL, updated_at = now()
            FROM resumed WHERE c.parent_id = resumed.id AND c.status = ANY(@from))
        SELECT * FROM resumed
        """, ct, [("id", id), ("actor", (object?)actor ?? DBNull.Value), ("verifying", VerifyStatus.InProgress), .. Move(JobTransitions.Resume)]);

    /// <summary>Wakes every engine for a job that is PENDING again, as for a new one.</summary>
    public Task AnnounceQueuedAsync(int id, CancellationToken ct) => NotifyAsync(NotifyChannels.JobCreated, id.ToString(), ct);

    /// <summary>
    /// Renews the leases of the claims this engine runs; returns those another engine holds now, or that were taken
    /// back to the queue (a job this engine ended itself is not among them).
    /// </summary>
    public async Task<IReadOnlyList<JobClaim>> HeartbeatAsync(IReadOnlyCollection<JobClaim> claims, CancellationToken ct)
    {
        if (claims.Count == 0) return [];
        await using var cmd = config.DataSource.CreateCommand("""
            WITH renewed AS (
                UPDATE queue_backfill_data q SET heartbeat_at = now()
                FROM unnest(@ids, @epochs) AS c(id, epoch)
                WHERE q.id = c.id AND q.claim_epoch = c.epoch AND q.status = @executing)
            SELECT c.id, c.epoch FROM unnest(@ids, @epochs) AS c(id, epoch) LEFT JOIN queue_backfill_data q ON q.id = c.id
            WHERE q.id IS NULL OR q.claim_epoch <> c.epoch OR q.status = @pending
            """);
        cmd.Parameters.AddWithValue("executing", JobStatus.Executing.ToDb());
        cmd.Parameters.AddWithValue("pending", JobStatus.Pending.ToDb());
        cmd.Parameters.AddWithValue("ids", claims.Select(c => c.JobId).ToArray());
        cmd.Parameters.AddWithValue("epochs", claims.Select(c => c.Epoch).ToArray());
        var lost = new List<JobClaim>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) lost.Add(new JobClaim(reader.GetInt32(0), reader.GetInt64(1)));
        return lost;
    }

    /// <summary>
    /// Takes back jobs whose engine stopped renewing its lease: they return to PENDING and resume from
    /// their checkpoint, or end CANCELLED (cancel was requested) or FAILED (attempts exhausted).
    /// </summary>
    public async Task<IReadOnlyList<JobChanged>> ReclaimExpiredAsync(int leaseSeconds, int maxAttempts, CancellationToken ct)
    {
        await using var cmd = config.DataSource.CreateCommand($"""
            UPDATE queue_backfill_data SET
                   status = CASE WHEN cancel_requested_at IS NOT NULL THEN @cancelled
                                 WHEN attempts >= @max THEN @failed ELSE @to END,
                   error_message = CASE WHEN cancel_requested_at IS NOT NULL THEN error_message
                                        WHEN attempts >= @max
                                        THEN 'The engine running this job stopped and the job has used all ' || @max || ' attempts.'
                                        ELSE 'The engine running this job stopped renewing its lease (it crashed, froze or lost the '
                                             || 'config database); the job resumes from its checkpoint.' END,
                   finished_at = CASE WHEN cancel_requested_at IS NOT NULL OR attempts >= @max THEN now() END,
                   lease_owner = NULL, updated_at = now()
            WHERE status = ANY(@from) AND heartbeat_at < now() - make_interval(secs => @lease) AND NOT {RunByChunks}
            {Returning}
            """);
        foreach (var (name, value) in Move(JobTransitions.Reclaim)) cmd.Parameters.AddWithValue(name, value);
        cmd.Parameters.AddWithValue("cancelled", JobStatus.Cancelled.ToDb());
        cmd.Parameters.AddWithValue("failed", JobStatus.Failed.ToDb());
        cmd.Parameters.AddWithValue("max", maxAttempts);
        cmd.Parameters.AddWithValue("lease", (double)leaseSeconds);
        var changes = new List<JobChanged>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) changes.Add(ReadChange(reader));
        }
        foreach (var change in changes) await PublishAsync(change, ct);
        return changes;
    }

    /// <summary>Marks the job deleted (kept for the audit trail, hidden from lists) unless it is executing.</summary>
    public async Task<bool> DeleteUnlessExecutingAsync(int id, string? actor, CancellationToken ct)
    {
        var deleted = await ExecuteAsync($"""
            UPDATE queue_backfill_data SET deleted_at = now(), deleted_by = @actor, updated_at = now()
            WHERE id = @id AND status <> @executing AND deleted_at IS NULL
            {Returning}
            """, ct, ("id", id), ("actor", (object?)actor ?? DBNull.Value), ("executing", JobStatus.Executing.ToDb())) is not null;
        if (deleted) await DeleteChunksAsync(id, actor, ct);
        return deleted;
    }

    /// <summary>Announces a newly inserted job: wakes the engines and publishes its first event.</summary>
    public async Task AnnounceCreatedAsync(JobChanged created, CancellationToken ct)
    {
        await PublishAsync(created, ct);
        await NotifyAsync(NotifyChannels.JobCreated, created.JobId.ToString(), ct);
    }

    /// <summary>Ends a job this engine runs; lease_owner is kept so one can see which engine ran it.</summary>
    private Task<JobChanged?> FinishAsync(JobClaim claim, JobTransition transition, string? errorMessage, CancellationToken ct) => ConfigRetry.RunAsync(token => ExecuteAsync($"""
        UPDATE queue_backfill_data SET status = @to, error_message = @error, finished_at = now(), updated_at = now()
        WHERE id = @id AND claim_epoch = @epoch AND status = ANY(@from)
        {Returning}
        """, token, [("id", claim.JobId), ("epoch", claim.Epoch), ("error", (object?)errorMessage ?? DBNull.Value), .. Move(transition)]), ct);

    /// <summary>The <c>@from</c> and <c>@to</c> parameters of a transition's UPDATE.</summary>
    private static (string Name, object Value)[] Move(JobTransition transition) =>
        [("from", transition.From.ToDb()), ("to", transition.To.ToDb())];

    /// <summary>Runs an UPDATE ending in <see cref="Returning"/> and publishes the change it made, if any.</summary>
    internal async Task<JobChanged?> ExecuteAsync(string sql, CancellationToken ct, params (string Name, object Value)[] parameters) =>
        (await ExecuteAsync(sql, _ => true, ct, parameters))?.Change;

    /// <summary>As above, for an UPDATE that returns one more column after <see cref="Returning"/>'s, read by <paramref name="extra"/>.</summary>
    private async Task<(JobChanged Change, T Extra)?> ExecuteAsync<T>(string sql, Func<NpgsqlDataReader, T> extra, CancellationToken ct,
        params (string Name, object Value)[] parameters)
    {
        await using var cmd = config.DataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        (JobChanged, T)? result = null;
        // The reader must be closed (its pooled connection returned) before publishing reuses the pool.
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct)) result = (ReadChange(reader), extra(reader));
        }
        if (result is var (change, _)) await PublishAsync(change, ct);
        return result;
    }

    private static JobChanged ReadChange(NpgsqlDataReader reader) => new(
        reader.GetInt32(0), reader.GetInt32(1), JobStatusNames.Parse(reader.GetString(2)), reader.GetInt64(3),
        reader.IsDBNull(4) ? null : reader.GetInt64(4), reader.GetFieldValue<DateTimeOffset>(5));

    private async Task PublishAsync(JobChanged change, CancellationToken ct)
    {
        bus.Publish(change);
        var payload = JsonSerializer.Serialize(new JobChangedNotification(identity.Owner, change));
        await NotifyAsync(NotifyChannels.JobChanged, payload, ct);
    }

    private async Task NotifyAsync(string channel, string payload, CancellationToken ct)
    {
        await using var cmd = config.DataSource.CreateCommand("SELECT pg_notify(@channel, @payload)");
        cmd.Parameters.AddWithValue("channel", channel);
        cmd.Parameters.AddWithValue("payload", payload);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>The NOTIFY payload: the event plus its origin, so a process skips its own notifications.</summary>
public sealed record JobChangedNotification(string Origin, JobChanged Change);
