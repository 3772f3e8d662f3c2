using System.Text.Json.Nodes;
using BackfillStudio.Tests.Engine;
using BackfillStudio.Tests.Infrastructure;

namespace BackfillStudio.Tests.Jobs;

public sealed class CrashRecoveryTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value numeric(12,3), taken_at timestamptz NOT NULL);
        INSERT INTO readings
        SELECT g, 'sensor-' || g % 40, g / 7.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
        FROM generate_series(1, 200000) g;
        CREATE TABLE audit_log (logged_at timestamp NOT NULL, actor text, action text);
        INSERT INTO audit_log
        SELECT timestamp '2024-01-01' + g * interval '1 second', 'user' || g % 17, 'action ' || g
        FROM generate_series(1, 120000) g;
        ANALYZE;
        """;

    private static readonly string[] EngineSettings =
        ["--Backfill:BatchSize=1000", "--Backfill:LeaseSeconds=3", "--Backfill:PollIntervalSeconds=1", "--Backfill:MaxConcurrentJobs=2"];

    [Fact]
    public async Task KilledEngine_JobsAreTakenOverAfterTheLease_AndResumeToExactlyOnceContents()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings", "public.audit_log"], DestinationKinds.All,
            "--Backfill:EngineEnabled=false");
        using var doomed = AppProcess.Start(s.ConfigDb, [.. EngineSettings, "--Logging:LogLevel:Default=Warning"]);
        var keyed = await s.StartBackfillAsync("public.readings");
        var heap = await s.StartBackfillAsync("public.audit_log");
        var timeout = TimeSpan.FromMinutes(2);
        await s.Http.WaitUntilAsync(keyed, timeout, j => (long)j["count_record"]! >= 20000, "keyed job progress");
        await s.Http.WaitUntilAsync(heap, timeout, j => (long)j["count_record"]! >= 10000, "heap job progress");

        doomed.Kill();
        var interrupted = await s.Http.GetJobAsync(keyed);
        Assert.Equal("EXECUTING", (string)interrupted["status"]!);
        Assert.True((long)interrupted["count_record"]! < 200000, "the job finished before the kill; nothing was tested");

        await using var survivor = await s.StartPeerAsync(EngineSettings);
        foreach (var (jobId, total) in new[] { (keyed, 200000L), (heap, 120000L) })
        {
            var job = await s.Http.WaitForJobAsync(jobId, timeout, "COMPLETED", "FAILED");
            Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
            Assert.Equal(total, (long)job["count_record"]!);
        }
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(*) FROM queue_backfill_data WHERE attempts <> 2"));

        foreach (var (table, jobId) in new[] { ("readings", keyed), ("audit_log", heap) })
        {
            var expected = await TableContents.FromPostgresAsync(s.SourceDb, "public", table);
            await s.AssertDestinationsHoldAsync(expected, table, jobId);
        }
    }

    [Fact]
    public async Task KilledEngine_ItsVerificationIsTakenOverAfterTheLease_AndEndsMatched()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        // Ranges of 20 rows: 10,000 ranges, long enough to be interrupted.
        string[] settings = [.. EngineSettings, "--Backfill:VerifyRangeRows=20"];
        using var doomed = AppProcess.Start(s.ConfigDb, [.. settings, "--Logging:LogLevel:Default=Warning"]);
        var jobId = await s.StartBackfillAsync("public.readings");
        var timeout = TimeSpan.FromMinutes(2);
        await s.Http.WaitForJobAsync(jobId, timeout, "COMPLETED");
        var deadline = DateTime.UtcNow + timeout;
        while ((await s.Http.GetJobAsync(jobId))["verification"] is not JsonObject { } v || (string)v["status"]! != "RUNNING" || (int)v["ranges_checked"]! < 100)
        {
            Assert.True(DateTime.UtcNow < deadline, "the verification did not get under way");
            await Task.Delay(50);
        }

        doomed.Kill();
        var interrupted = (await s.Http.GetJobAsync(jobId))["verification"]!;
        Assert.Equal("RUNNING", (string)interrupted["status"]!);
        Assert.True((int)interrupted["ranges_checked"]! < 10000, "the verification finished before the kill; nothing was tested");

        await using var survivor = await s.StartPeerAsync(settings);
        var verification = await s.Http.WaitForVerificationAsync(jobId, timeout, "MATCHED", "MISMATCH", "FAILED");
        Assert.True("MATCHED" == (string)verification["status"]!, verification.ToJsonString());
        Assert.Equal(10000, (int)verification["ranges_checked"]!);
        Assert.Equal(2, await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT verify_attempts FROM queue_backfill_data WHERE id = {jobId}"));
        Assert.Equal("COMPLETED", (string)(await s.Http.GetJobAsync(jobId))["status"]!);
    }
}
