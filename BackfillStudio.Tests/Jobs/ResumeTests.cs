using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Jobs;

/// <summary>A FAILED or CANCELLED job continues from its checkpoint and ends holding exactly the source's rows.</summary>
public sealed class ResumeTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private const string SourceSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value double precision);
        INSERT INTO readings SELECT g, 'sensor-' || g % 50, g * 0.5 FROM generate_series(1, 200000) g;
        CREATE TABLE events (at timestamp NOT NULL, kind text);
        INSERT INTO events SELECT timestamp '2024-01-01' + g * interval '1 second', 'k' || g % 7 FROM generate_series(1, 100000) g;
        ANALYZE;
        """;

    [Fact]
    public async Task CancelledJob_Resumes_FromItsCheckpoint_ToExactlyTheSourcesRows_InEveryDestination()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings", "public.events"], DestinationKinds.All, "--Backfill:BatchSize=1000");
        foreach (var table in new[] { "readings", "events" })
        {
            var jobId = await s.StartBackfillAsync($"public.{table}");
            await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! > 0, "first checkpoint");
            await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
            var cancelled = await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED", "FAILED");
            Assert.Equal("CANCELLED", (string)cancelled["status"]!);
            var total = (long)cancelled["total_record"]!;
            Assert.True((long)cancelled["count_record"]! < total, $"cancel came too late to observe: {cancelled["count_record"]} of {total}");

            var resumed = await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
            AssertRequeued(resumed);
            Assert.True((long)resumed["count_record"]! >= (long)cancelled["count_record"]!, resumed.ToJsonString());
            Assert.Equal("bootstrap API key", (string)resumed["resumed_by"]!);
            Assert.NotNull(resumed["resumed_at"]);

            var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
            Assert.Equal(total, (long)job["count_record"]!);
            var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", table);
            await s.AssertDestinationsHoldAsync(expected, table, jobId);
        }
    }

    /// <summary>
    /// The resume's answer shows the job queued again; an engine may already have claimed it in the moment between the
    /// resume and the answer (seen in CI), which shows as EXECUTING.
    /// </summary>
    private static void AssertRequeued(System.Text.Json.Nodes.JsonObject resumed) =>
        Assert.True((string)resumed["status"]! is "PENDING" or "EXECUTING", resumed.ToJsonString());

    [Fact]
    public async Task FailedJob_Resumes_OnceTheDestinationAcceptsRowsAgain_AndOnlyFailedOrCancelledJobsResume()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        // The destination refuses rows past id 5,500: the job fails after five batches.
        await RefuseRowsPastAsync(s.DestinationDb, "readings (id bigint PRIMARY KEY, sensor text NOT NULL, value double precision)", "id", 5500);
        var jobId = await s.StartBackfillAsync("public.readings", Filter("id", "<=", 50000));
        var failed = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");
        Assert.Equal("FAILED", (string)failed["status"]!);
        Assert.Contains("disk quota exceeded", (string)failed["error_message"]!);
        Assert.Equal(5000L, (long)failed["count_record"]!);

        await PostgresServer.ExecuteAsync(s.DestinationDb, "DROP TRIGGER refuse ON copy.readings");
        var resumed = await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        AssertRequeued(resumed);
        Assert.Null(resumed["error_message"]);
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Equal(50000L, (long)job["count_record"]!);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings", "id <= 50000"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));

        var (again, problem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/resume");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Contains("COMPLETED", (string)problem["detail"]!);
        var (missing, _) = await s.Http.PostJsonAsync("/api/v1/backfill/999999/resume");
        Assert.Equal(HttpStatusCode.NotFound, missing);
    }

    [Fact]
    public async Task ResumedJob_WhoseDestinationMovedSinceItsFirstRows_FailsInsteadOfWritingOnlyTheRestThere()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! > 0, "first checkpoint");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
        Assert.Equal("CANCELLED", (string)(await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED"))["status"]!);
        await MoveDestinationAsync(s, "elsewhere");

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        await AssertFailedWithoutWritingAsync(s, jobId, "elsewhere");
    }

    /// <summary>
    /// A split job's chunks run one at a time here, and the destination moves while the first runs. The chunks after it
    /// have no checkpoint of their own; the split told them where the job's rows go, so they fail rather than write there.
    /// </summary>
    [Fact]
    public async Task ChunksStartingAfterTheDestinationMoved_FailInsteadOfWritingTheirRowsThere()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000",
            "--Backfill:MinChunkRows=1000", "--Backfill:MaxConcurrentJobs=1");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.readings", parallel_chunks = 3, max_rows_per_second = 30_000 }))["id"]!;
        await s.Http.WaitUntilAsync(jobId, Timeout, FirstCheckpoint(3), "first checkpoint");
        await MoveDestinationAsync(s, "elsewhere");

        await AssertFailedWithoutWritingAsync(s, jobId, "elsewhere");
    }

    private static async Task MoveDestinationAsync(Scenario s, string schema)
    {
        var destination = (JsonObject)(await s.Http.GetOkAsync($"/api/v1/destinations/{s.DestinationIds[0]}"));
        var config = destination["config"]!.AsObject();
        config["schema"] = schema;
        var (updated, body) = await SendAsync(s.Http, HttpMethod.Put, $"/api/v1/destinations/{s.DestinationIds[0]}",
            new { name = (string)destination["name"]!, type = "postgres", config });
        Assert.True(updated == HttpStatusCode.OK, body);
    }

    private static async Task AssertFailedWithoutWritingAsync(Scenario s, int jobId, string schema)
    {
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("FAILED" == (string)job["status"]!, job.ToJsonString());
        Assert.Contains("changed since this job wrote its first rows", (string)job["error_message"]!);
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.DestinationDb,
            $"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = 'readings'"));
    }

    /// <summary>
    /// A job whose source table gained a column after its first batches cannot go on: the rows it copied would lack the
    /// column's values (here a default every row has). Its resume fails naming the change, as do a split job's chunks,
    /// which hold the columns the table had when it was split.
    /// </summary>
    [Fact]
    public async Task ResumedJobs_WhoseSourceTableGainedAColumn_FailNamingIt_InsteadOfCopyingTheRestWithIt()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres | DestinationKinds.Parquet,
            "--Backfill:BatchSize=1000", "--Backfill:MinChunkRows=1000");
        var whole = await StartAndCancelAsync(s, 1, j => (long)j["count_record"]! > 0, "first checkpoint");
        var split = await StartAndCancelAsync(s, 3, j => j["chunks"] is JsonArray, "the split into chunks");

        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE readings ADD COLUMN unit text NOT NULL DEFAULT 'kWh'");
        foreach (var (jobId, cancelled) in new[] { whole, split })
        {
            await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
            var job = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");
            Assert.True("FAILED" == (string)job["status"]!, job.ToJsonString());
            var message = (string)job["error_message"]!;
            Assert.Contains("The columns of public.readings changed since this job began copying it (now unit text)", message);
            Assert.Equal((long)cancelled["count_record"]!, (long)job["count_record"]!);
            if (jobId == split.JobId) Assert.StartsWith("Chunk ", message);
        }
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.DestinationDb,
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'copy' AND column_name = 'unit'"));
    }

    private const string SwapSparse = """
        CREATE TABLE sparse_new (LIKE sparse INCLUDING ALL); INSERT INTO sparse_new SELECT * FROM sparse;
        DROP TABLE sparse; ALTER TABLE sparse_new RENAME TO sparse;
        """;

    /// <summary>
    /// A table without a key is read in fixed block ranges, and a resumed job (or a chunk) reads the rest in a new
    /// snapshot. A rewrite in between (here <c>VACUUM FULL</c>, which packs the rows that a delete left spread over the
    /// heap into its first blocks; <c>CLUSTER</c>, <c>TRUNCATE</c> and rewriting <c>ALTER TABLE</c>s alike) moves rows from
    /// the ranges still to read into those already read: the rest of the read would miss them. A table swapped for
    /// another of the same name (reloaded aside, then renamed) has none of the heaps the ranges were fixed in: read as
    /// dropped ones, the rest would be skipped. The resume fails naming the change instead, whole or in chunks.
    /// </summary>
    [Theory]
    [InlineData(1, "VACUUM FULL sparse", "public.sparse was rewritten")]
    [InlineData(2, "VACUUM FULL sparse", "public.sparse was rewritten")]
    [InlineData(1, SwapSparse, "public.sparse is not the table this job began reading")]
    [InlineData(2, SwapSparse, "public.sparse is not the table this job began reading")]
    public async Task ResumedJobs_OfATableWithoutAKeyThatWasRewrittenOrSwapped_FailNamingIt_InsteadOfMissingRows(int chunks, string change, string error)
    {
        const string sql = """
            CREATE TABLE sparse (id int NOT NULL, body text NOT NULL);
            INSERT INTO sparse SELECT g, repeat('x', 100) FROM generate_series(1, 40000) g;
            DELETE FROM sparse WHERE id % 2 = 0;
            ANALYZE sparse;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.sparse"], DestinationKinds.Postgres | DestinationKinds.Parquet,
            "--Backfill:BatchSize=500", "--Backfill:MinChunkRows=1000");
        var (jobId, cancelled) = await StartAndCancelAsync(s, chunks, FirstCheckpoint(chunks), "first checkpoint", "public.sparse", 4000);

        await PostgresServer.ExecuteAsync(s.SourceDb, change);
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");

        Assert.True("FAILED" == (string)job["status"]!, job.ToJsonString());
        Assert.Contains(error, (string)job["error_message"]!);
        Assert.Equal((long)cancelled["count_record"]!, (long)job["count_record"]!);
    }

    /// <summary>
    /// A table without a key, never analyzed: the first run sizes its block ranges by a guess (100 rows a block), and
    /// after an ANALYZE a run sizes them by the rows' real width. Its first batch is written to one destination, and a
    /// second refuses it, so the run fails before its first checkpoint. Resumed after the ANALYZE, it reads the same
    /// ranges as the first run, so the destination that took the first batch skips it rather than append it again.
    /// </summary>
    [Fact]
    public async Task AJobOfATableWithoutAKeyThatFailedBeforeItsFirstCheckpoint_ResumesInTheSameBlockRanges_AppendingNothingTwice()
    {
        const string sql = """
            CREATE TABLE wide_log (id int NOT NULL, body text NOT NULL) WITH (autovacuum_enabled = false);
            INSERT INTO wide_log SELECT g, repeat('x', 150) FROM generate_series(1, 20000) g;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.wide_log"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        var refusing = await pg.CreateDatabaseAsync("refusing");
        await RefuseRowsPastAsync(refusing, "wide_log (id int NOT NULL, body text NOT NULL)", "id", 0);
        var pipelineId = await s.AddPipelineAsync("taking-then-refusing",
            [s.DestinationIds[0], await s.AddPostgresDestinationAsync("refusing", refusing)], "public.wide_log");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{pipelineId}/backfill", new { table_name = "public.wide_log" }))["id"]!;
        var failed = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");
        Assert.Contains("disk quota exceeded", (string)failed["error_message"]!);
        Assert.Equal(0L, (long)failed["count_record"]!);
        Assert.InRange(await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.wide_log"), 1, 19_999);

        await PostgresServer.ExecuteAsync(s.SourceDb, "ANALYZE wide_log");
        await PostgresServer.ExecuteAsync(refusing, "DROP TRIGGER refuse ON copy.wide_log");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");

        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "wide_log");
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "wide_log"));
        Assert.Equal(expected, await TableContents.FromPostgresAsync(refusing, "copy", "wide_log"));
    }

    /// <summary>
    /// A composite key made again in another order between a cancel and the resume: the job reads on from its last key
    /// place by place, so (a, b) &gt; (50, 10) read as (b, a) &gt; (50, 10) would find no more rows and say COMPLETED.
    /// The resume fails naming the change instead, whole or in chunks.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task ResumedJobs_WhoseKeyWasMadeAgainInAnotherOrder_FailNamingIt_InsteadOfSkippingRows(int chunks)
    {
        const string sql = """
            CREATE TABLE pairs (a int, b int, v text NOT NULL, PRIMARY KEY (a, b));
            INSERT INTO pairs SELECT a, b, a || '/' || b FROM generate_series(1, 2000) a, generate_series(1, 10) b;
            ANALYZE pairs;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.pairs"], DestinationKinds.Postgres, "--Backfill:BatchSize=500", "--Backfill:MinChunkRows=1000");
        var (jobId, cancelled) = await StartAndCancelAsync(s, chunks, FirstCheckpoint(chunks), "first checkpoint", "public.pairs", 4000);

        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE pairs DROP CONSTRAINT pairs_pkey, ADD PRIMARY KEY (b, a)");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");

        Assert.True("FAILED" == (string)job["status"]!, job.ToJsonString());
        Assert.Contains("(was a integer (key 1); was b integer (key 2); now a integer (key 2); now b integer (key 1))", (string)job["error_message"]!);
        Assert.Equal((long)cancelled["count_record"]!, (long)job["count_record"]!);
    }

    /// <summary>
    /// Checkpoints written before key columns carried their place say <c>(key)</c> for each: a job checkpointed then,
    /// here over a key that does not list its columns in the table's order, resumes after the upgrade as it would have.
    /// </summary>
    [Fact]
    public async Task AJobCheckpointedBeforeKeyColumnsCarriedTheirPlace_Resumes_ToExactlyTheSourcesRows()
    {
        const string sql = """
            CREATE TABLE tenant_rows (id int, tenant int, v text NOT NULL, PRIMARY KEY (tenant, id));
            INSERT INTO tenant_rows SELECT id, tenant, tenant || '/' || id FROM generate_series(1, 1000) id, generate_series(1, 20) tenant;
            ANALYZE tenant_rows;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.tenant_rows"], DestinationKinds.Postgres, "--Backfill:BatchSize=500");
        var (jobId, _) = await StartAndCancelAsync(s, 1, FirstCheckpoint(1), "first checkpoint", "public.tenant_rows", 4000);
        await PostgresServer.ExecuteAsync(s.ConfigDb,
            $"UPDATE queue_backfill_data SET resume_cursor = regexp_replace(resume_cursor::text, ' \\(key \\d+\\)', ' (key)', 'g')::jsonb WHERE id = {jobId}");
        Assert.Contains("id integer (key)", await PostgresServer.ScalarAsync<string>(s.ConfigDb, $"SELECT resume_cursor::text FROM queue_backfill_data WHERE id = {jobId}"));

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");

        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "tenant_rows"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "tenant_rows"));
    }

    /// <summary>A job has written its first rows, and when split, its chunks are in place.</summary>
    private static Func<JsonObject, bool> FirstCheckpoint(int chunks) => j => (long)j["count_record"]! > 0 && (chunks == 1 || j["chunks"] is JsonArray);

    /// <summary>
    /// Starts a backfill of <paramref name="table"/> in <paramref name="chunks"/> chunks (at <paramref name="rowsPerSecond"/>
    /// at most) and cancels it once <paramref name="started"/> holds.
    /// </summary>
    private static async Task<(int JobId, JsonObject Cancelled)> StartAndCancelAsync(Scenario s, int chunks, Func<JsonObject, bool> started, string what,
        string table = "public.readings", int? rowsPerSecond = null)
    {
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = table, parallel_chunks = chunks, max_rows_per_second = rowsPerSecond }))["id"]!;
        await s.Http.WaitUntilAsync(jobId, Timeout, started, what);
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
        var cancelled = await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED", "FAILED");
        Assert.True("CANCELLED" == (string)cancelled["status"]!, cancelled.ToJsonString());
        return (jobId, cancelled);
    }

    /// <summary>
    /// A run that failed after its Parquet file of a batch was in place but before that batch's checkpoint left the file;
    /// the rows it held left the source before the resume, so the resumed run cuts fewer batches and does not replace it.
    /// </summary>
    [Fact]
    public async Task FailedJob_WithAParquetFilePastItsCheckpoint_ResumesWithoutThatFilesRows()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Parquet, "--Backfill:BatchSize=1000");
        await RefuseRowsPastAsync(s.DestinationDb, "readings (id bigint PRIMARY KEY, sensor text NOT NULL, value double precision)", "id", 5500);
        var pipelineId = await PipelineWritingParquetThenPostgresAsync(s, "public.readings");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{pipelineId}/backfill",
            new { table_name = "public.readings", filters = new[] { Filter("id", "<=", 10000) } }))["id"]!;
        var failed = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");
        Assert.Contains("disk quota exceeded", (string)failed["error_message"]!);
        Assert.Equal(5000L, (long)failed["count_record"]!);
        var files = Path.Combine(s.ParquetDirectory, "readings", jobId.ToString());
        Assert.True(File.Exists(Path.Combine(files, "part-000005.parquet")), "the failed batch's Parquet file was not written");

        await PostgresServer.ExecuteAsync(s.SourceDb, "DELETE FROM readings WHERE id > 5000");
        await PostgresServer.ExecuteAsync(s.DestinationDb, "DROP TRIGGER refuse ON copy.readings");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Equal(5000L, (long)job["count_record"]!);
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings");
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "readings", null, $"read_parquet('{files}/*.parquet')"));
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));
    }

    /// <summary>
    /// A job that wrote batches whole is not split into chunks when it resumes, though its table grew past the size that
    /// splits: the chunks would copy its first rows again, into a table without a key a second time.
    /// </summary>
    [Fact]
    public async Task FailedJob_ThatRanWhole_ResumesWhole_WhenItsTableGrewPastTheSizeThatSplits()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE notes (n int NOT NULL, note text);
            INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 10000) g;
            """, ["public.notes"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000", "--Backfill:MinChunkRows=6000");
        await RefuseRowsPastAsync(s.DestinationDb, "notes (n int NOT NULL, note text)", "n", 5500);
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.notes", parallel_chunks = 2 }))["id"]!;
        var failed = await s.Http.WaitForJobAsync(jobId, Timeout, "FAILED", "COMPLETED");
        Assert.Contains("disk quota exceeded", (string)failed["error_message"]!);
        Assert.InRange((long)failed["count_record"]!, 1, 5500);

        await PostgresServer.ExecuteAsync(s.SourceDb, "INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(10001, 13000) g");
        await PostgresServer.ExecuteAsync(s.DestinationDb, "DROP TRIGGER refuse ON copy.notes");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "notes"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "notes"));
        Assert.Null(job["chunks"]);
    }

    /// <summary>
    /// Makes the destination's <c>copy.</c><paramref name="table"/> refuse rows whose <paramref name="column"/> is past
    /// <paramref name="limit"/>: a trigger after each row (one before it would make the job refuse the target).
    /// </summary>
    private static Task RefuseRowsPastAsync(string destinationDb, string table, string column, int limit) =>
        PostgresServer.ExecuteAsync(destinationDb, $"""
            CREATE SCHEMA copy;
            CREATE TABLE copy.{table};
            CREATE FUNCTION copy.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN IF NEW.{column} > {limit} THEN RAISE EXCEPTION 'disk quota exceeded'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER refuse AFTER INSERT ON copy.{table[..table.IndexOf(' ')]} FOR EACH ROW EXECUTE FUNCTION copy.refuse();
            """);

    /// <summary>
    /// A pipeline over the scenario's Parquet destination and a PostgreSQL destination made after it: destinations write
    /// each batch in the order they were made, so the Parquet file of a batch is in place before PostgreSQL refuses it.
    /// </summary>
    private static async Task<int> PipelineWritingParquetThenPostgresAsync(Scenario s, string table) =>
        await s.AddPipelineAsync("files-then-pg", [s.DestinationIds[0], await s.AddPostgresDestinationAsync("pg-after-files", s.DestinationDb)], table);

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient http, HttpMethod method, string path, object body)
    {
        using var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) });
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
