using System.Net;
using System.Net.Http.Json;
using BackfillStudio.Engine.Batches;
using BackfillStudio.Engine.Filters;
using BackfillStudio.Engine.Sources;
using BackfillStudio.Engine.Sources.Postgres;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Jobs;

/// <summary>A backfill protects its source: a rows/s ceiling, smaller reads and pauses while the source is slow, bounded statements.</summary>
public sealed class SourceGovernorTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL);
        INSERT INTO events SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 160000) g;
        """;

    [Fact]
    public async Task RateCeiling_OfTheSource_HoldsTheJobToItsRate_AndTheJobSaysItIsThrottled()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.events"], DestinationKinds.Postgres);
        var source = new NpgsqlConnectionStringBuilder(s.SourceDb);
        object SourceBody(int? rate) => new
        {
            name = "source", host = source.Host, port = source.Port, database = source.Database, username = source.Username,
            ssl_mode = "disable", max_rows_per_second = rate,
        };
        var refused = await s.Http.PutAsJsonAsync($"/api/v1/sources/{s.SourceId}", SourceBody(0), TestApp.Json);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("max_rows_per_second", await refused.Content.ReadAsStringAsync());
        var saved = await s.Http.PutAsJsonAsync($"/api/v1/sources/{s.SourceId}", SourceBody(20000), TestApp.Json);
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        Assert.Equal(20000, (int)(await s.Http.GetOkAsync($"/api/v1/sources/{s.SourceId}"))["max_rows_per_second"]!);

        var (badStatus, badJob) = await s.Http.PostJsonAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.events", max_rows_per_second = -5 });
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.NotNull(badJob["errors"]!["max_rows_per_second"]);

        // The job's own ceiling is higher, so the source's (20,000 rows/s) is the one that holds.
        var created = await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.events", max_rows_per_second = 50000, verify = "none" });
        var jobId = (int)created["id"]!;
        Assert.Equal(50000, (int)created["max_rows_per_second"]!);
        var throttled = await s.Http.WaitUntilAsync(jobId, TimeSpan.FromMinutes(1), j => j["throttled"] is not null, "the throttled flag");
        Assert.Equal("limited to 20,000 rows/s", (string)throttled["throttled"]!);

        var job = await s.Http.WaitForJobAsync(jobId, TimeSpan.FromMinutes(2), "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Null(job["throttled"]);
        // Only the ceiling is asserted here: the first read runs at once, the 15 after it are each 0.5 s behind the one
        // before. That the governor waits no longer than the ceiling needs is ReadsAreSpacedByTheCeiling_... in virtual
        // time; in wall time a busy machine may be slower (CI once took 11 s), which says nothing about the governor.
        var seconds = ((DateTimeOffset)job["finished_at"]! - (DateTimeOffset)job["started_at"]!).TotalSeconds;
        Assert.True(seconds >= 7.5, $"160,000 rows in {seconds:0.00} s: {160000 / seconds:N0} rows/s, over the ceiling of 20,000");
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "events"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "events"));
    }

    [Fact]
    public async Task ReadsAreSpacedByTheCeiling_NoLongerThanItNeeds_AndASlowReadPausesAndHalvesTheNext()
    {
        var clock = new VirtualClock();
        var governor = new SourceGovernor(20000, TimeSpan.FromSeconds(2), 10000, sizedReads: true, clock);
        var starts = new List<TimeSpan>();
        var asked = new List<int>();
        async Task ReadTakingAsync(double seconds) => await governor.ReadAsync(rows =>
        {
            starts.Add(clock.Elapsed);
            asked.Add(rows);
            clock.Pass(TimeSpan.FromSeconds(seconds));
            return Task.FromResult(rows);
        }, rows => rows, CancellationToken.None);

        await ReadTakingAsync(0.1);
        await ReadTakingAsync(0.1);
        Assert.Equal("limited to 20,000 rows/s", governor.Throttled);
        await ReadTakingAsync(0.7);
        await ReadTakingAsync(0.1);
        await ReadTakingAsync(3.0);
        await ReadTakingAsync(0.1);

        // 10,000 rows at 20,000 rows/s: each read starts 0.5 s after the one before, or as soon as a longer one ends,
        // without a burst after it. A read over the 2 s latency target is followed by a pause as long as it took.
        Assert.Equal([0.0, 0.5, 1.0, 1.7, 2.2, 8.2], starts.Select(s => Math.Round(s.TotalSeconds, 3)));
        Assert.Equal([10000, 10000, 10000, 10000, 10000, 5000], asked);
    }

    /// <summary>A clock that jumps forward by every wait asked of it, so a test sees exactly how long the code waited.</summary>
    private sealed class VirtualClock : TimeProvider
    {
        private long _ticks;

        public TimeSpan Elapsed => TimeSpan.FromTicks(GetTimestamp());

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Pass(TimeSpan span) => Interlocked.Add(ref _ticks, span.Ticks);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Pass(dueTime);
            ThreadPool.QueueUserWorkItem(_ => callback(state));
            return new PassedTimer();
        }

        private sealed class PassedTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => false;
            public void Dispose() { }
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task SlowSource_ShrinksReadsAndPausesThem_AndTheyGrowBackWhenItIsFastAgain()
    {
        var sourceDb = await pg.CreateDatabaseAsync("governed");
        await PostgresServer.ExecuteAsync(sourceDb, SourceSql + "ANALYZE events;");
        var direct = new NpgsqlConnectionStringBuilder(sourceDb);
        await using var proxy = new TcpProxy(direct.Host!, direct.Port);
        var settings = PostgresServer.SourceSettings(sourceDb, proxy.Port);
        await using var source = await PostgresSource.OpenAsync(settings, "source", "governor test", CancellationToken.None);
        var table = await source.TableAsync("public.events", CancellationToken.None);
        await using var reader = source.Reader(table, FilterPredicate.Build(table, []), new BatchLimits(10000, 64L * 1024 * 1024));
        var governor = new SourceGovernor(null, TimeSpan.FromMilliseconds(250), 10000, sizedReads: true);
        var cursor = ResumeCursor.Start;
        async Task<int> ReadAsync()
        {
            var batch = await governor.ReadAsync(rows => reader.ReadAsync(cursor, CancellationToken.None, rows), b => b?.Rows.Count ?? 0,
                CancellationToken.None);
            cursor = batch!.Next;
            return batch.Rows.Count;
        }

        Assert.Equal(10000, await ReadAsync());
        Assert.Null(governor.Throttled);

        // About 3 MB/s through the proxy: 10,000 rows (1.3 MB) take far longer than the 250 ms target.
        proxy.Latency = TimeSpan.FromMilliseconds(20);
        var slow = new List<int>();
        slow.Add(await ReadAsync());
        Assert.StartsWith("the source is slow (a read took", governor.Throttled);
        for (var i = 0; i < 2; i++) slow.Add(await ReadAsync());
        Assert.Equal(10000, slow[0]);
        Assert.True(slow[1] <= 5000 && slow[2] <= slow[1], $"reads while slow: {string.Join(", ", slow)}");
        Assert.Matches("^the source (is|was) slow", governor.Throttled);

        proxy.Latency = TimeSpan.Zero;
        var fast = new List<int>();
        // A read may still be slow now and then on a busy machine (CI saw 251 ms once against the 250 ms target): the
        // governor must grow back and say the source is fine, not on the very first full read.
        while (fast.Count < 12 && (fast.Count == 0 || fast[^1] < 10000 || governor.Throttled is not null)) fast.Add(await ReadAsync());
        Assert.True(fast[^1] == 10000, $"reads once fast again: {string.Join(", ", fast)}");
        Assert.Null(governor.Throttled);
    }

    [Fact]
    public async Task JobSourceSessions_CarryTheStatementTimeout_AndTheCountIsExemptFromIt()
    {
        var sourceDb = await pg.CreateDatabaseAsync("bounded");
        await PostgresServer.ExecuteAsync(sourceDb, "CREATE TABLE slow (id int PRIMARY KEY); INSERT INTO slow SELECT generate_series(1, 3);");
        var settings = PostgresServer.SourceSettings(sourceDb) with { StatementTimeoutSeconds = 1 };
        await using var source = await PostgresSource.OpenAsync(settings, "source", "backfillstudio job 7", CancellationToken.None);
        await using (var show = new NpgsqlCommand("SELECT current_setting('statement_timeout'), current_setting('application_name')", source.Connection))
        await using (var row = await show.ExecuteReaderAsync())
        {
            Assert.True(await row.ReadAsync());
            Assert.Equal("1s", row.GetString(0));
            Assert.Equal("backfillstudio job 7", row.GetString(1));
        }
        await using (var runaway = new NpgsqlCommand("SELECT pg_sleep(3)", source.Connection))
        {
            var e = await Assert.ThrowsAsync<PostgresException>(() => runaway.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.QueryCanceled, e.SqlState);
        }

        // A count is one long statement by nature: here it waits 2 s for a lock, twice the timeout, and still answers.
        var table = await source.TableAsync("public.slow", CancellationToken.None);
        await using var blocker = new NpgsqlConnection(sourceDb);
        await blocker.OpenAsync();
        await using var lockTx = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE slow IN ACCESS EXCLUSIVE MODE", blocker, lockTx)) await lockTable.ExecuteNonQueryAsync();
        var count = source.CountAsync(table, FilterPredicate.Build(table, []), CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(count.IsCompleted);
        await lockTx.CommitAsync();
        Assert.Equal(3, await count);
    }
}
