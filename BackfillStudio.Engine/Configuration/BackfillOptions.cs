using System.ComponentModel.DataAnnotations;

namespace BackfillStudio.Engine.Configuration;

/// <summary>The <c>Backfill</c> section of appsettings.json.</summary>
public sealed class BackfillOptions
{
    public const string Section = "Backfill";

    [Range(1, 1_000_000)]
    public int BatchSize { get; set; } = 10_000;

    /// <summary>A batch also ends once its decoded rows hold about this many bytes (see <see cref="Batches.BatchLimits"/>).</summary>
    [Range(1_048_576, 68_719_476_736)]
    public long BatchMaxBytes { get; set; } = 64L * 1024 * 1024;

    public Batches.BatchLimits BatchLimits => new(BatchSize, BatchMaxBytes);

    /// <summary>
    /// Whether a job reads its rows as binary COPY data when its destinations take it: all PostgreSQL (passed on undecoded,
    /// when every target column has the source's type) or all DuckDB and Parquet (appended to their DuckDB stage field by
    /// field). False decodes every row, as jobs with other destinations do.
    /// </summary>
    public bool BinaryCopy { get; set; } = true;

    [Range(1, 3600)]
    public int PollIntervalSeconds { get; set; } = 5;

    [Range(1, 64)]
    public int MaxConcurrentJobs { get; set; } = 2;

    /// <summary>
    /// How many chunks (key ranges) a job is split into when its request names no <c>parallel_chunks</c>. Each chunk is
    /// claimed like a job, by this engine or any other, so one big table spreads over every engine's
    /// <see cref="MaxConcurrentJobs"/>. Default: the number of cores.
    /// </summary>
    [Range(1, Jobs.JobChunks.MaxChunks)]
    public int MaxParallelChunks { get; set; } = Math.Min(Environment.ProcessorCount, Jobs.JobChunks.MaxChunks);

    /// <summary>The fewest rows a chunk is planned with: smaller jobs run in fewer chunks, or whole.</summary>
    [Range(1, long.MaxValue)]
    public long MinChunkRows { get; set; } = 500_000;

    /// <summary>DuckDB <c>memory_limit</c> of each job's in-memory staging database.</summary>
    [Required]
    public string DuckDbMemoryLimit { get; set; } = "256MB";

    /// <summary>How long a job's lease lasts without a heartbeat before another engine may take it over.</summary>
    [Range(3, 3600)]
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>How many times a job is started (first run plus retries after transient errors or lost leases).</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>
    /// How long adding a table or columns in a PostgreSQL destination waits for its lock (a long query on the
    /// target holds it off) before the job fails with a message saying so. No DDL runs when nothing is missing.
    /// </summary>
    [Range(1, 3600)]
    public int DdlLockTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// How long a source or PostgreSQL destination session may wait for the server without anything arriving (a
    /// blackholed network, a hung server) before the command fails and the job is requeued from its checkpoint.
    /// </summary>
    [Range(1, 86_400)]
    public int StallTimeoutSeconds { get; set; } = 120;

    /// <summary>How long writing one batch to every destination may take before it is cancelled and the job requeued.</summary>
    [Range(1, 86_400)]
    public int BatchTimeoutSeconds { get; set; } = 600;

    /// <summary>
    /// When one read of a job's source takes longer than this, the source is busy: the job pauses as long as the read took
    /// and reads fewer rows at a time until reads are fast again (<see cref="Sources.SourceGovernor"/>). 0 turns this off.
    /// </summary>
    [Range(0, 3_600_000)]
    public int SourceLatencyTargetMs { get; set; } = 2000;

    /// <summary>The source server's <c>statement_timeout</c> on a job's sessions: no read of a batch runs longer (the count is exempt).</summary>
    [Range(1, 86_400)]
    public int SourceStatementTimeoutSeconds { get; set; } = 600;

    /// <summary>About how many source rows each verified key range holds.</summary>
    [Range(1, 100_000_000)]
    public int VerifyRangeRows { get; set; } = 100_000;

    /// <summary>How a job verifies itself after it completes when its request names no mode: none, count or checksum.</summary>
    [RegularExpression("^(none|count|checksum)$", ErrorMessage = "Backfill:VerifyAfterLoad must be none, count or checksum.")]
    public string VerifyAfterLoad { get; set; } = "count";

    /// <summary>
    /// This engine's name, by default the machine's. A DuckDB or Parquet destination belongs to the engine that can reach
    /// its path (its <c>engine</c>); only engines of that name run the jobs and verifications writing to it.
    /// </summary>
    [Required, MaxLength(200), RegularExpression(@"^[^*\s][^*]*$", ErrorMessage = "Backfill:EngineName must not be empty, start with a space or hold '*'.")]
    public string EngineName { get; set; } = Environment.MachineName;

    /// <summary>False on a web-only node: no jobs are claimed or executed there.</summary>
    public bool EngineEnabled { get; set; } = true;

    /// <summary>False on an engine-only node: no UI or API, only job execution.</summary>
    public bool WebEnabled { get; set; } = true;
}
