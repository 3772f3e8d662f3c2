using System.Diagnostics;
using BackfillStudio.Tests.Infrastructure;
using Npgsql;

namespace BackfillStudio.Tests.Jobs;

/// <summary>Networks that go silent instead of failing: a job never waits forever, and completes exactly once afterwards.</summary>
public sealed class NetworkFaultTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value numeric(12,3));
        INSERT INTO readings SELECT g, 'sensor-' || g % 40, g / 7.0 FROM generate_series(1, 100000) g;
        """;

    [Fact]
    public async Task BlackholedSource_RequeuesTheJobWithTheReason_AndItCompletesExactlyOnceWhenTheNetworkHeals()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres,
            "--Backfill:BatchSize=1000", "--Backfill:StallTimeoutSeconds=3");
        var source = new NpgsqlConnectionStringBuilder(s.SourceDb);
        await using var proxy = new TcpProxy(source.Host!, source.Port);
        await PostgresServer.ExecuteAsync(s.ConfigDb, $"UPDATE sources SET host = '127.0.0.1', port = {proxy.Port}");
        var timeout = TimeSpan.FromMinutes(2);
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, timeout, j => (long)j["count_record"]! >= 10000, "progress through the proxy");

        proxy.Blackhole();
        var silent = Stopwatch.StartNew();
        var requeued = await s.Http.WaitUntilAsync(jobId, timeout, j => j["error_message"] is not null, "the stalled job's requeue");
        silent.Stop();
        var reason = (string)requeued["error_message"]!;
        Assert.True(silent.Elapsed < TimeSpan.FromSeconds(30), $"the stall was noticed after {silent.Elapsed.TotalSeconds:0} s: {reason}");
        Assert.StartsWith("Source: ", reason);
        Assert.Contains("StallTimeoutSeconds", reason);
        Assert.NotEqual("COMPLETED", (string)requeued["status"]!);

        proxy.Heal();
        var job = await s.Http.WaitForJobAsync(jobId, timeout, "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(100000L, (long)job["count_record"]!);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings"), await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));
    }

    [Fact]
    public async Task BlackholedDestination_RequeuesTheJobWithTheReason_AndItCompletesExactlyOnceWhenTheNetworkHeals()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres,
            "--Backfill:BatchSize=1000", "--Backfill:StallTimeoutSeconds=3");
        await using var proxy = await ProxyTheDestinationAsync(s);
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 10000, "progress through the proxy");

        proxy.Blackhole();
        var requeued = await s.Http.WaitUntilAsync(jobId, Timeout, j => j["error_message"] is not null, "the stalled job's requeue");
        var reason = (string)requeued["error_message"]!;
        Assert.StartsWith("Destination 'pg': ", reason);
        Assert.Contains("StallTimeoutSeconds", reason);

        proxy.Heal();
        await AssertCompletedExactlyAsync(s, jobId);
    }

    [Fact]
    public async Task DestinationRestartedMidJob_TheJobResumesAndCompletesExactlyOnce()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        await using var proxy = await ProxyTheDestinationAsync(s);
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 10000, "progress through the proxy");

        proxy.Sever();
        await s.Http.WaitUntilAsync(jobId, Timeout, j => j["error_message"] is not null, "the job's requeue");
        await Task.Delay(TimeSpan.FromSeconds(2));
        proxy.Heal();
        await AssertCompletedExactlyAsync(s, jobId);
        Assert.True(await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT attempts FROM queue_backfill_data WHERE id = {jobId}") >= 2);
    }

    [Fact]
    public async Task SourceBackendTerminatedMidJob_TheJobResumesAndCompletesExactlyOnce()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:BatchSize=1000");
        var jobId = await s.StartBackfillAsync("public.readings");
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 10000, "progress");

        Assert.Equal(1, await PostgresServer.ScalarAsync<int>(s.SourceDb,
            $"""
            WITH job AS MATERIALIZED (SELECT pid FROM pg_stat_activity
                                      WHERE datname = current_database() AND application_name = 'backfillstudio job {jobId}')
            SELECT count(*)::int FROM job WHERE pg_terminate_backend(pid)
            """));
        await AssertCompletedExactlyAsync(s, jobId);
        Assert.True(await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT attempts FROM queue_backfill_data WHERE id = {jobId}") >= 2,
            "the terminated session was noticed and the job resumed");
    }

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Points the scenario's PostgreSQL destination at a proxy in front of its server (before any job started).</summary>
    private static async Task<TcpProxy> ProxyTheDestinationAsync(Scenario s)
    {
        var destination = new NpgsqlConnectionStringBuilder(s.DestinationDb);
        var proxy = new TcpProxy(destination.Host!, destination.Port);
        await PostgresServer.ExecuteAsync(s.ConfigDb,
            $"UPDATE destinations SET config = config || jsonb_build_object('host', '127.0.0.1', 'port', {proxy.Port}) WHERE type = 'postgres'");
        return proxy;
    }

    private static async Task AssertCompletedExactlyAsync(Scenario s, int jobId)
    {
        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(100000L, (long)job["count_record"]!);
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));
    }
}
