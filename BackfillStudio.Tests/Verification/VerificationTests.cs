using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BackfillStudio.Tests.Engine;
using BackfillStudio.Tests.Infrastructure;
using DuckDB.NET.Data;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Verification;

/// <summary>
/// A job checks its copy against the source in every destination: MATCHED when exact, and after damage by hand
/// exactly the affected key ranges; repair re-copies only those ranges.
/// </summary>
public sealed class VerificationTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>50,000 rows, ids 1..50,000: with ranges of 5,000 rows, range k is (5000k, 5000(k+1)].</summary>
    private const string OrdersSql = """
        CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, placed_on date, placed_at timestamptz, amount numeric(12,2),
                             paid boolean, ref uuid, score double precision);
        INSERT INTO orders SELECT g, 'customer ' || g % 700, date '2024-01-01' + g % 365, timestamptz '2024-01-01 00:00:00+00' + g * interval '7 minutes',
                                  g * 1.25, g % 2 = 0, md5(g::text)::uuid, g / 3.0
        FROM generate_series(1, 50000) g;
        ANALYZE;
        """;

    [Fact]
    public async Task AllTypes_VerifyMatched_ByChecksum_InEveryDestination_AfterLoad()
    {
        await using var s = await CreateAsync(pg, TestData.AllTypes, ["public.all_types"], DestinationKinds.All,
            "--Backfill:BatchSize=700", "--Backfill:VerifyRangeRows=300");
        var job = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.all_types", verify = "checksum" });
        Assert.Equal("checksum", (string)job["verify"]!);
        Assert.Null(job["verification"]);
        var jobId = (int)job["id"]!;
        Assert.Equal("COMPLETED", (string)(await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED"))["status"]!);

        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Equal("checksum", (string)verification["mode"]!);
        // 2,500 rows in ranges of 300, the last one open (2,100 onwards): 8 ranges in each of the three destinations.
        Assert.Equal(24, (int)verification["ranges_checked"]!);
        Assert.Equal(0, (int)verification["ranges_mismatched"]!);
        Assert.NotNull(verification["checked_at"]);
        // DuckDB and Parquet print floats and arrays their own way; PostgreSQL compares every column.
        Assert.Equal(["c_float8", "c_int_arr", "c_text_arr"], verification["count_only_columns"]!.AsArray().Select(c => (string)c!).Order());
    }

    /// <summary>
    /// Targets made before with a larger scale (numeric(14,4), DECIMAL(14,4)) hold the numeric(10,2) values exactly, but
    /// print them with more digits (1.2500 for 1.25), as a numeric(14,2) or DECIMAL(14,2) does an integer's (5.00 for 5):
    /// the checksum compares the values, not their printed scale, and still sees a change in the extra digits.
    /// </summary>
    [Fact]
    public async Task TargetsMadeBeforeWithALargerScale_VerifyMatched_AndAChangeInTheExtraDigitsIsSeen()
    {
        const string sql = """
            CREATE TABLE prices (id int PRIMARY KEY, amount numeric(10,2), big numeric(40,3), qty int);
            INSERT INTO prices SELECT g, g * 1.25, g * 1000.5, g * 10 - 2000 FROM generate_series(1, 400) g;
            INSERT INTO prices VALUES (401, 0, 0, 0), (402, -3.10, 100, -2147483648), (403, NULL, NULL, NULL);
            """;
        await using var s = await CreateAsync(pg, sql, ["public.prices"], DestinationKinds.Postgres | DestinationKinds.DuckDb);
        await PostgresServer.ExecuteAsync(s.DestinationDb,
            "CREATE SCHEMA IF NOT EXISTS copy; CREATE TABLE copy.prices (id int PRIMARY KEY, amount numeric(14,4), big numeric(44,6), qty numeric(14,2))");
        DuckDb(s.DuckDbPath, "CREATE TABLE main.prices (id INTEGER PRIMARY KEY, amount DECIMAL(14,4), big VARCHAR, qty DECIMAL(14,2))");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.prices", verify = "checksum" }))["id"]!;
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal("1.2500", await PostgresServer.ScalarAsync<string>(s.DestinationDb, "SELECT amount::text FROM copy.prices WHERE id = 1"));
        Assert.Equal("-1990.00", await PostgresServer.ScalarAsync<string>(s.DestinationDb, "SELECT qty::text FROM copy.prices WHERE id = 1"));

        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Empty(verification["count_only_columns"]!.AsArray());

        await PostgresServer.ExecuteAsync(s.DestinationDb, "UPDATE copy.prices SET amount = amount + 0.0001 WHERE id = 7");
        DuckDb(s.DuckDbPath, "UPDATE main.prices SET amount = amount + 0.0001 WHERE id = 7");
        var changed = await VerifyAsync(s, jobId, "checksum");
        Assert.Equal("MISMATCH", (string)changed["status"]!);
        Assert.Equal(s.DestinationIds.Select(id => $"{id}:-").Order(StringComparer.Ordinal), Ranges(changed));
    }

    [Fact]
    public async Task DamagedDestinations_ShowExactlyTheAffectedRanges_AndRepairTouchesOnlyThose()
    {
        await using var s = await CreateAsync(pg, OrdersSql, ["public.orders"], DestinationKinds.All,
            "--Backfill:BatchSize=5000", "--Backfill:VerifyRangeRows=5000");
        var (pgId, duckId, parquetId) = (s.DestinationIds[0], s.DestinationIds[1], s.DestinationIds[2]);
        var jobId = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        // Verify-after-load defaults to count.
        var afterLoad = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)afterLoad["status"]!, afterLoad.ToJsonString());
        Assert.Equal("count", (string)afterLoad["mode"]!);
        // Ten ranges (the last one from 45,000 on) in three destinations.
        Assert.Equal(30, (int)afterLoad["ranges_checked"]!);

        // Deleted rows (range 2), a changed value (range 6), an extra row past the end (range 9).
        await PostgresServer.ExecuteAsync(s.DestinationDb, """
            DELETE FROM copy.orders WHERE id BETWEEN 12000 AND 12010;
            UPDATE copy.orders SET customer = 'someone else' WHERE id = 31234;
            INSERT INTO copy.orders (id, customer) VALUES (70000, 'not in the source');
            """);
        DuckDb(s.DuckDbPath, """
            DELETE FROM main.orders WHERE id BETWEEN 12000 AND 12010;
            UPDATE main.orders SET placed_at = placed_at + INTERVAL 1 SECOND WHERE id = 31234;
            INSERT INTO main.orders (id, customer) VALUES (70000, 'not in the source');
            """);
        // Parquet: batch 2 (ids 10,001..15,000) lost, one amount changed in batch 6.
        var parquet = Path.Combine(s.ParquetDirectory, "orders", jobId.ToString());
        File.Delete(Path.Combine(parquet, "part-000002.parquet"));
        var batch6 = Path.Combine(parquet, "part-000006.parquet");
        DuckDb(null, $"COPY (SELECT * REPLACE (CASE WHEN id = 31234 THEN amount + 1 ELSE amount END AS amount) FROM read_parquet('{batch6}')) " +
                     $"TO '{batch6}.tmp' (FORMAT parquet)");
        File.Move(batch6 + ".tmp", batch6, overwrite: true);

        var counted = await VerifyAsync(s, jobId, "count");
        Assert.Equal("MISMATCH", (string)counted["status"]!);
        Assert.Equal(
            [$"{pgId}:10000-15000", $"{pgId}:45000-", $"{duckId}:10000-15000", $"{duckId}:45000-", $"{parquetId}:10000-15000"],
            Ranges(counted));
        var deleted = counted["mismatches"]!.AsArray().Single(m => (int)m!["destination_id"]! == pgId && m["range_end"] is not null)!;
        Assert.Equal(5000L, (long)deleted["source_rows"]!);
        Assert.Equal(4989L, (long)deleted["destination_rows"]!);
        Assert.Null(deleted["checksum_equal"]);

        var summed = await VerifyAsync(s, jobId, "checksum");
        Assert.Equal("MISMATCH", (string)summed["status"]!);
        var affected = new[]
        {
            $"{pgId}:10000-15000", $"{pgId}:30000-35000", $"{pgId}:45000-",
            $"{duckId}:10000-15000", $"{duckId}:30000-35000", $"{duckId}:45000-",
            $"{parquetId}:10000-15000", $"{parquetId}:30000-35000",
        };
        Assert.Equal(affected, Ranges(summed));
        var changed = summed["mismatches"]!.AsArray().Single(m => (int)m!["destination_id"]! == pgId && (string?)m["range_end"]?[0] == "35000")!;
        Assert.Equal((long)changed["source_rows"]!, (long)changed["destination_rows"]!);
        Assert.False((bool)changed["checksum_equal"]!);
        Assert.Equal(["score"], summed["count_only_columns"]!.AsArray().Select(c => (string)c!));

        var untouched = await RowVersionsAsync(s.DestinationDb, "id NOT BETWEEN 10001 AND 15000 AND id NOT BETWEEN 30001 AND 35000 AND id <= 45000");
        var untouchedFiles = Directory.GetFiles(parquet).Where(f => !f.EndsWith("part-000006.parquet", StringComparison.Ordinal))
            .ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

        var repairing = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/repair");
        Assert.Equal(HttpStatusCode.Accepted, repairing.Status);
        Assert.Equal("PENDING", (string)repairing.Body["verification"]!["status"]!);
        var repaired = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)repaired["status"]!, repaired.ToJsonString());
        Assert.Equal("checksum", (string)repaired["mode"]!);
        Assert.Equal(8, (int)repaired["repaired_ranges"]!);

        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "orders");
        await s.AssertDestinationsHoldAsync(expected, "orders", jobId);
        // Rows outside the repaired ranges were not rewritten (same row versions), nor were files without rows of them.
        Assert.Equal(untouched, await RowVersionsAsync(s.DestinationDb, "id NOT BETWEEN 10001 AND 15000 AND id NOT BETWEEN 30001 AND 35000 AND id <= 45000"));
        foreach (var (file, hash) in untouchedFiles)
            Assert.Equal(hash, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file))));

        var (again, problem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/repair");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Contains("nothing to repair", (string)problem["detail"]!);
    }

    [Fact]
    public async Task FilteredJob_IgnoresRowsOutsideItsFilters_InEveryDestination()
    {
        await using var s = await CreateAsync(pg, OrdersSql, ["public.orders"], DestinationKinds.All,
            "--Backfill:BatchSize=5000", "--Backfill:VerifyRangeRows=2000", "--Backfill:VerifyAfterLoad=none");
        var everything = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(everything, Timeout, "COMPLETED");
        Assert.Null((await s.Http.GetJobAsync(everything))["verification"]);
        var filtered = await s.StartBackfillAsync("public.orders", Filter("placed_on", ">=", "2024-06-01"), Filter("paid", "=", "true"),
            Filter("id", "<", 40000), Filter("ref", "IS NOT NULL"));
        await s.Http.WaitForJobAsync(filtered, Timeout, "COMPLETED");

        // A row outside the filters changed in the PostgreSQL and DuckDB destinations: not this job's business.
        await PostgresServer.ExecuteAsync(s.DestinationDb, "UPDATE copy.orders SET customer = 'changed' WHERE id = 101");
        DuckDb(s.DuckDbPath, "UPDATE main.orders SET customer = 'changed' WHERE id = 101");
        var verification = await VerifyAsync(s, filtered, "checksum");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());

        // One inside them (id 2002 is paid, placed on 2024-06-23) is.
        await PostgresServer.ExecuteAsync(s.DestinationDb, "UPDATE copy.orders SET customer = 'changed' WHERE id = 2002");
        verification = await VerifyAsync(s, filtered, "checksum");
        var mismatch = Assert.Single(verification["mismatches"]!.AsArray())!;
        Assert.Equal(s.DestinationIds[0], (int)mismatch["destination_id"]!);
        Assert.True((mismatch["range_start"] is null || int.Parse((string)mismatch["range_start"]![0]!) < 2002)
                    && (mismatch["range_end"] is null || int.Parse((string)mismatch["range_end"]![0]!) >= 2002), mismatch.ToJsonString());
        Assert.Equal(mismatch["source_rows"]!.GetValue<long>(), mismatch["destination_rows"]!.GetValue<long>());
        Assert.Equal(1, (int)verification["ranges_mismatched"]!);
    }

    /// <summary>
    /// A filtered job's destinations hold a row that matched its filters when copied and no longer does in the source
    /// (and, in PostgreSQL and DuckDB, a full copy shares them). Its repair deletes the rows that match there, so it must
    /// write that row again as the source now has it: only a row the source no longer holds may go.
    /// </summary>
    [Fact]
    public async Task RepairOfAFilteredJob_KeepsARowThatLeftTheFilter_AsTheSourceNowHasIt()
    {
        await using var s = await CreateAsync(pg, OrdersSql, ["public.orders"], DestinationKinds.All,
            "--Backfill:BatchSize=5000", "--Backfill:VerifyRangeRows=2000", "--Backfill:VerifyAfterLoad=none");
        var everything = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitForJobAsync(everything, Timeout, "COMPLETED");
        var paid = await s.StartBackfillAsync("public.orders", Filter("paid", "=", "true"));
        await s.Http.WaitForJobAsync(paid, Timeout, "COMPLETED");

        // 2002 leaves the filter, 2004 leaves the table; both still match in the destinations.
        await PostgresServer.ExecuteAsync(s.SourceDb, """
            UPDATE orders SET paid = false, customer = 'unpaid now' WHERE id = 2002;
            DELETE FROM orders WHERE id = 2004;
            """);
        var counted = await VerifyAsync(s, paid, "count");
        Assert.Equal(3, counted["mismatches"]!.AsArray().Count);
        Assert.All(counted["mismatches"]!.AsArray(), m => Assert.Equal((long)m!["source_rows"]! + 2, (long)m["destination_rows"]!));

        await s.Http.PostOkAsync($"/api/v1/backfill/{paid}/repair", new { });
        var repaired = await s.Http.WaitForVerificationAsync(paid, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)repaired["status"]!, repaired.ToJsonString());

        // The full copy's destinations hold the source again, 2002 as it is now; the filtered job's own Parquet files
        // hold its rows alone: no other job's copy shares them, and 2002 written there as it is now would be a row that
        // does not match the job's filters (or, repaired again after it matched anew, a second row of its key).
        await s.AssertDestinationsHoldAsync(await TableContents.FromPostgresAsync(s.SourceDb, "public", "orders"), "orders", everything,
            DestinationKinds.Postgres | DestinationKinds.DuckDb);
        await s.AssertDestinationsHoldAsync(await TableContents.FromPostgresAsync(s.SourceDb, "public", "orders", "paid"), "orders", paid,
            DestinationKinds.Parquet);
    }

    /// <summary>
    /// A repair of a filtered job that stops half-way (here the target refuses a row of its last copy, after the delete)
    /// has lost nothing: the row that left the filters was written as the source has it before anything was deleted.
    /// </summary>
    [Fact]
    public async Task ARepairOfAFilteredJobThatStopsHalfWay_HasNotLostTheRowThatLeftTheFilter()
    {
        await using var s = await CreateAsync(pg, OrdersSql, ["public.orders"], DestinationKinds.Postgres,
            "--Backfill:BatchSize=5000", "--Backfill:VerifyRangeRows=2000", "--Backfill:VerifyAfterLoad=none");
        await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.orders"), Timeout, "COMPLETED");
        var paid = await s.StartBackfillAsync("public.orders", Filter("paid", "=", "true"));
        await s.Http.WaitForJobAsync(paid, Timeout, "COMPLETED");
        await PostgresServer.ExecuteAsync(s.SourceDb, "UPDATE orders SET paid = false, customer = 'unpaid now' WHERE id = 2002");
        Assert.Equal("MISMATCH", (string)(await VerifyAsync(s, paid, "count"))["status"]!);

        await PostgresServer.ExecuteAsync(s.DestinationDb, """
            CREATE FUNCTION copy.refuse_2004() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.id = 2004 THEN RAISE EXCEPTION 'refused row 2004'; END IF; RETURN NULL; END $$;
            CREATE TRIGGER refuse_2004 AFTER INSERT ON copy.orders FOR EACH ROW EXECUTE FUNCTION copy.refuse_2004();
            """);
        await s.Http.PostOkAsync($"/api/v1/backfill/{paid}/repair", new { });
        var stopped = await s.Http.WaitForVerificationAsync(paid, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("FAILED" == (string)stopped["status"]!, stopped.ToJsonString());
        Assert.Contains("refused row 2004", (string)stopped["error_message"]!);

        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "orders", "id = 2002"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "orders", "id = 2002"));
    }

    /// <summary>The repair's list of deleted keys is told apart from the table's own columns, whatever their names.</summary>
    [Fact]
    public async Task RepairOfAFilteredJob_OverATableWithColumnsNamedLikeItsKeyList_WritesTheRowThatLeftTheFilterAgain()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE kv (k int PRIMARY KEY, key jsonb, value text, v text);
            INSERT INTO kv SELECT g, jsonb_build_array(g + 1), 'value ' || g, CASE WHEN g % 2 = 0 THEN 'x' ELSE 'y' END FROM generate_series(1, 3000) g;
            """, ["public.kv"], DestinationKinds.Postgres, "--Backfill:VerifyRangeRows=500", "--Backfill:VerifyAfterLoad=none");
        await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.kv"), Timeout, "COMPLETED");
        var filtered = await s.StartBackfillAsync("public.kv", Filter("v", "=", "x"));
        await s.Http.WaitForJobAsync(filtered, Timeout, "COMPLETED");
        await PostgresServer.ExecuteAsync(s.SourceDb, "UPDATE kv SET v = 'z' WHERE k = 1000");

        Assert.Equal("MISMATCH", (string)(await VerifyAsync(s, filtered, "count"))["status"]!);
        await s.Http.PostOkAsync($"/api/v1/backfill/{filtered}/repair", new { });
        var repaired = await s.Http.WaitForVerificationAsync(filtered, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)repaired["status"]!, repaired.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "kv"), await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "kv"));
    }

    /// <summary>
    /// A NULL date has no ordinal: in DuckDB it is neither before nor after a filter's date, as in PostgreSQL, so the rows
    /// of another job sharing the table (its NULLs) are not counted as this job's.
    /// </summary>
    [Fact]
    public async Task NullDatesAndTimestamps_MatchNoOrderingFilter_InDuckDb()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE shipments (id int PRIMARY KEY, shipped_on date, shipped_at timestamptz);
            INSERT INTO shipments SELECT g, CASE WHEN g % 3 <> 0 THEN date '2024-01-01' + g % 100 END,
                                         CASE WHEN g % 5 <> 0 THEN timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour' END
            FROM generate_series(1, 2000) g;
            """, ["public.shipments"], DestinationKinds.DuckDb, "--Backfill:VerifyAfterLoad=none");
        await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.shipments"), Timeout, "COMPLETED");
        var early = await s.StartBackfillAsync("public.shipments", Filter("shipped_on", "<", "2024-03-01"), Filter("shipped_at", "<=", "2024-02-01 00:00:00+00"));
        await s.Http.WaitForJobAsync(early, Timeout, "COMPLETED");

        var verification = await VerifyAsync(s, early, "checksum");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
    }

    /// <summary>
    /// A text column under a collation that finds 'abc' and 'ABC' equal: the source's filter selects both, and no
    /// destination compares its text that way. The verification fails naming the filter, where it reported a MISMATCH
    /// that a repair would "mend" by deleting the one row and copying both (twice into Parquet files, every time).
    /// </summary>
    [Fact]
    public async Task FiltersOnTextUnderANondeterministicCollation_FailTheVerificationByName_InEveryDestination()
    {
        await using var s = await CreateAsync(pg, """
            CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TABLE names (id int PRIMARY KEY, name text COLLATE ci);
            INSERT INTO names SELECT g, CASE g % 3 WHEN 0 THEN 'abc' WHEN 1 THEN 'ABC' ELSE 'other' END FROM generate_series(1, 300) g;
            """, ["public.names"], DestinationKinds.All, "--Backfill:VerifyAfterLoad=none");
        var jobId = await s.StartBackfillAsync("public.names", Filter("name", "=", "abc"));
        Assert.Equal(200L, (long)(await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED"))["count_record"]!);

        var (status, body) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "count" });
        Assert.True(status == HttpStatusCode.Accepted, body.ToJsonString());
        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("FAILED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Contains("name = 'abc'", (string)verification["error_message"]!);
    }

    /// <summary>
    /// A target made before whose filtered column has a case-insensitive collation: there 'OPEN' matches the job's filter
    /// status = 'open' too. The verification counted the full copy's 'OPEN' rows as the job's (a MISMATCH), and a repair
    /// would delete them and copy back only 'open', then say MATCHED: rows of the full copy gone. In PostgreSQL it now
    /// fails naming the filter before it measures, so there is nothing to repair; DuckDB's filters compare the texts'
    /// bytes, and the copy matches.
    /// </summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres)]
    [InlineData(DestinationKinds.DuckDb)]
    public async Task FilterOnAColumnThatTheTargetComparesCaseInsensitively_IsComparedAsTheSourceDoes_OrFailsTheVerificationByName(DestinationKinds kind)
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE tickets (id int PRIMARY KEY, status text NOT NULL);
            INSERT INTO tickets SELECT g, CASE g % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'OPEN' ELSE 'closed' END FROM generate_series(1, 300) g;
            """, ["public.tickets"], kind, "--Backfill:VerifyAfterLoad=none");
        Func<Task<List<string>>> copied;
        if (kind == DestinationKinds.Postgres)
        {
            await PostgresServer.ExecuteAsync(s.DestinationDb, """
                CREATE SCHEMA copy;
                CREATE COLLATION copy.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
                CREATE TABLE copy.tickets (id int PRIMARY KEY, status text COLLATE copy.ci NOT NULL);
                """);
            copied = () => TableContents.FromPostgresAsync(s.DestinationDb, "copy", "tickets");
        }
        else
        {
            using (var duck = new DuckDB.NET.Data.DuckDBConnection($"Data Source={s.DuckDbPath}"))
            {
                duck.Open();
                using var cmd = duck.CreateCommand();
                cmd.CommandText = "CREATE TABLE main.tickets (id INTEGER PRIMARY KEY, status VARCHAR COLLATE NOCASE NOT NULL)";
                cmd.ExecuteNonQuery();
            }
            copied = () => TableContents.FromDuckDbAsync(s.SourceDb, "public", "tickets", s.DuckDbPath, "main.tickets");
        }
        await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.tickets"), Timeout, "COMPLETED");
        var open = await s.StartBackfillAsync("public.tickets", Filter("status", "=", "open"));
        Assert.Equal(100L, (long)(await s.Http.WaitForJobAsync(open, Timeout, "COMPLETED"))["count_record"]!);

        var (status, body) = await s.Http.PostJsonAsync($"/api/v1/backfill/{open}/verify", new { mode = "count" });
        Assert.True(status == HttpStatusCode.Accepted, body.ToJsonString());
        var verification = await s.Http.WaitForVerificationAsync(open, Timeout, "MATCHED", "MISMATCH", "FAILED");
        if (kind == DestinationKinds.DuckDb)
        {
            Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        }
        else
        {
            Assert.True("FAILED" == (string)verification["status"]!, verification.ToJsonString());
            Assert.Contains("status = 'open'", (string)verification["error_message"]!);
            Assert.Equal(HttpStatusCode.Conflict, (await s.Http.PostJsonAsync($"/api/v1/backfill/{open}/repair")).Item1);
        }
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "tickets"), await copied());
    }

    /// <summary>
    /// A PostgreSQL target made before with wider types (double precision for a real, for a bigint; numeric for an
    /// integer), which the writer takes since each value comes back the same: their text differs from the source's
    /// (0.10000000149011612 for 0.1, 1e+16), and every checksum verification said MISMATCH, and again after each repair.
    /// The target's values are read back in the source's types.
    /// </summary>
    [Fact]
    public async Task APostgresTargetWithWiderTypes_VerifiesMatched_ByChecksum()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE readings (id int PRIMARY KEY, v real, big bigint, n int);
            INSERT INTO readings VALUES (1, 0.1, 10000000000000000, 7), (2, NULL, -5, NULL), (3, 3.4028235e38, 0, -1);
            """, ["public.readings"], DestinationKinds.Postgres, "--Backfill:VerifyAfterLoad=none");
        await PostgresServer.ExecuteAsync(s.DestinationDb,
            "CREATE SCHEMA copy; CREATE TABLE copy.readings (id bigint PRIMARY KEY, v double precision, big double precision, n numeric(20,4))");
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        Assert.Equal(0.10000000149011612, await PostgresServer.ScalarAsync<double>(s.DestinationDb, "SELECT v FROM copy.readings WHERE id = 1"));

        var verification = await VerifyAsync(s, jobId, "checksum");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        // A change only the wider type can hold is seen.
        await PostgresServer.ExecuteAsync(s.DestinationDb, "UPDATE copy.readings SET v = v + 1e-12 WHERE id = 1");
        Assert.Equal("MISMATCH", (string)(await VerifyAsync(s, jobId, "checksum"))["status"]!);
    }

    /// <summary>
    /// A cancelled job differs by the rows it has not copied yet. Before, its MISMATCH could be repaired: the repair wrote
    /// those rows into the job's Parquet folder as repair files, the resume wrote them again as part files, and the job
    /// said COMPLETED with them twice. Now only a COMPLETED job is repaired; the cancelled one is resumed, once.
    /// </summary>
    [Fact]
    public async Task ACancelledJob_IsNotRepaired_ButResumed_AndItsParquetFolderHoldsEachRowOnce()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE orders (id int PRIMARY KEY, v text);
            INSERT INTO orders SELECT g, 'v' || g FROM generate_series(1, 3000) g;
            """, ["public.orders"], DestinationKinds.Parquet, "--Backfill:BatchSize=200", "--Backfill:VerifyAfterLoad=none");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.orders", max_rows_per_second = 1000 }))["id"]!;
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 400, "progress");
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
        var cancelled = await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED");
        Assert.True((long)cancelled["count_record"]! < 3000, cancelled.ToJsonString());

        Assert.Equal("MISMATCH", (string)(await VerifyAsync(s, jobId, "count"))["status"]!);
        var (repair, problem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/repair");
        Assert.True(repair == HttpStatusCode.Conflict, problem.ToJsonString());
        Assert.Contains("Resume it instead", (string)problem["detail"]!);

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/resume", new { });
        Assert.Equal(3000L, (long)(await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED"))["count_record"]!);
        await s.AssertDestinationsHoldAsync(await TableContents.FromPostgresAsync(s.SourceDb, "public", "orders"), "orders", jobId, DestinationKinds.Parquet);
    }

    /// <summary>
    /// A Parquet destination whose path has a folder named like a Hive partition (<c>region=eu</c>): DuckDB's reader took
    /// it for one, and its value for every row's region. A checksum verification of an exact copy said MISMATCH, and a
    /// repair would have rewritten the files with 'eu' in every row. The files are read as written now.
    /// </summary>
    [Fact]
    public async Task AParquetPathWithAFolderNamedLikeAHivePartition_IsReadAsWritten()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE items (id int PRIMARY KEY, region text NOT NULL);
            INSERT INTO items SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 500) g;
            """, ["public.items"], DestinationKinds.Parquet, "--Backfill:VerifyAfterLoad=none");
        var partitioned = Path.Combine(s.ParquetDirectory, "region=eu");
        await PostgresServer.ExecuteAsync(s.ConfigDb,
            $"UPDATE destinations SET config = config::jsonb || jsonb_build_object('path', '{partitioned.Replace("'", "''")}'::text)");
        var jobId = await s.StartBackfillAsync("public.items");
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        Assert.True(File.Exists(Directory.GetFiles(Path.Combine(partitioned, "items", jobId.ToString()), "*.parquet").First()));

        var verification = await VerifyAsync(s, jobId, "checksum");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
    }

    /// <summary>
    /// Filters that a destination would evaluate otherwise than the source: a row value's IS [NOT] NULL (PostgreSQL looks
    /// at every field; the destination holds one text), and ILIKE (case folds under the source column's collation). Before,
    /// the destination counted more rows than the job copied, a MISMATCH whose repair deleted those rows of the full copy
    /// sharing the target. Now the verification fails naming the filter, and there is nothing to repair.
    /// </summary>
    [Theory]
    [InlineData(DestinationKinds.Postgres)]
    [InlineData(DestinationKinds.DuckDb)]
    public async Task FiltersThatTheDestinationWouldEvaluateOtherwise_FailTheVerificationByName_AndTheFullCopyStays(DestinationKinds kind)
    {
        await using var s = await CreateAsync(pg, """
            CREATE TYPE addr AS (street text, zip text);
            CREATE TABLE customers (id int PRIMARY KEY, name text COLLATE "C" NOT NULL, a addr);
            INSERT INTO customers VALUES (1, 'élan', ROW('Main', '123')), (2, 'Élan', ROW('Main', NULL)), (3, 'x', NULL), (4, 'y', ROW(NULL, NULL));
            """, ["public.customers"], kind, "--Backfill:VerifyAfterLoad=none");
        await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.customers"), Timeout, "COMPLETED");
        foreach (var (filter, copies, named) in new[] { (Filter("a", "IS NOT NULL"), 1L, "a IS NOT NULL"), (Filter("name", "ILIKE", "é%"), 1L, "name ILIKE 'é%'") })
        {
            var job = await s.StartBackfillAsync("public.customers", filter);
            Assert.Equal(copies, (long)(await s.Http.WaitForJobAsync(job, Timeout, "COMPLETED"))["count_record"]!);
            var (status, body) = await s.Http.PostJsonAsync($"/api/v1/backfill/{job}/verify", new { mode = "count" });
            Assert.True(status == HttpStatusCode.Accepted, body.ToJsonString());
            var verification = await s.Http.WaitForVerificationAsync(job, Timeout, "MATCHED", "MISMATCH", "FAILED");
            Assert.True("FAILED" == (string)verification["status"]!, verification.ToJsonString());
            Assert.Contains(named, (string)verification["error_message"]!);
            Assert.Equal(HttpStatusCode.Conflict, (await s.Http.PostJsonAsync($"/api/v1/backfill/{job}/repair")).Item1);
        }
        var copied = kind == DestinationKinds.Postgres
            ? await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "customers")
            : await TableContents.FromDuckDbAsync(s.SourceDb, "public", "customers", s.DuckDbPath, "main.customers");
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "customers"), copied);
    }

    /// <summary>
    /// A table without a key is compared as a whole: by count, and in checksum mode by the sum of its rows' hashes, which
    /// also sees a row missing where another arrived twice (the count alone cannot).
    /// </summary>
    [Fact]
    public async Task TableWithoutKey_IsComparedAsAWhole_ByChecksumToo_AndSaysSo()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE log (at timestamp, line text);
            INSERT INTO log SELECT timestamp '2024-01-01' + g * interval '1 second', 'line ' || g FROM generate_series(1, 12000) g;
            """, ["public.log"], DestinationKinds.All, "--Backfill:BatchSize=5000");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.log", verify = "checksum" }))["id"]!;
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Empty(verification["count_only_columns"]!.AsArray());
        Assert.Contains("no primary key", (string)verification["notes"]![0]!);

        await PostgresServer.ExecuteAsync(s.DestinationDb, """
            DELETE FROM copy.log WHERE line = 'line 7';
            INSERT INTO copy.log SELECT * FROM copy.log WHERE line = 'line 8';
            """);
        var summed = await VerifyAsync(s, jobId, "checksum");
        var changed = Assert.Single(summed["mismatches"]!.AsArray())!;
        Assert.Equal(s.DestinationIds[0], (int)changed["destination_id"]!);
        Assert.Null(changed["range_start"]);
        Assert.Equal(12000L, (long)changed["destination_rows"]!);
        Assert.False((bool)changed["checksum_equal"]!);

        await PostgresServer.ExecuteAsync(s.DestinationDb, "INSERT INTO copy.log VALUES (now(), 'extra')");
        var counted = await VerifyAsync(s, jobId, "count");
        var mismatch = Assert.Single(counted["mismatches"]!.AsArray())!;
        Assert.Null(mismatch["range_start"]);
        Assert.Null(mismatch["range_end"]);
        Assert.Equal(12001L, (long)mismatch["destination_rows"]!);
        var (repair, problem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/repair");
        Assert.Equal(HttpStatusCode.Conflict, repair);
        Assert.Contains("no primary key", (string)problem["detail"]!);
    }

    [Fact]
    public async Task TextKeysAndTextOrderingFilters_AreNotCutByTheDestinationsCollation_AndRepairRecopiesTheWhole()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE codes (code text PRIMARY KEY, label text);
            INSERT INTO codes SELECT 'code-' || g, 'label ' || g FROM generate_series(1, 3000) g;
            """, ["public.codes"], DestinationKinds.Postgres, "--Backfill:VerifyRangeRows=500");
        var ordered = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.codes", filters = new[] { Filter("code", ">=", "code-2") } }))["id"]!;
        var refused = await s.Http.WaitForVerificationAsync(ordered, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.Equal("FAILED", (string)refused["status"]!);
        Assert.Contains("code >= 'code-2'", (string)refused["error_message"]!);

        var all = await s.StartBackfillAsync("public.codes");
        var matched = await s.Http.WaitForVerificationAsync(all, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)matched["status"]!, matched.ToJsonString());
        Assert.Contains("compared as a whole", (string)matched["notes"]![0]!);

        await PostgresServer.ExecuteAsync(s.DestinationDb, "DELETE FROM copy.codes WHERE code = 'code-1234'");
        var damaged = await VerifyAsync(s, all, "checksum");
        var whole = Assert.Single(damaged["mismatches"]!.AsArray())!;
        Assert.Null(whole["range_start"]);
        Assert.Null(whole["range_end"]);
        await s.Http.PostOkAsync($"/api/v1/backfill/{all}/repair", new { });
        Assert.Equal("MATCHED", (string)(await s.Http.WaitForVerificationAsync(all, Timeout, "MATCHED", "MISMATCH", "FAILED"))["status"]!);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "codes"), await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "codes"));
    }

    [Fact]
    public async Task VerifyRequests_AreValidated_AndConflictWhileTheJobRunsOrAVerificationIsUnderWay()
    {
        await using var s = await CreateAsync(pg, OrdersSql, ["public.orders"], DestinationKinds.Postgres,
            "--Backfill:BatchSize=500", "--Backfill:VerifyRangeRows=1", "--Backfill:VerifyAfterLoad=none");
        var (badVerify, body) = await s.Http.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.orders", verify = "sha1" });
        Assert.Equal(HttpStatusCode.BadRequest, badVerify);
        Assert.Contains("verify", body["errors"]!.AsObject().Select(e => e.Key));

        var jobId = await s.StartBackfillAsync("public.orders");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (string)j["status"]! == "EXECUTING", "running");
        var (whileRunning, conflict) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "count" });
        Assert.Equal(HttpStatusCode.Conflict, whileRunning);
        Assert.Contains("EXECUTING", (string)conflict["detail"]!);
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");

        var (badMode, modeProblem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "none" });
        Assert.Equal(HttpStatusCode.BadRequest, badMode);
        Assert.Contains("mode", modeProblem["errors"]!.AsObject().Select(e => e.Key));

        // One range per row: long enough to be cancelled while it runs.
        var (accepted, queued) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify");
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        Assert.Equal("count", (string)queued["verification"]!["mode"]!);
        Assert.Equal("COMPLETED", (string)queued["status"]!);
        var running = await s.Http.WaitForVerificationAsync(jobId, Timeout, "RUNNING");
        var (twice, _) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "checksum" });
        Assert.Equal(HttpStatusCode.Conflict, twice);
        var (resume, resumeProblem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/resume");
        Assert.Equal(HttpStatusCode.Conflict, resume);
        Assert.Contains("COMPLETED", (string)resumeProblem["detail"]!);

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/cancel", new { });
        var cancelled = await s.Http.WaitForVerificationAsync(jobId, Timeout, "FAILED", "MATCHED");
        Assert.Equal("FAILED", (string)cancelled["status"]!);
        Assert.StartsWith("Cancelled", (string)cancelled["error_message"]!);
        Assert.True((int)cancelled["ranges_checked"]! < 50001, cancelled.ToJsonString());
        Assert.Equal("COMPLETED", (string)(await s.Http.GetJobAsync(jobId))["status"]!);
        _ = running;
    }

    private static async Task<JsonObject> VerifyAsync(Scenario s, int jobId, string mode)
    {
        var (status, body) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode });
        Assert.True(status == HttpStatusCode.Accepted, body.ToJsonString());
        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.NotEqual("FAILED", (string)verification["status"]!);
        Assert.Equal(mode, (string)verification["mode"]!);
        return verification;
    }

    /// <summary>Each mismatch as <c>destination:start-end</c> (a missing bound empty), sorted.</summary>
    private static List<string> Ranges(JsonObject verification) => verification["mismatches"]!.AsArray()
        .Select(m => $"{(int)m!["destination_id"]!}:{(string?)m["range_start"]?[0]}-{(string?)m["range_end"]?[0]}")
        .Order(StringComparer.Ordinal).ToList();

    private static async Task<List<string>> RowVersionsAsync(string db, string where)
    {
        await using var connection = new Npgsql.NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand($"SELECT id || ':' || xmin::text FROM copy.orders WHERE {where} ORDER BY id", connection);
        var rows = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        return rows;
    }

    private static void DuckDb(string? path, string sql)
    {
        using var connection = new DuckDBConnection($"Data Source={path ?? ":memory:"}");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
