using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Engine;

/// <summary>A table that users change while it is backfilled: every row the job started with arrives once.</summary>
public sealed class ConcurrentWriteTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const int Rows = 20_000;

    /// <summary>Full pages (fillfactor 100): an updated row cannot stay in its page, so its new version goes to the heap's end.</summary>
    private const string SourceSql = """
        CREATE TABLE events (id int NOT NULL, payload text NOT NULL) WITH (fillfactor = 100, autovacuum_enabled = false);
        INSERT INTO events SELECT g, 'event ' || g || ' ' || md5(g::text) FROM generate_series(1, 20000) g;
        ANALYZE events;
        """;

    /// <summary>
    /// A table without a key is read in heap-block ranges. Rows updated in blocks the job has not read yet move to the heap's
    /// end: read in a statement of their own per range, the moved rows were seen in neither place (or, moved into read
    /// blocks' free space, in both). The job reads every range in the one snapshot it started with, on each path the rows
    /// take: binary COPY passed through (PostgreSQL), appended to DuckDB (Parquet), decoded (both). Such a table is not split
    /// into chunks unless the request asks: each chunk would read in a snapshot of its own.
    /// </summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres)]
    [InlineData(DestinationKinds.Parquet)]
    [InlineData(DestinationKinds.Postgres | DestinationKinds.Parquet)]
    public async Task TableWithoutAKey_RowsUpdatedMidJob_ArriveOnceEach_AsTheJobsSnapshotHadThem(DestinationKinds kinds)
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.events"], kinds,
            "--Backfill:BatchSize=1000", "--Backfill:MaxParallelChunks=4", "--Backfill:MinChunkRows=1000");
        var before = await TableContents.FromPostgresAsync(s.SourceDb, "public", "events");
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.events", max_rows_per_second = 4000 });
        var jobId = (int)created["id"]!;
        await s.Http.WaitUntilAsync(jobId, TimeSpan.FromMinutes(1), j => (long)j["count_record"]! > 0, "first checkpoint");

        var blocks = await PostgresServer.ScalarAsync<long>(s.SourceDb, "SELECT pg_relation_size('events') / 8192");
        await PostgresServer.ExecuteAsync(s.SourceDb, "UPDATE events SET payload = payload || ' (changed)' WHERE id > 15000");
        var during = await s.Http.GetJobAsync(jobId);
        Assert.True((long)during["count_record"]! <= 10_000 && (string)during["status"]! == "EXECUTING",
            $"the job read past the changed rows before they changed; nothing was tested: {during.ToJsonString()}");
        Assert.True(await PostgresServer.ScalarAsync<long>(s.SourceDb,
            $"SELECT count(*) FROM events WHERE id > 15000 AND (ctid::text::point)[0] < {blocks - 1}") == 0, "the changed rows did not move to the heap's end");

        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(Rows, (long)job["count_record"]!);
        Assert.Null(job["chunks"]);
        await s.AssertDestinationsHoldAsync(before, "events", jobId, kinds);
    }

    /// <summary>
    /// A table without a key whose rows are in inheritance children: a child the job had not reached yet was rewritten
    /// (<c>ALTER TABLE ... ADD COLUMN ... DEFAULT clock_timestamp()</c>), and a rewrite is not MVCC-safe: the job's snapshot,
    /// older than it, saw that child empty, and the job said COMPLETED with half of the rows. The job's snapshot now holds
    /// each heap of the table, as pg_dump does, so such a rewrite waits until the read is done.
    /// </summary>
    [Fact]
    public async Task TableWithoutAKey_ChildRewrittenBeforeTheJobReachesIt_ArrivesWhole()
    {
        const string sql = """
            CREATE TABLE logs (id int NOT NULL, line text NOT NULL);
            CREATE TABLE logs_a () INHERITS (logs);
            CREATE TABLE logs_b () INHERITS (logs);
            INSERT INTO logs_a SELECT g, 'a ' || g FROM generate_series(1, 3000) g;
            INSERT INTO logs_b SELECT g, 'b ' || g FROM generate_series(3001, 6000) g;
            ANALYZE logs_a; ANALYZE logs_b;
            """;
        await using var s = await Scenario.CreateAsync(pg, sql, ["public.logs"], DestinationKinds.Postgres, "--Backfill:BatchSize=200");
        var before = await TableContents.FromPostgresAsync(s.SourceDb, "public", "logs");
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.logs", max_rows_per_second = 500 });
        var jobId = (int)created["id"]!;
        await s.Http.WaitUntilAsync(jobId, TimeSpan.FromMinutes(1), j => (long)j["count_record"]! > 0, "first checkpoint");

        var rewrite = PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE logs_b ADD COLUMN loaded_at timestamptz DEFAULT clock_timestamp()");
        await Task.WhenAny(rewrite, Task.Delay(TimeSpan.FromSeconds(1)));
        var during = await s.Http.GetJobAsync(jobId);
        Assert.True((long)during["count_record"]! < 3000 && (string)during["status"]! == "EXECUTING",
            $"the job read into logs_b before the rewrite was asked for; nothing was tested: {during.ToJsonString()}");

        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED", "CANCELLED");
        await rewrite;
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(6000, (long)job["count_record"]!);
        await s.AssertDestinationsHoldAsync(before, "logs", jobId, DestinationKinds.Postgres);
    }
}
