using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Sources.Postgres;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Engine;

/// <summary>
/// A binary keyset read streams one COPY over up to 50 batches (a segment) and cuts the batches from it as they come; a
/// new segment starts after the last key handed out, or wherever the job asks to continue from.
/// </summary>
public sealed class StreamedReadTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, note text);
        INSERT INTO items SELECT g, g % 10, 'n' || g FROM generate_series(1, 3000) g;
        CREATE INDEX ON items (grp);
        ANALYZE items;
        """;

    [Fact]
    public async Task AFilteredRead_OverSeveralSegments_GivesEveryMatchingRowOnce_InKeyOrder_AndContinuesFromAnyCursor()
    {
        var sourceDb = await pg.CreateDatabaseAsync("streamed");
        await PostgresServer.ExecuteAsync(sourceDb, SourceSql);
        var settings = PostgresServer.SourceSettings(sourceDb);
        await using var source = await PostgresSource.OpenAsync(settings, "source", "streamed read test", CancellationToken.None);
        var table = await source.TableAsync("public.items", CancellationToken.None);
        var filter = FilterPredicate.Build(table, [new BackfillFilter("grp", "<", "4")]);
        // 10 rows a batch: a segment holds 500 of the 1,200 matching rows, so the read spans three of them.
        await using var reader = source.Reader(table, filter, new BatchLimits(10, long.MaxValue), format: BatchFormat.PostgresCopy);

        var batches = new List<(ResumeCursor From, Batch Batch)>();
        var cursor = ResumeCursor.Start;
        while (await reader.ReadAsync(cursor, CancellationToken.None) is { } batch)
        {
            batches.Add((cursor, batch));
            cursor = batch.Next;
        }

        Assert.Equal(120, batches.Count);
        Assert.All(batches, b => Assert.Equal(10, b.Batch.RowCount));
        var expected = Enumerable.Range(1, 3000).Where(id => id % 10 < 4).ToList();
        // Each batch starts after the previous one's last key and ends at the key of its tenth matching row.
        for (var i = 0; i < batches.Count; i++)
        {
            Assert.Equal(i == 0 ? null : batches[i - 1].Batch.Keys!.Last, batches[i].Batch.Keys!.After);
            Assert.Equal(expected[10 * i + 9].ToString(), Assert.Single(batches[i].Batch.Keys!.Last));
        }

        // A job that resumes from an earlier checkpoint (or a read retried) gets the same batch again, not the stream's next.
        var again = await reader.ReadAsync(batches[55].From, CancellationToken.None);
        Assert.Equal(batches[55].Batch.Keys!.Last, again!.Keys!.Last);
        Assert.True(again.Binary!.Data.Span.SequenceEqual(batches[55].Batch.Binary!.Data.Span), "the batch read again holds the same bytes");
        var next = await reader.ReadAsync(again.Next, CancellationToken.None);
        Assert.Equal(batches[56].Batch.Keys!.Last, next!.Keys!.Last);
        Assert.Null(await reader.ReadAsync(batches[^1].Batch.Next, CancellationToken.None));
    }

    /// <summary>A single integer key's last value is read from the rows' binary form, where other keys come as text.</summary>
    [Theory]
    [InlineData("smallint", BatchFormat.PostgresCopy)]
    [InlineData("integer", BatchFormat.StageCopy)]
    [InlineData("bigint", BatchFormat.PostgresCopy)]
    [InlineData("bigint", BatchFormat.StageCopy)]
    public async Task IntegerKeysOfEveryWidth_EndEachBatch_AsTheSourceWritesThem(string type, BatchFormat format)
    {
        var sourceDb = await pg.CreateDatabaseAsync("intkeys");
        var bits = type switch { "smallint" => 16, "integer" => 32, _ => 64 };
        await PostgresServer.ExecuteAsync(sourceDb, $"""
            CREATE TABLE k (note text, id {type} PRIMARY KEY);
            INSERT INTO k SELECT 'n' || g, g FROM generate_series(-100, 100) g;
            INSERT INTO k VALUES ('min', (-(2::numeric ^ {bits - 1}))::{type}), ('max', (2::numeric ^ {bits - 1} - 1)::{type});
            """);
        await using var source = await PostgresSource.OpenAsync(PostgresServer.SourceSettings(sourceDb), "source", "integer key test", CancellationToken.None);
        var table = await source.TableAsync("public.k", CancellationToken.None);
        await using var reader = source.Reader(table, FilterPredicate.Build(table, []), new BatchLimits(7, long.MaxValue), format: format);

        var lastKeys = new List<string>();
        var rows = 0;
        var cursor = ResumeCursor.Start;
        while (await reader.ReadAsync(cursor, CancellationToken.None) is { } batch)
        {
            lastKeys.Add(Assert.Single(batch.Keys!.Last));
            rows += batch.RowCount;
            cursor = batch.Next;
            batch.Dispose();
        }

        var keys = new List<string>();
        await using (var connection = new NpgsqlConnection(sourceDb))
        {
            await connection.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT id::text FROM k ORDER BY k.id", connection);
            await using var read = await cmd.ExecuteReaderAsync();
            while (await read.ReadAsync()) keys.Add(read.GetString(0));
        }
        Assert.Equal(203, rows);
        Assert.Equal(keys.Where((_, i) => i % 7 == 6 || i == keys.Count - 1), lastKeys);
    }

    /// <summary>
    /// Batches of wide rows grow their buffer to the byte budget; the next buffer starts at that size instead of doubling
    /// from 256 KiB again (which left 64 MiB of smaller copies to the GC, and a job of 1 MB rows 130 MiB over its bound).
    /// </summary>
    [Fact]
    public void ABufferRentedAfterAnotherGrew_StartsAsLarge_AndAWrittenOneIsReused()
    {
        var buffers = new BinaryCopyBuffers();
        var first = buffers.Rent();
        Assert.Equal(256 * 1024, first.Length);

        buffers.Grew(64 << 20);
        buffers.Grew(1 << 20);

        Assert.Equal(64 << 20, buffers.Rent().Length);
        buffers.Return(first);
        Assert.Same(first, buffers.Rent());
    }

    [Fact]
    public async Task AJobLongerThanTheSourcesStatementTimeout_RenewsItsStreamInTime_AndCopiesExactly()
    {
        // 20,000 rows of 1 KB at 4,000 rows/s take about 5 s. One COPY for all of them (a segment holds 50,000 rows of
        // 1,000-row batches) would fill the socket's buffers and wait there until the source's 2 s statement_timeout
        // cancels it; a segment is ended after half of that.
        await using var s = await Scenario.CreateAsync(pg, """
            CREATE TABLE docs (id int PRIMARY KEY, body text NOT NULL);
            INSERT INTO docs SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 20000) g;
            """, ["public.docs"], DestinationKinds.Postgres, "--Backfill:SourceStatementTimeoutSeconds=2", "--Backfill:BatchSize=1000");
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.docs", max_rows_per_second = 4000, verify = "none" });
        var jobId = (int)created["id"]!;
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(20000L, (long)job["count_record"]!);
        // In one run: a statement the server cancelled would have sent the job back to the queue.
        Assert.Equal(1, await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT attempts FROM queue_backfill_data WHERE id = {jobId}"));
        Assert.True(((DateTimeOffset)job["finished_at"]! - (DateTimeOffset)job["started_at"]!).TotalSeconds > 3, "the rate limit held the job past the timeout");
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "docs"), await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "docs"));
    }
}
