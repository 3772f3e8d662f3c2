using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Engine;

public sealed class BackfillEndToEndTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task UnfilteredBackfill_CopiesEveryTypeExactly_ToPostgresDuckDbAndParquet()
    {
        await using var s = await Scenario.CreateAsync(pg, TestData.AllTypes, ["public.all_types"], DestinationKinds.All, "--Backfill:BatchSize=700");

        var jobId = await s.StartBackfillAsync("public.all_types");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");

        Assert.Equal("COMPLETED", (string)job["status"]!);
        Assert.Equal(2500, (long)job["count_record"]!);
        Assert.Equal(2500, (long)job["total_record"]!);
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "all_types");
        Assert.Equal(2500, expected.Count);
        await s.AssertDestinationsHoldAsync(expected, "all_types", jobId);
        Assert.Equal(4, Directory.GetFiles(Path.Combine(s.ParquetDirectory, "all_types", jobId.ToString()), "*.parquet").Length);
    }

    [Fact]
    public async Task FilteredBackfill_CopiesExactlyTheMatchingRows()
    {
        await using var s = await Scenario.CreateAsync(pg, TestData.AllTypes, ["public.all_types"], DestinationKinds.All, "--Backfill:BatchSize=300");

        var jobId = await s.StartBackfillAsync("public.all_types",
            Scenario.Filter("c_tstz", ">=", "2024-06-01T00:00:00Z"),
            Scenario.Filter("c_bool", "=", true),
            Scenario.Filter("c_text", "IS NOT NULL"),
            Scenario.Filter("c_num", "<", 2000000),
            Scenario.Filter("c_mood", "!=", "happy"));
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");

        const string where = "c_tstz >= '2024-06-01T00:00:00Z' AND c_bool = true AND c_text IS NOT NULL AND c_num < 2000000 AND c_mood <> 'happy'";
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "all_types", where);
        Assert.Equal("COMPLETED", (string)job["status"]!);
        Assert.InRange(expected.Count, 50, 1000);
        Assert.Equal(expected.Count, (long)job["count_record"]!);
        Assert.Equal(expected.Count, (long)job["total_record"]!);
        Assert.Equal("c_tstz >= '2024-06-01T00:00:00Z';c_bool = true;c_text IS NOT NULL;c_num < 2000000;c_mood != 'happy'", (string)job["filter_sql"]!);
        await s.AssertDestinationsHoldAsync(expected, "all_types", jobId);
    }
}
