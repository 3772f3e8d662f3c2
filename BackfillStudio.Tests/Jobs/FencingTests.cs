using BackfillStudio.Engine.Destinations;
using BackfillStudio.Engine.Staging;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Jobs;

/// <summary>An engine that lost its job (frozen past its lease, then thawed) can never change the job or its destinations.</summary>
public sealed class FencingTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value numeric(12,3));
        INSERT INTO readings SELECT g, 'sensor-' || g % 40, g / 7.0 FROM generate_series(1, 150000) g;
        CREATE TABLE audit_log (logged_at timestamp NOT NULL, actor text, action text);
        INSERT INTO audit_log SELECT timestamp '2024-01-01' + g * interval '1 second', 'user' || g % 17, 'action ' || g FROM generate_series(1, 100000) g;
        ANALYZE;
        """;

    private static readonly string[] EngineSettings =
        ["--Backfill:BatchSize=1000", "--Backfill:LeaseSeconds=3", "--Backfill:PollIntervalSeconds=1", "--Backfill:MaxConcurrentJobs=2"];

    [Fact]
    public async Task FrozenEngine_ThawedWhileAnotherWritesItsJobs_ChangesNothing_AndTheJobsEndExactlyOnce()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings", "public.audit_log"],
            DestinationKinds.Postgres | DestinationKinds.Parquet, "--Backfill:EngineEnabled=false");
        using var frozen = AppProcess.Start(s.ConfigDb, [.. EngineSettings, "--Logging:LogLevel:Default=Warning"]);
        var keyed = await s.StartBackfillAsync("public.readings");
        var heap = await s.StartBackfillAsync("public.audit_log");
        var timeout = TimeSpan.FromMinutes(2);
        await s.Http.WaitUntilAsync(keyed, timeout, j => (long)j["count_record"]! >= 20000, "keyed job progress");
        await s.Http.WaitUntilAsync(heap, timeout, j => (long)j["count_record"]! >= 10000, "heap job progress");

        await frozen.FreezeAsync();
        await WaitForCheckpointsInFlightAsync(s.ConfigDb);
        var frozenAt = (long)(await s.Http.GetJobAsync(keyed))["count_record"]!;
        // The frozen engine holds batches read before this: written after the successor's, they would bring old values back.
        // (Only the keyed table changes: an update moves a row of a table without a key to another heap block, where a
        // block-range backfill may see it twice; docs/engine.md says so.)
        await PostgresServer.ExecuteAsync(s.SourceDb, "UPDATE readings SET value = value + 1000");
        await using var successor = await s.StartPeerAsync(EngineSettings);
        // The successor takes both jobs over and writes well past where the frozen engine stopped; then it thaws.
        await s.Http.WaitUntilAsync(keyed, timeout, j => (long)j["count_record"]! >= frozenAt + 20000, "the successor's progress");
        await frozen.ThawAsync();

        foreach (var (jobId, total) in new[] { (keyed, 150000L), (heap, 100000L) })
        {
            var job = await s.Http.WaitForJobAsync(jobId, timeout, "COMPLETED", "FAILED");
            Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
            Assert.Equal(total, (long)job["count_record"]!);
        }
        await frozen.WaitForOutputAsync("another engine", TimeSpan.FromSeconds(30));
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(*) FROM queue_backfill_data WHERE claim_epoch <> 2"));
        // Rows the frozen engine checkpointed keep the values it read (a backfill copies each row once; later changes are
        // replication's). Every row after them was written by the successor last: none of the stale engine's old values.
        var takenOver = $"id > {frozenAt}";
        var expectedTakenOver = await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings", takenOver);
        Assert.Equal(expectedTakenOver, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings", takenOver));
        Assert.Equal(150000L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.readings"));
        var expectedLog = await TableContents.FromPostgresAsync(s.SourceDb, "public", "audit_log");
        Assert.Equal(expectedLog, await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "audit_log"));
        // The Parquet copies: every row once (a stale batch file would add rows), the taken-over rows with the new values.
        Assert.Equal(expectedTakenOver, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "readings", null,
            $"(SELECT * FROM read_parquet('{s.ParquetDirectory}/readings/{keyed}/*.parquet') WHERE {takenOver})"));
        Assert.Equal(150000L, await ParquetRowsAsync(s, "readings", keyed));
        Assert.Equal(expectedLog, await TableContents.FromDuckDbAsync(s.SourceDb, "public", "audit_log", null,
            $"read_parquet('{s.ParquetDirectory}/audit_log/{heap}/*.parquet')"));
    }

    /// <summary>
    /// A checkpoint the engine sent just before it froze still commits in the config database (seen in CI: counted after
    /// the frozen count was read, its batch kept the values read before the update, as it should). Waits until no such
    /// statement runs, so the count read next is the last the frozen engine recorded.
    /// </summary>
    private static async Task WaitForCheckpointsInFlightAsync(string configDb)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await PostgresServer.ScalarAsync<long>(configDb, """
                    SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND query LIKE 'UPDATE queue_backfill_data%'
                    """) == 0)
                return;
            await Task.Delay(100);
        }
        throw new TimeoutException("A checkpoint of the frozen engine was still running after 10 s.");
    }

    [Fact]
    public async Task AWriteOfAnOlderClaim_IsRefusedByEveryDestination_AfterANewerClaimWrote_AndChangesNothing()
    {
        await using var completed = await CompletedRace.StartAsync(pg, DestinationKinds.All);
        var (s, jobId, race) = (completed.Scenario, completed.JobId, completed.Race);

        foreach (var destination in race.Plan.Destinations)
        {
            await using (var successor = race.Writer(destination.Settings, 2))
            {
                await successor.PrepareAsync(CancellationToken.None);
                await successor.WriteAsync(race.Newer, CancellationToken.None);
            }
            // The successor ended claim 1's PostgreSQL sessions; a stale engine that opens a new one meets the fence.
            NpgsqlConnection.ClearAllPools();
            await using var stalled = race.Writer(destination.Settings, 1);
            await stalled.PrepareAsync(CancellationToken.None);
            await Assert.ThrowsAsync<StaleClaimException>(() => stalled.WriteAsync(race.Stale, CancellationToken.None));
        }
        await s.AssertDestinationsHoldAsync(await TableContents.FromPostgresAsync(s.SourceDb, "public", "items"), "items", jobId);
    }

    [Fact]
    public async Task AParquetClaimFrozenHalfWayThroughABatch_KeepsNoSuccessorWaiting_AndItsFileNeverLands()
    {
        await using var completed = await CompletedRace.StartAsync(pg, DestinationKinds.Parquet);
        var (s, jobId, race) = (completed.Scenario, completed.JobId, completed.Race);
        var parquet = race.Plan.Destinations.Single().Settings;

        // Claim 3 started, and froze with a batch's file written but not yet renamed, still open (as a stopped process keeps it).
        await using var frozen = race.Writer(parquet, 3);
        await frozen.PrepareAsync(CancellationToken.None);
        var claimFolder = Path.Combine(s.ParquetDirectory, "items", jobId.ToString(), "_backfill_fence-3");
        await using var halfWritten = new FileStream(Path.Combine(claimFolder, "part-000000.parquet"), FileMode.Create, FileAccess.ReadWrite, FileShare.None);

        await using (var successor = race.Writer(parquet, 4))
        {
            var writing = Task.Run(async () =>
            {
                await successor.PrepareAsync(CancellationToken.None);
                await successor.WriteAsync(race.Newer, CancellationToken.None);
            });
            Assert.True(await Task.WhenAny(writing, Task.Delay(TimeSpan.FromSeconds(20))) == writing, "the successor waited for the frozen claim");
            await writing;
        }
        Assert.False(Directory.Exists(claimFolder), "the frozen claim's folder is gone, and its rename with it");
        await Assert.ThrowsAsync<StaleClaimException>(() => frozen.WriteAsync(race.Stale, CancellationToken.None));
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "items"), await TableContents.FromDuckDbAsync(s.SourceDb, "public", "items", null,
            $"read_parquet('{s.ParquetDirectory}/items/{jobId}/*.parquet')"));
    }

    /// <summary>
    /// A completed backfill of 500 items, and the first batch an older and a newer claim of it would write, each with a
    /// stage of its own.
    /// </summary>
    private sealed class CompletedRace(Scenario scenario, int jobId, ClaimRace race) : IAsyncDisposable
    {
        private readonly DuckDbStage _staleStage = DuckDbStage.Create(race.Table, "64MB");
        private readonly DuckDbStage _newerStage = DuckDbStage.Create(race.Table, "64MB");

        public Scenario Scenario => scenario;
        public int JobId => jobId;
        public ClaimRace Race => race;

        public static async Task<CompletedRace> StartAsync(PostgresServer pg, DestinationKinds destinations)
        {
            var s = await Scenario.CreateAsync(pg, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'first' FROM generate_series(1, 500) g;",
                ["public.items"], destinations);
            var jobId = await s.StartBackfillAsync("public.items");
            await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(1), "COMPLETED");
            var completed = new CompletedRace(s, jobId, await ClaimRace.ReadAsync(s, jobId, "public.items", "UPDATE items SET v = 'newer'"));
            completed.Race.Stale.WithStage(() => completed._staleStage);
            completed.Race.Newer.WithStage(() => completed._newerStage);
            return completed;
        }

        public async ValueTask DisposeAsync()
        {
            _staleStage.Dispose();
            _newerStage.Dispose();
            await scenario.DisposeAsync();
        }
    }

    private static async Task<long> ParquetRowsAsync(Scenario s, string table, int jobId)
    {
        await using var duck = new DuckDB.NET.Data.DuckDBConnection("Data Source=:memory:");
        await duck.OpenAsync();
        await using var cmd = duck.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM read_parquet('{s.ParquetDirectory}/{table}/{jobId}/*.parquet')";
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }
}
