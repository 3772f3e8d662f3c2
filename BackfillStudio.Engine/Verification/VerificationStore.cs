using BackfillStudio.Engine.Events;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Persistence;

namespace BackfillStudio.Engine.Verification;

/// <summary>
/// The only writer of a job's verification state (<c>verify_status</c> and the <c>verification</c> report). Like job
/// statuses, every transition is one conditional UPDATE, and a verification is claimed, leased and taken back like a
/// job; each change is published as a <see cref="JobChanged"/> so pages update live.
/// </summary>
public sealed class VerificationStore(ConfigDataSource config, JobStateStore states, EngineIdentity identity)
{
    private const string Returning = JobStateStore.Returning;
    private static readonly string NotBusy = $"(verify_status IS NULL OR verify_status NOT IN ('{VerifyStatus.Pending}', '{VerifyStatus.Running}'))";
    private const string Finished = "status = ANY(@finished) AND deleted_at IS NULL";

    private static readonly (string, object) FinishedStatuses = ("finished", JobStatusNames.Finished.ToDb());
    private static readonly string Owned = $"verify_status = '{VerifyStatus.Running}' AND verify_owner = @owner";

    /// <summary>Queues a verification of a finished job, unless one is queued or running.</summary>
    public Task<JobChanged?> RequestAsync(int id, VerifyMode mode, CancellationToken ct) => states.ExecuteAsync($"""
        UPDATE queue_backfill_data SET verify_status = '{VerifyStatus.Pending}', verify_repair = false, verify_attempts = 0, verify_owner = NULL,
               verify_cancel_requested_at = NULL, verification = @report::jsonb, updated_at = now()
        WHERE id = @id AND {Finished} AND {NotBusy}
        {Returning}
        """, ct, ("id", id), ("report", VerificationReport.Queued(mode).ToJson()), FinishedStatuses);

    /// <summary>
    /// Queues a repair of the ranges the last verification found different; it verifies again in the same mode. Only of a
    /// COMPLETED job: a FAILED or CANCELLED one differs by the rows it has not copied yet, which a resume copies, and a
    /// repair before it would write them too (in a Parquet folder, beside the files the resume writes: twice).
    /// </summary>
    public Task<JobChanged?> RequestRepairAsync(int id, CancellationToken ct) => states.ExecuteAsync($"""
        UPDATE queue_backfill_data SET verify_status = '{VerifyStatus.Pending}', verify_repair = true, verify_attempts = 0, verify_owner = NULL,
               verify_cancel_requested_at = NULL, verification = jsonb_set(verification, ARRAY['status'], '"{VerifyStatus.Pending}"'), updated_at = now()
        WHERE id = @id AND status = @completed AND deleted_at IS NULL AND verify_status = '{VerifyStatus.Mismatch}'
        {Returning}
        """, ct, ("id", id), ("completed", JobStatus.Completed.ToDb()));

    /// <summary>Claims the oldest queued verification for this engine.</summary>
    public async Task<int?> ClaimNextAsync(CancellationToken ct) => (await states.ExecuteAsync($"""
        UPDATE queue_backfill_data SET verify_status = '{VerifyStatus.Running}', verify_owner = @owner, verify_heartbeat_at = now(),
               verify_attempts = verify_attempts + 1, verification = jsonb_set(verification, ARRAY['status'], '"{VerifyStatus.Running}"'), updated_at = now()
        WHERE id = (SELECT id FROM queue_backfill_data WHERE verify_status = '{VerifyStatus.Pending}' AND deleted_at IS NULL
                    AND {EngineRegistry.ReachableByEngine}
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
        {Returning}
        """, ct, ("owner", identity.Owner), ("engine", identity.Name)))?.JobId;

    /// <summary>Stores the report so far; false when this engine should stop (cancelled, deleted, or taken over).</summary>
    public async Task<bool> ReportProgressAsync(int id, VerificationReport report, CancellationToken ct) => await states.ExecuteAsync($"""
        UPDATE queue_backfill_data SET verification = @report::jsonb, verify_heartbeat_at = now(), updated_at = now()
        WHERE id = @id AND {Owned} AND verify_cancel_requested_at IS NULL AND deleted_at IS NULL
        {Returning}
        """, ct, ("id", id), ("owner", identity.Owner), ("report", report.ToJson())) is not null;

    /// <summary>Ends a verification this engine runs with the report's status (MATCHED, MISMATCH or FAILED).</summary>
    public Task<JobChanged?> FinishAsync(int id, VerificationReport report, CancellationToken ct) => states.ExecuteAsync($"""
        UPDATE queue_backfill_data SET verify_status = @status, verification = @report::jsonb, verify_repair = false, updated_at = now()
        WHERE id = @id AND {Owned}
        {Returning}
        """, ct, ("id", id), ("owner", identity.Owner), ("status", report.Status), ("report", report.ToJson()));

    /// <summary>Gives a verification back to the queue (the engine is stopping); it starts over.</summary>
    public Task<JobChanged?> RequeueAsync(int id, CancellationToken ct) => states.ExecuteAsync($"""
        UPDATE queue_backfill_data SET verify_status = '{VerifyStatus.Pending}', verify_owner = NULL,
               verification = jsonb_set(verification, ARRAY['status'], '"{VerifyStatus.Pending}"'), updated_at = now()
        WHERE id = @id AND {Owned} AND verify_cancel_requested_at IS NULL
        {Returning}
        """, ct, ("id", id), ("owner", identity.Owner));

    /// <summary>Cancels a queued verification at once, or asks the engine running it to stop before its next range.</summary>
    public async Task<JobChanged?> CancelAsync(int id, string? actor, CancellationToken ct) =>
        await states.ExecuteAsync($"""
            UPDATE queue_backfill_data SET verify_status = '{VerifyStatus.Failed}', verify_repair = false,
                   verification = verification || jsonb_build_object('status', '{VerifyStatus.Failed}', 'error_message', @message::text), updated_at = now()
            WHERE id = @id AND verify_status = '{VerifyStatus.Pending}'
            {Returning}
            """, ct, ("id", id), ("message", Cancelled(actor)))
        ?? await states.ExecuteAsync($"""
            UPDATE queue_backfill_data SET verify_cancel_requested_at = COALESCE(verify_cancel_requested_at, now()), updated_at = now()
            WHERE id = @id AND verify_status = '{VerifyStatus.Running}'
            {Returning}
            """, ct, ("id", id));

    public static string Cancelled(string? actor) => $"Cancelled{(actor is null ? "" : $" by {actor}")}.";

    /// <summary>Ends a verification whose cancellation this engine has seen.</summary>
    public Task<JobChanged?> FinishCancelledAsync(int id, CancellationToken ct) => states.ExecuteAsync($"""
        UPDATE queue_backfill_data SET verify_status = '{VerifyStatus.Failed}', verify_repair = false,
               verification = verification || jsonb_build_object('status', '{VerifyStatus.Failed}', 'error_message', 'Cancelled.'), updated_at = now()
        WHERE id = @id AND {Owned} AND verify_cancel_requested_at IS NOT NULL
        {Returning}
        """, ct, ("id", id), ("owner", identity.Owner));

    public async Task HeartbeatAsync(IReadOnlyCollection<int> ids, CancellationToken ct)
    {
        if (ids.Count == 0) return;
        await using var cmd = config.DataSource.CreateCommand($"UPDATE queue_backfill_data SET verify_heartbeat_at = now() WHERE id = ANY(@ids) AND {Owned}");
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        cmd.Parameters.AddWithValue("owner", identity.Owner);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Takes back verifications whose engine stopped renewing the lease: queued again, or FAILED when cancelled or out of attempts.</summary>
    public async Task<int> ReclaimExpiredAsync(int leaseSeconds, int maxAttempts, CancellationToken ct)
    {
        var reclaimed = 0;
        while (await states.ExecuteAsync($"""
                   UPDATE queue_backfill_data SET verify_owner = NULL, updated_at = now(),
                          verify_status = CASE WHEN verify_cancel_requested_at IS NULL AND verify_attempts < @max THEN '{VerifyStatus.Pending}' ELSE '{VerifyStatus.Failed}' END,
                          verification = verification || CASE WHEN verify_cancel_requested_at IS NULL AND verify_attempts < @max
                              THEN jsonb_build_object('status', '{VerifyStatus.Pending}')
                              ELSE jsonb_build_object('status', '{VerifyStatus.Failed}', 'error_message', CASE WHEN verify_cancel_requested_at IS NULL
                                  THEN 'The engine verifying this job stopped and the verification has used all ' || @max || ' attempts.'
                                  ELSE 'Cancelled.' END) END
                   WHERE id = (SELECT id FROM queue_backfill_data WHERE verify_status = '{VerifyStatus.Running}'
                               AND verify_heartbeat_at < now() - make_interval(secs => @lease) LIMIT 1 FOR UPDATE SKIP LOCKED)
                   {Returning}
                   """, ct, ("max", maxAttempts), ("lease", (double)leaseSeconds)) is not null)
            reclaimed++;
        return reclaimed;
    }
}
