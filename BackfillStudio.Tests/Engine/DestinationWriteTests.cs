using BackfillStudio.Tests.Infrastructure;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Engine;

public sealed class DestinationWriteTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private const string SourceSql = """
        CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(14,2), opened_on date);
        INSERT INTO accounts SELECT g, 'owner ' || g, g * 10.25, date '2020-01-01' + g % 1000 FROM generate_series(1, 20000) g;
        CREATE TABLE ledger (entry_id bigint PRIMARY KEY, account_id int, amount numeric(14,2));
        INSERT INTO ledger SELECT g, g % 20000, g * 0.5 FROM generate_series(1, 30000) g;
        ANALYZE;
        """;

    [Fact]
    public async Task BackfillingAgain_UpdatesInPlace_WithoutDuplicates_InEveryDestination()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.accounts"], DestinationKinds.All, "--Backfill:BatchSize=3000");
        var first = await s.StartBackfillAsync("public.accounts");
        await s.Http.WaitForJobAsync(first, Timeout, "COMPLETED");
        await PostgresServer.ExecuteAsync(s.SourceDb, "UPDATE accounts SET owner = owner || ' (renamed)' WHERE id % 3 = 0");
        await PostgresServer.ExecuteAsync(s.DestinationDb, "DELETE FROM copy.accounts WHERE id BETWEEN 5000 AND 5100");

        var second = await s.StartBackfillAsync("public.accounts");
        var job = await s.Http.WaitForJobAsync(second, Timeout, "COMPLETED", "FAILED");

        Assert.Equal("COMPLETED", (string)job["status"]!);
        Assert.Equal(20000, (long)job["count_record"]!);
        var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", "accounts");
        await s.AssertDestinationsHoldAsync(expected, "accounts", second);
    }

    [Fact]
    public async Task ConcurrentJobs_IntoOneDuckDbFile_BothSucceed_AndTheFileIsClosedAfterwards()
    {
        await using var s = await CreateAsync(pg, SourceSql, ["public.accounts", "public.ledger"], DestinationKinds.DuckDb,
            "--Backfill:BatchSize=1000", "--Backfill:MaxConcurrentJobs=3");
        var jobs = new[]
        {
            await s.StartBackfillAsync("public.accounts", Filter("id", "<=", 15000)),
            await s.StartBackfillAsync("public.accounts", Filter("id", ">", 5000)),
            await s.StartBackfillAsync("public.ledger"),
        };
        await s.Http.WaitUntilAsync(jobs[1], Timeout, j => (string)j["status"]! == "EXECUTING", "second job running");

        foreach (var id in jobs)
        {
            var job = await s.Http.WaitForJobAsync(id, Timeout, "COMPLETED", "FAILED");
            Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
            // Each job then verifies itself (Backfill:VerifyAfterLoad), which opens the file too.
            var verification = await s.Http.WaitForVerificationAsync(id, Timeout, "MATCHED", "MISMATCH", "FAILED");
            Assert.True((string)verification["status"]! == "MATCHED", verification.ToJsonString());
        }

        Assert.DoesNotContain(OpenFiles(), f => f.StartsWith(s.DuckDbPath, StringComparison.Ordinal));
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "accounts"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "accounts", s.DuckDbPath, "main.accounts"));
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "ledger"),
            await TableContents.FromDuckDbAsync(s.SourceDb, "public", "ledger", s.DuckDbPath, "main.ledger"));
    }

    /// <summary>
    /// A table whose blocks DuckDB would keep cached past the writer's 16 MiB (800,000 rows of 128 characters): the writer
    /// closes and reopens the file mid-job, so the engine's memory does not grow with the table, and the copy stays exact.
    /// </summary>
    [Fact]
    public async Task ALargeTableIntoDuckDb_ReopensTheFileToReleaseItsCache_AndCopiesExactly()
    {
        await using var s = await CreateAsync(pg, """
            CREATE TABLE events (id bigint PRIMARY KEY, body text NOT NULL);
            INSERT INTO events SELECT g, md5(g::text) || md5((g + 1)::text) || md5((7 * g)::text) || md5((13 * g)::text) FROM generate_series(1, 800000) g;
            ANALYZE;
            """, ["public.events"], DestinationKinds.DuckDb, "--Logging:LogLevel:BackfillStudio.Engine.Destinations.DuckDb=Information");
        var logs = LogCapture.Attach(s.App);
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.events", verify = "checksum" });
        var jobId = (int)created["id"]!;

        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(800_000L, (long)job["count_record"]!);
        Assert.Contains($"Job {jobId}: reopened DuckDB file", logs.Text);
        var verification = await s.Http.WaitForVerificationAsync(jobId, Timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True((string)verification["status"]! == "MATCHED", verification.ToJsonString());
        Assert.Empty(verification["count_only_columns"]!.AsArray());
        Assert.DoesNotContain(OpenFiles(), f => f.StartsWith(s.DuckDbPath, StringComparison.Ordinal));
    }

    /// <summary>Files this process holds open: the app runs in-process here, so this is the engine's view.</summary>
    private static List<string> OpenFiles() => new DirectoryInfo("/proc/self/fd").GetFiles()
        .Select(fd => fd.LinkTarget).OfType<string>().ToList();
}
