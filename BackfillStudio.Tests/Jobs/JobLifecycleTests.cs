using BackfillStudio.Engine.Jobs;
using System.Collections.Concurrent;
using System.Net;
using BackfillStudio.Engine.Events;
using BackfillStudio.Tests.Infrastructure;
using BackfillStudio.Web;
using Microsoft.AspNetCore.Builder;
using static BackfillStudio.Tests.Infrastructure.Scenario;

namespace BackfillStudio.Tests.Jobs;

public sealed class JobLifecycleTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>300,000 rows: with small batches a job runs long enough to be observed and cancelled.</summary>
    private const string BigTableSql = """
        CREATE TABLE measurements (id bigint PRIMARY KEY, sensor text NOT NULL, value double precision, taken_at timestamptz NOT NULL);
        INSERT INTO measurements
        SELECT g, 'sensor-' || g % 50, g * 0.5, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
        FROM generate_series(1, 300000) g;
        CREATE TABLE small (id int PRIMARY KEY, name text);
        INSERT INTO small SELECT g, 'n' || g FROM generate_series(1, 3000) g;
        ANALYZE;
        """;

    [Fact]
    public async Task Cancel_PendingJob_BecomesCancelledImmediately_AndCannotBeCancelledTwice()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.small"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        var jobId = await s.StartBackfillAsync("public.small");

        var (status, cancelled) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/cancel");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("CANCELLED", (string)cancelled["status"]!);
        Assert.NotNull(cancelled["finished_at"]);

        var (again, problem) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/cancel");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Contains("CANCELLED", (string)problem["detail"]!);
    }

    [Fact]
    public async Task Cancel_ExecutingJob_StopsWithCountEqualToRowsWritten()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.measurements"], DestinationKinds.Postgres, "--Backfill:BatchSize=500");
        var jobId = await s.StartBackfillAsync("public.measurements");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! > 0, "first checkpoint");

        var (deleteStatus, _) = await SendAsync(s.Http, HttpMethod.Delete, $"/api/v1/backfill/{jobId}");
        Assert.Equal(HttpStatusCode.Conflict, deleteStatus);
        var (status, requested) = await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/cancel");
        Assert.Equal(HttpStatusCode.OK, status);
        // The answer is the job as it is right after the request: the engine hears of it a moment later.
        Assert.Contains((string)requested["status"]!, new[] { "EXECUTING", "CANCELLED" });
        Assert.NotNull(requested["cancelled_at"]);

        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED", "FAILED");
        Assert.Equal("CANCELLED", (string)job["status"]!);
        var written = await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.measurements");
        Assert.Equal(written, (long)job["count_record"]!);
        Assert.True(written < 300000, $"cancel came too late to observe: {written} rows written");
        Assert.Equal(300000, (long)job["total_record"]!);

        var (deleted, _) = await SendAsync(s.Http, HttpMethod.Delete, $"/api/v1/backfill/{jobId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        var (gone, _) = await s.Http.GetJsonAsync($"/api/v1/backfill/{jobId}");
        Assert.Equal(HttpStatusCode.NotFound, gone);
    }

    [Fact]
    public async Task Cancel_DuringALongBatch_TakesEffectWithinTwoSeconds_AndRollsThatBatchBack()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.measurements"], DestinationKinds.Postgres, "--Backfill:BatchSize=2000");
        await MakeSlowTargetAsync(s.DestinationDb);
        var jobId = await s.StartBackfillAsync("public.measurements");
        await WaitUntilCopyingAsync(s.DestinationDb);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await s.Http.PostJsonAsync($"/api/v1/backfill/{jobId}/cancel");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "CANCELLED", "COMPLETED", "FAILED");
        clock.Stop();

        Assert.Equal("CANCELLED", (string)job["status"]!);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the cancel took {clock.Elapsed.TotalSeconds:0.0} s in the middle of a 40 s batch");
        Assert.Equal(0, (long)job["count_record"]!);
        Assert.Equal(0L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.measurements"));
        // The server stops too (at once, not after the batch's 40 s): rows the COPY had sent would otherwise keep it busy.
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        while (await PostgresServer.ScalarAsync<long>(s.DestinationDb,
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'BackfillStudio job%' AND state = 'active'") > 0)
        {
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), "the job's COPY kept running in the destination after the cancel");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// An engine stopped gracefully in the middle of a long batch requeues its job, which another engine then finishes:
    /// the stop ends the target's COPY on the server, and that error is the stop's, not the job's.
    /// </summary>
    [Fact]
    public async Task GracefulStop_DuringALongBatch_RequeuesTheJob_WhichAnotherEngineFinishes()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.measurements"], DestinationKinds.Postgres,
            "--Backfill:EngineEnabled=false", "--Backfill:BatchSize=2000");
        await MakeSlowTargetAsync(s.DestinationDb);
        var jobId = await s.StartBackfillAsync("public.measurements");
        await using (var engine = await s.StartPeerAsync())
            await WaitUntilCopyingAsync(s.DestinationDb);

        var stopped = await s.Http.GetJobAsync(jobId);
        Assert.True((string)stopped["status"]! == "PENDING", stopped.ToJsonString());
        await PostgresServer.ExecuteAsync(s.DestinationDb, "DROP TRIGGER slowly ON copy.measurements");
        await using var next = await s.StartPeerAsync();
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED", "CANCELLED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(300_000L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.measurements"));
    }

    [Fact]
    public async Task Delete_FollowsStatusRules()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.small"], DestinationKinds.Postgres);
        var completed = await s.StartBackfillAsync("public.small");
        await s.Http.WaitForJobAsync(completed, Timeout, "COMPLETED");
        // Once its verification (which a cancel would stop) has ended too, there is nothing left to cancel.
        await s.Http.WaitForVerificationAsync(completed, Timeout, "MATCHED");

        var (cancelFinished, _) = await s.Http.PostJsonAsync($"/api/v1/backfill/{completed}/cancel");
        Assert.Equal(HttpStatusCode.Conflict, cancelFinished);
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(s.Http, HttpMethod.Delete, $"/api/v1/backfill/{completed}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(s.Http, HttpMethod.Delete, $"/api/v1/backfill/{completed}")).Status);
    }

    [Fact]
    public async Task ConcurrentJobs_NeverExceedMaxConcurrentJobs()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.measurements"], DestinationKinds.Postgres,
            "--Backfill:MaxConcurrentJobs=2", "--Backfill:BatchSize=5000");
        var ids = new List<int>();
        for (var i = 0; i < 4; i++) ids.Add(await s.StartBackfillAsync("public.measurements", Filter("id", ">", i * 50000)));

        var maxExecuting = 0;
        var sawQueuedWhileFull = false;
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            // One request reads every job in one query: a consistent snapshot of the statuses.
            var page = await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill");
            var statuses = page["items"]!.AsArray().Select(j => (string)j!["status"]!).ToList();
            var executing = statuses.Count(x => x == "EXECUTING");
            maxExecuting = Math.Max(maxExecuting, executing);
            sawQueuedWhileFull |= executing == 2 && statuses.Contains("PENDING");
            if (statuses.All(x => x == "COMPLETED")) break;
            Assert.True(!statuses.Contains("FAILED"), (await s.Http.GetOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill")).ToJsonString());
            Assert.True(DateTime.UtcNow < deadline, "jobs did not complete in time");
        }
        Assert.Equal(2, maxExecuting);
        Assert.True(sawQueuedWhileFull, "never observed a job waiting for a free slot");
    }

    [Fact]
    public async Task TwoEngines_ShareTheQueue_AndNeverRunTheSameJob()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.measurements"], DestinationKinds.Postgres,
            "--Backfill:MaxConcurrentJobs=1", "--Backfill:BatchSize=2000");
        await using var peer = await s.StartPeerAsync("--Backfill:MaxConcurrentJobs=1", "--Backfill:BatchSize=2000");
        var ids = new List<int>();
        for (var i = 0; i < 6; i++) ids.Add(await s.StartBackfillAsync("public.measurements", Filter("id", "<=", 20000 * (i + 1))));

        foreach (var id in ids)
        {
            var job = await s.Http.WaitForJobAsync(id, Timeout, "COMPLETED", "FAILED");
            Assert.True("COMPLETED" == (string)job["status"]!, job.ToJsonString());
        }

        var attempts = await PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(*) FROM queue_backfill_data WHERE attempts <> 1");
        var engines = await PostgresServer.ScalarAsync<long>(s.ConfigDb, "SELECT count(DISTINCT lease_owner) FROM queue_backfill_data");
        Assert.Equal(0, attempts);
        Assert.Equal(2, engines);
        Assert.Equal(120000L, await PostgresServer.ScalarAsync<long>(s.DestinationDb, "SELECT count(*) FROM copy.measurements"));
    }

    [Fact]
    public async Task JobChangedEvents_ArePublishedInProcess_AndReachOtherProcessesThroughNotify()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.small"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        await using var webOnly = await s.StartPeerAsync("--Backfill:EngineEnabled=false");
        var local = new ConcurrentQueue<JobChanged>();
        var remote = new ConcurrentQueue<JobChanged>();
        using var localSubscription = s.App.Get<JobEventBus>().Subscribe(c => local.Enqueue(c!));
        using var remoteSubscription = webOnly.Get<JobEventBus>().Subscribe(c => remote.Enqueue(c!));

        var jobId = await s.StartBackfillAsync("public.small");
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!remote.Any(e => e.Status == JobStatus.Completed) && DateTime.UtcNow < deadline) await Task.Delay(50);

        foreach (var (name, events) in new[] { ("local", local), ("remote", remote) })
        {
            var mine = events.Where(e => e.JobId == jobId).ToList();
            Assert.True(mine.Count > 0 && mine[0].Status == JobStatus.Pending, $"{name}: {string.Join(", ", events)}");
            Assert.Equal([JobStatus.Pending, JobStatus.Executing, JobStatus.Completed], mine.Select(e => e.Status).Distinct());
            var counts = mine.Where(e => e.Status == JobStatus.Executing).Select(e => e.CountRecord).ToList();
            Assert.Equal([0, 1000, 2000, 3000], counts.Distinct());
            Assert.Equal(3000, mine.Last().CountRecord);
            Assert.Equal(3000, mine.Last().TotalRecord);
        }
    }

    [Fact]
    public async Task JobCreatedOnAnotherNode_WakesTheEngineThroughNotify_WithoutWaitingForThePoll()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.small"], DestinationKinds.Postgres, "--Backfill:PollIntervalSeconds=3600");
        await using var webOnly = await s.StartPeerAsync("--Backfill:EngineEnabled=false");

        var job = await webOnly.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill", new { table_name = "public.small" });

        var done = await webOnly.Http.WaitForJobAsync((int)job["id"]!, TimeSpan.FromSeconds(60), "COMPLETED");
        Assert.Equal(3000, (long)done["count_record"]!);
    }

    [Fact]
    public async Task EngineOnlyNode_WithoutHttp_ExecutesJobsCreatedOnAWebOnlyNode()
    {
        await using var s = await CreateAsync(pg, BigTableSql, ["public.small"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        using var engine = await BackfillStudioApp.BuildAsync(
            [$"--ConnectionStrings:Config={s.ConfigDb}", "--Backfill:WebEnabled=false", "--Backfill:PollIntervalSeconds=1", "--Logging:LogLevel:Default=Warning"]);
        Assert.IsNotType<WebApplication>(engine);
        await engine.StartAsync();

        var jobId = await s.StartBackfillAsync("public.small");
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");

        Assert.Equal("COMPLETED", (string)job["status"]!);
        Assert.Equal(3000, (long)job["count_record"]!);
        await engine.StopAsync();
    }

    /// <summary>A target of the measurements that takes 20 ms a row: a batch of 2,000 rows takes 40 s.</summary>
    private static Task MakeSlowTargetAsync(string destinationDb) => PostgresServer.ExecuteAsync(destinationDb, """
        CREATE SCHEMA copy;
        CREATE TABLE copy.measurements (id bigint PRIMARY KEY, sensor text NOT NULL, value double precision, taken_at timestamptz NOT NULL);
        CREATE FUNCTION copy.slowly() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END $$;
        CREATE TRIGGER slowly AFTER INSERT ON copy.measurements FOR EACH ROW EXECUTE FUNCTION copy.slowly();
        """);

    /// <summary>Waits until a job's COPY runs in the destination.</summary>
    private static async Task WaitUntilCopyingAsync(string destinationDb)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (await PostgresServer.ScalarAsync<long>(destinationDb,
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'BackfillStudio job%' AND state = 'active' AND query LIKE 'COPY%'") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the job never started writing its first batch");
            await Task.Delay(50);
        }
    }

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient http, HttpMethod method, string path)
    {
        using var response = await http.SendAsync(new HttpRequestMessage(method, path));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
