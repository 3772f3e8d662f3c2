using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Sources.Postgres;
using BackfillStudio.Tests.Infrastructure;
using DuckDB.NET.Data;

namespace BackfillStudio.Tests.Engine;

/// <summary>
/// A column whose type changes while its table is backfilled. Binary COPY data carries no types: read as the type the
/// job started with, an <c>integer</c> column turned <c>real</c> (four bytes either way) would arrive as the float's bits
/// read as an integer, in a PostgreSQL target as in DuckDB or Parquet. The read checks the columns' types under a lock
/// that keeps them until it ends, and fails naming the column. So does a key whose collation changes: the job walks the
/// key in that order.
/// </summary>
public sealed class TypeChangeTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
        INSERT INTO items SELECT g, g * 3 FROM generate_series(1, 20000) g;
        CREATE TABLE heap_items (id int NOT NULL, v int NOT NULL);
        INSERT INTO heap_items SELECT g, g * 3 FROM generate_series(1, 100) g;
        CREATE TABLE dated (id int PRIMARY KEY, d date NOT NULL);
        INSERT INTO dated SELECT g, date '2024-01-01' + g FROM generate_series(1, 100) g;
        CREATE TABLE named (k text COLLATE "C" PRIMARY KEY, v int NOT NULL);
        INSERT INTO named SELECT CASE WHEN g % 2 = 0 THEN 'B' ELSE 'a' END || lpad(g::text, 5, '0'), g FROM generate_series(1, 20000) g;
        """;

    [Theory]
    [InlineData("public.items", BatchFormat.PostgresCopy)]
    [InlineData("public.items", BatchFormat.StageCopy)]
    [InlineData("public.heap_items", BatchFormat.PostgresCopy)]
    [InlineData("public.heap_items", BatchFormat.StageCopy)]
    [InlineData("public.items", BatchFormat.Decoded)]
    [InlineData("public.heap_items", BatchFormat.Decoded)]
    public async Task AColumnWhoseTypeChangedAfterTheJobReadIt_FailsTheRead_NamingItAndBothTypes(string tableName, BatchFormat format)
    {
        var e = await ReadAfterAsync(tableName, $"ALTER TABLE {tableName} ALTER COLUMN v TYPE real", format);

        Assert.Contains($"column v of {tableName} changed from integer to real", e.Message);
    }

    /// <summary>
    /// Decoded rows fail on most type changes by themselves (Npgsql will not read a real as an integer), but not on all:
    /// it reads a date as its day number, an integer as an integer. A date column turned integer is not read as dates.
    /// </summary>
    [Fact]
    public async Task ADateColumnTurnedInteger_IsNotDecodedAsDates()
    {
        var e = await ReadAfterAsync("public.dated", "ALTER TABLE dated ALTER COLUMN d TYPE integer USING d - date '2000-01-01'", BatchFormat.Decoded);

        Assert.Contains("column d of public.dated changed from date to integer", e.Message);
    }

    /// <summary>Reads the table's columns as a job starts, runs <paramref name="alter"/>, and reads the first batch.</summary>
    private async Task<InvalidOperationException> ReadAfterAsync(string tableName, string alter, BatchFormat format)
    {
        var sourceDb = await pg.CreateDatabaseAsync("typechange");
        await PostgresServer.ExecuteAsync(sourceDb, SourceSql);
        await using var source = await PostgresSource.OpenAsync(PostgresServer.SourceSettings(sourceDb), "source", "type change test", CancellationToken.None);
        var table = await source.TableAsync(tableName, CancellationToken.None);
        await PostgresServer.ExecuteAsync(sourceDb, alter);
        await using var reader = source.Reader(table, FilterPredicate.Build(table, []), new BatchLimits(10, long.MaxValue), format: format);
        return await Assert.ThrowsAsync<InvalidOperationException>(() => reader.ReadAsync(ResumeCursor.Start, CancellationToken.None));
    }

    /// <summary>
    /// The type changes between two of the job's statements (a segment ends after half the source's 2 s statement
    /// timeout; the ALTER waits for it). The job fails saying why, and what it wrote before holds the values as they were.
    /// </summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres)]
    [InlineData(DestinationKinds.Parquet)]
    [InlineData(DestinationKinds.Postgres | DestinationKinds.Parquet)]
    public async Task AJobWhoseColumnChangesTypeMidway_Fails_AndWhatItWroteIsExact(DestinationKinds kinds)
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], kinds,
            "--Backfill:SourceStatementTimeoutSeconds=2", "--Backfill:BatchSize=500", "--Backfill:MaxParallelChunks=1");
        var jobId = await StartSlowJobAsync(s);

        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE items ALTER COLUMN v TYPE real");
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED", "CANCELLED");

        Assert.True((string)job["status"]! == "FAILED", job.ToJsonString());
        Assert.Contains("column v of public.items changed from integer to real", (string)job["error_message"]!);
        var (rows, wrong) = kinds.HasFlag(DestinationKinds.Postgres)
            ? (await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.items"),
               await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.items WHERE v <> id * 3"))
            : ParquetCounts($"{s.ParquetDirectory}/items/{jobId}/*.parquet");
        Assert.InRange(rows, 1, 19_999);
        Assert.Equal(0, wrong);
    }

    /// <summary>
    /// The PostgreSQL target's column changes type between two batches: COPY data carries no types there either, so the
    /// integers would land as a real's bits. Each batch checks the target's columns under the lock its COPY takes anyway.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ATargetColumnRetypedMidway_FailsTheJob_AndWhatItWroteIsExact(bool binaryCopy)
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.items"], DestinationKinds.Postgres,
            "--Backfill:BatchSize=500", "--Backfill:MaxParallelChunks=1", $"--Backfill:BinaryCopy={binaryCopy}");
        var jobId = await StartSlowJobAsync(s);

        await PostgresServer.ExecuteAsync(s.DestinationDb, "ALTER TABLE copy.items ALTER COLUMN v TYPE real");
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED", "CANCELLED");

        Assert.True((string)job["status"]! == "FAILED", job.ToJsonString());
        Assert.Contains("column v of copy.items changed from integer to real", (string)job["error_message"]!);
        Assert.InRange(await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.items"), 1, 19_999);
        Assert.Equal(0, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.items WHERE v <> id * 3"));

        // Resumed, the rest goes through the cast to real (every v here is exact in a real) as the message says.
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(20_000, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.items"));
        Assert.Equal(0, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.items WHERE v <> id * 3"));
    }

    /// <summary>
    /// The key's collation changes between two of the job's statements. The job walks the key in the collation's order, so
    /// in another order the rest of the walk (<c>k &gt; last key</c>) would skip the rows that sort before the last key
    /// now: "C" puts every <c>B…</c> key before every <c>a…</c> one, ICU the other way round, so after a change during the
    /// <c>B…</c> keys the walk would never come to the <c>a…</c> ones. The job fails instead, and so does a resume.
    /// </summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres, true)]
    [InlineData(DestinationKinds.Postgres, false)]
    [InlineData(DestinationKinds.Parquet, true)]
    public async Task AKeyWhoseCollationChangesMidway_FailsTheJob_RatherThanSkipRows(DestinationKinds kinds, bool binaryCopy)
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.named"], kinds,
            "--Backfill:SourceStatementTimeoutSeconds=2", "--Backfill:BatchSize=500", "--Backfill:MaxParallelChunks=1", $"--Backfill:BinaryCopy={binaryCopy}");
        var jobId = await StartSlowJobAsync(s, "public.named");

        await PostgresServer.ExecuteAsync(s.SourceDb, "ALTER TABLE named ALTER COLUMN k TYPE text COLLATE \"und-x-icu\"");
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED", "CANCELLED");

        Assert.True((string)job["status"]! == "FAILED", job.ToJsonString());
        Assert.Contains("The collation of the key column k of public.named changed from \"C\" to \"und-x-icu\"", (string)job["error_message"]!);

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "FAILED", job.ToJsonString());
        Assert.Contains("was k text COLLATE \"C\" (key 1); now k text COLLATE \"und-x-icu\" (key 1)", (string)job["error_message"]!);
    }

    /// <summary>Starts a job over <paramref name="table"/> slow enough (4,000 rows/s) to change a table under it; returns at its first checkpoint.</summary>
    private static async Task<int> StartSlowJobAsync(Scenario s, string table = "public.items")
    {
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = table, max_rows_per_second = 4000, verify = "none" });
        var jobId = (int)created["id"]!;
        await s.Http.WaitUntilAsync(jobId, TimeSpan.FromMinutes(1), j => (long)j["count_record"]! > 0, "first checkpoint");
        return jobId;
    }

    private static (long Rows, long Wrong) ParquetCounts(string glob)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"SELECT count(*), count(*) FILTER (WHERE v <> id * 3) FROM read_parquet('{glob}')";
        using var reader = cmd.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
