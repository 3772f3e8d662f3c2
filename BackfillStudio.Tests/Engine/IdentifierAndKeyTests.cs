using BackfillStudio.Tests.Infrastructure;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Engine;

public sealed class IdentifierAndKeyTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """"
        CREATE SCHEMA "Sales Data";
        CREATE TABLE "Sales Data"."Order ""Lines""" (
            "Order Id" bigint, "LINE#" int, "Sku" text NOT NULL, "select" text, "Amount €" numeric(8,2),
            PRIMARY KEY ("Order Id", "LINE#"));
        INSERT INTO "Sales Data"."Order ""Lines"""
        SELECT o, l, 'SKU-' || (o * l) % 97, CASE WHEN l = 2 THEN NULL ELSE 'kw ' || o END, o + l / 100.0
        FROM generate_series(1, 1000) o, generate_series(1, 3) l;
        CREATE TABLE events_log (happened_at timestamp NOT NULL, kind text, payload jsonb);
        INSERT INTO events_log
        SELECT timestamp '2024-01-01' + g * interval '1 minute', (ARRAY['click','view','buy'])[1 + g % 3],
               jsonb_build_object('n', g)
        FROM generate_series(1, 5000) g;
        -- Deleted rows leave holes in the heap that the ctid ranges must step over.
        DELETE FROM events_log WHERE extract(minute FROM happened_at)::int % 10 = 0;
        ANALYZE;
        """";

    private const string MixedCaseTable = "Sales Data.Order \"Lines\"";

    [Fact]
    public async Task CompositeKeyWithQuotedMixedCaseIdentifiers_IsCopiedExactly()
    {
        await using var s = await CreateAsync(pg, SourceSql, [MixedCaseTable, "public.events_log"], DestinationKinds.All, "--Backfill:BatchSize=250");

        var jobId = await s.StartBackfillAsync(MixedCaseTable, Filter("Order Id", ">", 100), Filter("Sku", "LIKE", "SKU-1%"));
        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");

        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "Sales Data", "Order \"Lines\"", "\"Order Id\" > 100 AND \"Sku\" LIKE 'SKU-1%'");
        Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        Assert.InRange(expected.Count, 300, 2700);
        Assert.Equal(expected.Count, (long)job["count_record"]!);
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "Order \"Lines\""));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "Sales Data", "Order \"Lines\"", s.DuckDbPath,
            $"main.{TableContents.Q("Order \"Lines\"")}"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "Sales Data", "Order \"Lines\"", null,
            $"read_parquet('{s.ParquetDirectory}/Order \"Lines\"/{jobId}/*.parquet')"));
    }

    [Fact]
    public async Task TableWithoutPrimaryKey_IsReadInCtidRanges_AndCopiedExactlyOnce()
    {
        await using var s = await CreateAsync(pg, SourceSql, [MixedCaseTable, "public.events_log"], DestinationKinds.All, "--Backfill:BatchSize=400");

        var all = await s.StartBackfillAsync("public.events_log");
        var allJob = await s.Http.WaitForJobAsync(all, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "events_log");
        Assert.Equal("COMPLETED", (string)allJob["status"]!);
        Assert.Equal(4500, expected.Count);
        Assert.Equal(4500, (long)allJob["count_record"]!);
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "events_log"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "events_log", s.DuckDbPath, "main.events_log"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "events_log", null,
            $"read_parquet('{s.ParquetDirectory}/events_log/{all}/*.parquet')"));

        var filtered = await s.StartBackfillAsync("public.events_log", Filter("kind", "=", "buy"));
        var filteredJob = await s.Http.WaitForJobAsync(filtered, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
        var buys = await TableContents.FromPostgresAsync(s.SourceDb, "public", "events_log", "kind = 'buy'");
        Assert.Equal(buys.Count, (long)filteredJob["count_record"]!);
        Assert.Equal(buys, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "events_log", null,
            $"read_parquet('{s.ParquetDirectory}/events_log/{filtered}/*.parquet')"));
    }

    /// <summary>
    /// A primary key's <c>INCLUDE (...)</c> columns are stored in its index but are not part of the key. Taken for key
    /// columns, a label changed between two backfills would make a second row of the same id in every target (the upsert
    /// matching on id and label), and a label changed during a job a row read twice.
    /// </summary>
    [Fact]
    public async Task ColumnsAPrimaryKeyIncludes_AreNotPartOfTheKey_SoASecondBackfillReplacesRowsWhoseLabelChanged()
    {
        const string sql = """
            CREATE TABLE tagged (id int, label text NOT NULL, note text, PRIMARY KEY (id) INCLUDE (label));
            INSERT INTO tagged SELECT g, 'label ' || g, 'note ' || g FROM generate_series(1, 3000) g;
            """;
        await using var s = await CreateAsync(pg, sql, ["public.tagged"], DestinationKinds.Postgres | DestinationKinds.DuckDb, "--Backfill:BatchSize=500");
        var columns = (await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}/tables/public.tagged/columns")).AsArray();
        Assert.Equal(["id"], columns.Where(c => (bool)c!["is_primary_key"]!).Select(c => (string)c!["name"]!));

        foreach (var change in new[] { "SELECT 1", "UPDATE tagged SET label = label || ' (renamed)' WHERE id % 3 = 0" })
        {
            await PostgresServer.ExecuteAsync(s.SourceDb, change);
            var job = await s.Http.WaitForJobAsync(await s.StartBackfillAsync("public.tagged"), TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        }

        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "tagged");
        Assert.Equal(3000, expected.Count);
        Assert.Equal(expected, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "tagged"));
        Assert.Equal(expected, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "tagged", s.DuckDbPath, "main.tagged"));
    }
}
