using System.Text.Json.Nodes;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Engine;

/// <summary>Batches end at Backfill:BatchMaxBytes as well as at Backfill:BatchSize, so wide rows never fill memory.</summary>
public sealed class WideRowTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task RowsOfAMegabyte_EndEachBatchAtTheByteBudget_AndArriveExactlyInEveryDestination()
    {
        // 40 rows of about 1 MB of text (2 MiB decoded); 8 MiB a batch holds 4 of them, not BatchSize's 10,000.
        await using var s = await Scenario.CreateAsync(pg, Documents(40), ["public.documents"], DestinationKinds.All, "--Backfill:BatchMaxBytes=8388608");
        var jobId = await CopyDocumentsAsync(s, 40);

        var batches = await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT (resume_cursor->>'batches')::int FROM queue_backfill_data WHERE id = {jobId}");
        Assert.InRange(batches, 10, 40);
        Assert.True(Directory.GetFiles(Path.Combine(s.ParquetDirectory, "documents", jobId.ToString()), "*.parquet").Length == batches,
            "one Parquet file per batch");
        await s.AssertDestinationsHoldAsync(await TableContents.FromPostgresAsync(s.SourceDb, "public", "documents"), "documents", jobId);
    }

    [Fact]
    public async Task WideRowsOfATableWithoutKey_EndEachBlockRangeNearTheByteBudget_AndArriveOnce()
    {
        // 2,000 rows of 1.5 KB (below TOAST's threshold, about 5 to a block): 6 MiB decoded, 1 MiB a batch.
        await using var s = await Scenario.CreateAsync(pg, """
            CREATE TABLE notes (author text, body text);
            INSERT INTO notes SELECT 'a' || g, repeat(md5(g::text), 46) FROM generate_series(1, 2000) g;
            ANALYZE notes;
            """, ["public.notes"], DestinationKinds.Postgres, "--Backfill:BatchMaxBytes=1048576");
        var jobId = await s.StartBackfillAsync("public.notes");
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(2000L, (long)job["count_record"]!);

        var batches = await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT (resume_cursor->>'batches')::int FROM queue_backfill_data WHERE id = {jobId}");
        Assert.InRange(batches, 5, 40);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "notes"), await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "notes"));
    }

    /// <summary>A table of <paramref name="rows"/> rows of about 1 MB of text each (2 MiB decoded).</summary>
    private static string Documents(int rows) => $"""
        CREATE TABLE documents (id int PRIMARY KEY, body text NOT NULL);
        INSERT INTO documents SELECT g, g || repeat(md5(g::text), 32768) FROM generate_series(1, {rows}) g;
        """;

    /// <summary>Backfills <c>public.documents</c> and asserts it COMPLETED with every row; returns the job's id.</summary>
    private static async Task<int> CopyDocumentsAsync(Scenario s, int rows)
    {
        var jobId = await s.StartBackfillAsync("public.documents");
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(rows, (long)job["count_record"]!);
        return jobId;
    }

    [Fact]
    public async Task RowsOfAMegabyte_IntoParquet_StayWithinTheStagesMemoryLimit_BatchAfterBatch()
    {
        // 120 MB of text through a 64 MB stage: it holds one 8 MiB batch at a time, or runs out of memory.
        await using var s = await Scenario.CreateAsync(pg, Documents(120), ["public.documents"], DestinationKinds.Parquet,
            "--Backfill:BatchMaxBytes=8388608", "--Backfill:DuckDbMemoryLimit=64MB");
        var jobId = await CopyDocumentsAsync(s, 120);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "documents"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "documents", null, $"read_parquet('{s.ParquetDirectory}/documents/{jobId}/*.parquet')"));
    }

    [Fact]
    public async Task RowsOfAMegabyte_BeyondDuckDbsMemoryLimit_FailTheJobSayingWhatToRaise_AndResumeExactlyOnceRaised()
    {
        // DuckDB's checkpoint holds up to 2,048 of a column's values at once: with 64 MB it runs out once the file holds
        // some 50 of these rows, with the original error lost behind "FATAL Error: Failed to rollback transaction".
        await using var s = await Scenario.CreateAsync(pg, Documents(100), ["public.documents"], DestinationKinds.DuckDb, "--Backfill:EngineEnabled=false");
        var jobId = await s.StartBackfillAsync("public.documents");
        JsonObject failed;
        await using (await s.StartPeerAsync("--Backfill:BatchMaxBytes=8388608", "--Backfill:DuckDbMemoryLimit=64MB"))
            failed = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
        Assert.True((string)failed["status"]! == "FAILED", failed.ToJsonString());
        var message = (string)failed["error_message"]!;
        Assert.Contains("DuckDB ran out of its memory limit (Backfill:DuckDbMemoryLimit = 64MB)", message);
        Assert.Contains("of public.documents into main.documents", message);
        Assert.Contains("Out of Memory Error", message);
        Assert.DoesNotContain("FATAL", message);
        // The batches before the one that failed are in the file, and the job's count says exactly those.
        var written = (long)failed["count_record"]!;
        Assert.InRange(written, 1, 99);
        Assert.Equal(written, (await TableContents.FromDuckDbAsync(s.SourceDb, "public", "documents", s.DuckDbPath, "main.documents")).Count);

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        await using (await s.StartPeerAsync("--Backfill:BatchMaxBytes=8388608", "--Backfill:DuckDbMemoryLimit=1GB"))
        {
            var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(3), "COMPLETED", "FAILED");
            Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        }
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "documents"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "documents", s.DuckDbPath, "main.documents"));
    }

    [Fact]
    public async Task JsonbRowsOfAMegabyte_IntoParquet_FitTheStage_AtTheDefaultByteBudgetAndMemoryLimit()
    {
        // Converting and encoding a batch holds its documents several times over: 64 of them (64 MiB of binary COPY data)
        // ran the 256 MB stage out of memory; a batch of the rows a decoded one holds (about 32) fits.
        await using var s = await Scenario.CreateAsync(pg, """
            CREATE TABLE documents (id int PRIMARY KEY, doc jsonb NOT NULL);
            INSERT INTO documents SELECT g, jsonb_build_object('id', g, 'body', repeat(md5(g::text), 32768)) FROM generate_series(1, 80) g;
            """, ["public.documents"], DestinationKinds.Parquet);
        var jobId = await CopyDocumentsAsync(s, 80);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "documents"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "documents", null, $"read_parquet('{s.ParquetDirectory}/documents/{jobId}/*.parquet')"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RowsOfAMegabyte_KeepTheEnginesMemoryWithinTwiceTheByteBudgetPlus300MiB(bool binaryCopy)
    {
        const long budget = 16L * 1024 * 1024;
        await using var s = await Scenario.CreateAsync(pg, Documents(400), ["public.documents"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        using var engine = AppProcess.Start(s.ConfigDb, "--Backfill:PollIntervalSeconds=1", $"--Backfill:BatchMaxBytes={budget}",
            $"--Backfill:BinaryCopy={binaryCopy}", "--Logging:LogLevel:Default=Warning");
        // Started once its engine renews its row (the web-only app has none); then it settles.
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (await PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(*) FROM engines") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the engine process did not start: {engine.Output}");
            await Task.Delay(200);
        }
        await Task.Delay(TimeSpan.FromSeconds(2));
        var idle = engine.PeakResidentBytes;

        var jobId = await s.StartBackfillAsync("public.documents");
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(3), "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(400L, (long)job["count_record"]!);

        // 400 rows of 2 MiB decoded: a batch bounded by rows alone would hold all 800 MiB (twice, with the read ahead).
        var grew = engine.PeakResidentBytes - idle;
        Assert.True(grew < 2 * budget + 300L * 1024 * 1024,
            $"the engine grew by {grew / 1048576} MiB (idle peak {idle / 1048576} MiB) copying 1 MB rows with a {budget / 1048576} MiB budget");
    }
}
