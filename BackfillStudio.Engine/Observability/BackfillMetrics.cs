using System.Diagnostics.Metrics;
using BackfillStudio.Engine.Persistence;
using Npgsql;

using BackfillStudio.Engine.Jobs;

namespace BackfillStudio.Engine.Observability;

/// <summary>
/// The engine's metrics (meter <c>BackfillStudio</c>): rows written, batch duration, jobs running in this
/// process and jobs waiting in the queue. Exported by the web host for Prometheus at <c>/metrics</c>.
/// </summary>
public sealed class BackfillMetrics : IDisposable
{
    public const string MeterName = "BackfillStudio";

    private readonly Meter _meter;
    private readonly Counter<long> _rowsWritten;
    private readonly Histogram<double> _batchDuration;
    private int _activeJobs;

    public BackfillMetrics(IMeterFactory meters, ConfigDataSource config)
    {
        _meter = meters.Create(MeterName);
        _rowsWritten = _meter.CreateCounter<long>("backfill.rows.written", description: "Rows written to all destinations of a job's batches (counted once per batch).");
        _batchDuration = _meter.CreateHistogram<double>("backfill.batch.duration", unit: "s",
            description: "Time to write one batch to every destination of the job and checkpoint it.");
        _meter.CreateObservableGauge("backfill.jobs.active", () => Volatile.Read(ref _activeJobs), description: "Jobs this process is executing.");
        _meter.CreateObservableGauge("backfill.queue.depth", () => PendingJobs(config), description: "Jobs waiting (PENDING) in the shared queue.");
    }

    public void BatchWritten(int rows, TimeSpan duration, string table)
    {
        var tag = new KeyValuePair<string, object?>("table", table);
        _rowsWritten.Add(rows, tag);
        _batchDuration.Record(duration.TotalSeconds, tag);
    }

    public void JobStarted() => Interlocked.Increment(ref _activeJobs);

    public void JobEnded() => Interlocked.Decrement(ref _activeJobs);

    /// <summary>Read at scrape time; a scrape while the database is down reports no value rather than failing.</summary>
    private static IEnumerable<Measurement<long>> PendingJobs(ConfigDataSource config)
    {
        try
        {
            using var cmd = config.DataSource.CreateCommand("SELECT count(*) FROM queue_backfill_data WHERE status = @pending");
            cmd.Parameters.AddWithValue("pending", JobStatus.Pending.ToDb());
            cmd.CommandTimeout = 2;
            return [new Measurement<long>((long)cmd.ExecuteScalar()!)];
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return [];
        }
    }

    public void Dispose() => _meter.Dispose();
}
