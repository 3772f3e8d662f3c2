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
}
