using System.Numerics;
using System.Text.Json;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Catalog;
using BackfillStudio.Engine.Configuration;
using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Jobs;
using BackfillStudio.Engine.Observability;
using BackfillStudio.Engine.Security;
using BackfillStudio.Engine.Sources.Postgres;
using BackfillStudio.Engine.Staging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackfillStudio.Engine.Verification;

/// <summary>
/// Runs one claimed verification: optionally repairs the ranges the last one found different (deletes their rows in
/// that destination, re-copies them from the source), then cuts the source's matching rows into key ranges and
/// compares each range's count (and checksum) with every destination's, storing the report as it goes.
/// </summary>
public sealed class VerificationRunner(
    JobPlanLoader plans,
    DestinationWriterFactory factory,
    VerificationStore store,
    IOptions<BackfillOptions> options,
    ILogger<VerificationRunner> logger)
{
    private sealed record Side(PlannedDestination Destination, IDestinationVerifier Verifier);

    public async Task RunAsync(int jobId, CancellationToken stopping)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = jobId });
        using var activity = BackfillTracing.Job(jobId, "backfill.verify");
        JobPlan? plan = null;
        var mode = VerifyMode.Count;
        try
        {
            plan = await plans.LoadAsync(jobId, stopping);
            activity?.SetTag("backfill.table", plan.Job.TableName);
            var previous = VerificationReport.FromJson(plan.Job.Verification);
            if (VerifyModes.TryParse(previous?.Mode, out var stored) && stored != VerifyMode.None) mode = stored;
            logger.LogInformation("Job {JobId}: verification ({Mode}{Repair}) started", jobId, mode.ToDb(), plan.Job.VerifyRepair ? ", repair first" : "");
            var report = await VerifyAsync(plan, mode, plan.Job.VerifyRepair ? previous : null, stopping);
            if (report is null)
            {
                await store.FinishCancelledAsync(jobId, CancellationToken.None);
                logger.LogInformation("Job {JobId}: verification stopped (cancelled, or taken over by another engine)", jobId);
                return;
            }
            await store.FinishAsync(jobId, report, CancellationToken.None);
            logger.LogInformation("Job {JobId}: verification {Status}, {Mismatched} of {Checked} ranges differ",
                jobId, report.Status, report.RangesMismatched, report.RangesChecked);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await store.RequeueAsync(jobId, CancellationToken.None);
        }
        catch (Exception e)
        {
            var message = SecretScrubber.Scrub(e is JobStepException ? e.Message : $"{e.GetType().Name}: {e.Message}", plan?.Secrets ?? []);
            activity.Failed(message);
            logger.LogWarning("Job {JobId}: verification failed: {Error}", jobId, message);
            await store.FinishAsync(jobId, new VerificationReport(mode.ToDb(), VerifyStatus.Failed, DateTimeOffset.UtcNow, 0, 0, [], [], message),
                CancellationToken.None);
        }
    }

    /// <summary>The finished report, or null when the verification was cancelled or this engine lost it.</summary>
    private async Task<VerificationReport?> VerifyAsync(JobPlan plan, VerifyMode mode, VerificationReport? repairFrom, CancellationToken ct)
    {
        var job = plan.Job;
        await using var source = await JobFailure.Step("Source", () => plan.OpenSourceAsync($"BackfillStudio verify job {job.Id}", ct));
        var table = await JobFailure.Step("Source", () => source.WholeTableAsync(job.TableName, ct));
        var filters = JsonSerializer.Deserialize<List<BackfillFilter>>(job.Filters) ?? [];
        var predicate = FilterPredicate.Build(table, filters);
        var scope = new VerifyScope(job.Id, table, plan.TargetTable, filters, await SourceVerifier.ResolveAsync(source.Connection, table, filters, ct));
        var sourceSide = new SourceVerifier(source.Connection, table, predicate);

        var sides = new List<Side>();
        try
        {
            foreach (var destination in plan.Destinations)
            {
                var verifier = factory.CreateVerifier(destination.Settings, scope, $"destination '{destination.Name}'");
                sides.Add(new Side(destination, verifier));
                await JobFailure.Step($"Destination '{destination.Name}'", () => verifier.OpenAsync(ct));
            }
            // The source computes one checksum per distinct list of columns the destinations compare.
            var checksumSets = new List<IReadOnlyList<SourceColumn>>();
            foreach (var side in sides.Where(s => !checksumSets.Any(set => set.SequenceEqual(s.Verifier.ChecksumColumns))))
                checksumSets.Add(side.Verifier.ChecksumColumns);
            int SetOf(Side side) => checksumSets.FindIndex(set => set.SequenceEqual(side.Verifier.ChecksumColumns));

            var repaired = repairFrom is null ? (int?)null : await RepairAsync(plan, scope, sourceSide, source, predicate, repairFrom, sides, ct);
            var checksum = mode == VerifyMode.Checksum;
            var notes = new List<string>();
            if (!scope.HasKey)
                notes.Add($"{table.TableName} has no primary key: it is compared as a whole, not per range, so a difference cannot be repaired by range.");
            notes.AddRange(sides.Where(s => scope.HasKey && !s.Verifier.OrdersKeys).Select(s =>
                $"Destination '{s.Destination.Name}' cannot order this key as PostgreSQL does: it is compared as a whole, not per range."));
            var countOnly = mode != VerifyMode.Checksum ? []
                : table.Columns.Where(c => !checksum || sides.Any(s => !s.Verifier.ChecksumColumns.Contains(c))).Select(c => c.Name).ToList();

            var ranges = await JobFailure.Step("Source", () => sourceSide.RangesAsync(options.Value.VerifyRangeRows, ct));
            var mismatches = new List<RangeMismatch>();
            var mismatched = 0;
            var rangesChecked = 0;
            long totalRows = 0;
            var totalSums = new BigInteger[checksumSets.Count];
            VerificationReport Report(string status) => new(mode.ToDb(), status, status == VerifyStatus.Running ? null : DateTimeOffset.UtcNow,
                rangesChecked, mismatched, countOnly, mismatches, null, notes.Count == 0 ? null : notes, repaired);

            void Compare(Side side, KeyRange range, long sourceRows, BigInteger? sourceSum, RangeMeasure measured)
            {
                rangesChecked++;
                bool? equal = checksum ? sourceSum == BigInteger.Parse(measured.Checksum!) : null;
                if (sourceRows == measured.Rows && equal != false) return;
                mismatched++;
                if (mismatches.Count < VerificationReport.MaxMismatches)
                    mismatches.Add(new RangeMismatch(side.Destination.Id, range.After?.Text, range.UpTo?.Text, sourceRows, measured.Rows, equal));
            }

            foreach (var range in ranges)
            {
                // The source and every destination measure the range at the same time, each on its own connection
                // (on the thread pool: DuckDB's calls block).
                var measuring = sides.Where(s => s.Verifier.OrdersKeys || range.IsWhole)
                    .Select(side => (side, Task.Run(() => JobFailure.Step($"Destination '{side.Destination.Name}'", () => side.Verifier.MeasureAsync(range, checksum, ct)), ct)))
                    .ToList();
                var sourceMeasure = JobFailure.Step("Source", () => sourceSide.MeasureAsync(range, checksum ? checksumSets : [], ct));
                await Task.WhenAll(measuring.Select(m => (Task)m.Item2).Append(sourceMeasure));
                var (rows, sums) = await sourceMeasure;
                var parsed = sums.Select(BigInteger.Parse).ToArray();
                totalRows += rows;
                for (var i = 0; i < parsed.Length; i++) totalSums[i] += parsed[i];
                foreach (var (side, measured) in measuring)
                    Compare(side, range, rows, checksum ? parsed[SetOf(side)] : null, await measured);
                if (!await store.ReportProgressAsync(job.Id, Report(VerifyStatus.Running), ct)) return null;
            }
            foreach (var side in sides.Where(s => !s.Verifier.OrdersKeys && ranges.Count > 1))
            {
                var measured = await JobFailure.Step($"Destination '{side.Destination.Name}'", () => side.Verifier.MeasureAsync(KeyRange.Whole, checksum, ct));
                Compare(side, KeyRange.Whole, totalRows, checksum ? totalSums[SetOf(side)] : null, measured);
            }
            return Report(mismatched == 0 ? VerifyStatus.Matched : VerifyStatus.Mismatch);
        }
        finally
        {
            foreach (var side in sides) await side.Verifier.DisposeAsync();
        }
    }

    /// <summary>
    /// Re-copies each listed range into the destination where it differed: its matching rows there are deleted, then
    /// the source's are written through the destination's writer. For a filtered job, a row the delete would take that
    /// the source still holds outside the filters is written as the source has it first (<see cref="RepairKeys"/>).
    /// Returns how many ranges were repaired.
    /// </summary>
    private async Task<int> RepairAsync(JobPlan plan, VerifyScope scope, SourceVerifier sourceSide, PostgresSource source, FilterPredicate predicate,
        VerificationReport previous, IReadOnlyList<Side> sides, CancellationToken ct)
    {
        if (!scope.HasKey) throw new InvalidOperationException($"{scope.Table.TableName} has no primary key, so its ranges cannot be repaired; start a new backfill instead.");
        var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMddHHmmssfff");
        var repaired = 0;
        foreach (var side in sides)
        {
            var ranges = previous.Mismatches.Where(m => m.DestinationId == side.Destination.Id).ToList();
            if (ranges.Count == 0) continue;
            var step = $"Destination '{side.Destination.Name}'";
            // Under the job's last claim: the job has ended, and a stale engine still holding an older claim stays fenced off.
            var target = new WriteTarget(plan.Job.Id, plan.Job.ClaimEpoch, scope.Table, plan.TargetTable, plan.SourceName(scope.Table.TableName), $"repair-{stamp}");
            await using var writer = factory.Create(side.Destination.Settings, target);
            await JobFailure.Step(step, () => writer.PrepareAsync(ct));
            DuckDbStage? stage = null;
            try
            {
                long batches = 0;
                async Task CopyAsync(RangeMismatch mismatch, FilterPredicate rows)
                {
                    await using var reader = source.Reader(scope.Table, rows, options.Value.BatchLimits, mismatch.RangeEnd);
                    var cursor = new ResumeCursor(batches, mismatch.RangeStart, null, null);
                    while (await JobFailure.Step("Source", () => reader.ReadAsync(cursor, ct)) is { } batch)
                    {
                        batch.WithStage(() => stage ??= DuckDbStage.Create(scope.Table, options.Value.DuckDbMemoryLimit));
                        await JobFailure.Step(step, () =>
                        {
                            writer.CheckValues(batch);
                            return writer.WriteAsync(batch, ct);
                        });
                        cursor = batch.Next;
                    }
                    batches = cursor.Batches;
                }
                foreach (var mismatch in ranges)
                {
                    var range = new KeyRange(await sourceSide.BoundAsync(mismatch.RangeStart, ct), await sourceSide.BoundAsync(mismatch.RangeEnd, ct));
                    if (scope.Filters.Count > 0 && side.Verifier.SharesTarget)
                    {
                        if (mismatch.DestinationRows > RepairKeys.MaxKeys)
                            throw new InvalidOperationException($"{step}: the range ({Describe(mismatch.RangeStart)}, {Describe(mismatch.RangeEnd)}] holds " +
                                $"{mismatch.DestinationRows:N0} rows that match the job's filters, more than the {RepairKeys.MaxKeys:N0} whose keys a repair " +
                                "of a filtered job reads first; start a new backfill instead.");
                        var keys = await JobFailure.Step(step, () => side.Verifier.MatchingKeysAsync(range, ct));
                        if (keys.Count > 0) await CopyAsync(mismatch, RepairKeys.LeftTheFilters(predicate, scope.Table, keys));
                    }
                    await JobFailure.Step(step, () => side.Verifier.DeleteAsync(range, ct));
                    await CopyAsync(mismatch, predicate);
                    repaired++;
                    logger.LogInformation("Job {JobId}: repaired range ({Start}, {End}] in destination {Destination}", plan.Job.Id,
                        Describe(mismatch.RangeStart), Describe(mismatch.RangeEnd), side.Destination.Name);
                }
            }
            finally
            {
                stage?.Dispose();
            }
        }
        return repaired;
    }

    private static string Describe(IReadOnlyList<string>? bound) => bound is null ? "open" : string.Join(", ", bound);
}
