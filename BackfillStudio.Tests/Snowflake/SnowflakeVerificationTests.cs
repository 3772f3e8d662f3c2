using System.Net;
using BackfillStudio.Tests.Engine;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Snowflake;

/// <summary>Verification and repair in Snowflake, computed by the SQL API emulator's database from the statements sent.</summary>
public sealed class SnowflakeVerificationTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task AllTypes_VerifyMatched_ThenDamage_ShowsItsRanges_AndRepairMatchesAgain()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, TestData.AllTypes, ["public.all_types"], account.Config(),
            "--Backfill:BatchSize=1000", "--Backfill:VerifyRangeRows=500");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.all_types", verify = "checksum" }))["id"]!;
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Equal(5, (int)verification["ranges_checked"]!);
        // Snowflake prints floats, times, binary, VARIANT and ARRAY values its own way: those are compared by count only.
        Assert.Equal(["c_bytea", "c_float8", "c_int_arr", "c_json", "c_jsonb", "c_text_arr", "c_time"],
            verification["count_only_columns"]!.AsArray().Select(c => (string)c!).Order(StringComparer.Ordinal));

        account.Scalar("""DELETE FROM "PUBLIC".all_types WHERE id = 100""");
        account.Scalar("""UPDATE "PUBLIC".all_types SET c_ts = c_ts + INTERVAL 1 MICROSECOND WHERE id = 2223""");
        var (accepted, _) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "checksum" });
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        var damaged = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.Equal("MISMATCH", (string)damaged["status"]!);
        Assert.Equal(["-500", "2000-"], damaged["mismatches"]!.AsArray()
            .Select(m => $"{(string?)m!["range_start"]?[0]}-{(string?)m["range_end"]?[0]}").Order(StringComparer.Ordinal));

        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/repair", new { });
        var repaired = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)repaired["status"]!, repaired.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "all_types"), await account.ContentsAsync(s.SourceDb, "all_types"));
    }

    /// <summary>A repair of a filtered job reads the range's keys in Snowflake (in partitions) first, and writes again the row that left the filter.</summary>
    [Fact]
    public async Task RepairOfAFilteredJob_KeepsARowThatLeftTheFilter_AsTheSourceNowHasIt()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, TestData.AllTypes, ["public.all_types"], account.Config(),
            "--Backfill:BatchSize=1000", "--Backfill:VerifyRangeRows=300");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.all_types", verify = "none", filters = new[] { Scenario.Filter("c_bool", "=", "true") } }))["id"]!;
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        await PostgresServer.ExecuteAsync(s.SourceDb, """
            UPDATE all_types SET c_bool = false, c_text = 'left the filter' WHERE id = 1000;
            DELETE FROM all_types WHERE id = 1003;
            """);

        var (accepted, _) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "count" });
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        var damaged = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        var mismatch = Assert.Single(damaged["mismatches"]!.AsArray())!;
        Assert.Equal((long)mismatch["source_rows"]! + 2, (long)mismatch["destination_rows"]!);

        // The range's keys come back in partitions of 7 rows, as Snowflake cuts a large result.
        account.Emulator.PartitionRows = 7;
        await s.Http.PostOkAsync($"/api/v1/backfill/{jobId}/repair", new { });
        var repaired = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)repaired["status"]!, repaired.ToJsonString());
        // No statement here answers 202, so every GET fetched a partition.
        Assert.True(account.Emulator.Requests.Count(r => r.Method == "GET") > 10, "no result came in partitions");
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "all_types", "c_bool OR id = 1000"),
            await account.ContentsAsync(s.SourceDb, "all_types"));
    }

    /// <summary>
    /// A column that compares case-insensitively in Snowflake (a schema's <c>DEFAULT_DDL_COLLATION = 'en-ci'</c>; the
    /// emulator's DuckDB table has <c>COLLATE NOCASE</c>): the filter status = 'open' compares the bytes, as PostgreSQL did.
    /// Before, it counted the full copy's 'OPEN' rows too, a MISMATCH whose repair would have deleted them.
    /// </summary>
    [Fact]
    public async Task FilterOnAColumnThatSnowflakeComparesCaseInsensitively_IsComparedAsTheSourceDoes()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, """
            CREATE TABLE tickets (id int PRIMARY KEY, status text NOT NULL);
            INSERT INTO tickets SELECT g, CASE g % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'OPEN' ELSE 'closed' END FROM generate_series(1, 300) g;
            """, ["public.tickets"], account.Config(), "--Backfill:VerifyAfterLoad=none");
        await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.tickets"), Timeout, "COMPLETED");
        account.Scalar("""CREATE TABLE "PUBLIC".tickets_ci AS SELECT id, status COLLATE NOCASE AS status FROM "PUBLIC".tickets""");
        account.Scalar("""DROP TABLE "PUBLIC".tickets""");
        account.Scalar("""ALTER TABLE "PUBLIC".tickets_ci RENAME TO tickets""");
        Assert.Equal(200L, account.Scalar("""SELECT count(*) FROM "PUBLIC".tickets WHERE status = 'open'"""));

        var open = await s.StartBackfillAsync("public.tickets", Scenario.Filter("status", "=", "open"));
        Assert.Equal(100L, (long)(await s.Http.WaitForJobAsync(open, Timeout, "COMPLETED"))["count_record"]!);
        var (accepted, body) = await s.Http.PostJsonAsync($"/api/v1/backfill/{open}/verify", new { mode = "count" });
        Assert.True(accepted == HttpStatusCode.Accepted, body.ToJsonString());
        var verification = await s.Http.WaitForVerificationAsync(open, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "tickets"), await account.ContentsAsync(s.SourceDb, "tickets"));
    }

    /// <summary>
    /// A table without a key is compared as a whole, in Snowflake too: one row deleted and another copied twice leave the
    /// count equal, and only the sum of the rows' hashes differs.
    /// </summary>
    [Fact]
    public async Task TableWithoutKey_IsComparedAsAWhole_AndItsChecksumSeesARowSwappedForADuplicate()
    {
        await using var account = await SnowflakeAccount.StartAsync();
        await using var s = await Scenario.CreateAsync(pg, """
            CREATE TABLE log (at timestamp, line text);
            INSERT INTO log SELECT timestamp '2024-01-01' + g * interval '1 second', 'line ' || g FROM generate_series(1, 3000) g;
            """, ["public.log"], account.Config(), "--Backfill:BatchSize=1000");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.log", verify = "checksum" }))["id"]!;
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Empty(verification["count_only_columns"]!.AsArray());

        account.Scalar("""DELETE FROM "PUBLIC".log WHERE line = 'line 7'""");
        account.Scalar("""INSERT INTO "PUBLIC".log SELECT * FROM "PUBLIC".log WHERE line = 'line 8'""");
        var (accepted, _) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/verify", new { mode = "checksum" });
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        var damaged = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MISMATCH" == (string)damaged["status"]!, damaged.ToJsonString());
        var mismatch = Assert.Single(damaged["mismatches"]!.AsArray())!;
        Assert.Null(mismatch["range_start"]);
        Assert.Equal(3000L, (long)mismatch["destination_rows"]!);
        Assert.False((bool)mismatch["checksum_equal"]!);
    }
}
