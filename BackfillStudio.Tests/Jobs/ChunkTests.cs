using System.Diagnostics;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Engine;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Jobs;

/// <summary>A job split into parallel chunks (key ranges): each claimed, leased and fenced on its own, by any engine.</summary>
public sealed class ChunkTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const int Rows = 200_000;
    private const int CancelledRows = 40_000;

    private const string SourceSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value numeric(12,3), taken_at timestamptz NOT NULL);
        INSERT INTO readings
        SELECT g, 'sensor-' || g % 40, g / 7.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
        FROM generate_series(1, 200000) g;
        ANALYZE;
        """;

    private static readonly string[] EngineSettings =
        ["--Backfill:BatchSize=1000", "--Backfill:LeaseSeconds=3", "--Backfill:PollIntervalSeconds=1", "--Backfill:MinChunkRows=1000"];

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task FourChunks_EngineKilledMidJob_ResumeToExactlyTheSourcesRows()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres | DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        string[] settings = [.. EngineSettings, "--Backfill:MaxConcurrentJobs=4"];
        using var doomed = AppProcess.Start(s.ConfigDb, [.. settings, "--Logging:LogLevel:Default=Warning"]);
        var jobId = await StartAsync(s, chunks: 4);
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 40_000 && Chunks(j).Count(c => (string)c["status"]! == "EXECUTING") >= 2,
            "progress in several chunks");

        doomed.Kill();
        var interrupted = await s.Http.GetJobAsync(jobId);
        Assert.Equal("EXECUTING", (string)interrupted["status"]!);
        Assert.True((long)interrupted["count_record"]! < Rows, "the job finished before the kill; nothing was tested");

        await using var survivor = await s.StartPeerAsync([.. settings]);
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(Rows, (long)job["count_record"]!);
        var chunks = Chunks(job);
        Assert.Equal([1, 2, 3, 4], chunks.Select(c => (int)c["no"]!));
        Assert.All(chunks, c => Assert.Equal("COMPLETED", (string)c["status"]!));
        Assert.Equal(Rows, chunks.Sum(c => (long)c["count_record"]!));
        Assert.Contains(chunks, c => (int)c["attempts"]! == 2);

        await AssertCopiedAsync(s, jobId);
        var files = Directory.GetFiles(Path.Combine(s.ParquetDirectory, "readings", jobId.ToString()), "*.parquet").Select(Path.GetFileName).ToList();
        Assert.Equal(4, files.Select(f => f![..8]).Distinct().Count());
    }

    [Fact]
    public async Task TwoEngines_ShareOneJobsChunks_AndTheCopyIsExact()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres | DestinationKinds.Parquet,
            [.. EngineSettings, "--Backfill:MaxConcurrentJobs=2"]);
        await using var peer = await s.StartPeerAsync([.. EngineSettings, "--Backfill:MaxConcurrentJobs=2"]);
        var jobId = await StartAsync(s, chunks: 4);

        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(Rows, (long)job["count_record"]!);
        var chunks = Chunks(job);
        Assert.Equal(4, chunks.Count);
        var engines = chunks.GroupBy(c => (string)c["engine"]!).ToList();
        Assert.True(engines.Count == 2, $"the chunks ran on {engines.Count} engine(s): {job["chunks"]!.ToJsonString()}");
        Assert.All(engines, e => Assert.True(e.Sum(c => (long)c["count_record"]!) > 0));
        await AssertCopiedAsync(s, jobId);
        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True((string)verification["status"]! == "MATCHED", verification.ToJsonString());
    }

    [Fact]
    public async Task AFailingChunk_CancelsTheOthers_FailsTheJobNamingIt_AndResumeAfterTheFixCompletesIt()
    {
        // DuckDB's DECIMAL (Parquet's stage) cannot hold NaN: chunk 4's range holds one, so that chunk fails early. (The
        // plan's key bounds come from a sample, within a few thousand rows of 150,000 here.)
        await using var s = await Scenario.CreateAsync(pg, SourceSql + "UPDATE readings SET value = 'NaN' WHERE id = 160000;",
            ["public.readings"], DestinationKinds.Postgres | DestinationKinds.Parquet, [.. EngineSettings, "--Backfill:MaxConcurrentJobs=4"]);
        var jobId = await StartAsync(s, chunks: 4);

        var failed = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED", "CANCELLED");
        Assert.True((string)failed["status"]! == "FAILED", failed.ToJsonString());
        Assert.StartsWith("Chunk 4 of 4: ", (string)failed["error_message"]!);
        Assert.Contains("value", (string)failed["error_message"]!);
        var chunks = Chunks(failed);
        Assert.Equal("FAILED", (string)chunks[3]["status"]!);
        Assert.Contains(chunks.Take(3), c => (string)c["status"]! == "CANCELLED");
        Assert.Equal(chunks.Sum(c => (long)c["count_record"]!), (long)failed["count_record"]!);

        await PostgresServer.ExecuteAsync(s.SourceDb, "UPDATE readings SET value = 1 WHERE id = 160000");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var resumed = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)resumed["status"]! == "COMPLETED", resumed.ToJsonString());
        Assert.Equal(Rows, (long)resumed["count_record"]!);
        Assert.All(Chunks(resumed), c => Assert.Equal("COMPLETED", (string)c["status"]!));
        await AssertCopiedAsync(s, jobId);
    }

    [Fact]
    public async Task CompositeTextAndIntegerKey_SplitIntoChunks_CopiesEveryRowOnce()
    {
        // Key bounds are (region, seq) pairs; regions sort under the database's collation, with case and spaces mixed.
        const string sql = """
            CREATE TABLE visits (region text, seq int, note text, PRIMARY KEY (region, seq));
            INSERT INTO visits SELECT (ARRAY['north', 'North', 'south east', 'South-West', 'zeta', 'Ärger'])[1 + g % 6], g, 'v' || g
            FROM generate_series(1, 30000) g;
            ANALYZE;
            """;
        await using var s = await Scenario.CreateAsync(pg, sql, ["public.visits"], DestinationKinds.Postgres | DestinationKinds.Parquet,
            [.. EngineSettings, "--Backfill:MaxConcurrentJobs=3"]);
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.visits", parallel_chunks = 5 });
        var job = await s.Http.WaitForJobAsync((int)created["id"]!, Timeout, "COMPLETED", "FAILED", "CANCELLED");

        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(5, Chunks(job).Count);
        Assert.Equal(30000L, (long)job["count_record"]!);
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "visits");
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "visits"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "visits", null,
            $"read_parquet('{s.ParquetDirectory}/visits/{job["id"]}/*.parquet')"));
    }

    [Fact]
    public async Task PartitionedTableWithoutAKey_SplitIntoBlockRanges_SurvivesAKill_AndEveryRowArrivesOnce()
    {
        // Two partitions of unequal size, and 500 identical rows: without a key only the block ranges keep each row once.
        const string sql = """
            CREATE TABLE samples (sensor text, value numeric(12,3), taken_at timestamptz NOT NULL) PARTITION BY RANGE (taken_at);
            CREATE TABLE samples_2023 PARTITION OF samples FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
            CREATE TABLE samples_2024 PARTITION OF samples FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            INSERT INTO samples SELECT 'sensor-' || g % 40, g % 1000 / 7.0, timestamptz '2023-06-01 00:00:00+00' + g * interval '90 seconds'
            FROM generate_series(1, 200000) g;
            INSERT INTO samples SELECT 'sensor-1', 1, timestamptz '2024-03-01 00:00:00+00' FROM generate_series(1, 500);
            ANALYZE;
            """;
        await using var s = await Scenario.CreateAsync(pg, sql, ["public.samples"], DestinationKinds.Postgres | DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        string[] settings = [.. EngineSettings, "--Backfill:MaxConcurrentJobs=4"];
        using var doomed = AppProcess.Start(s.ConfigDb, [.. settings, "--Logging:LogLevel:Default=Warning"]);
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.samples", parallel_chunks = 4 });
        var jobId = (int)created["id"]!;
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 30_000 && Chunks(j).Count(c => (string)c["status"]! == "EXECUTING") >= 2,
            "progress in several chunks");
        doomed.Kill();
        Assert.True((long)(await s.Http.GetJobAsync(jobId))["count_record"]! < 200_500, "the job finished before the kill; nothing was tested");

        await using var survivor = await s.StartPeerAsync([.. settings]);
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(200_500L, (long)job["count_record"]!);
        Assert.Equal(4, Chunks(job).Count);
        Assert.Contains(Chunks(job), c => (int)c["attempts"]! == 2);
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "samples");
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "samples"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "samples", null,
            $"read_parquet('{s.ParquetDirectory}/samples/{jobId}/*.parquet')"));
    }

    [Fact]
    public async Task JobWithADuckDbDestination_RunsWhole()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.All, [.. EngineSettings]);
        var jobId = await StartAsync(s, chunks: 4);
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Null(job["chunks"]);
        await s.AssertDestinationsHoldAsync(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings"), "readings", jobId);
    }

    [Fact]
    public async Task Cancel_StopsEveryChunkWithinTwoSeconds_AndResumeCompletesTheCopy()
    {
        // 40,000 rows in batches of 50: each chunk runs for seconds, so all four are mid-copy when the cancel comes.
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres,
            [.. EngineSettings, "--Backfill:BatchSize=50", "--Backfill:MaxConcurrentJobs=4"]);
        var jobId = await StartAsync(s, chunks: 4, Scenario.Filter("id", "<=", CancelledRows));
        await s.Http.WaitUntilAsync(jobId, Timeout, j => Chunks(j).Count(c => (string)c["status"]! == "EXECUTING" && (long)c["count_record"]! > 0) == 4,
            "all four chunks copying");

        var watch = Stopwatch.StartNew();
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
        var cancelled = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromSeconds(30), "CANCELLED", "COMPLETED", "FAILED");
        watch.Stop();
        Assert.Equal("CANCELLED", (string)cancelled["status"]!);
        Assert.All(Chunks(cancelled), c => Assert.Equal("CANCELLED", (string)c["status"]!));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"all chunks stopped after {watch.Elapsed.TotalSeconds:0.0} s");
        var copied = await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.readings");
        Assert.Equal(copied, (long)cancelled["count_record"]!);
        Assert.True(copied < CancelledRows, "the job finished before the cancel; nothing was tested");

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var resumed = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)resumed["status"]! == "COMPLETED", resumed.ToJsonString());
        Assert.Equal(CancelledRows, (long)resumed["count_record"]!);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings", $"id <= {CancelledRows}"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));
    }

    private static async Task<int> StartAsync(Scenario s, int chunks, params object[] filters)
    {
        var job = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.readings", parallel_chunks = chunks, filters });
        Assert.Equal(chunks, (int)job["parallel_chunks"]!);
        return (int)job["id"]!;
    }

    /// <summary>The PostgreSQL destination and the job's Parquet folder each hold exactly the source's rows.</summary>
    private static async Task AssertCopiedAsync(Scenario s, int jobId)
    {
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings");
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "readings", null,
            $"read_parquet('{s.ParquetDirectory}/readings/{jobId}/*.parquet')"));
    }

    private static List<JsonNode> Chunks(JsonObject job) => job["chunks"] is JsonArray chunks ? chunks.Select(c => c!).ToList() : [];
}
