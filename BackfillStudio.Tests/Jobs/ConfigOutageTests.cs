using BackfillStudio.Engine.Persistence;
using BackfillStudio.Tests.Infrastructure;
using Microsoft.Playwright;
using Npgsql;

namespace BackfillStudio.Tests.Jobs;

/// <summary>The config database goes away for a few seconds (a restart, a failover): engines and open pages ride it out.</summary>
public sealed class ConfigOutageTests(PostgresServer pg) : IClassFixture<PostgresServer>
{
    private const string SourceSql = """
        CREATE TABLE readings (id bigint PRIMARY KEY, sensor text NOT NULL, value numeric(12,3));
        INSERT INTO readings SELECT g, 'sensor-' || g % 40, g / 7.0 FROM generate_series(1, 100000) g;
        """;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>A connection string to the scenario's config database through <paramref name="proxy"/>.</summary>
    private static string Through(TcpProxy proxy, string configDb) =>
        new NpgsqlConnectionStringBuilder(configDb) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;

    private static TcpProxy ProxyFor(string configDb)
    {
        var direct = new NpgsqlConnectionStringBuilder(configDb);
        return new TcpProxy(direct.Host!, direct.Port);
    }

    [Fact]
    public async Task ConfigDatabaseGoneMidJob_TheEngineWaitsItOut_AndTheJobCompletesExactlyOnce_WithoutARetry()
    {
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres, "--Backfill:EngineEnabled=false");
        await using var proxy = ProxyFor(s.ConfigDb);
        await using var engine = await TestApp.StartAsync(Through(proxy, s.ConfigDb), "--Backfill:BatchSize=1000");
        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.readings", max_rows_per_second = 10000 }))["id"]!;
        await s.Http.WaitUntilAsync(jobId, Timeout, j => (long)j["count_record"]! >= 20000, "progress");

        proxy.Sever();
        await Task.Delay(TimeSpan.FromSeconds(8));
        var during = await s.Http.GetJobAsync(jobId);
        Assert.Equal("EXECUTING", (string)during["status"]!);
        proxy.Heal();

        var job = await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED", "FAILED");
        Assert.True((string)job["status"]! == "COMPLETED", job.ToJsonString());
        Assert.Equal(100000L, (long)job["count_record"]!);
        Assert.Equal(100000L, (long)job["total_record"]!);
        Assert.Null(job["error_message"]);
        Assert.Equal(1, await PostgresServer.ScalarAsync<int>(s.ConfigDb, $"SELECT attempts FROM queue_backfill_data WHERE id = {jobId}"));
        Assert.Equal(await TableContents.FromPostgresAsync(s.SourceDb, "public", "readings"),
            await TableContents.FromPostgresAsync(s.DestinationDb, "copy", "readings"));
    }

    /// <summary>
    /// Idle pooled connections do not notice that the database went away: each fails its next use, once. After a lost
    /// LISTEN connection the listener drops them (<see cref="ConfigDataSource.ClearPools"/>), in its own pool and in the
    /// one EF Core opens by connection string, so the first query after the outage works.
    /// </summary>
    [Fact]
    public async Task AfterAnOutage_ClearedPools_AnswerTheFirstQuery()
    {
        var configDb = await pg.CreateDatabaseAsync("pools");
        await using var proxy = ProxyFor(configDb);
        var through = Through(proxy, configDb) + ";Application Name=clear pools test";
        await using var config = new ConfigDataSource(through);
        async Task<int> ViaDataSource() => (int)(await config.DataSource.CreateCommand("SELECT 1").ExecuteScalarAsync())!;
        async Task<int> ViaConnectionString()
        {
            await using var connection = new NpgsqlConnection(through);
            await connection.OpenAsync();
            return (int)(await new NpgsqlCommand("SELECT 2", connection).ExecuteScalarAsync())!;
        }
        async Task SeverAndHealAsync()
        {
            Assert.Equal(1, await ViaDataSource());
            Assert.Equal(2, await ViaConnectionString());
            proxy.Sever();
            proxy.Heal();
        }

        // Without clearing, a pooled connection fails its next use, unless Npgsql noticed the close first: that varies, so
        // only the cleared pools are asserted.
        await SeverAndHealAsync();
        config.ClearPools();
        Assert.Equal(1, await ViaDataSource());
        Assert.Equal(2, await ViaConnectionString());
    }

    [Fact]
    public async Task APageOpenWhileItsConfigDatabaseIsGone_ShowsTheCurrentStateOnceItIsBack()
    {
        // The engine (the scenario's app) keeps its config database; the web node showing the page loses its own for a while.
        await using var s = await Scenario.CreateAsync(pg, SourceSql, ["public.readings"], DestinationKinds.Postgres);
        await using var proxy = ProxyFor(s.ConfigDb);
        await using var web = await TestApp.StartAsync(Through(proxy, s.ConfigDb), "--Backfill:EngineEnabled=false");
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.OpenAsync(new Uri(web.BaseAddress, $"/pipelines/{s.PipelineId}"));
        await Assertions.Expect(page.GetByText("No backfill jobs yet")).ToBeVisibleAsync();

        var jobId = (int)(await s.Http.PostOkAsync($"/api/v1/pipelines/{s.PipelineId}/backfill",
            new { table_name = "public.readings", max_rows_per_second = 20000 }))["id"]!;
        await Assertions.Expect(page.GetByTestId("job-status")).ToHaveTextAsync("EXECUTING");

        proxy.Sever();
        await s.Http.WaitForJobAsync(jobId, Timeout, "COMPLETED");
        await Task.Delay(TimeSpan.FromSeconds(1));
        await Assertions.Expect(page.GetByTestId("job-status")).ToHaveTextAsync("EXECUTING");
        proxy.Heal();

        await Assertions.Expect(page.GetByTestId("job-status")).ToHaveTextAsync("COMPLETED", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        await Assertions.Expect(page.GetByTestId("job-count")).ToContainTextAsync("100,000 / 100,000");
    }
}
