using System.Diagnostics;
using System.Text.Json;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Observability;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Sources.Postgres;
using BackfillStudio.Engine.Staging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Jobs;

/// <summary>
/// Runs one claimed job: plan, then read → stage → write to every destination → checkpoint, batch by
/// batch, reading the next batch while the current one is written. Ends the job COMPLETED, CANCELLED
/// (at once through <see cref="JobControl"/>, or at a checkpoint), FAILED, or back in the queue after a transient error.
/// </summary>
public sealed class JobRunner(
    JobPlanLoader plans,
    DestinationWriterFactory writerFactory,
    JobStateStore states,
    IOptions<BackfillOptions> options,
    BackfillMetrics metrics,
    ILogger<JobRunner> logger)
{
    /// <summary>
    /// Runs the job under <paramref name="claim"/>. <paramref name="control"/> stops it at once when a user cancels it
    /// (it ends CANCELLED with the rows committed so far), the engine stops or the claim was taken over (it is requeued,
    /// which a lost claim cannot do).
    /// </summary>
    public async Task RunAsync(JobClaim claim, JobControl control)
    {
        var stopping = control.Token;
        var jobId = claim.JobId;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = jobId });
        using var activity = BackfillTracing.Job(jobId);
        JobPlan? plan = null;
        metrics.JobStarted();
        try
        {
            plan = await ConfigRetry.RunAsync(ct => plans.LoadAsync(jobId, ct), stopping);
            activity?.SetTag("backfill.table", plan.Job.TableName);
            await ExecuteAsync(plan, claim, stopping);
        }
        catch (StaleClaimException e)
        {
            logger.LogWarning("Job {JobId} stopped writing: {Reason}", jobId, e.Message);
        }
        // Whatever a stop ended surfaces as its error: a COPY cancelled on the server answers 57014, not OperationCanceledException.
        catch (Exception e) when (stopping.IsCancellationRequested)
        {
            if (control.CancelRequested)
            {
                await states.CancelExecutingAsync(claim, CancellationToken.None);
                logger.LogInformation("Job {JobId} cancelled; its batch in flight was rolled back", jobId);
                return;
            }
            logger.LogInformation("Job {JobId} interrupted (the engine is stopping, or another engine took the job over): {Error}", jobId,
                SecretScrubber.Scrub(e.Message, plan?.Secrets ?? []));
            await states.RequeueAsync(claim, "The engine stopped while running this job; it resumes from its checkpoint.", CancellationToken.None);
        }
        catch (Exception e)
        {
            var message = SecretScrubber.Scrub(e is JobStepException ? e.Message : $"{e.GetType().Name}: {e.Message}", plan?.Secrets ?? []);
            activity.Failed(message);
            // Without a plan the attempts are unknown; a transient error is then the config database's, which ends.
            var attempts = plan?.Job.Attempts ?? 0;
            if (JobFailure.IsTransient(e) && attempts < options.Value.MaxAttempts)
            {
                logger.LogWarning("Job {JobId} hit a transient error (attempt {Attempt}), will retry: {Error}", jobId, attempts, message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, 2 * attempts)), CancellationToken.None);
                await states.RequeueAsync(claim, message, CancellationToken.None);
            }
            else
            {
                logger.LogError("Job {JobId} failed: {Error}", jobId, message);
                // The full exception (stack, inner errors) is scrubbed of the job's secrets like its message.
                logger.LogDebug("Job {JobId} failure details: {Details}", jobId, SecretScrubber.Scrub(e.ToString(), plan?.Secrets ?? []));
                // A chunk that failed stops its siblings; one whose claim was lost meanwhile failed nothing, and stops none.
                if (await states.FailAsync(claim, message, CancellationToken.None) is not null && plan?.Job.ParentId is { } parentId)
                    await states.CancelChunksAsync(parentId, null, CancellationToken.None);
            }
        }
        finally
        {
            metrics.JobEnded();
            if (plan?.Job.ParentId is not null) await SettleAsync();
        }
    }

    /// <summary>Ends the parent of a chunk that ended, when it was the last to run; a failure is left to the next lease round.</summary>
    private async Task SettleAsync()
    {
        try
        {
            await states.SettleChunkedAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogWarning("Could not settle the chunked jobs now (the next lease round will): {Error}", e.Message);
        }
    }

    private async Task ExecuteAsync(JobPlan plan, JobClaim claim, CancellationToken stopping)
    {
        var job = plan.Job;
        var settings = options.Value;
        var chunk = ChunkRange.FromJson(job.Chunk);
        if (chunk is null && await states.HasChunksAsync(job.Id, stopping))
        {
            logger.LogInformation("Job {JobId} continues in its chunks", job.Id);
            await states.SettleChunkedAsync(stopping);
            return;
        }
        await using var source = await JobFailure.Step("Source", () =>
            plan.OpenSourceAsync($"backfillstudio job {job.Id}", stopping, settings.StallTimeoutSeconds, settings.SourceStatementTimeoutSeconds));
        var table = await JobFailure.Step("Source", () => source.WholeTableAsync(job.TableName, stopping));
        var filter = FilterPredicate.Build(table, JsonSerializer.Deserialize<List<BackfillFilter>>(job.Filters) ?? []);
        var total = chunk?.PlannedRows ?? await JobFailure.Step("Source", () => source.CountAsync(table, filter, stopping));
        var cancelRequested = await states.SetTotalAsync(claim, total, stopping);
        if (cancelRequested is null) return;
        if (cancelRequested == true)
        {
            await states.CancelExecutingAsync(claim, stopping);
            logger.LogInformation("Job {JobId} cancelled before its first batch", job.Id);
            return;
        }

        var target = new WriteTarget(job.Id, claim.Epoch, table, plan.TargetTable, plan.SourceName(table.TableName),
            chunk?.FilePrefix ?? "part", job.ParentId);
        // A job that wrote batches whole goes on whole: chunks would copy its rows again (twice into a table without a key).
        if (chunk is null && job.ResumeCursor is null && JobChunks.CountFor(plan, table, total, settings) is var chunks and > 1)
        {
            await SplitAsync(plan, claim, source, filter, target, total, chunks, stopping);
            return;
        }
        var governor = new SourceGovernor(plan.MaxRowsPerSecond, TimeSpan.FromMilliseconds(settings.SourceLatencyTargetMs), settings.BatchSize,
            sizedReads: table.PrimaryKey.Count > 0);
        var outcome = await CopyAsync(plan, claim, source, filter, governor, target, chunk, stopping);
        // Destinations are closed before the final status shows, so a DuckDB file can be opened as soon as the job is COMPLETED.
        if (outcome == CopyOutcome.Completed)
        {
            await states.CompleteAsync(claim, stopping);
            logger.LogInformation("Job {JobId} completed", job.Id);
        }
        else if (outcome == CopyOutcome.Cancelled)
        {
            await states.CancelExecutingAsync(claim, stopping);
            logger.LogInformation("Job {JobId} cancelled", job.Id);
        }
    }

    /// <summary>
    /// Splits the job into chunks that any engine runs. The destinations' tables are made here, once, so that the
    /// chunks do not race each other to create them.
    /// </summary>
    private async Task SplitAsync(JobPlan plan, JobClaim claim, PostgresSource source, FilterPredicate filter, WriteTarget target,
        long total, int chunks, CancellationToken stopping)
    {
        var writers = new List<(string Name, IDestinationWriter Writer)>();
        try
        {
            await PrepareWritersAsync(plan, target, writers, stopping);
        }
        finally
        {
            foreach (var (_, writer) in writers) await writer.DisposeAsync();
        }
        var planned = await JobFailure.Step("Source", () => JobChunks.PlanAsync(source.Connection, target.Table, filter, total, chunks, JobChunks.SampleRows, stopping));
        // Where the job's rows go, as its first checkpoint would say: a chunk that starts after the pipeline changed fails
        // like a resumed job, rather than write its rows alone to the new place.
        var ranges = planned.Select(r => r with { Columns = target.Table.ColumnList, Plan = plan.Fingerprint }).ToList();
        int? rateEach = plan.MaxRowsPerSecond is { } rate ? Math.Max(1, (rate + ranges.Count - 1) / ranges.Count) : null;
        if (await states.StartChunksAsync(claim, ranges, rateEach, stopping))
            logger.LogInformation("Job {JobId} split into {Chunks} chunks of about {Rows} rows", plan.Job.Id, ranges.Count, ranges[0].PlannedRows);
        else if (await states.SetTotalAsync(claim, total, stopping) == true)
            await states.CancelExecutingAsync(claim, stopping);
    }

    private async Task PrepareWritersAsync(JobPlan plan, WriteTarget target, List<(string Name, IDestinationWriter Writer)> writers,
        CancellationToken stopping)
    {
        foreach (var destination in plan.Destinations)
        {
            var name = destination.Name;
            var writer = writerFactory.Create(destination.Settings, target);
            writers.Add((name, writer));
            await JobFailure.Step($"Destination '{name}'", () => writer.PrepareAsync(stopping));
        }
    }

    private enum CopyOutcome
    {
        Completed,
        Cancelled,
        ClaimLost,
    }

    private async Task<CopyOutcome> CopyAsync(JobPlan plan, JobClaim claim, PostgresSource source, FilterPredicate filter, SourceGovernor governor,
        WriteTarget target, ChunkRange? chunk, CancellationToken stopping)
    {
        var job = plan.Job;
        var start = chunk is null
            ? ResumeCursor.Start
            : ResumeCursor.Start with { LastKey = chunk.After, NextBlock = chunk.FromBlock, Relations = chunk.Relations, Filenodes = chunk.Filenodes,
                Columns = chunk.Columns, Plan = chunk.Plan };
        var cursor = job.ResumeCursor is null ? start : JsonSerializer.Deserialize<ResumeCursor>(job.ResumeCursor)!;
        var countRecord = job.CountRecord;
        if (cursor.Plan is { } started && started != plan.Fingerprint)
            throw new InvalidOperationException("The pipeline's destinations, a destination's settings or the target table changed since " +
                "this job wrote its first rows; continuing would leave the new place with only the rest. Start a new backfill instead.");
        var columns = target.Table.ColumnList;
        if (cursor.Columns is { } copied && !target.Table.HasColumnList(copied)) throw new InvalidOperationException(ColumnsChanged(job.TableName, copied, columns));
        target = target with { CheckpointedBatches = cursor.Batches };
        var writers = new List<(string Name, IDestinationWriter Writer)>();
        DuckDbStage? stage = null;
        try
        {
            await PrepareWritersAsync(plan, target, writers, stopping);
            var format = await FormatAsync(writers.Select(w => w.Writer).ToList(), source, target.Table, stopping);
            await using var reader = source.Reader(target.Table, filter, options.Value.BatchLimits, chunk?.UpTo, format, chunk?.ToBlock);
            logger.LogInformation("Job {JobId} copying {Table} from batch {Batch} ({Path})", job.Id, job.TableName, cursor.Batches, format switch
            {
                BatchFormat.PostgresCopy => "binary COPY passed through",
                BatchFormat.StageCopy => "binary COPY appended to DuckDB",
                _ => "decoded rows",
            });
            Task<Batch?> Read(ResumeCursor from) => JobFailure.Step("Source", () =>
                governor.ReadAsync(rows => reader.ReadAsync(from, stopping, rows), batch => batch?.RowCount ?? 0, stopping));
            var next = Read(cursor);
            // A batch's checkpoint runs while the next batch is written (the destinations are idle otherwise); a
            // checkpoint one batch behind the destinations is what a crash leaves too, and resumes exactly the same.
            var checkpointed = Task.FromResult<bool?>(false);
            var rangesFixed = cursor.BlocksPerBatch is not null;
            try
            {
                var readWait = Stopwatch.StartNew();
                while (await next is { } batch)
                {
                    using var done = batch;
                    var waited = readWait.ElapsedMilliseconds;
                    next = Read(batch.Next);
                    // A table without a key is read in block ranges sized from its statistics by the first read, and a
                    // destination skips a batch again only when its progress row covers the batch's whole range. Stored
                    // before the first batch is written, size and heaps outlive a run that stops before its first
                    // checkpoint: sized again after an ANALYZE, a first range reaching past the one written would take
                    // its rows twice (and a job that ran whole would be split into chunks that take them again).
                    if (!rangesFixed && batch.Next.BlocksPerBatch is not null)
                    {
                        rangesFixed = true;
                        var fixedRanges = cursor with
                        {
                            BlocksPerBatch = batch.Next.BlocksPerBatch, Relations = batch.Next.Relations, Filenodes = batch.Next.Filenodes,
                            Plan = plan.Fingerprint, Columns = columns,
                        };
                        if (StopFor(job.Id, await CheckpointAsync(plan, claim, countRecord, fixedRanges, governor.Throttled)) is { } stopped) return stopped;
                    }
                    batch.WithStage(() => stage ??= DuckDbStage.Create(target.Table, options.Value.DuckDbMemoryLimit));
                    foreach (var (name, writer) in format == BatchFormat.PostgresCopy ? [] : writers)
                        await JobFailure.Step($"Destination '{name}'", () =>
                        {
                            writer.CheckValues(batch);
                            return Task.CompletedTask;
                        });
                    using var span = BackfillTracing.Batch(batch.Sequence, batch.RowCount);
                    var write = Stopwatch.StartNew();
                    await WriteWithinDeadlineAsync(writers, batch, stopping);
                    var written = write.ElapsedMilliseconds;
                    var previous = await checkpointed;
                    countRecord += batch.RowCount;
                    checkpointed = CheckpointAsync(plan, claim, countRecord, batch.Next with { Plan = plan.Fingerprint, Columns = columns }, governor.Throttled);
                    metrics.BatchWritten(batch.RowCount, write.Elapsed, job.TableName);
                    logger.LogDebug("Job {JobId} batch {Batch}: {Rows} rows; waited {ReadMs} ms for the read, wrote in {WriteMs} ms, " +
                        "then {CheckpointMs} ms for the previous checkpoint", job.Id, batch.Sequence, batch.RowCount, waited, written, write.ElapsedMilliseconds - written);
                    readWait.Restart();
                    if (StopFor(job.Id, previous) is { } stop) return stop;
                }
                return StopFor(job.Id, await checkpointed) ?? CopyOutcome.Completed;
            }
            finally
            {
                await DrainAsync(next);
                // A job that stops or fails records what its destinations hold before it is requeued, failed or cancelled.
                await DrainAsync(checkpointed);
            }
        }
        finally
        {
            foreach (var (_, writer) in writers) await writer.DisposeAsync();
            stage?.Dispose();
        }
    }

    /// <summary>
    /// Why a job cannot go on after its table's columns changed: the rows it copied lack the change (an added column's
    /// values, a new type), and the rest would have it.
    /// </summary>
    private static string ColumnsChanged(string table, IReadOnlyList<string> copied, IReadOnlyList<string> now)
    {
        var changes = copied.Except(now).Select(c => $"was {c}").Concat(now.Except(copied).Select(c => $"now {c}")).ToList();
        return $"The columns of {table} changed since this job began copying it ({(changes.Count > 0 ? string.Join("; ", changes) : "their order")}); " +
               "continuing would leave the rows it copied without the change. Start a new backfill instead.";
    }

    /// <summary>
    /// Records that the destinations hold the batch before <paramref name="next"/>; true when the job's cancel was asked
    /// for, null when its claim was lost. Not cancellable: once the destinations hold a batch, its checkpoint must follow.
    /// </summary>
    private async Task<bool?> CheckpointAsync(JobPlan plan, JobClaim claim, long countRecord, ResumeCursor next, string? throttled)
    {
        var cancelRequested = await states.CheckpointAsync(claim, countRecord, next, throttled, CancellationToken.None);
        if (plan.Job.ParentId is { } parentId) await states.RollUpAsync(parentId, CancellationToken.None);
        return cancelRequested;
    }

    /// <summary>Why the copy stops after a checkpoint that answered <paramref name="cancelRequested"/>; null when it goes on.</summary>
    private CopyOutcome? StopFor(int jobId, bool? cancelRequested)
    {
        if (cancelRequested is null)
        {
            logger.LogWarning("Job {JobId} lost its claim to another engine; stopping without further writes", jobId);
            return CopyOutcome.ClaimLost;
        }
        return cancelRequested == true ? CopyOutcome.Cancelled : null;
    }

    /// <summary>The rows' form: binary COPY data when every destination takes the same kind (and <c>Backfill:BinaryCopy</c>), else decoded.</summary>
    private async Task<BatchFormat> FormatAsync(List<IDestinationWriter> writers, PostgresSource source, TableSchema table, CancellationToken stopping)
    {
        if (!options.Value.BinaryCopy) return BatchFormat.Decoded;
        if (writers.All(w => w.TakesBinaryCopy) && await JobFailure.Step("Source", () => source.CanCopyBinaryAsync(table, stopping)))
            return BatchFormat.PostgresCopy;
        return writers.All(w => w.TakesStageCopy) ? BatchFormat.StageCopy : BatchFormat.Decoded;
    }

    /// <summary>Writes the batch to every destination within <c>Backfill:BatchTimeoutSeconds</c>, or cancels it and says so.</summary>
    private async Task WriteWithinDeadlineAsync(List<(string Name, IDestinationWriter Writer)> writers, Batch batch, CancellationToken stopping)
    {
        var limit = options.Value.BatchTimeoutSeconds;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(TimeSpan.FromSeconds(limit));
        try
        {
            foreach (var (name, writer) in writers)
            {
                using var writing = BackfillTracing.Write(name);
                await JobFailure.Step($"Destination '{name}'", () => writer.WriteAsync(batch, deadline.Token));
            }
        }
        catch (Exception e) when (deadline.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            throw new TimeoutException($"Batch {batch.Sequence} was not written within {limit} s (Backfill:BatchTimeoutSeconds); " +
                "it was cancelled and the job resumes from its checkpoint.", e);
        }
    }

    /// <summary>Waits for a read (or checkpoint) still in flight, so the job ends only once nothing of it runs.</summary>
    private static async Task DrainAsync(Task pending)
    {
        try
        {
            await pending;
        }
        catch (Exception)
        {
            // The job already ended; a read it no longer needs may fail as the connection closes.
        }
    }
}
