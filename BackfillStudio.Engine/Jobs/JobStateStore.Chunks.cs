using BackfillStudio.Engine.Events;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// A job split into chunks (<see cref="JobChunks"/>): its chunks are job rows with <c>parent_id</c>, run through the same
/// transitions; the parent stays EXECUTING without a lease while they run, adds up their rows, and ends once none is left
/// to run: FAILED if one failed, CANCELLED if one was cancelled, else COMPLETED (queuing the job's verification).
/// </summary>
public sealed partial class JobStateStore
{
    private static readonly string[] Live = [JobStatus.Pending.ToDb(), JobStatus.Executing.ToDb()];

    /// <summary>
    /// Inserts the parent's chunks, PENDING, in one statement that also checks the parent's claim, and wakes the engines.
    /// Returns false, inserting nothing, when the claim was lost or a cancel was requested (the parent's row lock orders
    /// a cancel before the insert, or after it, when it finds the chunks to cancel).
    /// </summary>
    public async Task<bool> StartChunksAsync(JobClaim parent, IReadOnlyList<ChunkRange> ranges, int? rowsPerSecondEach, CancellationToken ct)
    {
        var inserted = await ConfigRetry.RunAsync(async token =>
        {
            await using var cmd = config.DataSource.CreateCommand("""
                WITH parent AS (
                    SELECT * FROM queue_backfill_data
                    WHERE id = @id AND claim_epoch = @epoch AND status = @executing AND cancel_requested_at IS NULL
                          AND NOT EXISTS (SELECT 1 FROM queue_backfill_data c WHERE c.parent_id = @id)
                    FOR UPDATE)
                INSERT INTO queue_backfill_data (pipeline_id, source_id, table_name, filter_sql, filters, status, count_record, total_record,
                    created_by, verify_after_load, verify_repair, claim_epoch, attempts, verify_attempts, max_rows_per_second, parent_id, chunk)
                SELECT p.pipeline_id, p.source_id, p.table_name, p.filter_sql, p.filters, @pending, 0, c.rows,
                       p.created_by, 'none', false, 0, 0, 0, @rate, p.id, c.chunk
                FROM parent p, unnest(@chunks::jsonb[], @rows) AS c(chunk, rows)
                """);
            cmd.Parameters.AddWithValue("id", parent.JobId);
            cmd.Parameters.AddWithValue("epoch", parent.Epoch);
            cmd.Parameters.AddWithValue("executing", JobStatus.Executing.ToDb());
            cmd.Parameters.AddWithValue("pending", JobStatus.Pending.ToDb());
            cmd.Parameters.AddWithValue("rate", (object?)rowsPerSecondEach ?? DBNull.Value);
            cmd.Parameters.AddWithValue("chunks", ranges.Select(r => r.ToJson()).ToArray());
            cmd.Parameters.AddWithValue("rows", ranges.Select(r => r.PlannedRows).ToArray());
            return await cmd.ExecuteNonQueryAsync(token);
        }, ct);
        if (inserted == 0) return false;
        await AnnounceQueuedAsync(parent.JobId, ct);
        return true;
    }

    /// <summary>
    /// Whether the job was split into chunks already: claimed again after a resume (<see cref="ResumeAsync"/> queued its
    /// unfinished chunks with it), it has nothing to do but end once they have.
    /// </summary>
    public async Task<bool> HasChunksAsync(int jobId, CancellationToken ct)
    {
        await using var cmd = config.DataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM queue_backfill_data WHERE parent_id = @id)");
        cmd.Parameters.AddWithValue("id", jobId);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Sets a parent's count_record to its chunks' total (never lower: a chunk's count only grows).</summary>
    public Task<JobChanged?> RollUpAsync(int parentId, CancellationToken ct) => ConfigRetry.RunAsync(token => ExecuteAsync($"""
        UPDATE queue_backfill_data p SET count_record = GREATEST(p.count_record,
               (SELECT coalesce(sum(c.count_record), 0) FROM queue_backfill_data c WHERE c.parent_id = p.id)), updated_at = now()
        WHERE p.id = @id AND p.status = @executing
        {Returning}
        """, token, ("id", parentId), ("executing", JobStatus.Executing.ToDb())), ct);

    /// <summary>Asks every chunk of the job still to run to stop (see <see cref="RequestCancelAsync"/>); <paramref name="reason"/> is kept as cancelled_by.</summary>
    public async Task CancelChunksAsync(int parentId, string? reason, CancellationToken ct)
    {
        var live = new List<int>();
        await using (var cmd = config.DataSource.CreateCommand("SELECT id FROM queue_backfill_data WHERE parent_id = @id AND status = ANY(@live)"))
        {
            cmd.Parameters.AddWithValue("id", parentId);
            cmd.Parameters.AddWithValue("live", Live);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) live.Add(reader.GetInt32(0));
        }
        foreach (var chunk in live) await RequestCancelOneAsync(chunk, reason, ct);
        await SettleChunkedAsync(ct);
    }

    /// <summary>
    /// Ends every EXECUTING parent none of whose chunks is left to run, with its rows added up. Called when a chunk ends,
    /// and on every lease round, so a parent whose last chunk ended on an engine that died right after still ends.
    /// </summary>
    public async Task SettleChunkedAsync(CancellationToken ct)
    {
        var ready = new List<(JobClaim Parent, bool CancelRequested, long Failed, long Cancelled, string? Error)>();
        await using (var cmd = config.DataSource.CreateCommand("""
            SELECT p.id, p.claim_epoch, p.cancel_requested_at IS NOT NULL,
                   count(*) FILTER (WHERE c.status = @failed), count(*) FILTER (WHERE c.status = @cancelled),
                   (array_agg('Chunk ' || (c.chunk->>'no') || ' of ' || (c.chunk->>'of') || ': ' || c.error_message ORDER BY c.id)
                       FILTER (WHERE c.status = @failed))[1]
            FROM queue_backfill_data p JOIN queue_backfill_data c ON c.parent_id = p.id
            WHERE p.status = @executing
            GROUP BY p.id, p.claim_epoch
            HAVING count(*) FILTER (WHERE c.status = ANY(@live)) = 0
            """))
        {
            cmd.Parameters.AddWithValue("executing", JobStatus.Executing.ToDb());
            cmd.Parameters.AddWithValue("failed", JobStatus.Failed.ToDb());
            cmd.Parameters.AddWithValue("cancelled", JobStatus.Cancelled.ToDb());
            cmd.Parameters.AddWithValue("live", Live);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                ready.Add((new JobClaim(reader.GetInt32(0), reader.GetInt64(1)), reader.GetBoolean(2), reader.GetInt64(3), reader.GetInt64(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5)));
        }
        foreach (var (parent, cancelRequested, failed, cancelled, error) in ready)
        {
            await RollUpAsync(parent.JobId, ct);
            if (failed > 0) await FailAsync(parent, error ?? "A chunk of this job failed.", ct);
            else if (cancelled > 0 || cancelRequested) await CancelExecutingAsync(parent, ct);
            else await CompleteAsync(parent, ct);
        }
    }

    /// <summary>Marks a deleted job's chunks deleted too.</summary>
    private async Task DeleteChunksAsync(int parentId, string? actor, CancellationToken ct)
    {
        await using var cmd = config.DataSource.CreateCommand(
            "UPDATE queue_backfill_data SET deleted_at = now(), deleted_by = @actor, updated_at = now() WHERE parent_id = @id AND deleted_at IS NULL");
        cmd.Parameters.AddWithValue("id", parentId);
        cmd.Parameters.AddWithValue("actor", (object?)actor ?? DBNull.Value);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The condition, in a query over <c>queue_backfill_data</c>, that a row is a parent whose chunks run it (it has no lease of its own).</summary>
    private const string RunByChunks = "EXISTS (SELECT 1 FROM queue_backfill_data c WHERE c.parent_id = queue_backfill_data.id)";
}
